package admin_test

import (
	"testing"
	"time"

	"github.com/keygate/keygate/store/sqlite"
)

// TestRightsFollowWrites: a caller's cached rights end with the write
// that changes them, whoever makes it. Taken away or given through the
// admin API, the caller's very next call sees it (no route invalidates
// anything: the store's change counters do); written by another process
// on the same database, within the poll interval.
func TestRightsFollowWrites(t *testing.T) {
	e := newEnv(t)
	const users = "/admin/realms/master/users"
	mu := e.userWithRoles("master", "mu", "manage-users")
	e.must(200, "GET", users, mu, nil) // cached now
	self := e.userID("master", "mu")
	rm := e.clientUUID("master", "realm-management")
	mapping := "/admin/realms/master/users/" + self + "/role-mappings/clients/" + rm

	e.must(204, "DELETE", mapping, e.admin, named("manage-users"))
	e.must(403, "GET", users, mu, nil)
	e.must(204, "POST", mapping, e.admin, named("view-users"))
	e.must(200, "GET", users, mu, nil)

	// Another process takes the role away, past the admin API.
	other, err := sqlite.Open(t.Context(), e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	r, err := other.GetRealmByName(t.Context(), "master")
	if err != nil {
		t.Fatal(err)
	}
	if err := other.RevokeUserRoles(t.Context(), r.ID, self, []string{e.roleID("master", rm, "view-users")}); err != nil {
		t.Fatal(err)
	}
	wrote := time.Now()
	for e.do("GET", users, mu, nil).status != 403 {
		if time.Since(wrote) > 5*time.Second {
			t.Fatal("the caller kept a right another process took away")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := time.Since(wrote); d > time.Second {
		t.Errorf("a right taken away by another process ended after %s, want within 1 s", d)
	}
}
