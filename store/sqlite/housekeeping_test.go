package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlstore"
)

func pragmaInt(t *testing.T, db *sql.DB, pragma string) int {
	t.Helper()
	var v int
	if err := db.QueryRow(`PRAGMA ` + pragma).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", pragma, err)
	}
	return v
}

// TestHousekeepingNewFileIsIncremental: a new file is in
// auto_vacuum=incremental mode from its first table, so housekeeping has
// nothing to convert.
func TestHousekeepingNewFileIsIncremental(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "new.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if m := pragmaInt(t, st.DB(), "auto_vacuum"); m != autoVacuumIncremental {
		t.Fatalf("auto_vacuum = %d in a new file, want %d (incremental)", m, autoVacuumIncremental)
	}
	if note, err := st.Maintain(ctx); err != nil || note != "" {
		t.Fatalf("Maintain on a new file = %q, %v; want nothing to say", note, err)
	}
}

// TestHousekeepingConvertsOldFile: a file made before auto_vacuum (mode
// NONE, as every keygate before this one made them) is switched with one
// VACUUM, said in one line, and its data is intact.
func TestHousekeepingConvertsOldFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	// An old keygate's file: migrated with auto_vacuum off.
	raw, err := sql.Open("sqlite", path+"?_pragma=auto_vacuum(0)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE filler (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	for range 200 {
		if _, err := raw.Exec(`INSERT INTO filler VALUES (randomblob(4000))`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := raw.Exec(`DELETE FROM filler`); err != nil {
		t.Fatal(err)
	}
	if m := pragmaInt(t, raw, "auto_vacuum"); m != 0 {
		t.Fatalf("setup: auto_vacuum = %d, want 0", m)
	}
	raw.Close()

	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateRealm(ctx, store.Realm{ID: "r", Name: "r", Settings: []byte(`{}`), Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	note, err := st.Maintain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(note, "auto_vacuum=incremental") || !strings.Contains(note, "VACUUM") || strings.Contains(note, "\n") {
		t.Errorf("Maintain's note on an old file = %q, want one line about the one-time VACUUM", note)
	}
	t.Log(note)
	if m := pragmaInt(t, st.DB(), "auto_vacuum"); m != autoVacuumIncremental {
		t.Errorf("auto_vacuum = %d after the conversion, want %d", m, autoVacuumIncremental)
	}
	if _, err := st.GetRealm(ctx, "r"); err != nil {
		t.Errorf("realm after the conversion: %v", err)
	}
	if note, err := st.Maintain(ctx); err != nil || note != "" {
		t.Errorf("second Maintain = %q, %v; want nothing (converted once)", note, err)
	}
	// The filler's 800 KB of free pages are gone from the file.
	if fi, err := os.Stat(path); err != nil || fi.Size() > 400<<10 {
		t.Errorf("file after the VACUUM: %v, %v; want under 400 KB", fi.Size(), err)
	}
}

// TestHousekeepingSoak writes and expires tokens, with readers reading all
// along (which keeps SQLite's own checkpoints from restarting the WAL), and
// runs the sweep (delete the expired rows, then Maintain) every half
// second: the database file and the WAL level off instead of growing, and
// once writes stop the WAL is emptied and the free pages given back.
//
// make test runs it for 8 s; KEYGATE_SOAK=3m runs the 3-minute
// soak.
func TestHousekeepingSoak(t *testing.T) {
	d := 8 * time.Second
	if v := os.Getenv("KEYGATE_SOAK"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("KEYGATE_SOAK=%q: %v", v, err)
		}
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "soak.db")
	st, req := openTokenStore(t, path)

	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var written atomic.Int64
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 0; sctx.Err() == nil; i++ {
				now := time.Now()
				sig := fmt.Sprintf("w%d-%d", w, i)
				if err := st.CreateToken(ctx, store.Token{Kind: store.KindRefresh, Signature: sig, RequestID: sig, RealmID: "r",
					ClientID: "c", Subject: "u", Active: true, Requested: now, Expires: now.Add(time.Second), Request: req}); err != nil {
					t.Error(err)
					return
				}
				written.Add(1)
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for sctx.Err() == nil {
				n := written.Load()
				_, _ = st.GetToken(ctx, store.KindRefresh, fmt.Sprintf("w0-%d", n/2))
				time.Sleep(time.Millisecond)
			}
		})
	}
	type sample struct{ db, wal, written int64 }
	var samples []sample
	tick := time.NewTicker(500 * time.Millisecond)
	for sctx.Err() == nil {
		select {
		case <-sctx.Done():
		case <-tick.C:
			if _, err := st.DeleteExpiredTokens(ctx, time.Now()); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Maintain(ctx); err != nil {
				t.Fatal(err)
			}
			samples = append(samples, sample{fileSize(path), fileSize(path + "-wal"), written.Load()})
		}
	}
	tick.Stop()
	wg.Wait()
	if t.Failed() {
		return
	}

	if len(samples) < 3 {
		t.Fatalf("only %d sweeps in %v", len(samples), d)
	}
	third := len(samples) / 3
	peak := func(s []sample) (p sample) {
		for _, x := range s {
			p.db, p.wal = max(p.db, x.db), max(p.wal, x.wal)
		}
		return p
	}
	mid, last := peak(samples[:2*third]), peak(samples[2*third:])
	// Tokens written while the last third was sampled, and what they
	// would have added to each file had nothing been reclaimed: each
	// commit appends at least one page to the WAL, and each live row
	// holds its request payload in the database file.
	lastWritten := samples[len(samples)-1].written - samples[2*third-1].written
	page := int64(pragmaInt(t, st.DB(), "page_size"))
	t.Logf("%d tokens written in %v (%d sweeps), %d in the last third: database file peak %.2f MB in the first two thirds, %.2f MB in the last; WAL %.2f MB, %.2f MB",
		written.Load(), d, len(samples), lastWritten, float64(mid.db)/1e6, float64(last.db)/1e6, float64(mid.wal)/1e6, float64(last.wal)/1e6)
	// Level: in the last third each file grows by less than half of what
	// those writes would have added to it unreclaimed (plus a few pages).
	// Both peaks are high-water marks that follow the machine as much as
	// keygate: the live rows follow the write rate and the sweeps' timing
	// (a sweep late by half a second on a loaded machine leaves half a
	// second more rows: 7.0 MB, then 9.9 MB, with 9.8 MB of payload
	// written in between), and a reader descheduled in the middle of a
	// read keeps the WAL from restarting (5.9 MB, then 8.2 MB, with 24 MB
	// of WAL frames appended in between). A file that is never reclaimed
	// grows by all of it.
	const slack = 256 << 10
	if grew, unreclaimed := last.db-mid.db, lastWritten*int64(len(req)); grew > unreclaimed/2+slack {
		t.Errorf("the database file kept growing: peak %d bytes in the first two thirds, %d in the last (%d tokens of %d bytes written in it)",
			mid.db, last.db, lastWritten, len(req))
	}
	if grew, unreclaimed := last.wal-mid.wal, lastWritten*page; grew > unreclaimed/2+slack {
		t.Errorf("the WAL kept growing: peak %d bytes in the first two thirds, %d in the last (%d commits of at least a %d-byte page in it)",
			mid.wal, last.wal, lastWritten, page)
	}

	// Idle: the expired rows go, and two sweeps with nothing written in
	// between empty the WAL and give the free pages back.
	time.Sleep(1100 * time.Millisecond)
	if _, err := st.DeleteExpiredTokens(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := st.Maintain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	db, wal := fileSize(path), fileSize(path+"-wal")
	free := pragmaInt(t, st.DB(), "freelist_count")
	t.Logf("idle: database file %.2f MB, WAL %d bytes, %d free pages", float64(db)/1e6, wal, free)
	if wal != 0 {
		t.Errorf("WAL is %d bytes after two idle sweeps, want 0 (TRUNCATE)", wal)
	}
	if free != 0 {
		t.Errorf("%d free pages after the idle sweeps, want 0 (incremental vacuum)", free)
	}
	if db >= last.db && last.db > 256<<10 {
		t.Errorf("database file %d bytes when idle, not below its peak %d under load", db, last.db)
	}
}

// openTokenStore opens a new database at path, closed after the test,
// with realm "r" and a token request payload that fills most of a page.
func openTokenStore(t *testing.T, path string) (*sqlstore.Store, []byte) {
	t.Helper()
	st, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateRealm(t.Context(), store.Realm{ID: "r", Name: "r", Settings: []byte(`{}`), Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	req, _ := json.Marshal(map[string]string{"payload": strings.Repeat("x", 1500)})
	return st, req
}
