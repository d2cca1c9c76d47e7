package admin_test

import (
	"maps"
	"testing"
)

// TestLDAPStoredCredentialStaysWithItsServer: an update that sends the
// masked bindCredential keeps the stored one only for the provider's own
// connectionUrl, as testLDAPConnection does. Otherwise
// manage-realm, which never sees the password, could point the provider at
// a server of its own and receive the bind account's password at the next
// login, sync or search.
func TestLDAPStoredCredentialStaysWithItsServer(t *testing.T) {
	e := newEnv(t)
	mr := e.realmWithUser("acme", "mr", "manage-realm")
	const b = "/admin/realms/acme"
	config := map[string][]string{"connectionUrl": {"ldap://ldap.example:389"}, "usersDn": {"ou=people,dc=example"},
		"editMode": {"READ_ONLY"}, "bindDn": {"cn=keygate,dc=example"}, "bindCredential": {"Bind-S3cret"}, "authType": {"simple"}}
	id := e.must(201, "POST", b+"/components", e.admin, map[string]any{"name": "ldap", "providerId": "ldap",
		"providerType": "org.keycloak.storage.UserStorageProvider", "config": config}).id()
	var comp map[string]any
	e.must(200, "GET", b+"/components/"+id, mr, nil).json(t, &comp)
	masked := comp["config"].(map[string]any)["bindCredential"].([]any)[0].(string)
	if masked == "Bind-S3cret" {
		t.Fatal("bind credential shown")
	}
	with := func(changes map[string][]string) map[string]any {
		cfg := maps.Clone(config)
		cfg["bindCredential"] = []string{masked}
		maps.Copy(cfg, changes)
		return map[string]any{"name": "ldap", "providerId": "ldap", "providerType": "org.keycloak.storage.UserStorageProvider", "config": cfg}
	}
	e.must(400, "PUT", b+"/components/"+id, mr, with(map[string][]string{"connectionUrl": {"ldap://attacker.example:389"}}))
	e.must(400, "PUT", b+"/components/"+id, mr, with(map[string][]string{"connectionUrl": {"ldaps://ldap.example:636 ldap://attacker.example"}}))
	e.must(204, "PUT", b+"/components/"+id, mr, with(map[string][]string{"usersDn": {"ou=staff,dc=example"}}))
	e.must(204, "PUT", b+"/components/"+id, mr, with(map[string][]string{"connectionUrl": {"ldap://ldap2.example:389"},
		"bindCredential": {"New-S3cret"}}))
}
