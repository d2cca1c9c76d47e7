package admin_test

import (
	"slices"
	"testing"

	"github.com/google/uuid"
)

// TestGroupRoleMappingViews: a group's role mappings as a whole
// (MappingsRepresentation), and its effective ("composite") and available
// realm and client roles, where effective includes the roles of its parent
// groups (Keycloak's GroupModel.hasRole), composites expanded. Reading
// needs view-users; unknown groups and clients are 404.
func TestGroupRoleMappingViews(t *testing.T) {
	e := newEnv(t)
	viewer := e.realmWithUser("gm", "viewer", "view-users")
	clientsOnly := e.userWithRoles("gm", "clientsonly", "view-clients")
	e.realmWithUser("gm2", "someone")
	b := "/admin/realms/gm"
	for _, r := range []string{"parent-role", "nested", "child-role", "other"} {
		e.must(201, "POST", b+"/roles", e.admin, map[string]any{"name": r})
	}
	e.must(204, "POST", b+"/roles/parent-role/composites", e.admin, named("nested"))
	app := e.must(201, "POST", b+"/clients", e.admin, map[string]any{"clientId": "app"}).id()
	for _, r := range []string{"read", "write"} {
		e.must(201, "POST", b+"/clients/"+app+"/roles", e.admin, map[string]any{"name": r})
	}
	parent := e.must(201, "POST", b+"/groups", e.admin, map[string]any{"name": "parent"}).id()
	child := e.must(201, "POST", b+"/groups/"+parent+"/children", e.admin, map[string]any{"name": "child"}).id()
	e.must(204, "POST", b+"/groups/"+parent+"/role-mappings/realm", e.admin, named("parent-role"))
	e.must(204, "POST", b+"/groups/"+parent+"/role-mappings/clients/"+app, e.admin, named("read"))
	e.must(204, "POST", b+"/groups/"+child+"/role-mappings/realm", e.admin, named("child-role"))
	other := e.must(201, "POST", "/admin/realms/gm2/groups", e.admin, map[string]any{"name": "elsewhere"}).id()

	// All direct mappings: realm roles, and client roles by clientId.
	var all struct {
		RealmMappings  []map[string]any `json:"realmMappings"`
		ClientMappings map[string]struct {
			ID       string           `json:"id"`
			Client   string           `json:"client"`
			Mappings []map[string]any `json:"mappings"`
		} `json:"clientMappings"`
	}
	e.must(200, "GET", b+"/groups/"+parent+"/role-mappings", viewer, nil).json(t, &all)
	if len(all.RealmMappings) != 1 || all.RealmMappings[0]["name"] != "parent-role" {
		t.Fatalf("realmMappings = %v", all.RealmMappings)
	}
	if m := all.ClientMappings["app"]; m.ID != app || m.Client != "app" || len(m.Mappings) != 1 || m.Mappings[0]["name"] != "read" {
		t.Fatalf("clientMappings = %+v", all.ClientMappings)
	}
	var raw map[string]any
	e.must(200, "GET", b+"/groups/"+child+"/role-mappings", viewer, nil).json(t, &raw)
	if _, ok := raw["clientMappings"]; ok {
		t.Fatalf("child's mappings carry an empty clientMappings: %v", raw) // omitted when empty, as Keycloak
	}

	// The child's effective roles include its parent's, expanded.
	names := func(p string) []string {
		t.Helper()
		var rs []map[string]any
		e.must(200, "GET", p, viewer, nil).json(t, &rs)
		var out []string
		for _, r := range rs {
			out = append(out, r["name"].(string))
		}
		slices.Sort(out)
		return out
	}
	g := b + "/groups/" + child + "/role-mappings"
	if got := names(g + "/realm/composite"); !slices.Equal(got, []string{"child-role", "nested", "parent-role"}) {
		t.Fatalf("child's effective realm roles = %v", got)
	}
	avail := names(g + "/realm/available")
	if !slices.Contains(avail, "other") || slices.ContainsFunc(avail, func(n string) bool {
		return n == "child-role" || n == "parent-role" || n == "nested"
	}) {
		t.Fatalf("child's available realm roles = %v", avail)
	}
	if got := names(g + "/clients/" + app + "/composite"); !slices.Equal(got, []string{"read"}) {
		t.Fatalf("child's effective app roles = %v", got)
	}
	if got := names(g + "/clients/" + app + "/available"); !slices.Equal(got, []string{"write"}) {
		t.Fatalf("child's available app roles = %v", got)
	}
	// The parent does not hold its child's roles.
	if got := names(b + "/groups/" + parent + "/role-mappings/realm/composite"); !slices.Equal(got, []string{"nested", "parent-role"}) {
		t.Fatalf("parent's effective realm roles = %v", got)
	}

	paths := []string{"", "/realm/composite", "/realm/available", "/clients/" + app + "/composite", "/clients/" + app + "/available"}
	for _, p := range paths {
		e.must(403, "GET", g+p, clientsOnly, nil)
		e.must(404, "GET", b+"/groups/"+uuid.NewString()+"/role-mappings"+p, viewer, nil)
		e.must(404, "GET", b+"/groups/"+other+"/role-mappings"+p, viewer, nil)
	}
	for _, p := range []string{"/composite", "/available"} {
		e.must(404, "GET", g+"/clients/"+uuid.NewString()+p, viewer, nil)
	}
}
