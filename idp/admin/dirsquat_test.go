package admin_test

import (
	"testing"

	"github.com/keygate/keygate/federation/ldap/ldaptest"
)

// TestAdminCannotTakeDirectoryNames: an admin cannot create a local user,
// or rename one, to a username or email a directory user has but that no
// local copy holds yet (the directory user has not signed in): as
// Keycloak's UsersResource asks the user storage providers (and imports
// the entry), the answer is 409. Otherwise the local account would own
// the directory user's name and logins, with a password the admin chose,
// where a READ_ONLY directory lets no admin set that user's password. A
// directory that cannot answer is a 503 with Retry-After, neither "taken"
// nor a name let through.
func TestAdminCannotTakeDirectoryNames(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 3})
	e := newEnv(t)
	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "acme", "enabled": true})
	const b = "/admin/realms/acme"
	e.must(201, "POST", b+"/components", e.admin, ldapProvider("corp", ldapConfig(map[string][]string{
		"connectionUrl": {s.URL()}, "bindDn": {s.ServiceDN}, "bindCredential": {s.ServicePassword}, "usersDn": {s.PeopleDN}})))

	e.must(409, "POST", b+"/users", e.admin, map[string]any{"username": "user1", "enabled": true,
		"credentials": []map[string]any{{"type": "password", "value": "Admin-chosen-1"}}})
	if st := e.grantStatus("acme", "user1", ldaptest.DefaultUserPassword); st != 200 {
		t.Errorf("the directory's user1 after the refused create: %d", st)
	}
	e.must(409, "POST", b+"/users", e.admin, map[string]any{"username": "squatter", "email": "user2@example.org"})

	loc := b + "/users/" + e.must(201, "POST", b+"/users", e.admin, map[string]any{"username": "local", "email": "local@example.org"}).id()
	e.must(204, "PUT", b, e.admin, map[string]any{"editUsernameAllowed": true})
	e.must(409, "PUT", loc, e.admin, map[string]any{"username": "user0"})
	e.must(409, "PUT", loc, e.admin, map[string]any{"email": "user0@example.org"})
	e.must(204, "PUT", loc, e.admin, map[string]any{"username": "local2"})

	// A directory that is down cannot say the name is free.
	s.Stop(t)
	r := e.do("POST", b+"/users", e.admin, map[string]any{"username": "user9", "enabled": true,
		"credentials": []map[string]any{{"type": "password", "value": "Admin-chosen-1"}}})
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Errorf("create with the directory down: %d %s, Retry-After %q; want 503 with Retry-After", r.status, r.body, r.header.Get("Retry-After"))
	}
	var users []map[string]any
	e.must(200, "GET", b+"/users?username=user9&exact=true&briefRepresentation=true", e.admin, nil).json(t, &users)
	if len(users) != 0 {
		t.Errorf("a local user9 was created while the directory was down: %v", users)
	}
}

// TestAdminDirectoryNamesOwnEntry: the directory check does not count the
// user's own entry: an UNSYNCED user's email changed locally can go back
// to the one its entry has.
func TestAdminDirectoryNamesOwnEntry(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 2})
	e := newEnv(t)
	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "acme", "enabled": true})
	const b = "/admin/realms/acme"
	e.must(201, "POST", b+"/components", e.admin, ldapProvider("corp", ldapConfig(map[string][]string{"editMode": {"UNSYNCED"},
		"connectionUrl": {s.URL()}, "bindDn": {s.ServiceDN}, "bindCredential": {s.ServicePassword}, "usersDn": {s.PeopleDN}})))
	if st := e.grantStatus("acme", "user0", ldaptest.DefaultUserPassword); st != 200 {
		t.Fatalf("user0's login: %d", st)
	}
	var users []map[string]any
	e.must(200, "GET", b+"/users?username=user0&exact=true", e.admin, nil).json(t, &users)
	u := b + "/users/" + users[0]["id"].(string)
	e.must(204, "PUT", u, e.admin, map[string]any{"email": "elsewhere@example.org"})
	e.must(204, "PUT", u, e.admin, map[string]any{"email": "user0@example.org"})
	e.must(409, "PUT", u, e.admin, map[string]any{"email": "user1@example.org"})
}
