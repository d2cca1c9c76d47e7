package admin_test

import (
	"strings"
	"testing"
)

// duplicateEmailsAllowed over the admin API: with it, users share an email
// (created or updated to it); turning it off while they do is a 409 that
// changes nothing (Keycloak would turn it off and leave the duplicates);
// once the emails differ it turns off, and the email is unique again.
func TestDuplicateEmailsAllowed(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "acme", "duplicateEmailsAllowed": true})
	base := "/admin/realms/acme/users"
	e.must(201, "POST", base, e.admin, map[string]any{"username": "a", "email": "x@example.com", "enabled": true})
	b := e.must(201, "POST", base, e.admin, map[string]any{"username": "b", "email": "X@example.com", "enabled": true}).id()
	c := e.must(201, "POST", base, e.admin, map[string]any{"username": "c", "email": "c@example.com", "enabled": true}).id()
	e.must(204, "PUT", base+"/"+c, e.admin, map[string]any{"email": "x@example.com"})
	var users []map[string]any
	e.must(200, "GET", base+"?email=x@example.com&exact=true", e.admin, nil).json(t, &users)
	if len(users) != 3 {
		t.Fatalf("users with the shared email: %v", users)
	}

	off := map[string]any{"duplicateEmailsAllowed": false}
	body := string(e.must(409, "PUT", "/admin/realms/acme", e.admin, off).body)
	if !strings.Contains(body, `"errorMessage":"Duplicate emails cannot be disallowed`) {
		t.Errorf("refused flip: %s", body)
	}
	var realm map[string]any
	e.must(200, "GET", "/admin/realms/acme", e.admin, nil).json(t, &realm)
	if realm["duplicateEmailsAllowed"] != true {
		t.Fatalf("setting after a refused flip: %v", realm["duplicateEmailsAllowed"])
	}
	e.must(201, "POST", base, e.admin, map[string]any{"username": "d", "email": "x@example.com"})

	for i, id := range []string{b, c} {
		e.must(204, "PUT", base+"/"+id, e.admin, map[string]any{"email": string(rune('p'+i)) + "@example.com"})
	}
	var ds []map[string]any
	e.must(200, "GET", base+"?username=d&exact=true", e.admin, nil).json(t, &ds)
	e.must(204, "DELETE", base+"/"+ds[0]["id"].(string), e.admin, nil)
	e.must(204, "PUT", "/admin/realms/acme", e.admin, off)
	e.must(200, "GET", "/admin/realms/acme", e.admin, nil).json(t, &realm)
	if v, set := realm["duplicateEmailsAllowed"]; set && v != false {
		t.Fatalf("setting after the flip: %v", v)
	}
	const taken = `{"errorMessage":"User exists with same email"}`
	if got := strings.TrimSpace(string(e.must(409, "POST", base, e.admin, map[string]any{"username": "e", "email": "X@example.com"}).body)); got != taken {
		t.Errorf("second user with the email: %s", got)
	}
	if got := strings.TrimSpace(string(e.must(409, "PUT", base+"/"+b, e.admin, map[string]any{"email": "x@example.com"}).body)); got != taken {
		t.Errorf("update to a taken email: %s", got)
	}
}
