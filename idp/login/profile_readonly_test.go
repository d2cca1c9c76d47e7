package login_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestUpdateProfileOfDirectoryUser: a user linked to a user storage
// provider cannot rewrite their username, email or names through the
// UPDATE_PROFILE page (kc_action=UPDATE_PROFILE, enabled by default),
// which the account console already refuses (readOnlyUserMessage), as
// Keycloak's user profile marks directory-mapped attributes read-only.
// Found by asking for the action as a signed-in LDAP user: the local copy
// took the new email and names, and tokens of the same login carried them.
// Submitting the stored values still completes the action.
func TestUpdateProfileOfDirectoryUser(t *testing.T) {
	e := newRegEnv(t, map[string]any{"editUsernameAllowed": true})
	ctx := t.Context()
	b := e.browser()
	if codeOf(t, b.loginAs("alice", "alice-pass-1")) == "" {
		t.Fatal("alice's login")
	}
	// alice is now a directory user (as an LDAP import makes her).
	u, err := e.st.GetUserByUsername(ctx, e.realm.ID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	u.FederationLink, u.EmailVerified = "ldap-1", true
	if err := e.st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	actionPage := func() *page {
		t.Helper()
		p := b.authorize(url.Values{"kc_action": {"UPDATE_PROFILE"}})
		if p.status != http.StatusSeeOther || !strings.Contains(p.resp.Header.Get("Location"), "execution=UPDATE_PROFILE") {
			t.Fatalf("kc_action=UPDATE_PROFILE: %d %s\n%.800s", p.status, p.resp.Header.Get("Location"), p.body)
		}
		return b.do(http.MethodGet, p.resp.Header.Get("Location"), nil)
	}
	for _, change := range []map[string]string{
		{"username": "bob", "email": "alice@example.com", "firstName": "Alice", "lastName": "Liddell"},
		{"username": "alice", "email": "ceo@example.com", "firstName": "Alice", "lastName": "Liddell"},
		{"username": "alice", "email": "alice@example.com", "firstName": "Mallory", "lastName": "Liddell"},
	} {
		p := b.submit(actionPage(), "kc-update-profile-form", change)
		if codeOf(t, p) != "" {
			t.Errorf("change %v: signed in", change)
		}
		got, err := e.st.GetUser(ctx, e.realm.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Username != "alice" || got.Email != "alice@example.com" || !got.EmailVerified || got.FirstName != "Alice" || got.LastName != "Liddell" {
			t.Fatalf("change %v stored: %+v", change, got)
		}
	}
	// The values as they are: the action is done.
	p := b.submit(actionPage(), "kc-update-profile-form",
		map[string]string{"username": "alice", "email": "alice@example.com", "firstName": "Alice", "lastName": "Liddell"})
	if codeOf(t, p) == "" {
		t.Fatalf("unchanged profile: %d %q", p.status, p.errorText())
	}
}
