package admin_test

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestRealmImportAttacksHeld: a master user holding only create-realm
// cannot, through POST /admin/realms, add users to an existing realm
// (master above all), take over another realm's ids, or leave half a
// realm behind; a realm with a composite role cycle imports and its
// effective roles still resolve.
func TestRealmImportAttacksHeld(t *testing.T) {
	e := newEnv(t)
	id := e.must(201, "POST", "/admin/realms/master/users", e.admin, map[string]any{"username": "creator", "enabled": true,
		"credentials": []map[string]any{{"type": "password", "value": "Passw0rd-creator"}}}).id()
	e.must(204, "POST", "/admin/realms/master/users/"+id+"/role-mappings/realm", e.admin,
		[]map[string]any{{"id": e.roleID("master", "", "create-realm"), "name": "create-realm"}})
	creator := e.login("master", "creator", "Passw0rd-creator")

	evil := []map[string]any{{"username": "evil", "enabled": true, "realmRoles": []string{"admin"},
		"credentials": []map[string]any{{"type": "password", "value": "Passw0rd-evil"}}}}
	// Only master's admin and create-realm create realms: not a realm's
	// own realm-admin, nor master's manage-realm.
	ra := e.realmWithUser("acme", "ra", "realm-admin")
	e.must(403, "POST", "/admin/realms", ra, map[string]any{"realm": "byra", "enabled": true})
	mmr := e.userWithRoles("master", "mmr", "manage-realm")
	e.must(403, "POST", "/admin/realms", mmr, map[string]any{"realm": "bymmr", "enabled": true})
	// A users file (realm + users only) naming master.
	e.must(409, "POST", "/admin/realms", creator, map[string]any{"realm": "master", "users": evil})
	if r := e.do("GET", "/admin/realms/master/users?username=evil&exact=true", e.admin, nil); strings.TrimSpace(string(r.body)) != "[]" {
		t.Fatalf("evil user in master: %s", r.body)
	}
	// The master admin's user id in a new realm: refused, nothing written.
	adminID := e.userID("master", "admin")
	r := e.do("POST", "/admin/realms", creator, map[string]any{"realm": "dupid", "enabled": true,
		"users": []map[string]any{{"id": adminID, "username": "admin", "enabled": true,
			"credentials": []map[string]any{{"type": "password", "value": "Passw0rd-evil"}}}}})
	if r.status < 400 {
		t.Fatalf("import reusing master admin's id: %d %s", r.status, r.body)
	}
	e.must(404, "GET", "/admin/realms/dupid", e.admin, nil)
	e.login("master", "admin", "admin-secret-pw") // still the admin's password
	// The master realm's id.
	var master map[string]any
	e.must(200, "GET", "/admin/realms/master", e.admin, nil).json(t, &master)
	if r := e.do("POST", "/admin/realms", creator, map[string]any{"realm": "dupid", "id": master["id"]}); r.status < 400 {
		t.Fatalf("import reusing master's realm id: %d %s", r.status, r.body)
	}
	e.must(404, "GET", "/admin/realms/dupid", e.admin, nil)

	// A composite cycle a -> b -> a, held by a user.
	e.must(201, "POST", "/admin/realms", creator, map[string]any{"realm": "cyc", "enabled": true,
		"roles": map[string]any{"realm": []map[string]any{
			{"name": "a", "composite": true, "composites": map[string]any{"realm": []string{"b"}}},
			{"name": "b", "composite": true, "composites": map[string]any{"realm": []string{"a"}}}}},
		"users": []map[string]any{{"username": "u", "enabled": true, "realmRoles": []string{"a"},
			"credentials": []map[string]any{{"type": "password", "value": "Passw0rd-u"}}}}})
	done := make(chan []string, 1)
	go func() { done <- e.effective("cyc", e.userID("cyc", "u"), "") }()
	select {
	case roles := <-done:
		t.Logf("effective roles with a cycle: %v", roles)
	case <-time.After(20 * time.Second):
		t.Fatal("effective roles of a composite cycle did not resolve")
	}
	var claims struct {
		RealmAccess struct {
			Roles []string `json:"roles"`
		} `json:"realm_access"`
	}
	e.accessClaims("cyc", url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"}, "username": {"u"}, "password": {"Passw0rd-u"}}, &claims)
	t.Logf("token roles: %v", claims.RealmAccess.Roles)
}

// TestRealmUpdateCannotGrant: a realm admin with manage-realm only cannot
// grant roles through PUT /admin/realms/{realm}: the default role, default
// groups, scope mappings and the collections in the body are not applied.
func TestRealmUpdateCannotGrant(t *testing.T) {
	e := newEnv(t)
	mr := e.realmWithUser("acme", "mr", "manage-realm")
	base := "/admin/realms/acme"
	var before map[string]any
	e.must(200, "GET", base, e.admin, nil).json(t, &before)
	body := map[string]any{"realm": "acme", "enabled": true,
		"defaultRole": map[string]any{"name": "default-roles-acme", "composite": true,
			"composites": map[string]any{"client": map[string][]string{"realm-management": {"realm-admin"}}}},
		"defaultRoles": []string{"offline_access", "uma_authorization"},
		"roles": map[string]any{"realm": []map[string]any{{"name": "boss", "composite": true,
			"composites": map[string]any{"client": map[string][]string{"realm-management": {"realm-admin"}}}}}},
		"users":         []map[string]any{{"username": "mr", "clientRoles": map[string][]string{"realm-management": {"realm-admin"}}}},
		"groups":        []map[string]any{{"name": "g", "clientRoles": map[string][]string{"realm-management": {"realm-admin"}}}},
		"clients":       []map[string]any{{"clientId": "sa", "serviceAccountsEnabled": true}},
		"scopeMappings": []map[string]any{{"client": "admin-cli", "roles": []string{"offline_access"}}},
		"identityProviders": []map[string]any{{"alias": "evil", "providerId": "oidc", "enabled": true,
			"config": map[string]string{"clientId": "x", "authorizationUrl": "https://evil.example/auth", "tokenUrl": "https://evil.example/token"}}},
		"identityProviderMappers": []map[string]any{{"name": "m", "identityProviderAlias": "evil", "identityProviderMapper": "oidc-hardcoded-role-idp-mapper",
			"config": map[string]string{"role": "realm-management.realm-admin"}}},
		"components": map[string]any{"org.keycloak.storage.UserStorageProvider": []map[string]any{{"name": "ldap", "providerId": "ldap",
			"subComponents": map[string]any{"org.keycloak.storage.ldap.mappers.LDAPStorageMapper": []map[string]any{{"name": "r",
				"providerId": "hardcoded-ldap-role-mapper", "config": map[string][]string{"role": {"realm-management.realm-admin"}}}}}}}},
	}
	e.must(204, "PUT", base, mr, body)
	self := e.userID("acme", "mr")
	rm := e.clientUUID("acme", "realm-management")
	for _, r := range e.effective("acme", self, rm) {
		if r == "realm-admin" || r == "manage-users" {
			t.Fatalf("manage-realm gained %s through a realm update", r)
		}
	}
	e.must(404, "GET", base+"/roles/boss", e.admin, nil)
	e.must(404, "GET", base+"/identity-provider/instances/evil", e.admin, nil)
	if r := e.must(200, "GET", base+"/components", e.admin, nil); strings.Contains(string(r.body), "hardcoded-ldap-role-mapper") {
		t.Fatalf("a realm update created components: %s", r.body)
	}
	if got := e.roleNames(base + "/roles/default-roles-acme/composites"); len(got) > 0 {
		for _, r := range got {
			if r == "realm-admin" {
				t.Fatalf("default role gained realm-admin: %v", got)
			}
		}
	}
	// Renaming into master is refused.
	body = map[string]any{"realm": "master"}
	if r := e.do("PUT", base, mr, body); r.status != 409 {
		t.Fatalf("rename to master: %d %s", r.status, r.body)
	}
}

// TestRealmRepNeedsViewRealm: an admin of the realm without view-realm
// (here view-users) reads its name only, as in Keycloak; the SMTP account
// and the policies are view-realm's.
func TestRealmRepNeedsViewRealm(t *testing.T) {
	e := newEnv(t)
	vu := e.realmWithUser("acme", "vu", "view-users")
	vr := e.userWithRoles("acme", "vr", "view-realm")
	e.must(204, "PUT", "/admin/realms/acme", e.admin, map[string]any{"realm": "acme", "passwordPolicy": "length(12)",
		"smtpServer": map[string]string{"host": "smtp.example.com", "from": "a@example.com", "auth": "true", "user": "mailer-account"}})
	for _, p := range []string{"/admin/realms/acme", "/admin/realms"} {
		if r := e.must(200, "GET", p, vu, nil); strings.Contains(string(r.body), "mailer-account") || strings.Contains(string(r.body), "length(12)") {
			t.Errorf("view-users reads the realm's settings at %s: %s", p, r.body)
		}
		if r := e.must(200, "GET", p, vr, nil); !strings.Contains(string(r.body), "mailer-account") {
			t.Errorf("view-realm does not read the realm's settings at %s: %s", p, r.body)
		}
	}
	var got map[string]any
	e.must(200, "GET", "/admin/realms/acme", vu, nil).json(t, &got)
	if got["realm"] != "acme" {
		t.Errorf("view-users gets %v", got)
	}
}
