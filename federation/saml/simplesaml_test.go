package saml

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/saml/samltest"
)

// The broker against a real, non-Go IdP: Debian's SimpleSAMLphp (skipped
// when it is not installed, unless KEYGATE_REQUIRE_SAML=1).
func TestSimpleSAMLphp(t *testing.T) {
	fixtures(t)
	idp := samltest.Start(t, samltest.Options{Users: []samltest.User{{
		Username: "alice", Password: "alice-pw",
		Attributes: map[string][]string{
			"uid": {"alice"}, "mail": {"alice@corp.example"}, "givenName": {"Alice"}, "sn": {"Liddell"},
			"eduPersonAffiliation": {"member", "staff"}, "memberOf": {"sso-sre", "sso-stackstate-admins"},
		},
	}}})
	const callback = "http://127.0.0.1:9/realms/corp/broker/ssp/endpoint" // never contacted
	for _, tc := range []struct {
		name    string
		cfg     map[string]string
		encrypt bool
	}{
		{"redirect binding, responses by POST", map[string]string{"postBindingResponse": "true"}, false},
		{"POST binding everywhere", map[string]string{"postBindingResponse": "true", "postBindingAuthnRequest": "true", "postBindingLogout": "true"}, false},
		{"encrypted assertions", map[string]string{"postBindingResponse": "true", "wantAssertionsEncrypted": "true"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := map[string]string{
				"idpEntityId":             idp.EntityID,
				"singleSignOnServiceUrl":  idp.SSOURL,
				"singleLogoutServiceUrl":  idp.SLOURL,
				"signingCertificate":      idp.CertBase64,
				"wantAuthnRequestsSigned": "true",
				"wantAssertionsSigned":    "true",
				"nameIDPolicyFormat":      nameIDPersistent,
			}
			for k, v := range tc.cfg {
				cfg[k] = v
			}
			replay := &memReplay{}
			env := federation.BrokerEnv{Logger: slog.New(slog.DiscardHandler), Key: spKeys.key, Cert: spKeys.cert, Replay: replay.replay, Now: time.Now}
			b, err := open(context.Background(), env, identityProvider(t, cfg))
			if err != nil {
				t.Fatal(err)
			}
			base := federation.BrokerRequest{CallbackURL: callback, RealmIssuer: "http://127.0.0.1:9/realms/corp"}
			md, err := b.Metadata(context.Background(), base)
			if err != nil {
				t.Fatal(err)
			}
			idp.EncryptAssertions(tc.encrypt)
			if err := idp.RegisterSP(md); err != nil {
				t.Fatal(err)
			}
			browser := idp.NewBrowser()

			login := func() federation.BrokeredIdentity {
				req := base
				req.ID, req.RelayState = newID(), "login-"+newID()[3:12]
				start, err := b.Start(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				msg, err := browser.Login(start, "alice", "alice-pw")
				if err != nil {
					t.Fatal(err)
				}
				if msg.URL != callback || msg.Method != http.MethodPost || msg.Form.Get("RelayState") != req.RelayState {
					t.Fatalf("the IdP answered %s %s (RelayState %q)", msg.Method, msg.URL, msg.Params().Get("RelayState"))
				}
				id, err := b.Finish(context.Background(), req, start.State, msg.Form)
				if err != nil {
					t.Fatal(err)
				}
				return id
			}

			id := login()
			if id.UserID == "" || id.NameIDFormat != nameIDPersistent || id.SessionIndex == "" {
				t.Fatalf("identity %+v", id)
			}
			if id.Email != "alice@corp.example" || id.FirstName != "Alice" || id.LastName != "Liddell" {
				t.Fatalf("hints %q %q %q", id.Email, id.FirstName, id.LastName)
			}
			for k, want := range map[string][]string{"uid": {"alice"}, "memberOf": {"sso-sre", "sso-stackstate-admins"}, "eduPersonAffiliation": {"member", "staff"}} {
				if got := id.Attributes[k]; !slices.Equal(got, want) {
					t.Fatalf("%s = %v, want %v", k, got, want)
				}
			}

			// SP-initiated logout: our signed LogoutRequest, the IdP's
			// signed LogoutResponse back.
			out := base
			out.ID, out.RelayState = newID(), "logout-1"
			start, err := b.Logout(context.Background(), out, id)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := browser.Send(start)
			if err != nil {
				t.Fatal(err)
			}
			if msg.URL != callback && !startsWith(msg.URL, callback+"?") {
				t.Fatalf("logout answered to %s", msg.URL)
			}
			out.RawQuery = msg.RawQuery
			if nameID, _, _, err := b.HandleLogout(context.Background(), out, msg.Params()); err != nil || nameID != "" {
				t.Fatalf("LogoutResponse: %q %v", nameID, err)
			}

			// The IdP session is gone: the next login asks for the password
			// again (Login fills the form) and works.
			id = login()

			// IdP-initiated logout: its signed LogoutRequest to us, our
			// signed LogoutResponse back, and the IdP finishes at ReturnTo.
			msg, err = browser.IdPLogout(idp, "http://127.0.0.1:9/done?x=1")
			if err != nil {
				t.Fatal(err)
			}
			if msg.Params().Get("SAMLRequest") == "" {
				t.Fatalf("the IdP sent %+v", msg)
			}
			in := base
			in.RawQuery = msg.RawQuery
			nameID, session, resp, err := b.HandleLogout(context.Background(), in, msg.Params())
			if err != nil {
				t.Fatal(err)
			}
			if nameID != id.NameID || session != id.SessionIndex {
				t.Fatalf("logout of %q %q, logged in as %q %q", nameID, session, id.NameID, id.SessionIndex)
			}
			done, err := browser.Send(resp)
			if err != nil {
				t.Fatal(err)
			}
			if !startsWith(done.URL, "http://127.0.0.1:9/done?x=1") {
				t.Fatalf("the IdP did not finish its logout: %+v", done)
			}
		})
	}
}

func startsWith(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }
