package admin_test

import "testing"

// TestCreateUserCannotLinkToDirectoryEntry: an admin creating a user
// cannot link it to a user federation provider's entry (federationLink,
// LDAP_ID, LDAP_ENTRY_DN): the entry's next login or sync would then land
// on an account the creator set up (its password, its identity-provider
// links), with the roles the directory's mappers grant that entry. Keycloak
// ignores federationLink here and keeps the link attributes admin
// read-only.
func TestCreateUserCannotLinkToDirectoryEntry(t *testing.T) {
	e := newEnv(t)
	mu := e.realmWithUser("acme", "mu", "manage-users")
	const b = "/admin/realms/acme"
	ldap := e.must(201, "POST", b+"/components", e.admin, map[string]any{"name": "ldap", "providerId": "ldap",
		"providerType": "org.keycloak.storage.UserStorageProvider", "config": map[string][]string{"connectionUrl": {"ldap://127.0.0.1:1"},
			"usersDn": {"ou=people,dc=example"}, "editMode": {"READ_ONLY"},
			// Disabled: a provider that cannot answer would make every new
			// name a 503 (TestAdminCannotTakeDirectoryNames).
			"enabled": {"false"}}}).id()
	id := e.must(201, "POST", b+"/users", mu, map[string]any{"username": "squatter", "enabled": true, "federationLink": ldap,
		"attributes":  map[string][]string{"LDAP_ID": {"0b6e7a4e-entry-of-the-boss"}, "LDAP_ENTRY_DN": {"uid=boss,ou=people,dc=example"}, "team": {"a"}},
		"credentials": []map[string]any{{"type": "password", "value": "Squat-pw-1"}}}).id()
	var u map[string]any
	e.must(200, "GET", b+"/users/"+id, e.admin, nil).json(t, &u)
	attrs, _ := u["attributes"].(map[string]any)
	if u["federationLink"] != nil || attrs["LDAP_ID"] != nil || attrs["LDAP_ENTRY_DN"] != nil || attrs["team"] == nil {
		t.Fatalf("created user %v", u)
	}
	// Nor by an update of a local user.
	e.must(400, "PUT", b+"/users/"+id, mu, map[string]any{"federationLink": ldap,
		"attributes": map[string][]string{"LDAP_ID": {"0b6e7a4e-entry-of-the-boss"}}})
	e.must(204, "PUT", b+"/users/"+id, mu, map[string]any{"federationLink": ldap, "attributes": map[string][]string{"team": {"b"}}})
	e.must(200, "GET", b+"/users/"+id, e.admin, nil).json(t, &u)
	if attrs, _ := u["attributes"].(map[string]any); u["federationLink"] != nil || attrs["LDAP_ID"] != nil {
		t.Fatalf("updated user %v", u)
	}
}
