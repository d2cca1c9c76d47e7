package oidc_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/oidc"
	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
)

// The upstream identity provider of these tests is a second keygate: a
// realm with a confidential client for the broker and a user.
const (
	upstreamRealm = "upstream"
	brokerClient  = "keygate-broker"
	brokerSecret  = "broker-secret-1"
	callbackURL   = "https://downstream.example/realms/down/broker/corp/endpoint"
)

func upstream(t *testing.T) string {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := idp.NewServer(st, idp.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var realm rep.Realm
	if err := json.Unmarshal([]byte(`{
		"realm": "upstream", "enabled": true, "sslRequired": "none",
		"roles": {"realm": [{"name": "sre"}]},
		"clients": [{"clientId": "keygate-broker", "enabled": true, "secret": "broker-secret-1", "publicClient": false,
			"standardFlowEnabled": true, "redirectUris": ["`+callbackURL+`"]},
			{"clientId": "other-app", "enabled": true, "secret": "other-secret-1", "publicClient": false,
			"standardFlowEnabled": true, "redirectUris": ["`+callbackURL+`"]}],
		"users": [{"username": "alice", "enabled": true, "email": "alice@corp.example", "emailVerified": true,
			"firstName": "Alice", "lastName": "Liddell", "realmRoles": ["sre"],
			"credentials": [{"type": "password", "value": "alice-pass-1"}]}]
	}`), &realm); err != nil {
		t.Fatal(err)
	}
	for _, r := range []rep.Realm{realm, rep.NewRealm("other")} {
		if _, err := rep.CreateRealm(ctx, st, r, rep.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	srv.SetReady()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

// brokerFor configures an identity provider of providerID for the
// upstream realm from its discovery document, as import-config does.
func brokerFor(t *testing.T, base, providerID string, kv ...string) federation.Broker {
	t.Helper()
	resp, err := http.Get(base + "/realms/" + upstreamRealm + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cfg, err := oidc.ParseDiscovery(doc)
	if err != nil {
		t.Fatal(err)
	}
	cfg["clientId"], cfg["clientSecret"], cfg["pkceEnabled"], cfg["pkceMethod"] = brokerClient, brokerSecret, "true", "S256"
	cfg["defaultScope"] = "profile email"
	for i := 0; i+1 < len(kv); i += 2 {
		cfg[kv[i]] = kv[i+1]
	}
	if err := oidc.ValidateConfig(cfg); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]any{"alias": "corp", "providerId": providerID, "enabled": true, "config": cfg})
	b, err := oidc.Open(t.Context(), federation.BrokerEnv{HTTP: &http.Client{Timeout: 10 * time.Second}, Now: time.Now},
		store.IdentityProvider{Alias: "corp", ProviderID: providerID, Enabled: true, Config: raw})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signIn runs a brokered login: Start, the upstream's login form in a
// cookie-keeping browser, and the callback's query.
func signIn(t *testing.T, b federation.Broker, user, password string) (federation.BrokerRequest, federation.BrokerStart, url.Values) {
	t.Helper()
	req := federation.BrokerRequest{ID: "login-id-" + t.Name(), RelayState: "relay-" + t.Name(), CallbackURL: callbackURL}
	start, err := b.Start(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(start.RedirectURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("upstream authorization: %d %s", resp.StatusCode, page)
	}
	action, csrf := loginForm(t, string(page))
	target, err := resp.Request.URL.Parse(action)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = browser.PostForm(target.String(), url.Values{"username": {user}, "password": {password}, "csrf_token": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc.String(), callbackURL+"?") {
		t.Fatalf("upstream login: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return req, start, loc.Query()
}

// loginForm finds Keycloak's login form (kc-form-login) and its CSRF token.
func loginForm(t *testing.T, page string) (string, string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var action, csrf string
	var walk func(n *html.Node, inForm bool)
	walk = func(n *html.Node, inForm bool) {
		if n.Type == html.ElementNode {
			attrs := map[string]string{}
			for _, a := range n.Attr {
				attrs[a.Key] = a.Val
			}
			if n.Data == "form" && attrs["id"] == "kc-form-login" {
				action, inForm = attrs["action"], true
			}
			if inForm && n.Data == "input" && attrs["name"] == "csrf_token" {
				csrf = attrs["value"]
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inForm)
		}
	}
	walk(doc, false)
	if action == "" {
		t.Fatalf("no login form: %.400s", page)
	}
	return action, csrf
}

// A second keygate as the upstream OIDC identity provider: a brokered
// login with each client authentication the upstream takes, its identity
// through the mappers, and what the upstream refuses.
func TestKeygateUpstream(t *testing.T) {
	base := upstream(t)
	issuer := base + "/realms/" + upstreamRealm

	for _, c := range []struct{ providerID, method string }{{"oidc", oidc.AuthSecretPost}, {"keycloak-oidc", oidc.AuthSecretBasic}} {
		t.Run(c.providerID+" "+c.method, func(t *testing.T) {
			b := brokerFor(t, base, c.providerID, "clientAuthMethod", c.method)
			req, start, cb := signIn(t, b, "alice", "alice-pass-1")
			if cb.Get("state") != req.RelayState || cb.Get("iss") != issuer {
				t.Errorf("callback %v", cb)
			}
			id, err := b.Finish(t.Context(), req, start.State, cb)
			if err != nil {
				t.Fatalf("Finish: %v", err)
			}
			if id.UserID == "" || id.Username != "alice" || id.Email != "alice@corp.example" || id.FirstName != "Alice" || id.LastName != "Liddell" {
				t.Errorf("identity %+v", id)
			}
			if id.Claims["iss"] != issuer || id.Claims["sub"] != id.UserID {
				t.Errorf("claims %v", id.Claims)
			}
			var tok map[string]any
			if err := json.Unmarshal([]byte(id.Token), &tok); err != nil || tok["id_token"] == nil || tok["access_token"] == nil {
				t.Errorf("token record: %v", err)
			}

			// The identity through the provider's mappers, as a first login
			// imports it.
			mappers := []store.IdentityProviderMapper{
				{Name: "username", Mapper: "oidc-username-idp-mapper", Config: map[string]string{"template": "${ALIAS}.${CLAIM.preferred_username}", "syncMode": "INHERIT"}},
				{Name: "mail", Mapper: "oidc-user-attribute-idp-mapper", Config: map[string]string{"claim": "email", "user.attribute": "upstreamMail", "syncMode": "INHERIT"}},
				{Name: "guest", Mapper: "oidc-hardcoded-role-idp-mapper", Config: map[string]string{"role": "viewer", "syncMode": "INHERIT"}},
			}
			if c.providerID == "keycloak-oidc" {
				mappers = append(mappers, store.IdentityProviderMapper{Name: "sre", Mapper: "keycloak-oidc-role-to-role-idp-mapper",
					Config: map[string]string{"external.role": "sre", "role": "stackstate-admin", "syncMode": "FORCE"}})
			}
			out, w, err := federation.ApplyIdPMappers(mappers, federation.IdPSettings{Alias: "corp", ProviderID: c.providerID, SyncMode: "IMPORT", TrustEmail: true}, id, true)
			if err != nil || len(w) > 0 {
				t.Fatalf("mappers: %v %v", err, w)
			}
			if out.Username != "corp.alice" || out.ExternalID != id.UserID || out.BrokerUsername != "alice" || !out.EmailVerified ||
				!slices.Equal(out.Attributes["upstreamMail"], []string{"alice@corp.example"}) {
				t.Errorf("mapped %+v", out)
			}
			var roles []string
			for _, g := range out.Grants {
				for _, r := range g.Roles {
					roles = append(roles, r.Name)
				}
			}
			want := []string{"viewer"}
			if c.providerID == "keycloak-oidc" {
				want = append(want, "stackstate-admin") // from the upstream access token's realm_access
			}
			if !slices.Equal(roles, want) {
				t.Errorf("roles %v, want %v", roles, want)
			}

			// A code is good once.
			if _, err := b.Finish(t.Context(), req, start.State, cb); !errors.Is(err, federation.ErrBrokerRefused) {
				t.Errorf("a code redeemed twice: %v", err)
			}
		})
	}

	t.Run("refused", func(t *testing.T) {
		cases := []struct {
			name string
			kv   []string
			want string
		}{
			{"wrong client secret", []string{"clientSecret", "not-the-secret"}, "the identity provider answered"},
			{"another issuer", []string{"issuer", base + "/realms/other"}, "issuer"},
			{"another realm's keys", []string{"jwksUrl", base + "/realms/other/protocol/openid-connect/certs"}, "signature"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				b := brokerFor(t, base, "oidc", c.kv...)
				req, start, cb := signIn(t, b, "alice", "alice-pass-1")
				_, err := b.Finish(t.Context(), req, start.State, cb)
				if !errors.Is(err, federation.ErrBrokerRefused) || !strings.Contains(err.Error(), c.want) {
					t.Errorf("got %v, want a refusal about %q", err, c.want)
				}
			})
		}
		// A code another client of the upstream obtained is worthless to
		// the broker's client.
		other := brokerFor(t, base, "oidc", "clientId", "other-app", "clientSecret", "other-secret-1")
		req, start, cb := signIn(t, other, "alice", "alice-pass-1")
		if _, err := brokerFor(t, base, "oidc").Finish(t.Context(), req, start.State, cb); !errors.Is(err, federation.ErrBrokerRefused) {
			t.Errorf("another client's code: %v", err)
		}
		// A nonce of another login: the state and the callback of one login
		// finished as another.
		b := brokerFor(t, base, "oidc")
		req, start, cb = signIn(t, b, "alice", "alice-pass-1")
		another := req
		another.ID = "another-login"
		if _, err := b.Finish(context.Background(), another, start.State, cb); err == nil {
			t.Error("a login finished with another login's id")
		}
	})
}
