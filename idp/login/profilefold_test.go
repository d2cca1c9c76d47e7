package login_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// UPDATE_PROFILE skips the username validators only for the stored name:
// strings.EqualFold took "\u017Fam" (U+017F LONG S, which lower-casing
// keeps) for "sam", so the homograph check was skipped and sam became
// ſam, freeing "sam" for someone else.
func TestUpdateProfileFoldedUsernameIsValidated(t *testing.T) {
	ctx := t.Context()
	e := newRegEnv(t, map[string]any{"editUsernameAllowed": true})
	u, err := e.st.GetUserByUsername(ctx, e.realm.ID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	u.Username = "sam"
	if err := e.st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	if codeOf(t, b.loginAs("sam", "alice-pass-1")) == "" {
		t.Fatal("sam's login")
	}
	p := b.authorize(url.Values{"kc_action": {"UPDATE_PROFILE"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("kc_action=UPDATE_PROFILE: %d", p.status)
	}
	f := map[string]string{"username": "\u017Fam", "email": u.Email, "firstName": "Alice", "lastName": "Liddell"}
	p = b.submit(b.do(http.MethodGet, p.resp.Header.Get("Location"), nil), "kc-update-profile-form", f)
	if codeOf(t, p) == "" && p.status == http.StatusSeeOther {
		p = b.do(http.MethodGet, p.resp.Header.Get("Location"), nil)
	}
	if codeOf(t, p) != "" || !strings.Contains(p.body, "Invalid username.") {
		t.Errorf("UPDATE_PROFILE to \u017Fam: %d %q", p.status, p.errorText())
	}
	if got, err := e.st.GetUser(ctx, e.realm.ID, u.ID); err != nil || got.Username != "sam" {
		t.Fatalf("stored %q %v, want sam", got.Username, err)
	}
}
