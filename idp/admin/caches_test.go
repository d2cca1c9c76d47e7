package admin_test

import (
	"testing"
	"time"

	"github.com/keygate/keygate/store/cache"
	"github.com/keygate/keygate/store/sqlite"
)

// TestClearCaches: the cache endpoints need manage-realm and answer 204
// with an ACTION admin event on the realm. clear-realm-cache moves the
// realm's config counter in the database, so another process (here a
// second store on the same file) sees the realm's cached state as changed,
// and it leaves nothing behind in the realm.
func TestClearCaches(t *testing.T) {
	e := newEnv(t)
	realmAdmin := e.realmWithUser("cc", "ra", "manage-realm")
	viewer := e.userWithRoles("cc", "viewer", "view-realm")
	users := e.userWithRoles("cc", "users", "manage-users")
	b := "/admin/realms/cc"
	e.must(204, "PUT", b+"/events/config", e.admin, map[string]any{"adminEventsEnabled": true})

	other, err := sqlite.Open(t.Context(), e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	r, err := other.GetRealmByName(t.Context(), "cc")
	if err != nil {
		t.Fatal(err)
	}
	config := func() int64 {
		t.Helper()
		snap := cache.For(other).Current(t.Context())
		if snap == nil {
			t.Fatal("change counters unreadable")
		}
		return snap.Realm(r.ID).Config
	}
	var groups []map[string]any
	e.must(200, "GET", b+"/groups", e.admin, nil).json(t, &groups)
	before := config()

	for _, p := range []string{"/clear-realm-cache", "/clear-user-cache", "/clear-keys-cache"} {
		e.must(403, "POST", b+p, viewer, nil)
		e.must(403, "POST", b+p, users, nil)
		e.must(204, "POST", b+p, realmAdmin, nil)
		evs := e.adminEvents("cc", e.admin, "operationTypes=ACTION&resourcePath="+p[1:])
		if len(evs) != 1 || evs[0].ResourceType != "REALM" {
			t.Fatalf("%s: admin events %+v", p, evs)
		}
	}
	// The other process reads the counters at most every poll interval.
	for deadline := time.Now().Add(2 * time.Second); config() <= before; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("config counter still %d: clear-realm-cache did not move it", before)
		}
	}
	var now []map[string]any
	e.must(200, "GET", b+"/groups", e.admin, nil).json(t, &now)
	if len(now) != len(groups) {
		t.Fatalf("groups %v -> %v", groups, now)
	}
	e.must(404, "POST", "/admin/realms/no-such-realm/clear-realm-cache", e.admin, nil)
}
