package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

// TestRefreshSpendIsHOT checks that a refresh's spend of its token is a
// heap-only update (migration 0013): no index of tokens covers active, so
// PostgreSQL neither writes the spent row into every index nor leaves dead
// entries there for vacuum. It reads the table's HOT counter after 100
// rotations; with active in tokens_request (0003's index) it stays at 0.
// It checks the cause only: the "about 28% less WAL" that 0013's comment
// cites next to this test was measured once, by hand (1,153 to 826 bytes
// per refresh, 5,000 refreshes on 64 chains), and nothing repeats it.
func TestRefreshSpendIsHOT(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	db := s.DB()
	var version int
	if err := db.QueryRowContext(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version < 150000 {
		t.Skipf("needs PostgreSQL 15's pg_stat_force_next_flush; the server is %d", version)
	}
	// One connection: the statistics read below must follow the flush of
	// the backend that ran the rotations.
	db.SetMaxOpenConns(1)

	now := time.Now()
	const chains, rotations = 4, 100
	sigs := make([]string, chains)
	err := s.Tx(ctx, func(ctx context.Context) error {
		if err := s.CreateRealm(ctx, store.Realm{ID: "r", Name: "r", Created: now}); err != nil {
			return err
		}
		if err := s.CreateUser(ctx, store.User{ID: "u", RealmID: "r", Username: "u", Enabled: true, Created: now}); err != nil {
			return err
		}
		for i := range chains {
			sid := fmt.Sprint("s", i)
			if err := s.CreateSession(ctx, store.Session{ID: sid, RealmID: "r", UserID: "u", Created: now, LastSeen: now, AuthTime: now}); err != nil {
				return err
			}
			sigs[i] = fmt.Sprint("sig-", i, "-0")
			if err := s.CreateToken(ctx, store.Token{Kind: store.KindRefresh, Signature: sigs[i], RequestID: "req-" + sid, RealmID: "r",
				ClientID: "app", Subject: "u", SessionID: sid, Active: true, Requested: now, Expires: now.Add(time.Hour), Request: []byte(`{}`)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	hot := func() (hot, upd int64) {
		if _, err := db.ExecContext(ctx, "SELECT pg_stat_force_next_flush()"); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, `SELECT n_tup_hot_upd, n_tup_upd FROM pg_stat_user_tables
			WHERE relid = 'tokens'::regclass`).Scan(&hot, &upd); err != nil {
			t.Fatal(err)
		}
		return hot, upd
	}
	hot0, upd0 := hot()
	for k := range rotations {
		i := k % chains
		next := store.Token{Kind: store.KindRefresh, Signature: fmt.Sprint("sig-", i, "-", k+1), RequestID: fmt.Sprint("req-s", i), RealmID: "r",
			ClientID: "app", Subject: "u", SessionID: fmt.Sprint("s", i), Active: true, Requested: time.Now(), Expires: time.Now().Add(time.Hour), Request: []byte(`{}`)}
		if err := s.RotateRefresh(ctx, sigs[i], 0, next.Requested, next); err != nil {
			t.Fatal(err)
		}
		sigs[i] = next.Signature
	}
	hot1, upd1 := hot()
	if upd1-upd0 != rotations {
		t.Fatalf("tokens saw %d updates for %d rotations (statistics not flushed?)", upd1-upd0, rotations)
	}
	// A page can fill up between prunes; nearly every spend must be HOT.
	if h := hot1 - hot0; h < rotations*9/10 {
		var defs []string
		rows, err := db.QueryContext(ctx, `SELECT indexdef FROM pg_indexes WHERE tablename = 'tokens' AND schemaname = current_schema()`)
		if err == nil {
			for rows.Next() {
				var d string
				rows.Scan(&d)
				defs = append(defs, d)
			}
			rows.Close()
		}
		t.Errorf("%d of %d spends were heap-only updates; the indexes of tokens: %q", h, rotations, defs)
	}
}
