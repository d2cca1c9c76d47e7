package federation_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/federationtest"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/storetest/backends"
)

func person(i int) federation.Identity {
	return federation.Identity{ExternalID: fmt.Sprintf("ext-%04d", i), DN: fmt.Sprintf("uid=user%d,ou=people", i),
		Username: fmt.Sprintf("user%d", i), Email: fmt.Sprintf("user%d@example.com", i),
		Grants: []federation.Grant{{Roles: []federation.RoleRef{{Name: "staff"}}, OwnedRoles: []federation.RoleRef{{Name: "staff"}}, Create: true}}}
}

func TestSync(t *testing.T) {
	each(t, func(e *env) {
		t := e.t
		f := e.provider("ldap1", "0", nil)
		f.PageSize = 40
		for i := range 250 {
			f.Add(person(i), "pw")
		}
		res, err := e.svc.Sync(e.ctx, realmID, e.d, "ldap1", true, nil)
		must(t, err)
		if res.Added != 250 || res.Updated != 0 || res.Removed != 0 || res.Failed != 0 || res.Status != "250 imported users, 0 updated users" {
			t.Fatalf("first full sync %+v", res)
		}
		if got := e.roles(userID(t, e, "user7")); len(got) != 2 {
			t.Fatalf("synced user's roles %v", got)
		}
		res, err = e.svc.Sync(e.ctx, realmID, e.d, "ldap1", true, nil)
		must(t, err)
		if res.Added != 0 || res.Updated != 0 {
			t.Fatalf("an unchanged directory: %+v", res)
		}
		c, err := e.st.GetComponent(e.ctx, realmID, "ldap1")
		must(t, err)
		if len(c.Config["lastSync"]) != 1 {
			t.Fatalf("lastSync not recorded: %v", c.Config)
		}

		// One entry changes (renamed), one is new: a changed-users sync
		// sees just them.
		time.Sleep(1100 * time.Millisecond) // lastSync has second resolution
		renamed := person(3)
		renamed.Username = "user3-renamed"
		f.Add(renamed, "pw")
		f.Add(person(900), "pw")
		f.Lock()
		f.Changed["ext-0003"], f.Changed["ext-0900"] = time.Now(), time.Now()
		for i := range 250 {
			if i != 3 {
				f.Changed[person(i).ExternalID] = time.Now().Add(-time.Hour)
			}
		}
		f.Unlock()
		res, err = e.svc.Sync(e.ctx, realmID, e.d, "ldap1", false, nil)
		must(t, err)
		if res.Added != 1 || res.Updated != 1 {
			t.Fatalf("changed-users sync %+v", res)
		}
		if u, err := e.st.GetUserByUsername(e.ctx, realmID, "user3-renamed"); err != nil || u.FederationID != "ext-0003" {
			t.Fatalf("renamed entry: %+v %v", u, err)
		}

		// Entries leave the directory: a full sync removes their users.
		f.Remove("ext-0010")
		f.Remove("ext-0011")
		res, err = e.svc.Sync(e.ctx, realmID, e.d, "ldap1", true, nil)
		must(t, err)
		if res.Removed != 2 || res.Status != "0 imported users, 0 updated users, 2 removed users" {
			t.Fatalf("full sync after removals %+v", res)
		}
		if _, err := e.st.GetUserByUsername(e.ctx, realmID, "user10"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("user10 still there: %v", err)
		}

		// A sync that fails part-way removes nobody, and says so.
		f.Remove("ext-0012")
		f.SyncHook = func(page int) error {
			if page == 3 {
				return fmt.Errorf("%w: connection reset", federation.ErrUnavailable)
			}
			return nil
		}
		if _, err := e.svc.Sync(e.ctx, realmID, e.d, "ldap1", true, nil); !errors.Is(err, federation.ErrUnavailable) {
			t.Fatalf("failing sync: %v", err)
		}
		if _, err := e.st.GetUserByUsername(e.ctx, realmID, "user12"); err != nil {
			t.Fatalf("a failed sync removed user12: %v", err)
		}
		f.SyncHook = nil

		// A user that cannot be imported is counted and skipped.
		must(t, e.st.CreateUser(e.ctx, store.User{ID: "local-x", RealmID: realmID, Username: "user901", Enabled: true}))
		f.Add(person(901), "pw")
		res, err = e.svc.Sync(e.ctx, realmID, e.d, "ldap1", true, nil)
		must(t, err)
		if res.Failed != 1 || res.Removed != 1 || res.Status != "0 imported users, 0 updated users, 1 removed users, 1 users failed sync! See server log for more details" {
			t.Fatalf("sync with a conflict %+v", res)
		}
	})
}

func userID(t *testing.T, e *env, name string) string {
	t.Helper()
	u, err := e.st.GetUserByUsername(e.ctx, realmID, name)
	must(t, err)
	return u.ID
}

// TestSyncRunsOnce: a second sync of a provider while one runs is
// ignored, in this process and, on PostgreSQL, on another replica.
func TestSyncRunsOnce(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		f := e.provider("ldap1", "0", nil)
		f.Add(person(1), "pw")
		entered, release := make(chan struct{}), make(chan struct{})
		f.SyncHook = func(int) error {
			close(entered)
			<-release
			return nil
		}
		done := make(chan error)
		go func() {
			_, err := e.svc.Sync(e.ctx, realmID, e.d, "ldap1", true, nil)
			done <- err
		}()
		<-entered
		res, err := e.svc.Sync(e.ctx, realmID, e.d, "ldap1", true, nil)
		if err != nil || !res.Ignored || res.Status != "Synchronization ignored as it's already in progress" {
			t.Fatalf("second sync in this process: %+v %v", res, err)
		}
		if _, ok := st.(federation.Locker); ok && t.Name() == "TestSyncRunsOnce/postgres" {
			// Another replica: its own registry and service over the same store.
			reg := federation.NewRegistry(st, federation.Env{}, map[string]federation.Factory{"fake": federationtest.Factory(e.fakes)})
			other := federation.NewService(reg, federation.NewLinker(st), nil)
			res, err := other.Sync(e.ctx, realmID, e.d, "ldap1", true, nil)
			if err != nil || !res.Ignored {
				t.Fatalf("sync on another replica: %+v %v", res, err)
			}
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestPeriodicSync: fullSyncPeriod and changedSyncPeriod (seconds) run
// syncs without anyone asking.
func TestPeriodicSync(t *testing.T) {
	e := newEnv(t, backends.SQLite(t))
	f := e.provider("ldap1", "0", map[string][]string{"changedSyncPeriod": {"1"}, "fullSyncPeriod": {"-1"}})
	f.Add(person(1), "pw")
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	go e.svc.RunPeriodic(ctx, 50*time.Millisecond, func(context.Context) ([]string, error) { return []string{realmID}, nil },
		func(context.Context, string) (federation.RealmDefaults, error) { return e.d, nil })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := e.st.GetUserByUsername(e.ctx, realmID, "user1"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the periodic changed-users sync never imported user1")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A provider without periods is left alone.
	g := e.provider("ldap2", "1", nil)
	g.Add(federation.Identity{ExternalID: "ext-z", Username: "zed"}, "pw")
	time.Sleep(1500 * time.Millisecond)
	if _, err := e.st.GetUserByUsername(e.ctx, realmID, "zed"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a provider without sync periods was synced: %v", err)
	}
}

// TestSyncKeepsUsersOfUnidentifiedEntries: a full sync that lists every
// entry but cannot tie them to their users (the id attribute became
// unreadable, or the configured one changed) removes nobody: an entry
// listed under the user's username or DN is not gone.
func TestSyncKeepsUsersOfUnidentifiedEntries(t *testing.T) {
	e := newEnv(t, backends.SQLite(t))
	f := e.provider("ldap1", "0", map[string][]string{"removeInvalidUsersEnabled": {"true"}})
	for i := range 3 {
		f.Add(person(i), "pw")
	}
	res, err := e.svc.Sync(e.ctx, realmID, e.d, "ldap1", true, nil)
	must(t, err)
	if res.Added != 3 {
		t.Fatalf("first sync %+v", res)
	}
	// user0's entry has no readable id any more (a bad entry: DN only);
	// user1's id attribute answers another value; user2 is really gone.
	f.Lock()
	f.Users = map[string]federation.Identity{}
	f.Users[""] = federation.Identity{DN: person(0).DN}
	other := person(1)
	other.ExternalID = "new-id-1"
	f.Users[other.ExternalID] = other
	f.Unlock()
	res, err = e.svc.Sync(e.ctx, realmID, e.d, "ldap1", true, nil)
	must(t, err)
	if res.Removed != 1 || res.Failed != 2 {
		t.Fatalf("sync over unidentified entries %+v", res)
	}
	for _, name := range []string{"user0", "user1"} {
		if _, err := e.st.GetUserByUsername(e.ctx, realmID, name); err != nil {
			t.Errorf("%s, whose entry is still listed, was removed: %v", name, err)
		}
	}
	if _, err := e.st.GetUserByUsername(e.ctx, realmID, "user2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("user2, gone from the directory, is still there: %v", err)
	}
}

// TestSyncOfDisabledProviderIgnored: as Keycloak's UserStorageSyncManager,
// a sync (the admin endpoint's, the CLI's) of a disabled provider is
// ignored: it imports nobody and, full, removes nobody.
func TestSyncOfDisabledProviderIgnored(t *testing.T) {
	e := newEnv(t, backends.SQLite(t))
	f := e.provider("ldap1", "0", nil)
	f.Add(person(1), "pw")
	if _, err := e.svc.Sync(e.ctx, realmID, e.d, "ldap1", true, nil); err != nil {
		t.Fatal(err)
	}
	c, err := e.st.GetComponent(e.ctx, realmID, "ldap1")
	must(t, err)
	c.Config["enabled"] = []string{"false"}
	must(t, e.st.UpdateComponent(e.ctx, c))
	e.reg.Invalidate(realmID)
	f.Remove(person(1).ExternalID)
	f.Add(person(2), "pw")
	for _, full := range []bool{true, false} {
		res, err := e.svc.Sync(e.ctx, realmID, e.d, "ldap1", full, nil)
		if err != nil || !res.Ignored || res.Added+res.Removed != 0 {
			t.Fatalf("sync (full %t) of a disabled provider: %+v %v", full, res, err)
		}
	}
	if _, err := e.st.GetUserByUsername(e.ctx, realmID, "user1"); err != nil {
		t.Errorf("user1 removed by a disabled provider's sync: %v", err)
	}
	if _, err := e.st.GetUserByUsername(e.ctx, realmID, "user2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("user2 imported by a disabled provider's sync: %v", err)
	}
}
