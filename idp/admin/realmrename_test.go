package admin_test

import "testing"

// TestRealmRenameFollowsAdminClient: master's "<realm>-realm" client follows
// its realm's rename, as Keycloak's RealmManager renames it, and a rename
// onto a name whose "<name>-realm" client exists is a conflict: that
// client's role holders would otherwise manage the renamed realm, and its
// own delegates would lose it.
func TestRealmRenameFollowsAdminClient(t *testing.T) {
	e := newEnv(t)
	mr := e.realmWithUser("beta", "mr", "manage-realm")
	const m = "/admin/realms/master"
	acme := e.must(201, "POST", m+"/clients", e.admin, map[string]any{"clientId": "acme-realm", "bearerOnly": true}).id()
	e.must(201, "POST", m+"/clients/"+acme+"/roles", e.admin, map[string]any{"name": "realm-admin"})
	carol := e.userWithRoles("master", "carol")
	e.must(204, "POST", m+"/users/"+e.userID("master", "carol")+"/role-mappings/clients/"+acme, e.admin, named("realm-admin"))
	beta := e.must(201, "POST", m+"/clients", e.admin, map[string]any{"clientId": "beta-realm", "bearerOnly": true}).id()
	e.must(201, "POST", m+"/clients/"+beta+"/roles", e.admin, map[string]any{"name": "manage-realm"})
	e.userWithRoles("master", "dave")
	e.must(204, "POST", m+"/users/"+e.userID("master", "dave")+"/role-mappings/clients/"+beta, e.admin, named("manage-realm"))
	dave := e.login("master", "dave", "Passw0rd-dave")

	e.must(409, "PUT", "/admin/realms/beta", mr, map[string]any{"realm": "acme"})
	e.must(403, "GET", "/admin/realms/beta/users", carol, nil)
	e.must(204, "PUT", "/admin/realms/beta", dave, map[string]any{"realm": "delta"})
	e.must(200, "GET", "/admin/realms/delta", dave, nil)
	e.clientUUID("master", "delta-realm")
	e.must(204, "PUT", "/admin/realms/delta", dave, map[string]any{"realm": "beta"})
	e.clientUUID("master", "beta-realm")
}

// TestRealmDeleteRemovesAdminClient: deleting a realm deletes master's
// "<realm>-realm" client, as Keycloak's RealmManager does: left behind,
// its role holders would manage the next realm created under that name.
func TestRealmDeleteRemovesAdminClient(t *testing.T) {
	e := newEnv(t)
	e.realmWithUser("acme", "alice")
	const m = "/admin/realms/master"
	acme := e.must(201, "POST", m+"/clients", e.admin, map[string]any{"clientId": "acme-realm", "bearerOnly": true}).id()
	e.must(201, "POST", m+"/clients/"+acme+"/roles", e.admin, map[string]any{"name": "realm-admin"})
	old := e.userWithRoles("master", "old")
	e.must(204, "POST", m+"/users/"+e.userID("master", "old")+"/role-mappings/clients/"+acme, e.admin, named("realm-admin"))
	e.must(200, "GET", "/admin/realms/acme/users", old, nil)
	e.must(204, "DELETE", "/admin/realms/acme", e.admin, nil)
	e.must(404, "GET", m+"/clients/"+acme, e.admin, nil)
	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "acme", "enabled": true})
	e.must(403, "GET", "/admin/realms/acme/users", old, nil)
}
