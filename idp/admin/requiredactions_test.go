package admin_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/keygate/keygate/idp/rep"
)

// The realm's required-action providers, with Keycloak's shapes.
func TestRequiredActionProviders(t *testing.T) {
	e := newEnv(t)
	viewer := e.realmWithUser("ra", "viewer", "view-realm")
	base := "/admin/realms/ra/authentication"
	var list []map[string]any
	e.must(200, "GET", base+"/required-actions", viewer, nil).json(t, &list)
	var aliases []string
	for _, p := range list {
		aliases = append(aliases, p["alias"].(string))
	}
	want := []string{"CONFIGURE_TOTP", "TERMS_AND_CONDITIONS", "UPDATE_PASSWORD", "UPDATE_PROFILE", "VERIFY_EMAIL", "delete_account"}
	if !slices.Equal(aliases, want) {
		t.Fatalf("aliases %v", aliases)
	}
	var terms map[string]any
	e.must(200, "GET", base+"/required-actions/TERMS_AND_CONDITIONS", viewer, nil).json(t, &terms)
	if terms["name"] != "Terms and Conditions" || terms["providerId"] != "TERMS_AND_CONDITIONS" || terms["enabled"] != false ||
		terms["defaultAction"] != false || terms["priority"] != float64(20) || terms["config"] == nil {
		t.Fatalf("terms %v", terms)
	}
	e.must(404, "GET", base+"/required-actions/nope", viewer, nil)
	// view-realm may not write.
	e.must(403, "PUT", base+"/required-actions/TERMS_AND_CONDITIONS", viewer, map[string]any{"enabled": true})

	// Enable the terms as a default action; new users get it.
	terms["enabled"], terms["defaultAction"] = true, true
	e.must(204, "PUT", base+"/required-actions/TERMS_AND_CONDITIONS", e.admin, terms)
	e.must(200, "GET", base+"/required-actions/TERMS_AND_CONDITIONS", e.admin, nil).json(t, &terms)
	if terms["enabled"] != true || terms["defaultAction"] != true {
		t.Fatalf("after update %v", terms)
	}
	id := e.must(201, "POST", "/admin/realms/ra/users", e.admin, map[string]any{"username": "newbie", "enabled": true}).id()
	var u rep.User
	e.must(200, "GET", "/admin/realms/ra/users/"+id, e.admin, nil).json(t, &u)
	if !slices.Equal(u.RequiredActions, []string{"TERMS_AND_CONDITIONS"}) {
		t.Fatalf("new user's actions %v", u.RequiredActions)
	}

	// Raise UPDATE_PROFILE above UPDATE_PASSWORD; lower it back.
	e.must(204, "POST", base+"/required-actions/UPDATE_PROFILE/raise-priority", e.admin, nil)
	order := func() []string {
		var l []map[string]any
		e.must(200, "GET", base+"/required-actions", e.admin, nil).json(t, &l)
		var out []string
		for _, p := range l {
			out = append(out, p["alias"].(string))
		}
		return out
	}
	if got := order(); !slices.Equal(got[:4], []string{"CONFIGURE_TOTP", "TERMS_AND_CONDITIONS", "UPDATE_PROFILE", "UPDATE_PASSWORD"}) {
		t.Fatalf("after raise %v", got)
	}
	e.must(204, "POST", base+"/required-actions/UPDATE_PROFILE/lower-priority", e.admin, nil)
	if got := order(); !slices.Equal(got, want) {
		t.Fatalf("after lower %v", got)
	}

	// Unregister delete_account; it is offered again and registers last.
	e.must(204, "DELETE", base+"/required-actions/delete_account", e.admin, nil)
	e.must(404, "DELETE", base+"/required-actions/delete_account", e.admin, nil)
	var unreg []map[string]string
	e.must(200, "GET", base+"/unregistered-required-actions", viewer, nil).json(t, &unreg)
	if len(unreg) != 1 || unreg[0]["providerId"] != "delete_account" || unreg[0]["name"] != "Delete Account" {
		t.Fatalf("unregistered %v", unreg)
	}
	e.must(204, "POST", base+"/register-required-action", e.admin, map[string]string{"providerId": "delete_account", "name": "Delete Account"})
	e.must(409, "POST", base+"/register-required-action", e.admin, map[string]string{"providerId": "delete_account", "name": "Delete Account"})
	e.must(404, "POST", base+"/register-required-action", e.admin, map[string]string{"providerId": "no-such", "name": "x"})
	var da map[string]any
	e.must(200, "GET", base+"/required-actions/delete_account", e.admin, nil).json(t, &da)
	if da["enabled"] != true || da["priority"] != float64(60) {
		t.Fatalf("registered %v", da)
	}

	// A realm update leaves the list alone, as Keycloak's does.
	e.must(204, "PUT", "/admin/realms/ra", e.admin, map[string]any{"realm": "ra", "requiredActions": []any{}})
	if got := order(); len(got) != 6 {
		t.Fatalf("after realm update %v", got)
	}

	// The realm export carries the list.
	r, err := rep.ExportRealm(t.Context(), e.st, "ra", false)
	if err != nil || len(r.RequiredActions) != 6 || r.RequiredActions[1].Alias != "TERMS_AND_CONDITIONS" || !r.RequiredActions[1].DefaultAction {
		t.Fatalf("export requiredActions %+v %v", r.RequiredActions, err)
	}
	// A realm that never named its list exports Keycloak's defaults.
	e.realmWithUser("fresh", "x")
	if r, err = rep.ExportRealm(t.Context(), e.st, "fresh", false); err != nil || len(r.RequiredActions) != 6 {
		t.Fatalf("export defaults %+v %v", r.RequiredActions, err)
	}
	b, _ := json.Marshal(r)
	var back rep.Realm
	if err := json.Unmarshal(b, &back); err != nil || len(back.RequiredActions) != 6 || back.RequiredActions[0].Config == nil {
		t.Fatalf("round trip %v", err)
	}
}
