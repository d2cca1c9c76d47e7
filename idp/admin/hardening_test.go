package admin_test

import (
	"strings"
	"testing"
)

// TestClientURIsValidated: the admin API stores no redirect URI, web origin
// or post-logout URI that the matcher would have to guess about (issue 9,
// finding 2): a wildcard outside the path, userinfo, fragments, dot
// segments.
func TestClientURIsValidated(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "acme", "enabled": true})
	const b = "/admin/realms/acme/clients"
	bad := []map[string]any{
		{"clientId": "a", "redirectUris": []string{"https://app.example.com*"}},
		{"clientId": "a", "redirectUris": []string{"*"}},
		{"clientId": "a", "redirectUris": []string{"https://user@app.example.com/cb"}},
		{"clientId": "a", "redirectUris": []string{"https://app.example.com/cb#frag"}},
		{"clientId": "a", "redirectUris": []string{"https://app.example.com/a/../cb/*"}},
		{"clientId": "a", "redirectUris": []string{"https://*.example.com/cb"}},
		{"clientId": "a", "webOrigins": []string{"https://app.example.com/path"}},
		{"clientId": "a", "attributes": map[string]string{"post.logout.redirect.uris": "https://app.example.com/ok##https://evil.example*"}},
	}
	for _, body := range bad {
		r := e.must(400, "POST", b, e.admin, body)
		if !strings.Contains(string(r.body), "invalid_input") {
			t.Errorf("%v: %s", body, r.body)
		}
	}
	id := e.must(201, "POST", b, e.admin, map[string]any{"clientId": "app", "redirectUris": []string{"https://app.example.com/cb/*", "http://127.0.0.1/cb"},
		"webOrigins": []string{"+", "https://app.example.com"}, "attributes": map[string]string{"post.logout.redirect.uris": "+"}}).id()
	e.must(400, "PUT", b+"/"+id, e.admin, map[string]any{"redirectUris": []string{"https://app.example.com.evil.example*"}})
	e.must(204, "PUT", b+"/"+id, e.admin, map[string]any{"redirectUris": []string{"https://app.example.com/other"}})
}

// TestPasswordMaxLength: the admin API refuses passwords over the policy's
// maxLength, 1024 bytes by default (issue 9, finding 4).
func TestPasswordMaxLength(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "acme", "enabled": true})
	const b = "/admin/realms/acme/users"
	long := strings.Repeat("p", 1025)
	r := e.must(400, "POST", b, e.admin, map[string]any{"username": "u", "credentials": []map[string]any{{"type": "password", "value": long}}})
	if !strings.Contains(string(r.body), "invalidPasswordMaxLengthMessage") {
		t.Errorf("create: %s", r.body)
	}
	id := e.must(201, "POST", b, e.admin, map[string]any{"username": "u"}).id()
	e.must(400, "PUT", b+"/"+id+"/reset-password", e.admin, map[string]any{"type": "password", "value": long})
	e.must(204, "PUT", b+"/"+id+"/reset-password", e.admin, map[string]any{"type": "password", "value": long[:1024]})
	e.must(204, "PUT", "/admin/realms/acme", e.admin, map[string]any{"passwordPolicy": "maxLength(12)"})
	e.must(400, "PUT", b+"/"+id+"/reset-password", e.admin, map[string]any{"type": "password", "value": "thirteen-char"})
	e.must(204, "PUT", b+"/"+id+"/reset-password", e.admin, map[string]any{"type": "password", "value": "twelve-chars"})
}
