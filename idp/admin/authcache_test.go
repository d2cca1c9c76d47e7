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
	// Within 1 s: no request made more than 1 s after the write is still
	// allowed (when the request started, not when its answer came, which
	// a loaded machine can delay).
	wrote := time.Now()
	for {
		asked := time.Since(wrote)
		if e.do("GET", users, mu, nil).status == 403 {
			break
		}
		if asked > time.Second {
			t.Fatalf("a request made %s after another process took the right away was allowed, want refused within 1 s", asked.Round(time.Millisecond))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
