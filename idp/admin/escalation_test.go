package admin_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"
)

// The external review's escalation paths (issue 9, finding 1), each driven
// over HTTP with a limited admin's own token, plus the grants that must
// keep working.

// userID is the id of realm's user username.
func (e *env) userID(realm, username string) string {
	e.t.Helper()
	var users []map[string]any
	e.must(200, "GET", "/admin/realms/"+realm+"/users?exact=true&username="+url.QueryEscape(username), e.admin, nil).json(e.t, &users)
	if len(users) != 1 {
		e.t.Fatalf("user %s/%s: %v", realm, username, users)
	}
	return users[0]["id"].(string)
}

// clientUUID is the internal id of realm's client clientID.
func (e *env) clientUUID(realm, clientID string) string {
	e.t.Helper()
	var cs []map[string]any
	e.must(200, "GET", "/admin/realms/"+realm+"/clients?clientId="+url.QueryEscape(clientID), e.admin, nil).json(e.t, &cs)
	if len(cs) != 1 {
		e.t.Fatalf("client %s/%s: %v", realm, clientID, cs)
	}
	return cs[0]["id"].(string)
}

// roleID is the id of a realm role (client "") or of a client role (client
// is the client's internal id).
func (e *env) roleID(realm, client, name string) string {
	e.t.Helper()
	p := "/admin/realms/" + realm + "/roles/" + name
	if client != "" {
		p = "/admin/realms/" + realm + "/clients/" + client + "/roles/" + name
	}
	var r map[string]any
	e.must(200, "GET", p, e.admin, nil).json(e.t, &r)
	return r["id"].(string)
}

// groupWith creates a group (under parent, "" at the top) holding the
// given role mappings (realm roles by name; client roles keyed by the
// client's internal id) and returns its id.
func (e *env) groupWith(realm, parent, name string, realmRoles []string, clientRoles map[string][]string) string {
	e.t.Helper()
	b := "/admin/realms/" + realm
	p := b + "/groups"
	if parent != "" {
		p = b + "/groups/" + parent + "/children"
	}
	id := e.must(201, "POST", p, e.admin, map[string]any{"name": name}).id()
	if len(realmRoles) > 0 {
		e.must(204, "POST", b+"/groups/"+id+"/role-mappings/realm", e.admin, named(realmRoles...))
	}
	for client, roles := range clientRoles {
		e.must(204, "POST", b+"/groups/"+id+"/role-mappings/clients/"+client, e.admin, named(roles...))
	}
	return id
}

func named(names ...string) []map[string]any {
	out := []map[string]any{}
	for _, n := range names {
		out = append(out, map[string]any{"name": n})
	}
	return out
}

// effective are the names of the realm (client "") or client roles user
// effectively holds.
func (e *env) effective(realm, user, client string) []string {
	p := "/admin/realms/" + realm + "/users/" + user + "/role-mappings/realm/composite"
	if client != "" {
		p = "/admin/realms/" + realm + "/users/" + user + "/role-mappings/clients/" + client + "/composite"
	}
	return e.roleNames(p)
}

// TestEscalationMasterAdminRole: a master user holding only manage-users
// (or manage-realm, or manage-clients) cannot make itself server admin.
func TestEscalationMasterAdminRole(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "acme", "enabled": true})
	const m = "/admin/realms/master"

	mu := e.userWithRoles("master", "mu", "manage-users")
	self := e.userID("master", "mu")
	e.must(403, "POST", m+"/users/"+self+"/role-mappings/realm", mu, named("admin"))
	e.must(403, "POST", m+"/users/"+self+"/role-mappings/realm", mu, named("create-realm"))
	e.must(403, "POST", m+"/users/"+self+"/role-mappings/realm", mu, []map[string]any{{"id": e.roleID("master", "", "admin")}})
	rm := e.clientUUID("master", "realm-management")
	e.must(403, "POST", m+"/users/"+self+"/role-mappings/clients/"+rm, mu, named("realm-admin"))
	if got := e.effective("master", self, ""); slices.Contains(got, "admin") {
		t.Fatalf("manage-users made itself admin: %v", got)
	}
	e.must(403, "GET", "/admin/realms/acme", mu, nil)
	e.must(403, "POST", "/admin/realms", mu, map[string]any{"realm": "mine"})

	// manage-realm: admin into the default role makes every user admin.
	mr := e.userWithRoles("master", "mr", "manage-realm")
	e.must(403, "POST", m+"/roles/default-roles-master/composites", mr, named("admin"))
	def := e.roleID("master", "", "default-roles-master")
	e.must(403, "POST", m+"/roles-by-id/"+def+"/composites", mr, []map[string]any{{"id": e.roleID("master", "", "admin")}})
	// nor by naming another default role or editing scope mappings through PUT.
	e.must(204, "PUT", m, mr, map[string]any{"defaultRole": map[string]any{"name": "admin"},
		"scopeMappings": []map[string]any{{"client": "admin-cli", "roles": []string{"admin"}}}})
	var realm map[string]any
	e.must(200, "GET", m, e.admin, nil).json(t, &realm)
	if dr, _ := realm["defaultRole"].(map[string]any); dr["name"] != "default-roles-master" {
		t.Fatalf("default role is now %v", realm["defaultRole"])
	}
	if sms, _ := realm["scopeMappings"].([]any); len(sms) != 1 { // offline_access's own
		t.Fatalf("scope mappings changed through PUT: %v", sms)
	}
	if got := e.roleNames(m + "/roles/default-roles-master/composites/realm"); slices.Contains(got, "admin") {
		t.Fatalf("default role includes admin: %v", got)
	}
	e.must(400, "PUT", m, mr, map[string]any{"realm": "renamed"})

	// manage-clients: admin as a composite of a role the caller holds.
	mc := e.userWithRoles("master", "mc", "manage-clients")
	app := e.must(201, "POST", m+"/clients", e.admin, map[string]any{"clientId": "app"}).id()
	e.must(201, "POST", m+"/clients/"+app+"/roles", e.admin, map[string]any{"name": "app-user"})
	e.must(204, "POST", m+"/users/"+e.userID("master", "mc")+"/role-mappings/clients/"+app, e.admin, named("app-user"))
	e.must(403, "POST", m+"/clients/"+app+"/roles/app-user/composites", mc, named("admin"))
	e.must(403, "POST", m+"/clients/"+app+"/roles/app-user/composites", mc, []map[string]any{{"id": e.roleID("master", "", "admin")}})
	e.must(403, "POST", m+"/clients/"+rm+"/roles/manage-clients/composites", mc, named("admin"))
	if got := e.roleNames(m + "/clients/" + app + "/roles/app-user/composites"); len(got) != 0 {
		t.Fatalf("app-user gained composites %v", got)
	}
	// The caller can still do its job.
	e.must(204, "POST", m+"/clients/"+app+"/roles/app-user/composites", mc, []map[string]any{{"id": e.roleID("master", "", "offline_access")}})
}

// TestEscalationRenameAdminRoles: manage-clients cannot become realm-admin
// by renaming realm-management's roles (rights were looked up by name), nor
// touch the admin clients.
func TestEscalationRenameAdminRoles(t *testing.T) {
	e := newEnv(t)
	mc := e.realmWithUser("acme", "mc", "manage-clients")
	const b = "/admin/realms/acme"
	rm := e.clientUUID("acme", "realm-management")
	realmAdmin := e.roleID("acme", rm, "realm-admin")

	e.must(403, "PUT", b+"/clients/"+rm+"/roles/realm-admin", mc, map[string]any{"name": "was-realm-admin"})
	e.must(403, "PUT", b+"/clients/"+rm+"/roles/manage-clients", mc, map[string]any{"name": "realm-admin"})
	e.must(403, "PUT", b+"/roles-by-id/"+realmAdmin, mc, map[string]any{"name": "was-realm-admin"})
	e.must(403, "PUT", b+"/roles-by-id/"+e.roleID("acme", rm, "manage-clients"), mc, map[string]any{"name": "realm-admin"})
	e.must(403, "DELETE", b+"/clients/"+rm+"/roles/realm-admin", mc, nil)
	e.must(403, "DELETE", b+"/roles-by-id/"+realmAdmin+"/composites", mc, []map[string]any{{"id": e.roleID("acme", rm, "view-users")}})
	e.must(403, "POST", b+"/clients/"+rm+"/roles", mc, map[string]any{"name": "extra"})
	e.must(403, "PUT", b+"/clients/"+rm, mc, map[string]any{"clientId": "not-management"})
	e.must(403, "DELETE", b+"/clients/"+rm, mc, nil)
	e.must(403, "PUT", b+"/clients/"+e.clientUUID("acme", "admin-cli"), mc, map[string]any{"clientId": "admin-cli", "standardFlowEnabled": true,
		"redirectUris": []string{"https://evil.example/*"}})
	app := e.must(201, "POST", b+"/clients", mc, map[string]any{"clientId": "app"}).id()
	e.must(403, "PUT", b+"/clients/"+app, mc, map[string]any{"clientId": "security-admin-console"})
	e.must(403, "POST", b+"/clients", mc, map[string]any{"clientId": "realm-management"})

	var role map[string]any
	e.must(200, "GET", b+"/roles-by-id/"+realmAdmin, e.admin, nil).json(t, &role)
	if role["name"] != "realm-admin" {
		t.Fatalf("realm-admin renamed to %v", role["name"])
	}
	e.must(403, "GET", b+"/users", mc, nil) // still not realm-admin
	// A server admin may still rename (and rename back).
	e.must(204, "PUT", b+"/roles-by-id/"+realmAdmin, e.admin, map[string]any{"name": "realm-admin", "description": "All of it"})
}

// TestEscalationIndirect: a role whose composite includes realm-admin, a
// group (or a parent group) carrying it, scope mappings and service
// accounts are all checked by their effective closure.
func TestEscalationIndirect(t *testing.T) {
	e := newEnv(t)
	mu := e.realmWithUser("acme", "mu", "manage-users")
	mc := e.userWithRoles("acme", "mc", "manage-clients")
	const b = "/admin/realms/acme"
	rm := e.clientUUID("acme", "realm-management")
	self := e.userID("acme", "mu")

	e.must(201, "POST", b+"/roles", e.admin, map[string]any{"name": "boss"})
	e.must(204, "POST", b+"/roles/boss/composites", e.admin, []map[string]any{{"id": e.roleID("acme", rm, "realm-admin")}})
	e.must(201, "POST", b+"/roles", e.admin, map[string]any{"name": "staff"})
	bosses := e.groupWith("acme", "", "bosses", []string{"boss"}, nil)
	parent := e.groupWith("acme", "", "parent", nil, map[string][]string{rm: {"realm-admin"}})
	child := e.groupWith("acme", parent, "child", nil, nil)
	plain := e.groupWith("acme", "", "plain", []string{"staff"}, nil)

	e.must(403, "POST", b+"/users/"+self+"/role-mappings/realm", mu, named("boss"))
	e.must(403, "PUT", b+"/users/"+self+"/groups/"+bosses, mu, nil)
	e.must(403, "PUT", b+"/users/"+self+"/groups/"+child, mu, nil)
	e.must(403, "POST", b+"/users", mu, map[string]any{"username": "sock", "enabled": true, "groups": []string{"/parent/child"}})
	e.must(403, "POST", b+"/groups/"+plain+"/role-mappings/clients/"+rm, mu, named("realm-admin"))
	e.must(403, "POST", b+"/groups/"+plain+"/role-mappings/realm", mu, named("boss"))
	if got := e.effective("acme", self, rm); slices.Contains(got, "realm-admin") || slices.Contains(got, "manage-realm") {
		t.Fatalf("manage-users escalated to %v", got)
	}
	var socks []map[string]any
	if e.must(200, "GET", b+"/users?username=sock&exact=true", e.admin, nil).json(t, &socks); len(socks) != 0 {
		t.Fatalf("refused user was created: %v", socks)
	}
	// What manage-users is for still works.
	e.must(204, "PUT", b+"/users/"+self+"/groups/"+plain, mu, nil)
	e.must(204, "POST", b+"/users/"+self+"/role-mappings/realm", mu, named("staff"))
	e.must(201, "POST", b+"/users", mu, map[string]any{"username": "staffer", "groups": []string{"/plain"}})

	// manage-clients adds boss as a composite of a role it holds.
	app := e.must(201, "POST", b+"/clients", e.admin, map[string]any{"clientId": "app"}).id()
	e.must(201, "POST", b+"/clients/"+app+"/roles", e.admin, map[string]any{"name": "app-user"})
	e.must(204, "POST", b+"/users/"+e.userID("acme", "mc")+"/role-mappings/clients/"+app, e.admin, named("app-user"))
	e.must(403, "POST", b+"/clients/"+app+"/roles/app-user/composites", mc, []map[string]any{{"id": e.roleID("acme", "", "boss")}})
	// Scope mappings of admin roles.
	e.must(403, "POST", b+"/clients/"+app+"/scope-mappings/clients/"+rm, mc, named("realm-admin"))
	e.must(403, "POST", b+"/clients/"+app+"/scope-mappings/realm", mc, named("boss"))
	e.must(204, "POST", b+"/clients/"+app+"/scope-mappings/realm", mc, named("staff"))

	// Default groups and the default role.
	mr := e.userWithRoles("acme", "mr", "manage-realm")
	e.must(403, "PUT", b+"/default-groups/"+bosses, mr, nil)
	e.must(204, "PUT", b+"/default-groups/"+plain, mr, nil)
	e.must(403, "POST", b+"/roles/default-roles-acme/composites", mr, named("boss"))
	e.must(204, "PUT", b, mr, map[string]any{"defaultGroups": []string{"/bosses"}})
	var groups []map[string]any
	e.must(200, "GET", b+"/default-groups", e.admin, nil).json(t, &groups)
	if len(groups) != 1 || groups[0]["path"] != "/plain" {
		t.Fatalf("default groups %v", groups)
	}

	// A service account: its roles are mapped like a user's.
	robot := e.must(201, "POST", b+"/clients", e.admin, map[string]any{"clientId": "robot", "serviceAccountsEnabled": true}).id()
	var sa map[string]any
	e.must(200, "GET", b+"/clients/"+robot+"/service-account-user", e.admin, nil).json(t, &sa)
	e.must(403, "POST", b+"/users/"+sa["id"].(string)+"/role-mappings/clients/"+rm, mu, named("realm-admin"))
}

// TestEscalationAccountTakeover: a limited admin cannot take over an
// account, or a client's service account, that outranks it.
func TestEscalationAccountTakeover(t *testing.T) {
	e := newEnv(t)
	const m = "/admin/realms/master"
	mu := e.userWithRoles("master", "mu", "manage-users")
	admin := e.userID("master", "admin")
	pw := map[string]any{"type": "password", "value": "Taken-0ver!", "temporary": false}
	e.must(403, "PUT", m+"/users/"+admin+"/reset-password", mu, pw)
	e.must(403, "PUT", m+"/users/"+admin, mu, map[string]any{"email": "mu@evil.example"})
	e.must(403, "DELETE", m+"/users/"+admin, mu, nil)
	e.must(403, "POST", m+"/users/"+admin+"/logout", mu, nil)
	e.must(403, "DELETE", m+"/attack-detection/brute-force/users/"+admin, mu, nil)
	e.must(403, "DELETE", m+"/users/"+admin+"/role-mappings/realm", mu, named("admin"))
	e.login("master", "admin", "admin-secret-pw") // the password held
	e.userWithRoles("master", "plain")
	e.must(204, "PUT", m+"/users/"+e.userID("master", "plain")+"/reset-password", mu, pw)

	// A client whose service account holds realm-admin: its secret is that
	// account's password.
	acme := e.realmWithUser("acme", "mc", "manage-clients", "view-users")
	const b = "/admin/realms/acme"
	robot := e.must(201, "POST", b+"/clients", e.admin, map[string]any{"clientId": "robot", "serviceAccountsEnabled": true}).id()
	var sa map[string]any
	e.must(200, "GET", b+"/clients/"+robot+"/service-account-user", e.admin, nil).json(t, &sa)
	e.must(204, "POST", b+"/users/"+sa["id"].(string)+"/role-mappings/clients/"+e.clientUUID("acme", "realm-management"), e.admin, named("realm-admin"))
	e.must(403, "GET", b+"/clients/"+robot+"/client-secret", acme, nil)
	e.must(403, "POST", b+"/clients/"+robot+"/client-secret", acme, nil)
	e.must(403, "PUT", b+"/clients/"+robot, acme, map[string]any{"clientId": "robot", "secret": "known"})
	e.must(403, "DELETE", b+"/clients/"+robot, acme, nil)
	var cl map[string]any
	e.must(200, "GET", b+"/clients/"+robot, acme, nil).json(t, &cl)
	if cl["secret"] != "**********" {
		t.Fatalf("secret shown to manage-clients: %v", cl["secret"])
	}
	e.must(200, "GET", b+"/clients/"+robot, e.admin, nil).json(t, &cl)
	if s, _ := cl["secret"].(string); len(s) < 16 || s == "**********" {
		t.Fatalf("server admin sees secret %q", s)
	}
}

// TestEscalationThroughMappers: identity-provider and LDAP mappers that
// would hand admin roles (or groups carrying them) to the users they map.
func TestEscalationThroughMappers(t *testing.T) {
	e := newEnv(t)
	idps := e.realmWithUser("acme", "idps", "manage-identity-providers")
	mr := e.userWithRoles("acme", "mr", "manage-realm")
	const b = "/admin/realms/acme"
	rm := e.clientUUID("acme", "realm-management")
	e.must(201, "POST", b+"/roles", e.admin, map[string]any{"name": "boss"})
	e.must(204, "POST", b+"/roles/boss/composites", e.admin, []map[string]any{{"id": e.roleID("acme", rm, "manage-users")}})
	e.groupWith("acme", "", "bosses", []string{"boss"}, nil)
	e.must(201, "POST", b+"/roles", e.admin, map[string]any{"name": "staff"})

	e.must(201, "POST", b+"/identity-provider/instances", idps, map[string]any{"alias": "corp", "providerId": "oidc",
		"config": map[string]string{"clientId": "x", "clientSecret": "x-Secret", "authorizationUrl": "https://idp.example/auth",
			"tokenUrl": "https://idp.example/token"}})
	mapper := func(typ string, config map[string]string) map[string]any {
		return map[string]any{"name": typ, "identityProviderAlias": "corp", "identityProviderMapper": typ, "config": config}
	}
	const mappers = b + "/identity-provider/instances/corp/mappers"
	e.must(403, "POST", mappers, idps, mapper("hardcoded-role-idp-mapper", map[string]string{"role": "realm-management.realm-admin"}))
	e.must(403, "POST", mappers, idps, mapper("oidc-role-idp-mapper", map[string]string{"claim": "x", "claim.value": "y", "role": "boss"}))
	e.must(403, "POST", mappers, idps, mapper("oidc-hardcoded-group-idp-mapper", map[string]string{"group": "/bosses"}))
	e.must(400, "POST", mappers, idps, mapper("hardcoded-role-idp-mapper", map[string]string{"role": "not-yet"}))
	ok := e.must(201, "POST", mappers, idps, mapper("hardcoded-role-idp-mapper", map[string]string{"role": "staff"})).id()
	e.must(403, "PUT", mappers+"/"+ok, idps, mapper("hardcoded-role-idp-mapper", map[string]string{"role": "boss"}))
	e.must(201, "POST", mappers, e.admin, mapper("hardcoded-role-idp-mapper", map[string]string{"role": "boss"}))

	ldap := e.must(201, "POST", b+"/components", e.admin, map[string]any{"name": "ldap", "providerId": "ldap",
		"providerType": "org.keycloak.storage.UserStorageProvider", "config": map[string][]string{"connectionUrl": {"ldap://127.0.0.1:1"},
			"usersDn": {"ou=people,dc=example"}, "editMode": {"READ_ONLY"}}}).id()
	component := func(name, provider string, config map[string][]string) map[string]any {
		return map[string]any{"name": name, "providerId": provider, "parentId": ldap,
			"providerType": "org.keycloak.storage.ldap.mappers.LDAPStorageMapper", "config": config}
	}
	e.must(403, "POST", b+"/components", mr, component("r", "hardcoded-ldap-role-mapper", map[string][]string{"role": {"realm-management.realm-admin"}}))
	e.must(403, "POST", b+"/components", mr, component("g", "hardcoded-ldap-group-mapper", map[string][]string{"group": {"/bosses"}}))
	e.must(403, "POST", b+"/components", mr, component("rl", "role-ldap-mapper", map[string][]string{"client.id": {"realm-management"},
		"use.realm.roles.mapping": {"false"}, "roles.dn": {"ou=roles,dc=example"}, "mode": {"READ_ONLY"}}))
	e.must(403, "POST", b+"/components", mr, component("rr", "role-ldap-mapper", map[string][]string{"use.realm.roles.mapping": {"true"},
		"roles.dn": {"ou=roles,dc=example"}, "mode": {"READ_ONLY"}}))
	e.must(201, "POST", b+"/components", mr, component("ok", "hardcoded-ldap-role-mapper", map[string][]string{"role": {"staff"}}))
}

// TestAdminTokenClientScope: only admin-cli and the admin console stand for
// all of their user's roles; any other client's token counts the roles the
// client has in scope (Keycloak's client.hasScope).
func TestAdminTokenClientScope(t *testing.T) {
	e := newEnv(t)
	e.realmWithUser("acme", "ra", "realm-admin")
	const b = "/admin/realms/acme"
	portal := e.must(201, "POST", b+"/clients", e.admin, map[string]any{"clientId": "portal", "secret": "portal-secret",
		"directAccessGrantsEnabled": true, "fullScopeAllowed": false}).id()
	token := func() string {
		return e.token("acme", url.Values{"grant_type": {"password"}, "client_id": {"portal"}, "client_secret": {"portal-secret"},
			"username": {"ra"}, "password": {"Passw0rd-ra"}})
	}
	e.must(403, "GET", b+"/users", token(), nil)
	// Scope-mapping realm-admin to the client puts it in scope.
	e.must(204, "POST", b+"/clients/"+portal+"/scope-mappings/clients/"+e.clientUUID("acme", "realm-management"), e.admin, named("realm-admin"))
	e.must(200, "GET", b+"/users", token(), nil)
	e.must(204, "DELETE", b+"/clients/"+portal+"/scope-mappings/clients/"+e.clientUUID("acme", "realm-management"), e.admin, named("realm-admin"))
	e.must(403, "GET", b+"/users", token(), nil)
	e.must(204, "PUT", b+"/clients/"+portal, e.admin, map[string]any{"fullScopeAllowed": true})
	e.must(200, "GET", b+"/users", token(), nil)

}

// TestAdminRealmClients: master users holding roles of Keycloak's
// "<realm>-realm" clients (as a Keycloak master export has them) manage
// that realm, and grant there only what they hold.
func TestAdminRealmClients(t *testing.T) {
	e := newEnv(t)
	e.realmWithUser("acme", "alice")
	e.realmWithUser("other", "olga")
	const m = "/admin/realms/master"
	mc := e.userWithRoles("master", "mc", "manage-clients")
	e.must(403, "POST", m+"/clients", mc, map[string]any{"clientId": "acme-realm"})
	ar := e.must(201, "POST", m+"/clients", e.admin, map[string]any{"clientId": "acme-realm", "bearerOnly": true}).id()
	for _, r := range []string{"view-users", "manage-users", "realm-admin"} {
		e.must(201, "POST", m+"/clients/"+ar+"/roles", e.admin, map[string]any{"name": r})
	}
	e.userWithRoles("master", "delegate")
	e.must(204, "POST", m+"/users/"+e.userID("master", "delegate")+"/role-mappings/clients/"+ar, e.admin, named("view-users", "manage-users"))
	delegate := e.login("master", "delegate", "Passw0rd-delegate")
	e.must(200, "GET", "/admin/realms/acme/users", delegate, nil)
	e.must(201, "POST", "/admin/realms/acme/users", delegate, map[string]any{"username": "made"})
	e.must(403, "GET", "/admin/realms/acme/clients", delegate, nil)
	e.must(403, "GET", "/admin/realms/other/users", delegate, nil)
	e.must(403, "GET", "/admin/realms/master/users", delegate, nil)
	rm := e.clientUUID("acme", "realm-management")
	alice := "/admin/realms/acme/users/" + e.userID("acme", "alice") + "/role-mappings/clients/" + rm
	e.must(204, "POST", alice, delegate, named("manage-users"))
	e.must(403, "POST", alice, delegate, named("realm-admin"))
	// master's <realm>-realm roles are admin roles in master: manage-users
	// there cannot hand them out.
	mu := e.userWithRoles("master", "mu", "manage-users")
	e.must(403, "POST", m+"/users/"+e.userID("master", "mu")+"/role-mappings/clients/"+ar, mu, named("realm-admin"))
	e.must(403, "POST", m+"/clients/"+ar+"/roles", mc, map[string]any{"name": "more"})
}

// token runs a token request in realm and returns the access token.
func (e *env) token(realm string, form url.Values) string {
	e.t.Helper()
	resp, err := client.PostForm(e.url+"/realms/"+realm+"/protocol/openid-connect/token", form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		e.t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}

// TestEscalationByNameTakeover: the default role and default groups (and
// mappers) name roles and groups; renaming a role, group or client that
// carries admin rights onto such a name would hand them out.
func TestEscalationByNameTakeover(t *testing.T) {
	e := newEnv(t)
	mr := e.realmWithUser("acme", "mr", "manage-realm", "manage-users", "manage-clients")
	const b = "/admin/realms/acme"
	rm := e.clientUUID("acme", "realm-management")
	e.must(201, "POST", b+"/roles", e.admin, map[string]any{"name": "boss"})
	e.must(204, "POST", b+"/roles/boss/composites", e.admin, []map[string]any{{"id": e.roleID("acme", rm, "realm-admin")}})
	bosses := e.groupWith("acme", "", "bosses", nil, map[string][]string{rm: {"realm-admin"}})
	inner := e.groupWith("acme", "", "outer", nil, nil)
	e.groupWith("acme", inner, "inner", []string{"boss"}, nil)
	plain := e.groupWith("acme", "", "plain", nil, nil)

	// Swap the default role's name onto boss.
	e.must(204, "PUT", b+"/roles/default-roles-acme", mr, map[string]any{"name": "old-default"})
	e.must(403, "PUT", b+"/roles/boss", mr, map[string]any{"name": "default-roles-acme"})
	e.must(204, "PUT", b+"/default-groups/"+plain, mr, nil)
	// Swap the default group's path onto bosses, or onto a parent of a group carrying boss.
	e.must(204, "PUT", b+"/groups/"+plain, mr, map[string]any{"name": "was-plain"})
	e.must(403, "PUT", b+"/groups/"+bosses, mr, map[string]any{"name": "plain"})
	e.must(403, "PUT", b+"/groups/"+inner, mr, map[string]any{"name": "plain"})
	// Swap a clientId that a mapper names onto a client whose role includes realm-admin.
	app := e.must(201, "POST", b+"/clients", e.admin, map[string]any{"clientId": "app"}).id()
	e.must(201, "POST", b+"/clients/"+app+"/roles", e.admin, map[string]any{"name": "staff"})
	e.must(204, "POST", b+"/clients/"+app+"/roles/staff/composites", e.admin, []map[string]any{{"id": e.roleID("acme", "", "boss")}})
	e.must(403, "PUT", b+"/clients/"+app, mr, map[string]any{"clientId": "app2"})

	e.must(201, "POST", b+"/users", mr, map[string]any{"username": "newbie"})
	newbie := e.userID("acme", "newbie")
	if got := e.effective("acme", newbie, rm); len(got) != 0 {
		t.Fatalf("a new user got %v", got)
	}
	// The default group followed its rename.
	var groups []map[string]any
	if e.must(200, "GET", b+"/users/"+newbie+"/groups", e.admin, nil).json(t, &groups); len(groups) != 1 || groups[0]["path"] != "/was-plain" {
		t.Fatalf("new user's groups %v", groups)
	}
}
