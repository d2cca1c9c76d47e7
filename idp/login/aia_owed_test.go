package login_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/mail/mailtest"
)

// TestOwedActionIsNotCancelable: an application-initiated action the user
// owes anyway cannot be cancelled. Found with a realm that has verifyEmail
// on and a user whose address is not verified: VERIFY_EMAIL is then
// triggered, not stored in the user's requiredActions, so asking for it
// with kc_action=VERIFY_EMAIL and posting cancel-aia signed the user in
// without verifying. Keycloak stores a triggered action on the user, so
// its cancel is refused.
func TestOwedActionIsNotCancelable(t *testing.T) {
	e := newRegEnv(t, map[string]any{"verifyEmail": true})
	b := e.browser()
	p := b.submit(b.authorize(url.Values{"kc_action": {"VERIFY_EMAIL"}}), "kc-form-login",
		map[string]string{"username": "alice", "password": "alice-pass-1"})
	if p.status != http.StatusSeeOther || !strings.Contains(p.resp.Header.Get("Location"), "execution=VERIFY_EMAIL") {
		t.Fatalf("after the password: %d %s\n%.800s", p.status, p.resp.Header.Get("Location"), p.body)
	}
	page := b.do(http.MethodGet, p.resp.Header.Get("Location"), nil)
	if code := codeOf(t, b.submit(page, "kc-verify-email-form", map[string]string{"cancel-aia": "true"})); code != "" {
		t.Fatal("cancel-aia skipped the owed VERIFY_EMAIL: signed in")
	}
	u, err := e.st.GetUserByUsername(t.Context(), e.realm.ID, "alice")
	if err != nil || u.EmailVerified {
		t.Fatalf("alice: %+v %v", u, err)
	}
}

// TestResetLinkPasswordNotCancelable: the new password a reset link leads
// to cannot be skipped by having started the login with
// kc_action=UPDATE_PASSWORD and posting cancel-aia, which signed the
// holder of the link in with the old password still in place.
func TestResetLinkPasswordNotCancelable(t *testing.T) {
	mp := mailtest.Start(t, mailtest.Options{})
	e, _ := newMailEnv(t, mp.Settings("idp@example.com"), nil)
	b := e.browser()
	login := b.authorize(url.Values{"kc_action": {"UPDATE_PASSWORD"}})
	link := login.byID("kc-forgot-password")
	if link == nil {
		t.Fatalf("login page has no Forgot Password? link:\n%.800s", login.body)
	}
	form := b.do(http.MethodGet, getAttr(link, "href"), nil)
	if p := b.submit(form, "kc-reset-password-form", map[string]string{"username": "alice"}); p.status != http.StatusOK {
		t.Fatalf("forgot: %d", p.status)
	}
	p := b.followLink(mp.Wait("alice@example.com", 1, 10*time.Second).ActionLink())
	if p.status != http.StatusSeeOther || !strings.Contains(p.resp.Header.Get("Location"), "execution=UPDATE_PASSWORD") {
		t.Fatalf("link: %d %s\n%.800s", p.status, p.resp.Header.Get("Location"), p.body)
	}
	page := b.do(http.MethodGet, p.resp.Header.Get("Location"), nil)
	if code := codeOf(t, b.submit(page, "kc-passwd-update-form", map[string]string{"cancel-aia": "true"})); code != "" {
		t.Fatal("cancel-aia skipped the reset's new password: signed in")
	}
}
