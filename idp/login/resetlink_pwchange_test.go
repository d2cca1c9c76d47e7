package login_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/mail/mailtest"
	"github.com/keygate/keygate/store"
)

// A reset-credentials link is bound to the password the user had when it
// was mailed (Keycloak's reset token carried the last password change
// for this): once the password has changed another way, an older link
// still lying in the mailbox must not set a new one.
func TestResetLinkVoidAfterPasswordChange(t *testing.T) {
	ctx := t.Context()
	mp := mailtest.Start(t, mailtest.Options{})
	e, _ := newMailEnv(t, mp.Settings("idp@example.com"), nil)
	if p := e.browser().forgot("alice"); p.status != http.StatusOK {
		t.Fatalf("forgot: %d", p.status)
	}
	link := mp.Wait("alice@example.com", 1, 10*time.Second).ActionLink()
	if link == "" {
		t.Fatal("no link in the mail")
	}
	u, err := e.st.GetUserByUsername(ctx, e.realm.ID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	// The password changes (account console, admin, another link).
	if err := e.st.SetPassword(ctx, u.ID, store.Credential{ID: "new-password-credential", UserID: u.ID, Type: "password",
		Created: time.Now(), SecretData: `{"value":"x"}`, CredentialData: `{}`}); err != nil {
		t.Fatal(err)
	}
	p := e.browser().do(http.MethodGet, link, nil)
	if p.status == http.StatusOK && p.byID("kc-action-token-form") != nil {
		p = e.browser().submit(p, "kc-action-token-form", nil)
	}
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "Action expired.") || strings.Contains(p.body, `name="password-new"`) {
		t.Fatalf("old reset link after a password change: %d\n%.1200s", p.status, p.body)
	}
}
