package admin_test

import "testing"

// TestEscalationLDAPMapperReading: the no-escalation check of an LDAP role
// or group mapper reads its config as the mapper runs it. A role mapper
// whose use.realm.roles.mapping is absent or spelled "TRUE" maps realm
// roles (the check took it for a mapper of client.id's roles), and a
// groups.path without its leading "/" places groups under that path (the
// check found no group under it).
func TestEscalationLDAPMapperReading(t *testing.T) {
	e := newEnv(t)
	mr := e.realmWithUser("acme", "mr", "manage-realm")
	const b = "/admin/realms/acme"
	rm := e.clientUUID("acme", "realm-management")
	e.must(201, "POST", b+"/roles", e.admin, map[string]any{"name": "boss"})
	e.must(204, "POST", b+"/roles/boss/composites", e.admin, []map[string]any{{"id": e.roleID("acme", rm, "realm-admin")}})
	e.groupWith("acme", "", "bosses", nil, map[string][]string{rm: {"realm-admin"}})

	ldap := e.must(201, "POST", b+"/components", mr, map[string]any{"name": "ldap", "providerId": "ldap",
		"providerType": "org.keycloak.storage.UserStorageProvider", "config": map[string][]string{"connectionUrl": {"ldap://127.0.0.1:1"},
			"usersDn": {"ou=people,dc=example"}, "editMode": {"READ_ONLY"}}}).id()
	component := func(name, provider string, config map[string][]string) map[string]any {
		return map[string]any{"name": name, "providerId": provider, "parentId": ldap,
			"providerType": "org.keycloak.storage.ldap.mappers.LDAPStorageMapper", "config": config}
	}
	roles := func(extra map[string][]string) map[string][]string {
		cfg := map[string][]string{"roles.dn": {"ou=roles,dc=example"}, "mode": {"READ_ONLY"}, "client.id": {"account"}}
		for k, v := range extra {
			cfg[k] = v
		}
		return cfg
	}
	groups := map[string][]string{"groups.dn": {"ou=groups,dc=example"}, "mode": {"READ_ONLY"}}
	for name, cfg := range map[string]map[string][]string{
		"absent":    roles(nil),
		"upper":     roles(map[string][]string{"use.realm.roles.mapping": {"TRUE"}}),
		"spaced":    roles(map[string][]string{"use.realm.roles.mapping": {" true"}}),
		"no-slash":  merge(groups, map[string][]string{"groups.path": {"bosses"}}),
		"two-slash": merge(groups, map[string][]string{"groups.path": {"/bosses//"}}),
	} {
		provider := "role-ldap-mapper"
		if _, ok := cfg["groups.dn"]; ok {
			provider = "group-ldap-mapper"
		}
		if r := e.do("POST", b+"/components", mr, component(name, provider, cfg)); r.status != 403 {
			t.Errorf("%s %s: status %d, want 403: %s", provider, name, r.status, r.body)
		}
	}
	// What manage-realm may map is still accepted.
	e.must(201, "POST", b+"/components", mr, component("account-roles", "role-ldap-mapper",
		roles(map[string][]string{"use.realm.roles.mapping": {"false"}})))
}

func merge(a, b map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestEscalationLDAPRoleMapperAdminClient: a role-ldap-mapper creates the
// directory's roles it does not find in its client, so one mapping into an
// admin client (here master's acme-realm, whose roles manage realm acme)
// would create and grant admin roles no check has seen: only a server
// admin writes one, as only a server admin adds roles to such a client.
func TestEscalationLDAPRoleMapperAdminClient(t *testing.T) {
	e := newEnv(t)
	e.realmWithUser("acme", "alice")
	mr := e.userWithRoles("master", "mr", "manage-realm")
	const m = "/admin/realms/master"
	e.must(201, "POST", m+"/clients", e.admin, map[string]any{"clientId": "acme-realm", "bearerOnly": true})
	ldap := e.must(201, "POST", m+"/components", mr, map[string]any{"name": "ldap", "providerId": "ldap",
		"providerType": "org.keycloak.storage.UserStorageProvider", "config": map[string][]string{"connectionUrl": {"ldap://127.0.0.1:1"},
			"usersDn": {"ou=people,dc=example"}, "editMode": {"READ_ONLY"}}}).id()
	mapper := func(client string) map[string]any {
		return map[string]any{"name": "roles-" + client, "providerId": "role-ldap-mapper", "parentId": ldap,
			"providerType": "org.keycloak.storage.ldap.mappers.LDAPStorageMapper", "config": map[string][]string{
				"roles.dn": {"ou=roles,dc=example"}, "mode": {"READ_ONLY"}, "use.realm.roles.mapping": {"false"}, "client.id": {client}}}
	}
	e.must(403, "POST", m+"/components", mr, mapper("acme-realm"))
	e.must(201, "POST", m+"/components", mr, mapper("account"))
	e.must(201, "POST", m+"/components", e.admin, mapper("acme-realm"))
}
