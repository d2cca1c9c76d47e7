package federation_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/federationtest"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/storetest/backends"
)

// countingStore counts transactions: a login that changes nothing must
// not take SQLite's one writer.
type countingStore struct {
	store.Store
	txs atomic.Int64
}

func (c *countingStore) Tx(ctx context.Context, fn func(context.Context) error) error {
	c.txs.Add(1)
	return c.Store.Tx(ctx, fn)
}

func (c *countingStore) TryLock(ctx context.Context, key string) (func(), bool, error) {
	return c.Store.(federation.Locker).TryLock(ctx, key)
}

type env struct {
	t     *testing.T
	ctx   context.Context
	st    *countingStore
	reg   *federation.Registry
	svc   *federation.Service
	fakes map[string]*federationtest.Fake
	d     federation.RealmDefaults
}

const realmID = "r1"

// each runs fn on a fresh env over SQLite and over PostgreSQL.
func each(t *testing.T, fn func(e *env)) {
	backends.Each(t, func(t *testing.T, st store.Store) { fn(newEnv(t, st)) })
}

func newEnv(t *testing.T, raw store.Store) *env {
	t.Helper()
	ctx := t.Context()
	st := &countingStore{Store: raw}
	must(t, st.CreateRealm(ctx, store.Realm{ID: realmID, Name: "acme", Enabled: true, Settings: []byte(`{}`)}))
	must(t, st.CreateRole(ctx, store.Role{ID: "role-default", RealmID: realmID, Name: "default-roles-acme"}))
	must(t, st.CreateGroup(ctx, store.Group{ID: "g-everyone", RealmID: realmID, Name: "everyone"}))
	must(t, st.CreateClient(ctx, store.Client{ID: "c-app", RealmID: realmID, ClientID: "app", Config: []byte(`{}`)}))
	e := &env{t: t, ctx: ctx, st: st, fakes: map[string]*federationtest.Fake{},
		d: federation.RealmDefaults{DefaultRole: "default-roles-acme", DefaultGroups: []string{"/everyone"}}}
	e.reg = federation.NewRegistry(st, federation.Env{}, map[string]federation.Factory{"fake": federationtest.Factory(e.fakes)})
	e.svc = federation.NewService(e.reg, federation.NewLinker(st), nil)
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// provider adds a user storage component backed by a fake.
func (e *env) provider(id string, priority string, config map[string][]string) *federationtest.Fake {
	e.t.Helper()
	f := federationtest.NewFake()
	e.fakes[id] = f
	cfg := map[string][]string{"priority": {priority}, "editMode": {"READ_ONLY"}}
	for k, v := range config {
		cfg[k] = v
	}
	must(e.t, e.st.CreateComponent(e.ctx, store.Component{ID: id, RealmID: realmID, ParentID: realmID, Name: id,
		ProviderID: "fake", ProviderType: federation.UserStorageType, Config: cfg}))
	e.reg.Invalidate(realmID)
	return f
}

func alice() federation.Identity {
	return federation.Identity{ExternalID: "ext-alice", DN: "uid=alice,ou=people,dc=example", Username: "Alice",
		Email: "alice@example.com", FirstName: "Alice", LastName: "Liddell",
		Attributes: map[string][]string{"department": {"ops"}},
		Grants: []federation.Grant{{
			Roles:      []federation.RoleRef{{Name: "stackstate-admin"}, {Client: "app", Name: "reader"}},
			OwnedRoles: []federation.RoleRef{{Name: "stackstate-admin"}, {Name: "stackstate-guest"}, {Client: "app", Name: "reader"}},
			Groups:     []string{"/ldap/sre"}, OwnedGroups: []string{"/ldap/sre", "/ldap/dev"}, Create: true,
		}}}
}

func (e *env) login(local *store.User, name, pw string) (store.User, error) {
	a, err := e.svc.Resolve(e.ctx, realmID, e.d, local, name, false)
	if err != nil {
		return store.User{}, err
	}
	ok, err := e.svc.CheckPassword(e.ctx, &a, pw)
	if err != nil {
		return store.User{}, err
	}
	if !ok {
		return store.User{}, errors.New("wrong password")
	}
	return a.User, nil
}

func (e *env) roles(userID string) []string {
	rs, err := e.st.ListUserRoles(e.ctx, realmID, userID)
	must(e.t, err)
	var out []string
	for _, r := range rs {
		name := r.Name
		if r.ClientID != "" {
			name = "app." + name
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func (e *env) groups(userID string) []string {
	gs, err := e.st.ListUserGroups(e.ctx, realmID, userID)
	must(e.t, err)
	all, err := e.st.ListGroups(e.ctx, realmID)
	must(e.t, err)
	byID := map[string]store.Group{}
	for _, g := range all {
		byID[g.ID] = g
	}
	var out []string
	for _, g := range gs {
		p := "/" + g.Name
		for parent := g.ParentID; parent != ""; parent = byID[parent].ParentID {
			p = "/" + byID[parent].Name + p
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func TestImportOnFirstLogin(t *testing.T) {
	each(t, func(e *env) {
		t := e.t
		f := e.provider("ldap1", "0", nil)
		f.Add(alice(), "pw-alice")

		u, err := e.login(nil, "alice", "pw-alice")
		must(t, err)
		if u.Username != "alice" || u.Email != "alice@example.com" || u.FederationLink != "ldap1" || !u.Enabled ||
			u.Attributes[federation.AttrExternalID][0] != "ext-alice" || u.Attributes[federation.AttrEntryDN][0] != "uid=alice,ou=people,dc=example" ||
			u.Attributes["department"][0] != "ops" {
			t.Fatalf("imported user %+v", u)
		}
		stored, err := e.st.GetUserByUsername(e.ctx, realmID, "alice")
		must(t, err)
		if stored.ID != u.ID || stored.FederationLink != "ldap1" {
			t.Fatalf("stored %+v", stored)
		}
		if got, want := e.roles(u.ID), []string{"app.reader", "default-roles-acme", "stackstate-admin"}; !slices.Equal(got, want) {
			t.Fatalf("roles %v, want %v", got, want)
		}
		if got, want := e.groups(u.ID), []string{"/everyone", "/ldap/sre"}; !slices.Equal(got, want) {
			t.Fatalf("groups %v, want %v", got, want)
		}

		// The next login of the linked user revalidates by id and writes nothing.
		before := e.st.txs.Load()
		u2, err := e.login(&stored, "alice", "pw-alice")
		must(t, err)
		if u2.ID != u.ID || f.Loads.Load() != 1 {
			t.Fatalf("second login: %+v, loads %d", u2, f.Loads.Load())
		}
		if n := e.st.txs.Load() - before; n != 0 {
			t.Fatalf("an unchanged login took %d transactions", n)
		}
		if _, err := e.login(&stored, "alice", "wrong"); err == nil || errors.Is(err, federation.ErrUnavailable) {
			t.Fatalf("wrong password: %v", err)
		}
	})
}

func TestRevalidationFollowsTheEntry(t *testing.T) {
	each(t, func(e *env) {
		t := e.t
		f := e.provider("ldap1", "0", nil)
		f.Add(alice(), "pw")
		u, err := e.login(nil, "alice", "pw")
		must(t, err)
		// An admin grants a local role; the directory drops sre, adds dev and
		// renames and moves the entry.
		must(t, e.st.CreateRole(e.ctx, store.Role{ID: "role-local", RealmID: realmID, Name: "local-extra"}))
		must(t, e.st.GrantUserRoles(e.ctx, realmID, u.ID, []string{"role-local"}))
		id := alice()
		id.Username, id.DN, id.Email = "alice2", "uid=alice2,ou=staff,dc=example", "alice2@example.com"
		id.Grants[0].Roles = []federation.RoleRef{{Name: "stackstate-guest"}}
		id.Grants[0].Groups = []string{"/ldap/dev"}
		id.Attributes = map[string][]string{"department": nil}
		f.Add(id, "pw")
		u2, err := e.login(&u, "alice", "pw")
		must(t, err)
		if u2.ID != u.ID || u2.Username != "alice2" || u2.Email != "alice2@example.com" ||
			u2.Attributes[federation.AttrEntryDN][0] != "uid=alice2,ou=staff,dc=example" || u2.Attributes["department"] != nil {
			t.Fatalf("after rename %+v", u2)
		}
		if got, want := e.roles(u.ID), []string{"default-roles-acme", "local-extra", "stackstate-guest"}; !slices.Equal(got, want) {
			t.Fatalf("roles %v, want %v (owned ones follow the directory, local ones stay)", got, want)
		}
		if got, want := e.groups(u.ID), []string{"/everyone", "/ldap/dev"}; !slices.Equal(got, want) {
			t.Fatalf("groups %v, want %v", got, want)
		}
	})
}

func TestImportOnlyGrants(t *testing.T) {
	each(t, func(e *env) {
		t := e.t
		f := e.provider("ldap1", "0", nil)
		id := alice()
		id.Grants[0].ImportOnly = true
		f.Add(id, "pw")
		u, err := e.login(nil, "alice", "pw")
		must(t, err)
		id.Grants[0].Roles = nil // gone from the directory; IMPORT mode leaves the mapping
		f.Add(id, "pw")
		_, err = e.login(&u, "alice", "pw")
		must(t, err)
		if got := e.roles(u.ID); !slices.Contains(got, "stackstate-admin") {
			t.Fatalf("an IMPORT-mode role was removed: %v", got)
		}
	})
}

func TestGoneFromTheDirectory(t *testing.T) {
	for _, remove := range []bool{true, false} {
		e := newEnv(t, backends.SQLite(t))
		f := e.provider("ldap1", "0", map[string][]string{"removeInvalidUsersEnabled": {map[bool]string{true: "true", false: "false"}[remove]}})
		f.Add(alice(), "pw")
		u, err := e.login(nil, "alice", "pw")
		must(t, err)
		f.Remove("ext-alice")
		if _, err := e.login(&u, "alice", "pw"); !errors.Is(err, federation.ErrNotFound) {
			t.Fatalf("login of a removed entry: %v", err)
		}
		got, err := e.st.GetUser(e.ctx, realmID, u.ID)
		switch {
		case remove && !errors.Is(err, store.ErrNotFound):
			t.Fatalf("removeInvalidUsersEnabled: user still there: %+v %v", got, err)
		case !remove && (err != nil || got.Enabled):
			t.Fatalf("removeInvalidUsersEnabled=false: user %+v %v, want kept disabled", got, err)
		}
	}
}

func TestUnavailableDirectory(t *testing.T) {
	each(t, func(e *env) {
		t := e.t
		first := e.provider("ldap1", "0", nil)
		second := e.provider("ldap2", "1", nil)
		first.Add(alice(), "pw")
		bob := federation.Identity{ExternalID: "ext-bob", Username: "bob"}
		second.Add(bob, "pw-bob")
		u, err := e.login(nil, "alice", "pw")
		must(t, err)

		first.Lock()
		first.Down = true
		first.Unlock()
		// A linked user of the dead directory: 503, and it is kept.
		if _, err := e.login(&u, "alice", "pw"); !errors.Is(err, federation.ErrUnavailable) {
			t.Fatalf("linked user, directory down: %v", err)
		}
		if _, err := e.st.GetUser(e.ctx, realmID, u.ID); err != nil {
			t.Fatalf("a connection error removed the user: %v", err)
		}
		// Another provider's users still log in.
		if _, err := e.login(nil, "bob", "pw-bob"); err != nil {
			t.Fatalf("bob while ldap1 is down: %v", err)
		}
		// A name nobody answered for: unavailable, not "no such user".
		if _, err := e.login(nil, "carol", "pw"); !errors.Is(err, federation.ErrUnavailable) {
			t.Fatalf("unknown name, one directory down: %v", err)
		}
		first.Lock()
		first.Down = false
		first.Unlock()
		if _, err := e.login(nil, "carol", "pw"); !errors.Is(err, federation.ErrNotFound) {
			t.Fatalf("unknown name: %v", err)
		}
		if _, err := e.login(&u, "alice", "pw"); err != nil {
			t.Fatalf("recovery: %v", err)
		}
	})
}

func TestConflictsWriteNothing(t *testing.T) {
	each(t, func(e *env) {
		t := e.t
		f := e.provider("ldap1", "0", nil)
		must(t, e.st.CreateUser(e.ctx, store.User{ID: "local-1", RealmID: realmID, Username: "alice", Enabled: true}))
		must(t, e.st.CreateUser(e.ctx, store.User{ID: "local-2", RealmID: realmID, Username: "zed", Email: "zed@example.com", Enabled: true}))
		f.Add(alice(), "pw")
		if _, err := e.svc.Resolve(e.ctx, realmID, e.d, nil, "alice", false); !errors.Is(err, federation.ErrConflict) {
			t.Fatalf("username taken by a local user: %v", err)
		}
		carl := alice()
		carl.ExternalID, carl.Username, carl.Email = "ext-carl", "carl", "zed@example.com"
		f.Add(carl, "pw")
		if _, err := e.svc.Resolve(e.ctx, realmID, e.d, nil, "carl", false); !errors.Is(err, federation.ErrConflict) {
			t.Fatalf("email taken: %v", err)
		}
		if _, err := e.st.GetUserByUsername(e.ctx, realmID, "carl"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("carl was written: %v", err)
		}
		gs, err := e.st.ListGroups(e.ctx, realmID)
		must(t, err)
		if len(gs) != 1 {
			t.Fatalf("a refused import created groups: %v", gs)
		}
		if _, err := e.st.GetRoleByName(e.ctx, realmID, "", "stackstate-admin"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a refused import created roles: %v", err)
		}
	})
}

func TestConcurrentFirstLogins(t *testing.T) {
	each(t, func(e *env) {
		t := e.t
		f := e.provider("ldap1", "0", nil)
		f.Add(alice(), "pw")
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for range 20 {
			wg.Go(func() {
				if _, err := e.login(nil, "alice", "pw"); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent first login: %v", err)
		}
		n, err := e.st.CountUsers(e.ctx, realmID, store.UserQuery{})
		must(t, err)
		if n != 1 {
			t.Fatalf("%d users after 20 concurrent first logins", n)
		}
	})
}

func TestMustChangePassword(t *testing.T) {
	each(t, func(e *env) {
		t := e.t
		f := e.provider("ldap1", "0", nil)
		f.Add(alice(), "pw")
		f.PasswordErr = federation.ErrMustChangePassword
		u, err := e.login(nil, "alice", "pw")
		must(t, err)
		if !slices.Contains(u.RequiredActions, "UPDATE_PASSWORD") {
			t.Fatalf("returned user lacks UPDATE_PASSWORD: %v", u.RequiredActions)
		}
		stored, err := e.st.GetUser(e.ctx, realmID, u.ID)
		must(t, err)
		if !slices.Contains(stored.RequiredActions, "UPDATE_PASSWORD") {
			t.Fatalf("stored user lacks UPDATE_PASSWORD: %v", stored.RequiredActions)
		}
	})
}

func TestSourceDisablesAndEnables(t *testing.T) {
	each(t, func(e *env) {
		t := e.t
		f := e.provider("ldap1", "0", nil)
		f.Add(alice(), "pw")
		u, err := e.login(nil, "alice", "pw")
		must(t, err)
		id := alice()
		id.Disabled = true
		f.Add(id, "pw")
		u, err = e.login(&u, "alice", "pw")
		must(t, err)
		if u.Enabled {
			t.Fatal("the directory disabled the account; the user is enabled")
		}
		f.Add(alice(), "pw")
		u, err = e.login(&u, "alice", "pw")
		must(t, err)
		if !u.Enabled {
			t.Fatal("the directory enabled the account again; the user stays disabled")
		}
		// An admin's disable is not the directory's to undo.
		u.Enabled = false
		must(t, e.st.UpdateUser(e.ctx, u))
		u, err = e.login(&u, "alice", "pw")
		must(t, err)
		if u.Enabled {
			t.Fatal("a login re-enabled a user an admin disabled")
		}
	})
}

func TestRegistryReopensChangedProviders(t *testing.T) {
	each(t, func(e *env) {
		t := e.t
		opens := 0
		factory := func(ctx context.Context, env federation.Env, c store.Component, m []store.Component) (federation.UserStorage, error) {
			opens++
			if c.Config["broken"] != nil {
				return nil, errors.New("bad config")
			}
			return federationtest.NewFake(), nil
		}
		reg := federation.NewRegistry(e.st, federation.Env{}, map[string]federation.Factory{"fake": factory})
		must(t, e.st.CreateComponent(e.ctx, store.Component{ID: "p", RealmID: realmID, ParentID: realmID, Name: "p",
			ProviderID: "fake", ProviderType: federation.UserStorageType, Config: map[string][]string{"priority": {"0"}}}))
		ps, err := reg.Providers(e.ctx, realmID)
		must(t, err)
		old := ps[0].Storage.(*federationtest.Fake)
		reg.Invalidate(realmID)
		if _, err := reg.Providers(e.ctx, realmID); err != nil || opens != 1 {
			t.Fatalf("an unchanged component was reopened: %d opens, %v", opens, err)
		}
		// A mapper changes: reopened, and the old one closed.
		must(t, e.st.CreateComponent(e.ctx, store.Component{ID: "m", RealmID: realmID, ParentID: "p", Name: "m",
			ProviderID: "x", ProviderType: federation.LDAPMapperType}))
		reg.Invalidate(realmID)
		if _, err := reg.Providers(e.ctx, realmID); err != nil || opens != 2 || !old.Closed() {
			t.Fatalf("after a mapper change: %d opens, closed %v, %v", opens, old.Closed(), err)
		}
		// A configuration that cannot open answers unavailable.
		c, err := e.st.GetComponent(e.ctx, realmID, "p")
		must(t, err)
		c.Config["broken"] = []string{"1"}
		must(t, e.st.UpdateComponent(e.ctx, c))
		reg.Invalidate(realmID)
		ps, err = reg.Providers(e.ctx, realmID)
		must(t, err)
		if _, err := ps[0].Storage.LookupUser(e.ctx, "x", false); !errors.Is(err, federation.ErrUnavailable) {
			t.Fatalf("broken provider: %v", err)
		}
	})
}

// TestQualifiedRoleRefs: hardcoded mappers name roles as Keycloak's role
// strings, "role" or "clientId.role".
func TestQualifiedRoleRefs(t *testing.T) {
	e := newEnv(t, backends.SQLite(t))
	must(t, e.st.CreateRole(e.ctx, store.Role{ID: "r-app-reader", RealmID: realmID, ClientID: "c-app", Name: "reader"}))
	must(t, e.st.CreateRole(e.ctx, store.Role{ID: "r-dotted", RealmID: realmID, Name: "team.lead"}))
	f := e.provider("ldap1", "0", nil)
	id := federation.Identity{ExternalID: "ext-q", Username: "quinn", Grants: []federation.Grant{{Roles: []federation.RoleRef{
		{Name: "app.reader", Qualified: true}, {Name: "team.lead", Qualified: true}, {Name: "nope.missing", Qualified: true}}}}}
	f.Add(id, "pw")
	u, err := e.login(nil, "quinn", "pw")
	must(t, err)
	if got, want := e.roles(u.ID), []string{"app.reader", "default-roles-acme", "team.lead"}; !slices.Equal(got, want) {
		t.Fatalf("roles %v, want %v", got, want)
	}
}

// A property no mapper of the source decides (Unmapped) is the local
// user's: an administrator's value survives every later login, while the
// mapped ones still follow the directory.
func TestUnmappedPropertiesStayLocal(t *testing.T) {
	each(t, func(e *env) {
		t := e.t
		f := e.provider("ldap1", "0", nil)
		id := alice()
		id.Email, id.LastName, id.Unmapped = "", "", []string{"email", "lastName"}
		f.Add(id, "pw")
		u, err := e.login(nil, "alice", "pw")
		must(t, err)
		if u.Email != "" || u.LastName != "" || u.FirstName != "Alice" {
			t.Fatalf("imported %+v", u)
		}
		u.Email, u.EmailVerified, u.LastName = "alice@corp.example", true, "Local"
		must(t, e.st.UpdateUser(e.ctx, u))
		id.FirstName = "Alicia"
		f.Add(id, "pw")
		u2, err := e.login(&u, "alice", "pw")
		must(t, err)
		if u2.Email != "alice@corp.example" || !u2.EmailVerified || u2.LastName != "Local" || u2.FirstName != "Alicia" {
			t.Fatalf("after revalidation %+v: unmapped email and last name must stay, first name follow", u2)
		}
		stored, err := e.st.GetUser(e.ctx, realmID, u.ID)
		must(t, err)
		if stored.Email != "alice@corp.example" || stored.LastName != "Local" || stored.FirstName != "Alicia" {
			t.Fatalf("stored %+v", stored)
		}
	})
}

// A directory entry's verified (trustEmail) mail is stored verified only
// when lower-casing changed ASCII letters alone: ceo@\u212Aelvin.example
// (Kelvin sign) is not ceo@kelvin.example's mailbox.
func TestDirectoryEmailFoldedOntoASCIIIsNotVerified(t *testing.T) {
	each(t, func(e *env) {
		t := e.t
		f := e.provider("ldap1", "0", nil)
		id := alice()
		id.Email, id.EmailVerified = "ceo@\u212Aelvin.example", true
		f.Add(id, "pw")
		u, err := e.login(nil, "alice", "pw")
		must(t, err)
		if u.Email != "ceo@kelvin.example" || u.EmailVerified {
			t.Fatalf("imported %q verified=%v: a Kelvin-sign address must not be a verified ASCII one", u.Email, u.EmailVerified)
		}

		// ASCII case alone still counts as the very address.
		b := alice()
		b.ExternalID, b.DN, b.Username, b.Email, b.EmailVerified = "ext-bob", "uid=bob,ou=people,dc=example", "bob", "Bob@Corp.Example", true
		f.Add(b, "pw")
		u, err = e.login(nil, "bob", "pw")
		must(t, err)
		if u.Email != "bob@corp.example" || !u.EmailVerified {
			t.Fatalf("imported %q verified=%v", u.Email, u.EmailVerified)
		}
	})
}
