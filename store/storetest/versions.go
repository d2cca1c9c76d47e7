package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/cache"
	"github.com/keygate/keygate/store/sqlstore"
)

// testCacheVersions: every write to a cached table moves its realm's
// counter of the table's kind (and only that realm's), in the database and
// at once for this process's caches; writes to other tables move nothing;
// a transaction's writes count when it commits, not when it rolls back; a
// deleted realm has no counters.
func testCacheVersions(t *testing.T, s store.Store) {
	v, okV := s.(cache.Versioned)
	if !okV {
		t.Skip("the store keeps no change counters")
	}
	ctx := t.Context()
	cur := func(realmID string) store.RealmVersion {
		t.Helper()
		snap := v.CacheVersions().Current(ctx)
		if snap == nil {
			t.Fatal("counters cannot be read")
		}
		return snap.Realm(realmID)
	}
	realm(t, s, "a")
	realm(t, s, "b")
	eq(t, "new realm", cur("a"), store.RealmVersion{Config: 1, Grants: 1, Components: 1})
	// TouchRealmVersions moves every counter of the realm, seen at once.
	ok(t, s.TouchRealmVersions(ctx, "a"))
	eq(t, "touched", cur("a"), store.RealmVersion{Config: 2, Grants: 2, Components: 2})
	eq(t, "touched: other realm", cur("b"), store.RealmVersion{Config: 1, Grants: 1, Components: 1})
	isErr(t, s.TouchRealmVersions(ctx, "no-such-realm"), store.ErrNotFound)

	// still: a write to a table no cache reads moves nothing.
	still := func(what string, write func() error) {
		t.Helper()
		before, other := cur("a"), cur("b")
		ok(t, write())
		eq(t, what, cur("a"), before)
		eq(t, what+": other realm", cur("b"), other)
	}
	moves := func(kind cache.Kind) func(*store.RealmVersion) {
		return func(rv *store.RealmVersion) {
			switch kind {
			case cache.Config:
				rv.Config++
			case cache.Grants:
				rv.Grants++
			case cache.Components:
				rv.Components++
			}
		}
	}
	exact := func(what string, kind cache.Kind, write func() error) {
		t.Helper()
		before, other := cur("a"), cur("b")
		ok(t, write())
		want := before
		moves(kind)(&want)
		got := cur("a")
		// At least once: a statement may count more than once per row.
		moved := got.Config > before.Config || got.Grants > before.Grants || got.Components > before.Components
		if !moved {
			t.Errorf("%s: counters %+v did not move", what, got)
		}
		got2 := got
		switch kind {
		case cache.Config:
			got2.Config, want.Config = 0, 0
		case cache.Grants:
			got2.Grants, want.Grants = 0, 0
		case cache.Components:
			got2.Components, want.Components = 0, 0
		}
		eq(t, what+": other kinds", got2, want)
		eq(t, what+": other realm", cur("b"), other)
	}

	exact("realm update", cache.Config, func() error {
		r, err := s.GetRealm(ctx, "a")
		if err != nil {
			return err
		}
		r.Enabled = false
		return s.UpdateRealm(ctx, r)
	})
	exact("client", cache.Config, func() error {
		return s.CreateClient(ctx, store.Client{ID: "a-client", RealmID: "a", ClientID: "app", Created: t0})
	})
	exact("client scope", cache.Config, func() error {
		return s.CreateClientScope(ctx, store.ClientScope{ID: "a-scope", RealmID: "a", Name: "profile"})
	})
	exact("role", cache.Config, func() error { return s.CreateRole(ctx, store.Role{ID: "a-role", RealmID: "a", Name: "admin"}) })
	exact("client role", cache.Config, func() error {
		return s.CreateRole(ctx, store.Role{ID: "a-crole", RealmID: "a", ClientID: "a-client", Name: "x"})
	})
	exact("composite", cache.Config, func() error { return s.AddRoleComposites(ctx, "a", "a-role", []string{"a-crole"}) })
	exact("group", cache.Config, func() error { return s.CreateGroup(ctx, store.Group{ID: "a-group", RealmID: "a", Name: "staff"}) })
	exact("group role", cache.Config, func() error { return s.GrantGroupRoles(ctx, "a", "a-group", []string{"a-role"}) })
	exact("key", cache.Config, func() error {
		_, err := s.CreateActiveKey(ctx, store.Key{ID: "a-key", RealmID: "a", Algorithm: "RS256", Private: []byte{1}, Created: t0})
		return err
	})
	exact("identity provider", cache.Config, func() error {
		return s.CreateIdentityProvider(ctx, store.IdentityProvider{InternalID: "a-idp", RealmID: "a", Alias: "corp", ProviderID: "saml", Enabled: true})
	})
	exact("component", cache.Components, func() error {
		return s.CreateComponent(ctx, store.Component{ID: "a-ldap", RealmID: "a", ParentID: "a", Name: "ldap",
			ProviderID: "ldap", ProviderType: "org.keycloak.storage.UserStorageProvider"})
	})
	still("user", func() error {
		return s.CreateUser(ctx, store.User{ID: "a-user", RealmID: "a", Username: "alice", Enabled: true, Created: t0})
	})
	still("session", func() error {
		return s.CreateSession(ctx, store.Session{ID: "a-session", RealmID: "a", UserID: "a-user", Created: t0, LastSeen: t0, AuthTime: t0})
	})
	still("token", func() error {
		return s.CreateToken(ctx, store.Token{Kind: store.KindAccess, Signature: "a-sig", RequestID: "a-req", RealmID: "a",
			ClientID: "app", Active: true, Requested: t0, Expires: t0})
	})
	still("user updated", func() error {
		u, err := s.GetUser(ctx, "a", "a-user")
		if err != nil {
			return err
		}
		u.FirstName = "Alice"
		return s.UpdateUser(ctx, u)
	})
	// A service account is part of its client: the token endpoint caches it.
	sa := store.User{ID: "a-sa", RealmID: "a", Username: "service-account-app", Enabled: true, Created: t0, ServiceAccount: "a-client"}
	exact("service-account user", cache.Config, func() error { return s.CreateUser(ctx, sa) })
	exact("service-account user disabled", cache.Config, func() error {
		sa.Enabled = false
		return s.UpdateUser(ctx, sa)
	})
	exact("service-account user deleted", cache.Config, func() error { return s.DeleteUser(ctx, "a", "a-sa") })
	exact("user role", cache.Grants, func() error { return s.GrantUserRoles(ctx, "a", "a-user", []string{"a-role"}) })
	exact("user group", cache.Grants, func() error { return s.AddUserToGroup(ctx, "a", "a-user", "a-group") })
	exact("user deleted (mappings cascade)", cache.Grants, func() error { return s.DeleteUser(ctx, "a", "a-user") })
	exact("role deleted", cache.Config, func() error { return s.DeleteRole(ctx, "a", "a-crole") })

	// A transaction counts when it commits, and is dirty for the caches
	// until then; a rolled-back one counts nothing.
	before := cur("a")
	errRollback := context.Canceled
	err := s.Tx(ctx, func(ctx context.Context) error {
		ok(t, s.CreateRole(ctx, store.Role{ID: "a-tx", RealmID: "a", Name: "tx"}))
		return errRollback
	})
	eq(t, "rolled back", err, errRollback)
	eq(t, "after rollback", cur("a"), before)
	ok(t, s.Tx(ctx, func(ctx context.Context) error {
		return s.CreateRole(ctx, store.Role{ID: "a-tx", RealmID: "a", Name: "tx"})
	}))
	if cur("a").Config <= before.Config {
		t.Errorf("committed transaction: %+v, want config past %+v", cur("a"), before)
	}

	ok(t, s.DeleteRealm(ctx, "a"))
	eq(t, "deleted realm", cur("a"), store.RealmVersion{})
	if cur("b").Config == 0 {
		t.Error("other realm lost its counters")
	}
}

// RunCacheVersionsShared checks the counters across processes: a and b
// are two stores (two processes, two replicas) on one migrated database.
// A write made through b, and one made with raw SQL as any other tool
// would, reach a's caches within the poll interval without any call on a;
// and every cached table has its triggers.
func RunCacheVersionsShared(t *testing.T, a, b *sqlstore.Store) {
	ctx := t.Context()
	ok(t, b.CreateRealm(ctx, store.Realm{ID: "shared", Name: "shared", Enabled: true, Created: t0}))
	va := a.CacheVersions()
	wait := func(what string, moved func(store.RealmVersion) bool) {
		t.Helper()
		start := time.Now()
		for time.Since(start) < 2*time.Second {
			if snap := va.Current(ctx); snap != nil && moved(snap.Realm("shared")) {
				t.Logf("%s: seen by the other store after %s", what, time.Since(start).Round(time.Millisecond))
				if d := time.Since(start); d > cache.PollInterval+200*time.Millisecond {
					t.Errorf("%s: seen after %s, want within the poll interval %s", what, d, cache.PollInterval)
				}
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("%s: not seen by the other store within 2 s", what)
	}
	wait("realm created", func(rv store.RealmVersion) bool { return rv.Config >= 1 })
	before := va.Current(ctx).Realm("shared")
	ok(t, b.CreateRole(ctx, store.Role{ID: "shared-role", RealmID: "shared", Name: "r"}))
	wait("role created through the other store", func(rv store.RealmVersion) bool { return rv.Config > before.Config })
	before = va.Current(ctx).Realm("shared")
	if _, err := b.DB().ExecContext(ctx, `INSERT INTO groups (id, realm_id, name) VALUES ('shared-g', 'shared', 'g')`); err != nil {
		t.Fatal(err)
	}
	wait("group inserted with raw SQL", func(rv store.RealmVersion) bool { return rv.Config > before.Config })

	// Every cached table has an insert, update and delete trigger.
	// (Counted by name: realms has a trigger of migration 0010 too.)
	q := `SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%\_cache\_%' ESCAPE '\'`
	if b.Dialect().Name == "postgres" {
		q = `SELECT c.relname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
			WHERE NOT g.tgisinternal AND c.relnamespace = current_schema()::regnamespace
			AND g.tgname LIKE '%\_cache\_%' ESCAPE '\'`
	}
	rows, err := b.DB().QueryContext(ctx, q)
	ok(t, err)
	defer rows.Close()
	n := map[string]int{}
	for rows.Next() {
		var table string
		ok(t, rows.Scan(&table))
		n[table]++
	}
	ok(t, rows.Err())
	for table := range sqlstore.CachedTables {
		if n[table] != 3 {
			t.Errorf("table %s has %d triggers, want 3 (insert, update, delete)", table, n[table])
		}
	}
}

// testCacheVersionsInTx: the counters can be read, and a cache used, from
// inside a transaction that has written nothing cached (a token request's),
// whatever connections the store has.
func testCacheVersionsInTx(t *testing.T, s store.Store) {
	v, okV := s.(cache.Versioned)
	if !okV {
		t.Skip("the store keeps no change counters")
	}
	ctx := t.Context()
	realm(t, s, "a")
	c := cache.New(v.CacheVersions(), cache.Options[string, store.Realm]{Kinds: cache.Config})
	ok(t, s.Tx(ctx, func(ctx context.Context) error {
		ok(t, s.CreateSession(ctx, store.Session{ID: "s", RealmID: "a", UserID: "u", Created: t0, LastSeen: t0, AuthTime: t0}))
		start := time.Now()
		r, err := c.Get(ctx, "a", func(ctx context.Context) (store.Realm, error) { return s.GetRealm(ctx, "a") })
		if err != nil || r.ID != "a" {
			t.Errorf("cache in a transaction: %v %v", r, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("cache in a transaction took %s: the poll waited for a connection", d)
		}
		return nil
	}))
}
