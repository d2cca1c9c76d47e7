package idp_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml/samlidp"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// Hostile first broker logins: what the review page and the IdP's profile
// may not take.

// trustEmail with autoLinkByEmail links only the very address the IdP
// vouched for: an email whose Unicode letters lower-case onto another
// user's ASCII address (the Kelvin sign onto k) must not sign in as that
// user. Before, strings.ToLower and EqualFold took "victim@\u212Aelvin"
// for victim@kelvin and the IdP's user became the victim.
func TestBrokerAutoLinkRefusesCaseMappedEmail(t *testing.T) {
	corp, down := samlSetup(t)
	realm, _ := down.st.GetRealmByName(t.Context(), "down")
	row, err := down.st.GetIdentityProvider(t.Context(), realm.ID, "corp")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := rep.IdentityProviderFromStore(row)
	p.Config["autoLinkByEmail"] = "true"
	next, _ := rep.IdentityProviderToStore(realm.ID, p)
	if err := down.st.UpdateIdentityProvider(t.Context(), next); err != nil {
		t.Fatal(err)
	}
	victim := store.User{ID: "victim-id", RealmID: realm.ID, Username: "victim", Email: "victim@kelvin.example", EmailVerified: true,
		Enabled: true, Created: time.Now()}
	if err := down.st.CreateUser(t.Context(), victim); err != nil {
		t.Fatal(err)
	}
	pw := samlPassword("mallory")
	body, _ := json.Marshal(samlidp.User{Name: "mallory", Email: "victim@\u212Aelvin.example", GivenName: "Mal", Surname: "Lory",
		PlaintextPassword: &pw})
	corp.put(t, "/users/mallory", body)

	b := newBrowser(t)
	at, page, _ := b.samlStart(down, corp, false)
	action, f := b.samlAnswer(down, at, page, "mallory")
	status, cb, page := b.do(http.MethodPost, action, f)
	if cb != nil && strings.HasPrefix(cb.String(), appRedirect) {
		if c := jwtClaims(t, samlTokens(t, down, cb)["access_token"].(string)); c["sub"] == victim.ID {
			t.Fatal("a case-mapped email signed in as the victim")
		}
		t.Fatalf("signed in without the link confirmation: %s", cb)
	}
	if status != 200 || !strings.Contains(page, `id="linkAccount"`) {
		t.Fatalf("want the link confirmation: %d %.400s", status, page)
	}
	if fis, _ := down.st.ListFederatedIdentities(t.Context(), realm.ID, victim.ID); len(fis) != 0 {
		t.Fatalf("victim linked: %+v", fis)
	}

	// The plain address still links at once (the feature works).
	pw = samlPassword("victim2")
	body, _ = json.Marshal(samlidp.User{Name: "victim2", Email: "VICTIM@kelvin.example", GivenName: "Vic", Surname: "Tim", PlaintextPassword: &pw})
	corp.put(t, "/users/victim2", body)
	b = newBrowser(t)
	at, page, _ = b.samlStart(down, corp, false)
	action, f = b.samlAnswer(down, at, page, "victim2")
	if _, cb, page = b.do(http.MethodPost, action, f); cb == nil || !strings.HasPrefix(cb.String(), appRedirect) {
		t.Fatalf("auto-link of the same address: %.300s", page)
	}
}
