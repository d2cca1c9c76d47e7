package admin_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
	"github.com/keygate/keygate/store/sqlstore"
)

// downable is a store whose token, session, user and role reads fail as
// a database that cannot answer does, while down is set.
type downable struct {
	*sqlstore.Store
	down atomic.Bool
}

func (d *downable) err(what string) error {
	return fmt.Errorf("sqlstore: %s: %w", what, store.ErrUnavailable)
}

func (d *downable) GetToken(ctx context.Context, kind store.TokenKind, sig string) (store.Token, error) {
	if d.down.Load() {
		return store.Token{}, d.err("get token")
	}
	return d.Store.GetToken(ctx, kind, sig)
}

func (d *downable) GetSession(ctx context.Context, realmID, id string) (store.Session, error) {
	if d.down.Load() {
		return store.Session{}, d.err("get session")
	}
	return d.Store.GetSession(ctx, realmID, id)
}

func (d *downable) GetUser(ctx context.Context, realmID, id string) (store.User, error) {
	if d.down.Load() {
		return store.User{}, d.err("get user")
	}
	return d.Store.GetUser(ctx, realmID, id)
}

func (d *downable) ListUserRoles(ctx context.Context, realmID, userID string) ([]store.Role, error) {
	if d.down.Load() {
		return nil, d.err("list user roles")
	}
	return d.Store.ListUserRoles(ctx, realmID, userID)
}

// TestAdminStoreUnavailable: while the store cannot answer, an admin call
// is 503 with Retry-After, never 401, 403 or 500: for a token never seen
// (the cache has nothing), and for a cached caller once its entry is past
// authTTL (rights are not served stale).
func TestAdminStoreUnavailable(t *testing.T) {
	ctx := t.Context()
	dbPath := t.TempDir() + "/db"
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ds := &downable{Store: st}
	srv, err := idp.NewServer(ds, idp.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.Bootstrap(ctx, ds, srv.Limiter(), "admin", "admin-secret-pw"); err != nil {
		t.Fatal(err)
	}
	srv.SetReady()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	e := &env{t: t, url: ts.URL, st: ds, dbPath: dbPath}
	e.admin = e.login("master", "admin", "admin-secret-pw")
	fresh := e.userWithRoles("master", "helper", "view-users") // never used before the outage
	const users = "/admin/realms/master/users"
	e.must(200, "GET", users, e.admin, nil) // cached

	ds.down.Store(true)
	check := func(who, token string) {
		t.Helper()
		r := e.do("GET", users, token, nil)
		if r.status != 503 || r.header.Get("Retry-After") == "" {
			t.Errorf("%s while the store is down: %d (Retry-After %q) %s, want 503 with Retry-After",
				who, r.status, r.header.Get("Retry-After"), r.body)
		}
	}
	check("a token never seen", fresh)
	time.Sleep(1100 * time.Millisecond) // past authTTL
	check("a cached caller past authTTL", e.admin)

	ds.down.Store(false)
	e.must(200, "GET", users, e.admin, nil)
	e.must(200, "GET", users, fresh, nil)
}
