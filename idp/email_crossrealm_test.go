package idp_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/mail/mailtest"
)

// TestActionTokenOtherRealm: a reset link of realm "down" presented at
// another realm (with a user of the same name and address, and reset
// allowed there too) is no token of that realm: each realm signs its
// action tokens with its own key.
func TestActionTokenOtherRealm(t *testing.T) {
	mp := mailtest.Start(t, mailtest.Options{})
	k, _ := mailKeygate(t, mp, "")
	k.importRealm(t, `{"realm": "other", "enabled": true, "sslRequired": "none", "resetPasswordAllowed": true,
		"users": [{"username": "alice", "enabled": true, "email": "alice@example.com", "emailVerified": true,
			"credentials": [{"type": "password", "value": "alice-other-pass-1"}]}]}`)
	if status, _, _ := newBrowser(t).forgot(k, "alice"); status != 200 {
		t.Fatal(status)
	}
	link := mp.Wait("alice@example.com", 1, 10*time.Second).ActionLink()
	moved := strings.Replace(link, "/realms/down/", "/realms/other/", 1)
	if moved == link {
		t.Fatalf("link %q", link)
	}
	status, _, page := newBrowser(t).follow(moved)
	if status != http.StatusBadRequest || strings.Contains(page, `id="kc-passwd-update-form"`) {
		t.Fatalf("down's link at realm other: %d\n%.800s", status, page)
	}
}
