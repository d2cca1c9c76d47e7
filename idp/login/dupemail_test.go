package login_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/mail/mailtest"
	"github.com/keygate/keygate/store"
)

// Forgot password with an email several users share (a realm allowing
// duplicate emails) mails nobody and answers as for an unknown name, as
// Keycloak does when its lookup throws ModelDuplicateException: no one
// user is picked, and nothing tells the email exists.
func TestForgotPasswordAmbiguousEmail(t *testing.T) {
	mp := mailtest.Start(t, mailtest.Options{})
	e, _ := newMailEnv(t, mp.Settings("idp@example.com"), map[string]any{"duplicateEmailsAllowed": true})
	if err := e.st.CreateUser(t.Context(), store.User{ID: "twin", RealmID: e.realm.ID, Username: "twin",
		Email: "alice@example.com", Enabled: true, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	for _, name := range []string{"ALICE@example.com", "nobody@example.com"} {
		if p := b.forgot(name); p.status != http.StatusOK || !strings.Contains(p.body, sentText) {
			t.Fatalf("%s: %d\n%.800s", name, p.status, p.body)
		}
	}
	// A unique email is still found, and its mail is sent after the
	// ambiguous request was answered.
	if p := b.forgot("carol@example.com"); p.status != http.StatusOK || !strings.Contains(p.body, sentText) {
		t.Fatalf("carol: %d\n%.800s", p.status, p.body)
	}
	mp.Wait("carol@example.com", 1, 10*time.Second)
	if n := mp.Count("alice@example.com"); n != 0 {
		t.Errorf("%d mails to the shared address", n)
	}
	// By username, each of the two is still found.
	b.forgot("twin")
	mp.Wait("alice@example.com", 1, 10*time.Second)
}
