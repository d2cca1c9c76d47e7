package admin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/keygate/keygate/federation/ldap/ldaptest"
)

// grantStatus is the status of a password grant in realm.
func (e *env) grantStatus(realm, username, pw string) int {
	e.t.Helper()
	resp, err := client.PostForm(e.url+"/realms/"+realm+"/protocol/openid-connect/token", url.Values{
		"grant_type": {"password"}, "client_id": {"admin-cli"}, "username": {username}, "password": {pw}})
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// userRep GETs the user at admin path p into a fresh map (empty lists are
// left out of the JSON, so a reused map would keep stale ones).
func (e *env) userRep(p string) map[string]any {
	e.t.Helper()
	var rep map[string]any
	e.must(200, "GET", p, e.admin, nil).json(e.t, &rep)
	return rep
}

// dirEntry reads dn from slapd as its rootdn; nil when there is none.
func dirEntry(t *testing.T, s *ldaptest.Server, dn string) *goldap.Entry {
	t.Helper()
	res, err := s.Conn(t).Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"*", "entryUUID"}, nil))
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		return nil
	}
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read %s: %v", dn, err)
	}
	return res.Entries[0]
}

// writableRealm makes realm acme with a WRITABLE LDAP provider over s,
// created through the admin API (so with Keycloak's default mappers),
// bound as slapd's rootdn, and returns the provider's id.
func writableRealm(e *env, s *ldaptest.Server, extra map[string][]string) string {
	return writableRealmNamed(e, s, "acme", extra)
}

func writableRealmNamed(e *env, s *ldaptest.Server, realm string, extra map[string][]string) string {
	e.t.Helper()
	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": realm, "enabled": true})
	cfg := map[string][]string{"connectionUrl": {s.URL()}, "bindDn": {s.AdminDN}, "bindCredential": {s.AdminPassword},
		"usersDn": {s.PeopleDN}, "editMode": {"WRITABLE"}}
	for k, v := range extra {
		cfg[k] = v
	}
	return e.must(201, "POST", "/admin/realms/"+realm+"/components", e.admin, ldapProvider("corp", ldapConfig(cfg))).id()
}

// TestWritableUsers drives Keycloak's WRITABLE edit mode over HTTP
// against slapd: password resets (the password grant sees them), admin
// changes written to the entry, refusals that change nothing.
func TestWritableUsers(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 3})
	e := newEnv(t)
	writableRealm(e, s, nil)
	const b = "/admin/realms/acme"
	if st := e.grantStatus("acme", "user1", ldaptest.DefaultUserPassword); st != 200 {
		t.Fatalf("user1's first login: %d", st)
	}
	id := e.userID("acme", "user1")
	u := b + "/users/" + id

	// reset-password goes to the directory; keygate keeps no password.
	e.must(204, "PUT", u+"/reset-password", e.admin, map[string]any{"type": "password", "value": "N3w-secret", "temporary": false})
	if st := e.grantStatus("acme", "user1", "N3w-secret"); st != 200 {
		t.Errorf("the new password: %d", st)
	}
	if st := e.grantStatus("acme", "user1", ldaptest.DefaultUserPassword); st != 401 {
		t.Errorf("the old password: %d", st)
	}
	if err := s.Conn(t).Bind(s.UserDN(1), "N3w-secret"); err != nil {
		t.Errorf("bind with the new password: %v", err)
	}
	var creds []map[string]any
	e.must(200, "GET", u+"/credentials", e.admin, nil).json(t, &creds)
	if len(creds) != 0 {
		t.Errorf("local credentials after a directory reset: %v", creds)
	}
	// temporary keeps Keycloak's UPDATE_PASSWORD, locally.
	e.must(204, "PUT", u+"/reset-password", e.admin, map[string]any{"type": "password", "value": "Th1rd-secret", "temporary": true})
	rep := e.userRep(u)
	if ra, _ := rep["requiredActions"].([]any); len(ra) != 1 || ra[0] != "UPDATE_PASSWORD" {
		t.Errorf("required actions after a temporary reset: %v", rep["requiredActions"])
	}
	e.must(204, "PUT", u+"/reset-password", e.admin, map[string]any{"type": "password", "value": "Th1rd-secret", "temporary": false})
	rep = e.userRep(u)
	if ra, _ := rep["requiredActions"].([]any); len(ra) != 0 {
		t.Errorf("required actions after a permanent reset: %v", ra)
	}

	// Attribute changes are written to the entry, then stored.
	rep["email"], rep["firstName"], rep["lastName"] = "ann@example.org", "Ann", "Lee"
	e.must(204, "PUT", u, e.admin, rep)
	entry := dirEntry(t, s, s.UserDN(1))
	// Keycloak's default mappers for an OpenLDAP provider whose RDN is uid:
	// the first name is cn.
	if entry.GetAttributeValue("mail") != "ann@example.org" || entry.GetAttributeValue("cn") != "Ann" || entry.GetAttributeValue("sn") != "Lee" {
		t.Errorf("entry after the update: %v", entry.Attributes)
	}
	rep = e.userRep(u)
	if rep["email"] != "ann@example.org" || rep["firstName"] != "Ann" {
		t.Errorf("local user after the update: %v", rep)
	}

	// Refusals change nothing, here or there.
	bad := map[string]any{"email": "jörg@example.org"}
	r := e.do("PUT", u, e.admin, bad)
	if r.status != 400 || !strings.Contains(string(r.body), "Invalid Attribute Syntax") {
		t.Errorf("a value slapd rejects: %d %s", r.status, r.body)
	}
	attrs := rep["attributes"].(map[string]any)
	created := attrs["createTimestamp"]
	attrs["createTimestamp"] = []string{"20000101000000Z"}
	r = e.do("PUT", u, e.admin, rep)
	if r.status != 400 || !strings.Contains(string(r.body), `"field":"createTimestamp"`) {
		t.Errorf("a read-only mapped attribute: %d %s", r.status, r.body)
	}
	attrs["createTimestamp"] = created
	rep = e.userRep(u)
	if rep["email"] != "ann@example.org" {
		t.Errorf("email after refusals: %v", rep["email"])
	}
	if got := dirEntry(t, s, s.UserDN(1)).GetAttributeValue("mail"); got != "ann@example.org" {
		t.Errorf("directory mail after refusals: %q", got)
	}

	// Renaming needs editUsernameAllowed, as Keycloak's username mapper
	// says; then the entry is renamed (uid is its RDN).
	rep["username"] = "ann"
	e.must(400, "PUT", u, e.admin, rep)
	e.must(204, "PUT", b, e.admin, map[string]any{"editUsernameAllowed": true})
	rep["username"] = "user2" // the directory's, though not imported yet
	e.must(409, "PUT", u, e.admin, rep)
	rep["username"] = "ann"
	e.must(204, "PUT", u, e.admin, rep)
	rep = e.userRep(u)
	newDN := "uid=ann," + s.PeopleDN
	if dn := rep["attributes"].(map[string]any)["LDAP_ENTRY_DN"].([]any); dn[0] != newDN || dirEntry(t, s, s.UserDN(1)) != nil {
		t.Errorf("after the rename: LDAP_ENTRY_DN %v", dn)
	}
	if st := e.grantStatus("acme", "ann", "Th1rd-secret"); st != 200 {
		t.Errorf("login under the new name: %d", st)
	}

	// The directory goes away: 503 with Retry-After, nothing changes.
	s.Stop(t)
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{"PUT", u + "/reset-password", map[string]any{"type": "password", "value": "F0urth-secret"}},
		{"PUT", u, map[string]any{"email": "down@example.org"}},
		{"DELETE", u, nil},
	} {
		r := e.do(req.method, req.path, e.admin, req.body)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Errorf("%s %s with the directory down: %d %s", req.method, req.path, r.status, r.body)
		}
	}
	rep = e.userRep(u)
	if rep["email"] != "ann@example.org" {
		t.Errorf("email after the outage: %v", rep["email"])
	}
	s.Restart(t)
	if st := e.grantStatus("acme", "ann", "Th1rd-secret"); st != 200 {
		t.Errorf("login after the outage: %d", st)
	}
}

// TestWritableRegistration: with syncRegistrations, a user created through
// the admin API is created in the directory first (with the password
// given), linked to the new entry, and logs in; deleting it deletes the
// entry; a directory that refuses leaves neither entry nor user.
func TestWritableRegistration(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 2})
	e := newEnv(t)
	pid := writableRealm(e, s, map[string][]string{"syncRegistrations": {"true"}, "usePasswordModifyExtendedOp": {"true"}})
	const b = "/admin/realms/acme"
	id := e.must(201, "POST", b+"/users", e.admin, map[string]any{"username": "Newbie", "firstName": "New", "lastName": "Bie",
		"email": "newbie@example.org", "enabled": true, "credentials": []map[string]any{{"type": "password", "value": "Newbie-pw1"}}}).id()
	dn := "uid=newbie," + s.PeopleDN
	entry := dirEntry(t, s, dn)
	if entry == nil || entry.GetAttributeValue("cn") != "New" || entry.GetAttributeValue("sn") != "Bie" ||
		entry.GetAttributeValue("mail") != "newbie@example.org" || !strings.HasPrefix(entry.GetAttributeValue("userPassword"), "{SSHA}") {
		t.Fatalf("new entry: %v", entry)
	}
	var rep map[string]any
	e.must(200, "GET", b+"/users/"+id, e.admin, nil).json(t, &rep)
	attrs := rep["attributes"].(map[string]any)
	if rep["federationLink"] != pid || attrs["LDAP_ID"].([]any)[0] != entry.GetAttributeValue("entryUUID") ||
		attrs["LDAP_ENTRY_DN"].([]any)[0] != dn {
		t.Errorf("linked user %v", rep)
	}
	var creds []map[string]any
	e.must(200, "GET", b+"/users/"+id+"/credentials", e.admin, nil).json(t, &creds)
	if len(creds) != 0 {
		t.Errorf("local credentials of a registered user: %v", creds)
	}
	if st := e.grantStatus("acme", "newbie", "Newbie-pw1"); st != 200 {
		t.Errorf("login with the password given at creation: %d", st)
	}

	// The directory has that name already (not imported here): 409.
	e.must(409, "POST", b+"/users", e.admin, map[string]any{"username": "user1", "lastName": "X"})
	// The directory refuses the entry: 400, and nothing is left.
	r := e.do("POST", b+"/users", e.admin, map[string]any{"username": "jorg", "lastName": "X", "email": "jörg@example.org"})
	if r.status != 400 || !strings.Contains(string(r.body), "Invalid Attribute Syntax") {
		t.Errorf("a refused entry: %d %s", r.status, r.body)
	}
	if dirEntry(t, s, "uid=jorg,"+s.PeopleDN) != nil {
		t.Error("a refused registration left an entry")
	}
	var users []map[string]any
	e.must(200, "GET", b+"/users?username=jorg&exact=true", e.admin, nil).json(t, &users)
	if len(users) != 0 {
		t.Errorf("a refused registration left a user: %v", users)
	}

	// Deleting deletes the entry first.
	e.must(204, "DELETE", b+"/users/"+id, e.admin, nil)
	if dirEntry(t, s, dn) != nil {
		t.Error("the entry outlived its user")
	}
	e.must(404, "GET", b+"/users/"+id, e.admin, nil)

	// A directory that is down takes no registration, and keygate makes
	// no user in its place.
	s.Stop(t)
	r = e.do("POST", b+"/users", e.admin, map[string]any{"username": "downie", "lastName": "Down"})
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("registration with the directory down: %d %s", r.status, r.body)
	}
	e.must(200, "GET", b+"/users?username=downie&exact=true", e.admin, nil).json(t, &users)
	if len(users) != 0 {
		t.Errorf("a user created while the directory was down: %v", users)
	}
}

// TestWritablePasswordRules: a directory that refuses a password answers
// 400 in its own words and the old one stays; the realm's policy applies
// only with validatePasswordPolicy, as in Keycloak.
func TestWritablePasswordRules(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 2})
	e := newEnv(t)
	// Bound as an account that may read but not write passwords.
	writableRealmNamed(e, s, "ro", map[string][]string{"bindDn": {s.ServiceDN}, "bindCredential": {s.ServicePassword}})
	if st := e.grantStatus("ro", "user0", ldaptest.DefaultUserPassword); st != 200 {
		t.Fatalf("first login: %d", st)
	}
	r := e.do("PUT", "/admin/realms/ro/users/"+e.userID("ro", "user0")+"/reset-password", e.admin,
		map[string]any{"type": "password", "value": "N3w-secret"})
	if r.status != 400 || !strings.Contains(string(r.body), `"error":"Insufficient Access Rights`) {
		t.Errorf("a refused password: %d %s", r.status, r.body)
	}
	if st := e.grantStatus("ro", "user0", ldaptest.DefaultUserPassword); st != 200 {
		t.Errorf("the old password after a refusal: %d", st)
	}

	for validate, user := range map[string]string{"false": "user1", "true": "user0"} {
		realm := "policy-" + validate
		writableRealmNamed(e, s, realm, map[string][]string{"validatePasswordPolicy": {validate}})
		e.must(204, "PUT", "/admin/realms/"+realm, e.admin, map[string]any{"passwordPolicy": "length(12)"})
		if st := e.grantStatus(realm, user, ldaptest.DefaultUserPassword); st != 200 {
			t.Fatalf("first login: %d", st)
		}
		r := e.do("PUT", "/admin/realms/"+realm+"/users/"+e.userID(realm, user)+"/reset-password", e.admin,
			map[string]any{"type": "password", "value": "short-1"})
		want := 204
		if validate == "true" {
			want = 400
		}
		if r.status != want {
			t.Errorf("validatePasswordPolicy %s, a password shorter than the realm's policy: %d %s", validate, r.status, r.body)
		}
	}
	if st := e.grantStatus("policy-false", "user1", "short-1"); st != 200 {
		t.Errorf("the directory's short password: %d", st)
	}
}
