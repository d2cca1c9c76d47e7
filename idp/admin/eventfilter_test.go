package admin_test

import (
	"strconv"
	"strings"
	"testing"
)

// TestEventFilterHostile: a view-events caller cannot make the store keep
// a query text per list length it picks: past 256 distinct values a list
// filter is a 400, and duplicates do not change the answer.
func TestEventFilterHostile(t *testing.T) {
	e := newEnv(t)
	viewer := e.realmWithUser("evf", "viewer", "view-events")
	base := "/admin/realms/evf"
	e.must(204, "PUT", base+"/events/config", e.admin, map[string]any{"adminEventsEnabled": true})
	e.userWithRoles("evf", "u1")
	e.userWithRoles("evf", "u2")

	list := func(name string, n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString("&" + name + "=X" + strconv.Itoa(i))
		}
		return b.String()
	}
	for _, p := range []string{"/events?" + list("type", 257), "/admin-events?" + list("operationTypes", 257),
		"/admin-events?" + list("resourceTypes", 257)} {
		e.must(400, "GET", base+p, viewer, nil)
	}
	e.must(200, "GET", base+"/events?"+list("type", 256), viewer, nil)

	one := len(e.adminEvents("evf", viewer, "resourceTypes=USER"))
	if one == 0 {
		t.Fatal("no USER admin events")
	}
	if n := len(e.adminEvents("evf", viewer, "resourceTypes=USER&resourceTypes=USER&resourceTypes=USER&resourceTypes=NOPE")); n != one {
		t.Errorf("USER x3 + NOPE: %d events, want %d", n, one)
	}
	if n := len(e.adminEvents("evf", viewer, "resourceTypes=NOPE&resourceTypes=NOPE&resourceTypes=NOPE")); n != 0 {
		t.Errorf("NOPE x3: %d events, want 0", n)
	}
}
