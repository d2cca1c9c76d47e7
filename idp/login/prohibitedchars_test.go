package login_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestProfileProhibitedCharacters: registration and UPDATE_PROFILE refuse
// what Keycloak's default user profile does (username-prohibited-characters,
// person-name-prohibited-characters) and the account console already
// refused: markup, whitespace and control characters in a username, markup
// and control characters in a name. Found by registering "mal<img>" with
// the first name "<script>": both were stored and went into every token and
// mail, ready for a relying party that renders them unescaped.
func TestProfileProhibitedCharacters(t *testing.T) {
	e := newRegEnv(t, map[string]any{"registrationAllowed": true, "editUsernameAllowed": true})
	for _, tc := range []struct{ field, value, want string }{
		{"username", "mal<img>", "Invalid username."},
		{"username", "mal lory", "Invalid username."},
		{"username", "mal\x07", "Invalid username."},
		{"username", "\u0430lice", "Invalid username."},  // Cyrillic а: a homograph of alice
		{"username", "al\u200bice", "Invalid username."}, // an invisible character
		{"username", "bo", "Invalid username."},          // shorter than Keycloak's 3
		{"firstName", "<script>", "Invalid name."},
		{"lastName", "Lory\x00", "Invalid name."},
	} {
		b := e.browser()
		f := newcomer()
		f[tc.field] = tc.value
		p := b.submit(b.registerPage(), "kc-register-form", f)
		if codeOf(t, p) != "" || !strings.Contains(p.body, tc.want) {
			t.Errorf("registering %s %q: %d %q, want %q", tc.field, tc.value, p.status, p.errorText(), tc.want)
		}
	}
	if _, err := e.st.GetUserByUsername(t.Context(), e.realm.ID, "bob"); err == nil {
		t.Fatal("a refused registration stored bob")
	}

	// UPDATE_PROFILE, as kc_action of a signed-in user.
	b := e.browser()
	if codeOf(t, b.loginAs("alice", "alice-pass-1")) == "" {
		t.Fatal("alice's login")
	}
	for _, tc := range []struct{ field, value string }{{"username", "alice<b>"}, {"firstName", "Alice<b>"}, {"lastName", "{Liddell}"}} {
		p := b.authorize(url.Values{"kc_action": {"UPDATE_PROFILE"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("kc_action=UPDATE_PROFILE: %d", p.status)
		}
		f := map[string]string{"username": "alice", "email": "alice@example.com", "firstName": "Alice", "lastName": "Liddell"}
		f[tc.field] = tc.value
		p = b.submit(b.do(http.MethodGet, p.resp.Header.Get("Location"), nil), "kc-update-profile-form", f)
		if codeOf(t, p) != "" {
			t.Errorf("UPDATE_PROFILE with %s %q: signed in", tc.field, tc.value)
		}
		u, err := e.st.GetUserByUsername(t.Context(), e.realm.ID, "alice")
		if err != nil || u.FirstName != "Alice" || u.LastName != "Liddell" {
			t.Fatalf("UPDATE_PROFILE with %s %q stored %+v %v", tc.field, tc.value, u, err)
		}
	}
}
