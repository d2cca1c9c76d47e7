package login_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/mail/mailtest"
)

// A verification link is bound to the very address it was mailed to:
// one that strings.EqualFold takes for it (U+017F LONG S folds onto s)
// is another mailbox and must not come out verified by it. Before, a
// link mailed to sam@example.com verified ſam@example.com set since.
func TestVerifyLinkNotForAFoldedAddress(t *testing.T) {
	ctx := t.Context()
	mp := mailtest.Start(t, mailtest.Options{})
	e, _ := newMailEnv(t, mp.Settings("idp@example.com"), map[string]any{"verifyEmail": true})
	u, err := e.st.GetUserByUsername(ctx, e.realm.ID, "carol")
	if err != nil {
		t.Fatal(err)
	}
	u.Email = "sam@example.com"
	if err := e.st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	p := b.submit(b.authorize(nil), "kc-form-login", map[string]string{"username": "carol", "password": "carol-pass-1"})
	if p.status != http.StatusSeeOther {
		t.Fatalf("login: %d\n%.800s", p.status, p.body)
	}
	if p = b.do(http.MethodGet, p.resp.Header.Get("Location"), nil); p.byID("kc-verify-email-form") == nil {
		t.Fatalf("no verify email page: %d\n%.800s", p.status, p.body)
	}
	link := mp.Wait("sam@example.com", 1, 10*time.Second).ActionLink()
	if link == "" {
		t.Fatal("no link in the mail")
	}
	// The address changes (account console) to one that folds onto it.
	u.Email = "\u017Fam@example.com"
	if err := e.st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	p = e.browser().do(http.MethodGet, link, nil)
	if p.status == http.StatusOK && p.byID("kc-action-token-form") != nil {
		p = e.browser().submit(p, "kc-action-token-form", nil)
	}
	got, err := e.st.GetUser(ctx, e.realm.ID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.EmailVerified || p.status != http.StatusBadRequest || strings.Contains(p.body, "verified") {
		t.Fatalf("link for sam@ on %q: verified=%v, %d\n%.800s", got.Email, got.EmailVerified, p.status, p.body)
	}
}
