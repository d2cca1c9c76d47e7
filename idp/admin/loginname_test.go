package admin_test

import (
	"strings"
	"testing"
)

// TestUsernameAndEmailDoNotCross: where the login takes a username or an
// email (loginWithEmailAllowed, the default), a new username may not be
// another user's email nor a new email another's username, as Keycloak's
// duplicate validators since keycloak#27297: the login looks the name up
// as a username first, so the email's owner could no longer sign in by it
// and its logins would go to the other account. Found by a security pass:
// user B renamed to A's email took A's logins by email. A collision made
// while the realm allowed it does not block the user's other changes, and
// without loginWithEmailAllowed the names do not cross.
func TestUsernameAndEmailDoNotCross(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "acme", "editUsernameAllowed": true})
	base := "/admin/realms/acme/users"
	e.must(201, "POST", base, e.admin, map[string]any{"username": "alice", "email": "alice@example.com", "enabled": true})
	e.must(201, "POST", base, e.admin, map[string]any{"username": "carol@example.com", "enabled": true})
	bob := e.must(201, "POST", base, e.admin, map[string]any{"username": "bob", "email": "bob@example.com", "enabled": true}).id()

	const sameUsername, sameEmail = `{"errorMessage":"User exists with same username"}`, `{"errorMessage":"User exists with same email"}`
	for _, c := range []struct {
		name, method, path string
		body               map[string]any
		want               string
	}{
		{"new username is another's email", "POST", base, map[string]any{"username": "Alice@example.com"}, sameUsername},
		{"new email is another's username", "POST", base, map[string]any{"username": "dave", "email": "carol@example.com"}, sameEmail},
		{"renamed to another's email", "PUT", base + "/" + bob, map[string]any{"username": "alice@example.com"}, sameUsername},
		{"email changed to another's username", "PUT", base + "/" + bob, map[string]any{"email": "carol@example.com"}, sameEmail},
	} {
		if got := strings.TrimSpace(string(e.must(409, c.method, c.path, e.admin, c.body).body)); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	// Its own email as its username is no collision.
	e.must(204, "PUT", base+"/"+bob, e.admin, map[string]any{"username": "bob@example.com"})

	// Made while the login took no emails, a collision stays and does not
	// block other changes of the user; the names do not cross then.
	e.must(204, "PUT", "/admin/realms/acme", e.admin, map[string]any{"loginWithEmailAllowed": false})
	erin := e.must(201, "POST", base, e.admin, map[string]any{"username": "alice@example.com", "email": "erin@example.com"}).id()
	e.must(204, "PUT", "/admin/realms/acme", e.admin, map[string]any{"loginWithEmailAllowed": true})
	e.must(204, "PUT", base+"/"+erin, e.admin, map[string]any{"firstName": "Erin"})
}
