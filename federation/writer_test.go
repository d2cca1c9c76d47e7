package federation_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/federationtest"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
)

// writableFake is a fake that takes writes and records them.
type writableFake struct {
	*federationtest.Fake
	mu    sync.Mutex
	calls []string
	err   error // every write's answer when set
}

func (w *writableFake) record(call string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, call)
	return w.err
}

func (w *writableFake) UpdatePassword(_ context.Context, id federation.Identity, _ string) error {
	return w.record("password " + id.DN)
}

func (w *writableFake) UpdateUser(_ context.Context, id federation.Identity, _, next store.User) (federation.Identity, error) {
	id.DN = "uid=" + next.Username + ",ou=people"
	return id, w.record("update " + next.Username)
}

func (w *writableFake) CreateUser(_ context.Context, u store.User, _ string) (federation.Identity, error) {
	return federation.Identity{ExternalID: "ext-" + u.Username, DN: "uid=" + u.Username + ",ou=people", Username: u.Username},
		w.record("create " + u.Username)
}

func (w *writableFake) DeleteUser(_ context.Context, id federation.Identity) error {
	return w.record("delete " + id.DN)
}

func (w *writableFake) Calls() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.calls)
}

type writeEnv struct {
	t     *testing.T
	ctx   context.Context
	st    store.Store
	reg   *federation.Registry
	svc   *federation.Service
	fakes map[string]*writableFake
}

func newWriteEnv(t *testing.T) *writeEnv {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir()+"/db")
	must(t, err)
	t.Cleanup(func() { st.Close() })
	must(t, st.CreateRealm(ctx, store.Realm{ID: realmID, Name: "acme", Enabled: true, Settings: []byte(`{}`)}))
	e := &writeEnv{t: t, ctx: ctx, st: st, fakes: map[string]*writableFake{}}
	e.reg = federation.NewRegistry(st, federation.Env{}, map[string]federation.Factory{
		"fake": func(_ context.Context, _ federation.Env, c store.Component, _ []store.Component) (federation.UserStorage, error) {
			f, ok := e.fakes[c.ID]
			if !ok {
				return nil, fmt.Errorf("no fake for %s", c.ID)
			}
			return f, nil
		}})
	e.svc = federation.NewService(e.reg, federation.NewLinker(st), nil)
	return e
}

func (e *writeEnv) provider(id string, cfg map[string][]string) *writableFake {
	e.t.Helper()
	f := &writableFake{Fake: federationtest.NewFake()}
	e.fakes[id] = f
	must(e.t, e.st.CreateComponent(e.ctx, store.Component{ID: id, RealmID: realmID, ParentID: realmID, Name: id,
		ProviderID: "fake", ProviderType: federation.UserStorageType, Config: cfg}))
	e.reg.Invalidate(realmID)
	return f
}

func cfg(kv ...string) map[string][]string {
	out := map[string][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = []string{kv[i+1]}
	}
	return out
}

// TestRegistrationProvider: Keycloak's rule, the enabled provider with the
// lowest priority among those that sync registrations in WRITABLE mode.
func TestRegistrationProvider(t *testing.T) {
	e := newWriteEnv(t)
	if p, err := e.svc.RegistrationProvider(e.ctx, realmID); p != nil || err != nil {
		t.Fatalf("no providers: %v, %v", p, err)
	}
	e.provider("late", cfg("priority", "9", "editMode", "WRITABLE", "syncRegistrations", "true"))
	e.provider("no-sync", cfg("priority", "1", "editMode", "WRITABLE", "syncRegistrations", "false"))
	e.provider("disabled", cfg("priority", "2", "editMode", "WRITABLE", "syncRegistrations", "true", "enabled", "false"))
	e.provider("read-only", cfg("priority", "3", "editMode", "READ_ONLY", "syncRegistrations", "true"))
	e.provider("unsynced", cfg("priority", "4", "editMode", "UNSYNCED", "syncRegistrations", "true"))
	e.provider("first", cfg("priority", "5", "editMode", "WRITABLE", "syncRegistrations", "true"))
	p, err := e.svc.RegistrationProvider(e.ctx, realmID)
	if err != nil || p == nil || p.Component.ID != "first" {
		t.Fatalf("registration provider %v, %v; want first", p, err)
	}
}

// TestRegisterUser: the entry is created, then the local user through
// commit; a commit that fails deletes the entry again.
func TestRegisterUser(t *testing.T) {
	e := newWriteEnv(t)
	f := e.provider("corp", cfg("editMode", "WRITABLE", "syncRegistrations", "true"))
	p, err := e.svc.RegistrationProvider(e.ctx, realmID)
	must(t, err)
	var got federation.Identity
	must(t, e.svc.RegisterUser(e.ctx, p, store.User{RealmID: realmID, Username: "ann"}, "pw", func(id federation.Identity) error {
		got = id
		return nil
	}))
	if got.ExternalID != "ext-ann" {
		t.Errorf("commit got %+v", got)
	}
	boom := errors.New("local store refused")
	err = e.svc.RegisterUser(e.ctx, p, store.User{RealmID: realmID, Username: "bob"}, "pw", func(federation.Identity) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("failed commit: %v", err)
	}
	if calls := f.Calls(); !slices.Equal(calls, []string{"create ann", "create bob", "delete uid=bob,ou=people"}) {
		t.Errorf("calls %v", calls)
	}
	f.err = &federation.RefusedError{Reason: "Object Class Violation"}
	committed := false
	err = e.svc.RegisterUser(e.ctx, p, store.User{RealmID: realmID, Username: "cy"}, "", func(federation.Identity) error {
		committed = true
		return nil
	})
	if !errors.Is(err, federation.ErrRefused) || committed {
		t.Errorf("refused entry: %v, committed %v", err, committed)
	}
}

// TestWritesOfLinkedUsers: writes go to a WRITABLE, enabled provider with
// the entry as it is now (by its id); other providers' users are
// read-only, and deleting them is local only.
func TestWritesOfLinkedUsers(t *testing.T) {
	e := newWriteEnv(t)
	w := e.provider("w", cfg("editMode", "WRITABLE"))
	ro := e.provider("ro", cfg("editMode", "READ_ONLY"))
	off := e.provider("off", cfg("editMode", "WRITABLE", "enabled", "false"))
	user := func(provider, ext string) store.User {
		return store.User{ID: "u-" + ext, RealmID: realmID, Username: ext, FederationLink: provider,
			Attributes: map[string][]string{federation.AttrExternalID: {ext}, federation.AttrEntryDN: {"uid=stale"}}}
	}
	// The entry moved since the user was linked: writes go to where it is.
	w.Add(federation.Identity{ExternalID: "ann", DN: "uid=ann,ou=moved", Username: "ann"}, "pw")
	ann := user("w", "ann")
	must(t, e.svc.SetPassword(e.ctx, realmID, ann, "n3w"))
	next := ann
	next.Username = "anna"
	id, err := e.svc.UpdateUser(e.ctx, realmID, ann, next)
	if err != nil || id.DN != "uid=anna,ou=people" {
		t.Errorf("update: %+v, %v", id, err)
	}
	must(t, e.svc.DeleteUser(e.ctx, realmID, ann))
	if calls := w.Calls(); !slices.Equal(calls, []string{"password uid=ann,ou=moved", "update anna", "delete uid=ann,ou=moved"}) {
		t.Errorf("calls %v", calls)
	}

	// An entry already gone: nothing to delete; other writes say so.
	gone := user("w", "gone")
	must(t, e.svc.DeleteUser(e.ctx, realmID, gone))
	if err := e.svc.SetPassword(e.ctx, realmID, gone, "n3w"); !errors.Is(err, federation.ErrNotFound) {
		t.Errorf("password of a user gone from the directory: %v", err)
	}

	for _, f := range []*writableFake{ro, off} {
		id := "ro"
		if f == off {
			id = "off"
		}
		f.Add(federation.Identity{ExternalID: "bob", DN: "uid=bob", Username: "bob"}, "pw")
		bob := user(id, "bob")
		if err := e.svc.SetPassword(e.ctx, realmID, bob, "n3w"); !errors.Is(err, federation.ErrReadOnly) {
			t.Errorf("%s: password: %v", id, err)
		}
		if _, err := e.svc.UpdateUser(e.ctx, realmID, bob, bob); !errors.Is(err, federation.ErrReadOnly) {
			t.Errorf("%s: update: %v", id, err)
		}
		must(t, e.svc.DeleteUser(e.ctx, realmID, bob))
		if calls := f.Calls(); len(calls) != 0 {
			t.Errorf("%s: writes reached the provider: %v", id, calls)
		}
	}

	// A directory that cannot answer.
	w.Lock()
	w.Down = true
	w.Unlock()
	if err := e.svc.SetPassword(e.ctx, realmID, ann, "n3w"); !errors.Is(err, federation.ErrUnavailable) {
		t.Errorf("password with the directory down: %v", err)
	}
	if err := e.svc.DeleteUser(e.ctx, realmID, ann); !errors.Is(err, federation.ErrUnavailable) {
		t.Errorf("delete with the directory down: %v", err)
	}
}
