package oidc_test

import (
	"log/slog"
	"testing"

	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
)

// bootstrapped is a server over a fresh SQLite store whose master realm
// has its admin (admin / admin-secret-pw); it returns the store, the
// server and the master realm's row, all closed with the test.
func bootstrapped(t *testing.T) (store.Store, *idp.Server, store.Realm) {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := idp.NewServer(st, idp.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := idp.Bootstrap(ctx, st, srv.Limiter(), "admin", "admin-secret-pw"); err != nil {
		t.Fatal(err)
	}
	master, err := st.GetRealmByName(ctx, "master")
	if err != nil {
		t.Fatal(err)
	}
	return st, srv, master
}
