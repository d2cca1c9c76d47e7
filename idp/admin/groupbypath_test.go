package admin_test

import (
	"testing"
)

// TestGroupByPath: GET /group-by-path/{path} finds a group by its path,
// as typed or with its slashes encoded (the admin client sends %2F), and
// answers it with its whole subtree and each group's roles (Keycloak's
// toGroupHierarchy). It needs view-users; a path that is not a group of
// this realm is 404 "Group path does not exist".
func TestGroupByPath(t *testing.T) {
	e := newEnv(t)
	viewer := e.realmWithUser("gp", "viewer", "view-users")
	clientsOnly := e.userWithRoles("gp", "clientsonly", "view-clients")
	e.realmWithUser("gp2", "someone")
	e.must(201, "POST", "/admin/realms/gp2/groups", e.admin, map[string]any{"name": "elsewhere"})
	b := "/admin/realms/gp"
	e.must(201, "POST", b+"/roles", e.admin, map[string]any{"name": "leafy"})
	top := e.must(201, "POST", b+"/groups", e.admin, map[string]any{"name": "top"}).id()
	mid := e.must(201, "POST", b+"/groups/"+top+"/children", e.admin, map[string]any{"name": "mid", "attributes": map[string]any{"k": []string{"v"}}}).id()
	leaf := e.must(201, "POST", b+"/groups/"+mid+"/children", e.admin, map[string]any{"name": "leaf"}).id()
	slashed := e.must(201, "POST", b+"/groups/"+top+"/children", e.admin, map[string]any{"name": "x/y"}).id()
	e.must(204, "POST", b+"/groups/"+leaf+"/role-mappings/realm", e.admin, named("leafy"))

	type group struct {
		ID            string              `json:"id"`
		Name          string              `json:"name"`
		Path          string              `json:"path"`
		ParentID      string              `json:"parentId"`
		Attributes    map[string][]string `json:"attributes"`
		RealmRoles    []string            `json:"realmRoles"`
		SubGroupCount int                 `json:"subGroupCount"`
		SubGroups     []group             `json:"subGroups"`
	}
	for _, p := range []string{"top/mid", "/top/mid", "top%2Fmid", "%2Ftop%2Fmid", "top/mid/"} {
		var g group
		e.must(200, "GET", b+"/group-by-path/"+p, viewer, nil).json(t, &g)
		if g.ID != mid || g.Path != "/top/mid" || g.ParentID != top || g.Attributes["k"][0] != "v" || g.SubGroupCount != 1 {
			t.Fatalf("%s: %+v", p, g)
		}
		if len(g.SubGroups) != 1 || g.SubGroups[0].ID != leaf || g.SubGroups[0].Path != "/top/mid/leaf" ||
			len(g.SubGroups[0].RealmRoles) != 1 || g.SubGroups[0].RealmRoles[0] != "leafy" {
			t.Fatalf("%s: subGroups %+v", p, g.SubGroups)
		}
	}
	var g group
	e.must(200, "GET", b+"/group-by-path/top", viewer, nil).json(t, &g)
	if g.ID != top || len(g.SubGroups) != 2 || len(g.SubGroups[0].SubGroups) != 1 {
		t.Fatalf("top: %+v", g) // the whole subtree, not one level
	}
	e.must(200, "GET", b+"/group-by-path/top/x~%2Fy", viewer, nil).json(t, &g)
	if g.ID != slashed {
		t.Fatalf("x/y: %+v", g)
	}

	for _, p := range []string{"top/nope", "mid", "elsewhere", "top/x/y"} {
		r := e.must(404, "GET", b+"/group-by-path/"+p, viewer, nil)
		var body map[string]any
		r.json(t, &body)
		if body["error"] != "Group path does not exist" {
			t.Fatalf("%s: %s", p, r.body)
		}
	}
	e.must(403, "GET", b+"/group-by-path/top", clientsOnly, nil)
}
