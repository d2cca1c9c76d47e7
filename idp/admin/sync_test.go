package admin_test

import (
	"strings"
	"testing"

	"github.com/keygate/keygate/federation/ldap/ldaptest"
)

// TestUserStorageSyncAndSearch: an LDAP provider created through the admin
// API against a real slapd: Keycloak's sync endpoint imports the
// directory's users and answers a SynchronizationResult, a user search
// imports matches the directory gained since, and the directory's users
// log in.
func TestUserStorageSyncAndSearch(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 25, Groups: 3})
	e := newEnv(t)
	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "acme", "enabled": true})
	const b = "/admin/realms/acme"
	id := e.must(201, "POST", b+"/components", e.admin, ldapProvider("corp", ldapConfig(map[string][]string{
		"connectionUrl": {s.URL()}, "bindDn": {s.ServiceDN}, "bindCredential": {s.ServicePassword}, "usersDn": {s.PeopleDN},
		"batchSizeForSync": {"10"}}))).id()
	e.must(201, "POST", b+"/components", e.admin, map[string]any{"name": "groups", "providerId": "group-ldap-mapper",
		"providerType": "org.keycloak.storage.ldap.mappers.LDAPStorageMapper", "parentId": id,
		"config": map[string][]string{"groups.dn": {s.GroupsDN}, "mode": {"READ_ONLY"}, "group.name.ldap.attribute": {"cn"},
			"group.object.classes": {"groupOfNames"}, "membership.ldap.attribute": {"member"}, "membership.attribute.type": {"DN"}}})

	// Keycloak's mapper sync creates the directory's groups before any user
	// is imported.
	var comps []map[string]any
	e.must(200, "GET", b+"/components?parent="+id, e.admin, nil).json(t, &comps)
	groupsMapper := ""
	for _, c := range comps {
		if c["name"] == "groups" {
			groupsMapper = c["id"].(string)
		}
	}
	var mres map[string]any
	e.must(200, "POST", b+"/user-storage/"+id+"/mappers/"+groupsMapper+"/sync?direction=fedToKeycloak", e.admin, nil).json(t, &mres)
	if mres["added"] != float64(3) {
		t.Fatalf("mapper sync %v", mres)
	}
	var tree []map[string]any
	e.must(200, "GET", b+"/groups", e.admin, nil).json(t, &tree)
	if len(tree) != 3 {
		t.Fatalf("groups after the mapper sync: %v", tree)
	}
	e.must(200, "POST", b+"/user-storage/"+id+"/mappers/"+groupsMapper+"/sync", e.admin, nil).json(t, &mres)
	if mres["added"] != float64(0) {
		t.Fatalf("second mapper sync %v", mres)
	}
	e.must(400, "POST", b+"/user-storage/"+id+"/mappers/"+groupsMapper+"/sync?direction=keycloakToFed", e.admin, nil)

	e.must(404, "POST", b+"/user-storage/"+id+"/sync?action=triggerSomething", e.admin, nil)
	var res map[string]any
	e.must(200, "POST", b+"/user-storage/"+id+"/sync?action=triggerFullSync", e.admin, nil).json(t, &res)
	if res["added"] != float64(25) || res["failed"] != float64(0) || res["ignored"] != false || res["status"] != "25 imported users, 0 updated users" {
		t.Fatalf("full sync: %v", res)
	}
	var users []map[string]any
	e.must(200, "GET", b+"/users?username=user7&exact=true", e.admin, nil).json(t, &users)
	if len(users) != 1 || users[0]["federationLink"] != id {
		t.Fatalf("synced user7: %v", users)
	}
	var groups []map[string]any
	e.must(200, "GET", b+"/users/"+users[0]["id"].(string)+"/groups", e.admin, nil).json(t, &groups)
	if len(groups) != 1 || groups[0]["path"] != "/group1" {
		t.Fatalf("user7's groups %v, want /group1 (7 %% 3)", groups)
	}
	e.must(200, "POST", b+"/user-storage/"+id+"/sync?action=triggerChangedUsersSync", e.admin, nil).json(t, &res)
	if res["added"] != float64(0) || res["failed"] != float64(0) {
		t.Fatalf("changed sync of an unchanged directory: %v", res)
	}

	// A new entry: a search finds it in the directory and imports it.
	s.Add(t, "dn: uid=newbie,"+s.PeopleDN+"\nobjectClass: inetOrgPerson\nobjectClass: organizationalPerson\nuid: newbie\ncn: New Bie\nsn: Bie\nmail: newbie@example.org\nuserPassword: "+ldaptest.SSHA("newbie-pw")+"\n")
	e.must(200, "GET", b+"/users?search=newbie", e.admin, nil).json(t, &users)
	if len(users) != 1 || users[0]["username"] != "newbie" || users[0]["federationLink"] != id {
		t.Fatalf("search for newbie: %v", users)
	}
	// The directory's users log in with their directory passwords.
	e.login("acme", "user3", ldaptest.DefaultUserPassword)
	e.login("acme", "newbie", "newbie-pw")

	// The directory goes away: syncs answer 503, local lists still work.
	s.Stop(t)
	r := e.do("POST", b+"/user-storage/"+id+"/sync?action=triggerFullSync", e.admin, nil)
	if r.status != 503 || r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "unavailable") {
		t.Fatalf("sync with the directory down: %d %s", r.status, r.body)
	}
	e.must(200, "GET", b+"/users?search=user1", e.admin, nil).json(t, &users)
	if len(users) == 0 {
		t.Fatal("a dead directory emptied the local user search")
	}
}
