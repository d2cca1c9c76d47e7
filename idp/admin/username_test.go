package admin_test

import (
	"strings"
	"testing"
)

// TestAdminUsernameValidators: the admin API refuses a new username that
// Keycloak's user profile refuses (prohibited characters, whitespace,
// homographs of another name), naming the field; a username stored before
// (an import) still takes other changes.
func TestAdminUsernameValidators(t *testing.T) {
	e := newEnv(t)
	const b = "/admin/realms/master"
	for _, name := range []string{"mal<img>", "bob smith", "\u0430lice", "al\u200bice", "ｅve"} {
		r := e.do("POST", b+"/users", e.admin, map[string]any{"username": name, "enabled": true})
		if r.status != 400 || !strings.Contains(string(r.body), `"field":"username"`) {
			t.Errorf("create %q: %d %s, want 400 naming username", name, r.status, r.body)
		}
	}
	id := e.must(201, "POST", b+"/users", e.admin, map[string]any{"username": "alice", "enabled": true}).id()
	for _, name := range []string{"\u0430lice", "alice;rm"} {
		r := e.do("PUT", b+"/users/"+id, e.admin, map[string]any{"username": name})
		if r.status != 400 || !strings.Contains(string(r.body), `"field":"username"`) {
			t.Errorf("rename to %q: %d %s, want 400 naming username", name, r.status, r.body)
		}
	}
	// Two letters, as scripts against keygate's admin API create them.
	e.must(201, "POST", b+"/users", e.admin, map[string]any{"username": "ed", "enabled": true})
	// Nor is one strings.EqualFold takes for it: U+017F LONG S, which
	// lower-casing keeps, would rename sam to ſam past the validators.
	sam := e.must(201, "POST", b+"/users", e.admin, map[string]any{"username": "sam", "enabled": true}).id()
	if r := e.do("PUT", b+"/users/"+sam, e.admin, map[string]any{"username": "\u017Fam"}); r.status != 400 ||
		!strings.Contains(string(r.body), `"field":"username"`) {
		t.Errorf("rename sam to \u017Fam: %d %s, want 400 naming username", r.status, r.body)
	}
	// The same name in other case is no rename.
	e.must(204, "PUT", b+"/users/"+id, e.admin, map[string]any{"username": "Alice", "firstName": "Alice"})
}
