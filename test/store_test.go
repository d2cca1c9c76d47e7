package test

import (
	"context"
	"testing"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
)

// openDB opens a running server's SQLite store beside it (WAL allows it), the
// way `keygate users import` does.
func openDB(t *testing.T, path string) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func lookupUser(t *testing.T, st store.Store, realm, username string) store.User {
	t.Helper()
	ctx := context.Background()
	r, err := st.GetRealmByName(ctx, realm)
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.GetUserByUsername(ctx, r.ID, username)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func readCredentials(t *testing.T, db, realm, username string) []store.Credential {
	t.Helper()
	st := openDB(t, db)
	creds, err := st.ListCredentials(context.Background(), lookupUser(t, st, realm, username).ID)
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

func countSessions(t *testing.T, db, realm, username string) int {
	t.Helper()
	st := openDB(t, db)
	u := lookupUser(t, st, realm, username)
	ss, err := st.ListUserSessions(context.Background(), u.RealmID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return len(ss)
}
