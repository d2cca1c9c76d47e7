package sqlite_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
	"github.com/keygate/keygate/store/storetest/tmpfs"
)

// On a full disk, writes that need room fail as store.ErrUnavailable, the
// readiness write probe fails although its own row would still fit, reads
// go on; freeing space brings writes back without reopening the store.
func TestDiskFull(t *testing.T) {
	dir := tmpfs.Mount(t, 4<<20)
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "keygate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.ProbeWrite(ctx, "me", time.Now()); err != nil {
		t.Fatal(err)
	}
	free := tmpfs.Fill(t, dir)

	if err := st.ProbeWrite(ctx, "me", time.Now()); !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("probe write on a full disk: %v, want store.ErrUnavailable saying disk full", err)
	}
	if err := st.ProbeRead(ctx); err != nil {
		t.Errorf("probe read on a full disk: %v", err)
	}
	// Enough new rows to need pages the WAL does not have yet.
	var werr error
	for i := 0; i < 2000 && werr == nil; i++ {
		werr = st.CreateRealm(ctx, store.Realm{ID: fmt.Sprintf("r%04d", i), Name: fmt.Sprintf("realm-%04d", i),
			Enabled: true, Settings: []byte(`{"displayName":"` + strings.Repeat("y", 2000) + `"}`), Created: time.Now()})
	}
	if !errors.Is(werr, store.ErrUnavailable) {
		t.Fatalf("writes on a full disk: %v, want store.ErrUnavailable", werr)
	}
	t.Logf("write on a full disk: %v", werr)
	if _, err := st.ListRealms(ctx); err != nil {
		t.Errorf("read on a full disk: %v", err)
	}

	free()
	if err := st.ProbeWrite(ctx, "me", time.Now()); err != nil {
		t.Errorf("probe write after space was freed: %v", err)
	}
	if err := st.CreateRealm(ctx, store.Realm{ID: "after", Name: "after", Enabled: true, Settings: []byte(`{}`), Created: time.Now()}); err != nil {
		t.Errorf("write after space was freed: %v", err)
	}
}

// A start on a full disk says so in words, for a new database and for an
// existing one (where SQLite alone says "disk I/O error (4874)").
func TestStartOnFullDisk(t *testing.T) {
	dir := tmpfs.Mount(t, 2<<20)
	ctx := t.Context()
	existing := filepath.Join(dir, "existing.db")
	st, err := sqlite.Open(ctx, existing)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	tmpfs.Fill(t, dir)
	for _, path := range []string{existing, filepath.Join(dir, "new.db")} {
		st, err := sqlite.Open(ctx, path)
		if err == nil {
			st.Close()
			t.Fatalf("%s: opened on a full disk", path)
		}
		msg := err.Error()
		if !strings.Contains(msg, "the disk holding "+path+" is full") || !strings.Contains(msg, "free some space") {
			t.Errorf("%s: start on a full disk says %q; want it in words", path, msg)
		}
		t.Logf("%s", msg)
	}
}

// A start on a read-only disk says so in words: opening a new database
// fails; an existing one opens (SQLite reads it) and its first write is
// explained.
func TestStartOnReadOnlyDisk(t *testing.T) {
	dir := tmpfs.Mount(t, 2<<20)
	ctx := t.Context()
	existing := filepath.Join(dir, "existing.db")
	st, err := sqlite.Open(ctx, existing)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	tmpfs.ReadOnly(t, dir, true)
	defer tmpfs.ReadOnly(t, dir, false)

	fresh := filepath.Join(dir, "new.db")
	if _, err := sqlite.Open(ctx, fresh); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("new database on a read-only disk: %v, want it called read-only", err)
	}
	st, err = sqlite.Open(ctx, existing)
	if err != nil {
		if !strings.Contains(err.Error(), existing+" is read-only") {
			t.Fatalf("existing database on a read-only disk: %q, want it called read-only", err)
		}
		return
	}
	defer st.Close()
	err = st.ProbeWrite(ctx, "me", time.Now())
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("write on a read-only disk: %v, want store.ErrUnavailable", err)
	}
	if msg := sqlite.Explain(existing, err).Error(); !strings.Contains(msg, existing+" is read-only") {
		t.Errorf("explained: %q, want it called read-only", msg)
	}
}
