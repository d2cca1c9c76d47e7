package idp_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/storetest/backends"
)

// Brokered logins through the real HTTP handlers of two in-process
// keygates: "up" is the upstream OpenID Connect identity provider, "down"
// the realm apps sign in to, with an identity provider "corp" pointing at
// up.

const appRedirect = "http://app.localhost/cb"

type keygate struct {
	URL  string
	st   store.Store
	log  *logBuffer
	mgmt http.Handler // /metrics
}

// logBuffer keeps what the server logged, to check that no secret is.
// The server logs from its own goroutines (requests still being answered,
// back-channel logouts) while a test reads.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newKeygate(t *testing.T) *keygate {
	t.Helper()
	return keygateOn(t, backends.SQLite(t))
}

// keygateOn serves a keygate on st until t ends.
func keygateOn(t *testing.T, st store.Store) *keygate {
	t.Helper()
	return keygateWith(t, st, idp.Config{})
}

// metric is the value of the /metrics line that starts with series
// (name{labels...} as the text format writes them, labels sorted); -1
// when there is none.
func (k *keygate) metric(t *testing.T, series string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	k.mgmt.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

func (k *keygate) importRealm(t *testing.T, doc string) {
	t.Helper()
	var r rep.Realm
	if err := json.Unmarshal([]byte(doc), &r); err != nil {
		t.Fatalf("realm: %v", err)
	}
	if _, err := rep.CreateRealm(t.Context(), k.st, r, rep.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
}

// brokerPair starts up and down; idpProvider is corp's providerId and
// extra its top-level representation fields (JSON, without braces).
func brokerPair(t *testing.T, providerID, extra string) (up, down *keygate) {
	return brokerPairWith(t, providerID, extra, "")
}

// brokerPairWith is brokerPair with realmExtra (top-level fields of down's
// representation, JSON without braces) added to down.
func brokerPairWith(t *testing.T, providerID, extra, realmExtra string) (up, down *keygate) {
	// down seals what the IdP gives it (stored tokens, ID tokens) with a
	// --db-key, as a production server would.
	up, down = newKeygate(t), keygateWith(t, backends.SQLite(t), idp.Config{DBKey: brokerDBKey})
	callback := down.URL + "/realms/down/broker/corp/endpoint"
	up.importRealm(t, `{"realm": "up", "enabled": true, "sslRequired": "none",
		"roles": {"realm": [{"name": "sre"}]},
		"clients": [{"clientId": "down-broker", "enabled": true, "secret": "broker-secret-1", "publicClient": false,
			"standardFlowEnabled": true, "directAccessGrantsEnabled": true, "redirectUris": ["`+callback+`"],
			"attributes": {"post.logout.redirect.uris": "`+callback+`/logout_response",
				"backchannel.logout.url": "`+down.URL+`/realms/down/protocol/openid-connect/logout/backchannel-logout",
				"backchannel.logout.session.required": "true"}}],
		"users": [
			{"username": "alice", "enabled": true, "email": "alice@corp.example", "emailVerified": true,
			 "firstName": "Alice", "lastName": "Liddell", "realmRoles": ["sre"],
			 "credentials": [{"type": "password", "value": "alice-pass-1"}]},
			{"username": "bob", "enabled": true, "email": "bob@corp.example", "emailVerified": true,
			 "firstName": "Bob", "lastName": "Builder",
			 "credentials": [{"type": "password", "value": "bob-pass-1"}]},
			{"username": "noemail", "enabled": true, "firstName": "No", "lastName": "Mail",
			 "credentials": [{"type": "password", "value": "noemail-pass-1"}]}]}`)
	oc := up.URL + "/realms/up/protocol/openid-connect"
	if extra != "" {
		extra += ","
	}
	if realmExtra != "" {
		realmExtra += ","
	}
	down.importRealm(t, `{"realm": "down", "enabled": true, "sslRequired": "none", `+realmExtra+`
		"roles": {"realm": [{"name": "stackstate-admin"}, {"name": "stackstate-guest"}]},
		"clients": [{"clientId": "app", "enabled": true, "publicClient": true, "standardFlowEnabled": true,
			"directAccessGrantsEnabled": true,
			"redirectUris": ["`+appRedirect+`"], "webOrigins": ["+"], "attributes": {"post.logout.redirect.uris": "+"}}],
		"users": [{"username": "bob.local", "enabled": true, "email": "bob@corp.example",
			"credentials": [{"type": "password", "value": "bob-local-pass-1"}]}],
		"identityProviders": [{"alias": "corp", "displayName": "Corp SSO", "providerId": "`+providerID+`", "enabled": true, `+extra+`
			"config": {"authorizationUrl": "`+oc+`/auth", "tokenUrl": "`+oc+`/token", "userInfoUrl": "`+oc+`/userinfo",
				"jwksUrl": "`+oc+`/certs", "useJwksUrl": "true", "validateSignature": "true", "issuer": "`+up.URL+`/realms/up",
				"clientId": "down-broker", "clientSecret": "broker-secret-1", "clientAuthMethod": "client_secret_post",
				"pkceEnabled": "true", "pkceMethod": "S256", "defaultScope": "openid profile email", "syncMode": "FORCE"}},
			{"alias": "hidden", "providerId": "oidc", "enabled": true, "hideOnLogin": true,
			 "config": {"authorizationUrl": "`+oc+`/auth", "tokenUrl": "`+oc+`/token", "clientId": "x", "clientSecret": "y", "issuer": "`+up.URL+`/realms/up", "jwksUrl": "`+oc+`/certs", "useJwksUrl": "true", "validateSignature": "true"}}],
		"identityProviderMappers": [
			{"name": "sre is admin", "identityProviderAlias": "corp", "identityProviderMapper": "oidc-role-idp-mapper",
			 "config": {"claim": "realm_access.roles", "claim.value": "sre", "role": "stackstate-admin", "syncMode": "INHERIT"}},
			{"name": "everyone guest", "identityProviderAlias": "corp", "identityProviderMapper": "hardcoded-role-idp-mapper",
			 "config": {"role": "stackstate-guest", "syncMode": "INHERIT"}}]}`)
	return up, down
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request and follows redirects until one leaves for the app
// (its redirect URI is returned) or a page answers (returned with its URL).
func (b *browser) do(method, target string, form url.Values) (status int, at *url.URL, page string) {
	b.t.Helper()
	for range 20 {
		resp, body := b.step(method, target, form)
		if resp.StatusCode/100 != 3 {
			return resp.StatusCode, resp.Request.URL, body
		}
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			b.t.Fatal(err)
		}
		if strings.HasPrefix(loc.String(), appRedirect) {
			return resp.StatusCode, loc, ""
		}
		method, target = http.MethodGet, loc.String()
	}
	b.t.Fatal("too many redirects")
	return 0, nil, ""
}

// step sends one request without following a redirect.
func (b *browser) step(method, target string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = b.c.PostForm(target, form)
	} else {
		resp, err = b.c.Get(target)
	}
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// formOf returns the action and fields of the form with id in page.
func formOf(t *testing.T, base *url.URL, page, id string) (string, url.Values) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var action string
	fields := url.Values{}
	var walk func(n *html.Node, in bool)
	walk = func(n *html.Node, in bool) {
		if n.Type == html.ElementNode {
			a := attrs(n)
			if n.Data == "form" && a["id"] == id {
				action, in = a["action"], true
			}
			if in && n.Data == "input" && a["name"] != "" && a["type"] != "submit" {
				fields.Set(a["name"], a["value"])
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, in)
		}
	}
	walk(doc, false)
	if action == "" {
		t.Fatalf("no form %s in %.600s", id, page)
	}
	u, err := base.Parse(action)
	if err != nil {
		t.Fatal(err)
	}
	return u.String(), fields
}

func attrs(n *html.Node) map[string]string {
	m := map[string]string{}
	for _, a := range n.Attr {
		m[a.Key] = a.Val
	}
	return m
}

// links returns the ids and hrefs of the page's links.
func links(t *testing.T, page string) map[string]string {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "a" {
			a := attrs(n)
			if a["id"] != "" {
				out[a["id"]] = a["href"]
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

func authorizeURL(down *keygate, extra url.Values) string {
	q := url.Values{"client_id": {"app"}, "redirect_uri": {appRedirect}, "response_type": {"code"}, "scope": {"openid"},
		"state": {"st-1"}, "nonce": {"n-1"}, "code_challenge_method": {"S256"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}}
	for k, v := range extra {
		q[k] = v
	}
	return down.URL + "/realms/down/protocol/openid-connect/auth?" + q.Encode()
}

// upstreamLogin answers up's login page (at, page) with user's password and
// follows on until the app gets its redirect (or a page of down answers).
func (b *browser) upstreamLogin(at *url.URL, page, user, pw string) (int, *url.URL, string) {
	b.t.Helper()
	action, f := loginForm(b.t, at, page, user, pw)
	return b.do(http.MethodPost, action, f)
}

// loginForm is the login page's form (page, at at) filled with user and
// pw, and where it posts to.
func loginForm(t *testing.T, at *url.URL, page, user, pw string) (string, url.Values) {
	t.Helper()
	action, f := formOf(t, at, page, "kc-form-login")
	f.Set("username", user)
	f.Set("password", pw)
	return action, f
}

// exchange redeems the app's code at down and returns the access token's
// claims.
func exchange(t *testing.T, down *keygate, cb *url.URL) map[string]any {
	t.Helper()
	return jwtClaims(t, exchangeTokens(t, down, cb)["access_token"].(string))
}

// exchangeTokens is exchange's token response.
func exchangeTokens(t *testing.T, down *keygate, cb *url.URL) map[string]any {
	t.Helper()
	if cb.Query().Get("state") != "st-1" || cb.Query().Get("code") == "" {
		t.Fatalf("app callback %s\n%s", cb, down.log.String())
	}
	resp, err := http.PostForm(down.URL+"/realms/down/protocol/openid-connect/token", url.Values{"grant_type": {"authorization_code"},
		"client_id": {"app"}, "redirect_uri": {appRedirect}, "code": {cb.Query().Get("code")},
		"code_verifier": {"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}}) // RFC 7636's example
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: %d %v %v", resp.StatusCode, tok, err)
	}
	return tok
}

func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func realmRoles(c map[string]any) []string {
	ra, _ := c["realm_access"].(map[string]any)
	var out []string
	for _, r := range ra["roles"].([]any) {
		out = append(out, r.(string))
	}
	slices.Sort(out)
	return out
}

// The login page's button for corp, the upstream's login, and back: the
// first login creates the user with its mapped roles and its link; a second
// browser signs in as the same user; kc_idp_hint skips the page.
func TestBrokerOIDCLogin(t *testing.T) {
	for _, providerID := range []string{"oidc", "keycloak-oidc"} {
		t.Run(providerID, func(t *testing.T) {
			up, down := brokerPair(t, providerID, "")
			b := newBrowser(t)
			status, at, page := b.do(http.MethodGet, authorizeURL(down, nil), nil)
			if status != 200 {
				t.Fatalf("authorize: %d %s %.300s", status, at, page)
			}
			ls := links(t, page)
			href, ok := ls["social-corp"]
			if !ok || !strings.Contains(page, "Corp SSO") {
				t.Fatalf("no social-corp button: %v", ls)
			}
			if _, ok := ls["social-hidden"]; ok {
				t.Error("hideOnLogin provider shown")
			}
			target, _ := at.Parse(href)
			status, at, page = b.do(http.MethodGet, target.String(), nil)
			if status != 200 || !strings.HasPrefix(at.String(), up.URL+"/realms/up/") {
				t.Fatalf("broker login went to %d %s", status, at)
			}
			_, cb, page := b.upstreamLogin(at, page, "alice", "alice-pass-1")
			if cb == nil || !strings.HasPrefix(cb.String(), appRedirect) {
				t.Fatalf("after upstream login: %s %.500s", cb, page)
			}
			claims := exchange(t, down, cb)
			if sc, _ := claims["scope"].(string); !slices.Contains(strings.Fields(sc), "openid") {
				t.Errorf("code-flow access token scope %q lacks openid", sc)
			}
			if claims["preferred_username"] != "alice" || claims["email"] != "alice@corp.example" {
				t.Errorf("claims %v", claims)
			}
			roles := realmRoles(claims)
			want := []string{"stackstate-guest"}
			if providerID == "keycloak-oidc" {
				// Only keycloak-oidc reads the access token, where keygate
				// (as Keycloak) puts realm_access.
				want = []string{"stackstate-admin", "stackstate-guest"}
			}
			for _, r := range want {
				if !slices.Contains(roles, r) {
					t.Errorf("roles %v, want %v", roles, want)
				}
			}
			realm, _ := down.st.GetRealmByName(t.Context(), "down")
			u, err := down.st.GetUserByUsername(t.Context(), realm.ID, "alice")
			if err != nil {
				t.Fatal(err)
			}
			fis, _ := down.st.ListFederatedIdentities(t.Context(), realm.ID, u.ID)
			if len(fis) != 1 || fis[0].Alias != "corp" || fis[0].ExternalName != "alice" || fis[0].ExternalID == "" {
				t.Errorf("federated identities %+v", fis)
			}
			if claims["sub"] != u.ID {
				t.Errorf("sub %v, user %s", claims["sub"], u.ID)
			}

			// A second browser, straight to corp by kc_idp_hint: same user.
			b2 := newBrowser(t)
			status, at, page = b2.do(http.MethodGet, authorizeURL(down, url.Values{"kc_idp_hint": {"corp"}}), nil)
			if status != 200 || !strings.HasPrefix(at.String(), up.URL) {
				t.Fatalf("kc_idp_hint: %d %s", status, at)
			}
			_, cb, _ = b2.upstreamLogin(at, page, "alice", "alice-pass-1")
			if c2 := exchange(t, down, cb); c2["sub"] != u.ID {
				t.Errorf("second login sub %v, want %s", c2["sub"], u.ID)
			}
			n, _ := down.st.CountUsers(t.Context(), realm.ID, store.UserQuery{})
			if n != 2 { // bob.local and alice
				t.Errorf("%d users after two logins", n)
			}
			// An unknown hint shows the form.
			status, _, page = newBrowser(t).do(http.MethodGet, authorizeURL(down, url.Values{"kc_idp_hint": {"nope"}}), nil)
			if status != 200 || !strings.Contains(page, `id="kc-form-login"`) {
				t.Errorf("unknown kc_idp_hint: %d", status)
			}
			for _, secret := range []string{"broker-secret-1", "alice-pass-1", cb.Query().Get("code")} {
				if strings.Contains(down.log.String(), secret) {
					t.Errorf("down's log holds a secret")
				}
			}
			// The broker's calls show in the metrics: two logins started
			// and finished (with the token and userinfo calls upstream).
			for _, op := range []string{"start", "finish"} {
				series := `keygate_broker_operation_seconds_count{op="` + op + `",provider="` + providerID + `"}`
				if n := down.metric(t, series); n < 2 {
					t.Errorf("%s = %v, want 2 or more", series, n)
				}
			}
			if n := up.metric(t, `keygate_logins_total{client="down-broker",outcome="success",realm="up"}`); n < 2 {
				t.Errorf("upstream logins of the broker's client: %v", n)
			}
		})
	}
}

// corpLogin signs user in at down through corp and returns the app's
// callback (its code).
func (b *browser) corpLogin(down *keygate, user, pw string) *url.URL {
	b.t.Helper()
	at, page := b.startCorp(down)
	_, cb, page := b.upstreamLogin(at, page, user, pw)
	if cb == nil || !strings.HasPrefix(cb.String(), appRedirect) {
		b.t.Fatalf("login of %s through corp: %s %.300s", user, cb, page)
	}
	return cb
}

// startCorp opens the login page in b and follows corp's button to the
// upstream's login page.
func (b *browser) startCorp(down *keygate) (*url.URL, string) {
	b.t.Helper()
	status, at, page := b.do(http.MethodGet, authorizeURL(down, nil), nil)
	if status != 200 {
		b.t.Fatalf("authorize: %d %s", status, at)
	}
	target, _ := at.Parse(links(b.t, page)["social-corp"])
	_, at, page = b.do(http.MethodGet, target.String(), nil)
	return at, page
}

// First broker logins that cannot just create the user: an IdP without
// an email gets the review page; an email of an existing local user must
// be proved by signing in to that user before the accounts are linked.
func TestBrokerFirstLogin(t *testing.T) {
	_, down := brokerPair(t, "oidc", "")
	realm, _ := down.st.GetRealmByName(t.Context(), "down")

	// Where the login takes a username or an email, the review refuses an
	// email that is another user's username (store.LoginNameTaken).
	t.Run("review refuses another's username as email", func(t *testing.T) {
		if err := down.st.CreateUser(t.Context(), store.User{ID: "taken-id", RealmID: realm.ID, Username: "taken@corp.example",
			Enabled: true, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t)
		at, page := b.startCorp(down)
		_, at, page = b.upstreamLogin(at, page, "noemail", "noemail-pass-1")
		action, f := formOf(t, at, page, "kc-idp-review-profile-form")
		f.Set("email", "Taken@corp.example")
		_, at, page = b.do(http.MethodPost, action, f)
		if !strings.Contains(page, `id="kc-idp-review-profile-form"`) || !strings.Contains(page, "Email already exists") {
			t.Fatalf("another's username as email: %s %.400s", at, page)
		}
		if u, err := down.st.GetUserByEmail(t.Context(), realm.ID, "taken@corp.example"); err == nil {
			t.Fatalf("created %s with the email", u.Username)
		}
	})

	t.Run("review profile", func(t *testing.T) {
		b := newBrowser(t)
		at, page := b.startCorp(down)
		status, at, page := b.upstreamLogin(at, page, "noemail", "noemail-pass-1")
		if status != 200 || !strings.Contains(page, `id="kc-idp-review-profile-form"`) {
			t.Fatalf("no review page: %d %s %.400s", status, at, page)
		}
		action, f := formOf(t, at, page, "kc-idp-review-profile-form")
		if f.Get("username") != "noemail" || f.Get("firstName") != "No" || f.Get("email") != "" {
			t.Errorf("review page fields %v", f)
		}
		// While the page waits, the record holding the IdP's answer keeps
		// its ID token sealed with down's --db-key.
		rows, err := down.st.(interface{ DB() *sql.DB }).DB().QueryContext(t.Context(),
			`SELECT request FROM tokens WHERE kind = 'broker' AND request LIKE '%"identity"%'`)
		if err != nil {
			t.Fatal(err)
		}
		var records []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			records = append(records, s)
		}
		rows.Close()
		if len(records) == 0 {
			t.Fatal("no first broker login record")
		}
		for _, rec := range records {
			var r struct{ Identity struct{ IDToken string } }
			if err := json.Unmarshal([]byte(rec), &r); err != nil || !sealedNotJWT(r.Identity.IDToken) {
				t.Errorf("first broker login record: %v, ID token %.40s", err, r.Identity.IDToken)
			}
		}
		f.Set("email", "not-an-email")
		status, at, page = b.do(http.MethodPost, action, f)
		if status != 400 || !strings.Contains(page, "Invalid email address") {
			t.Fatalf("bad email: %d %.300s", status, page)
		}
		// The page posted once is spent: replaying it is refused.
		if st, _, _ := b.do(http.MethodPost, action, f); st != 400 {
			t.Errorf("replayed review form: %d", st)
		}
		action, f = formOf(t, at, page, "kc-idp-review-profile-form")
		f.Set("email", "no.mail@corp.example")
		_, cb, page := b.do(http.MethodPost, action, f)
		if cb == nil || !strings.HasPrefix(cb.String(), appRedirect) {
			t.Fatalf("after review: %s %.300s", cb, page)
		}
		claims := exchange(t, down, cb)
		if claims["preferred_username"] != "noemail" || claims["email"] != "no.mail@corp.example" || claims["email_verified"] != false {
			t.Errorf("claims %v (a typed email is not verified)", claims)
		}
	})

	t.Run("link existing account", func(t *testing.T) {
		local, err := down.st.GetUserByUsername(t.Context(), realm.ID, "bob.local")
		if err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t)
		at, page := b.startCorp(down)
		status, at, page := b.upstreamLogin(at, page, "bob", "bob-pass-1")
		if status != 200 || !strings.Contains(page, `id="linkAccount"`) || !strings.Contains(page, "bob@corp.example") {
			t.Fatalf("no confirm page: %d %.400s", status, page)
		}
		action, f := formOf(t, at, page, "kc-register-form")
		f.Set("submitAction", "linkAccount")
		status, at, page = b.do(http.MethodPost, action, f)
		action, f = formOf(t, at, page, "kc-form-login")
		if status != 200 || f.Get("username") != "bob.local" || !strings.Contains(page, "Authenticate to link your account with corp") {
			t.Fatalf("re-authentication page: %d %v", status, f)
		}
		// The username is the linked user's whatever is posted; a wrong
		// password links nothing.
		f.Set("username", "alice")
		f.Set("password", "wrong-pass")
		status, at, page = b.do(http.MethodPost, action, f)
		if status != 200 || !strings.Contains(page, "Invalid username or password") {
			t.Fatalf("wrong password: %d %.300s", status, page)
		}
		if fis, _ := down.st.ListFederatedIdentities(t.Context(), realm.ID, local.ID); len(fis) != 0 {
			t.Fatalf("linked before the password: %+v", fis)
		}
		action, f = formOf(t, at, page, "kc-form-login")
		f.Set("password", "bob-local-pass-1")
		_, cb, page := b.do(http.MethodPost, action, f)
		if cb == nil {
			t.Fatalf("after re-authentication: %.300s", page)
		}
		if c := exchange(t, down, cb); c["sub"] != local.ID {
			t.Errorf("signed in as %v, want the local user %s", c["sub"], local.ID)
		}
		fis, _ := down.st.ListFederatedIdentities(t.Context(), realm.ID, local.ID)
		if len(fis) != 1 || fis[0].Alias != "corp" || fis[0].ExternalName != "bob" {
			t.Errorf("links %+v", fis)
		}
		// Next time the link signs bob in at once.
		b2 := newBrowser(t)
		at, page = b2.startCorp(down)
		if _, cb, page = b2.upstreamLogin(at, page, "bob", "bob-pass-1"); cb == nil {
			t.Fatalf("second login: %.300s", page)
		} else if c := exchange(t, down, cb); c["sub"] != local.ID {
			t.Errorf("second login as %v", c["sub"])
		}
	})
}

// trustEmail with autoLinkByEmail links an existing email's user without
// asking; trustEmail alone does not.
func TestBrokerAutoLinkByEmail(t *testing.T) {
	for _, c := range []struct {
		extra    string
		autoLink bool
	}{
		{`"trustEmail": true`, false},
		{`"trustEmail": true, "config": {"autoLinkByEmail": "true"}`, true},
	} {
		_, down := brokerPair(t, "oidc", "")
		realm, _ := down.st.GetRealmByName(t.Context(), "down")
		row, err := down.st.GetIdentityProvider(t.Context(), realm.ID, "corp")
		if err != nil {
			t.Fatal(err)
		}
		p, _ := rep.IdentityProviderFromStore(row)
		var patch rep.IdentityProvider
		if err := json.Unmarshal([]byte("{"+c.extra+"}"), &patch); err != nil {
			t.Fatal(err)
		}
		p.TrustEmail = patch.TrustEmail
		for k, v := range patch.Config {
			p.Config[k] = v
		}
		next, _ := rep.IdentityProviderToStore(realm.ID, p)
		if err := down.st.UpdateIdentityProvider(t.Context(), next); err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t)
		at, page := b.startCorp(down)
		status, cb, page := b.upstreamLogin(at, page, "bob", "bob-pass-1")
		local, _ := down.st.GetUserByUsername(t.Context(), realm.ID, "bob.local")
		if c.autoLink {
			if cb == nil || !strings.HasPrefix(cb.String(), appRedirect) {
				t.Fatalf("auto-link: %d %.300s", status, page)
			}
			if cl := exchange(t, down, cb); cl["sub"] != local.ID {
				t.Errorf("auto-linked to %v, want %s", cl["sub"], local.ID)
			}
		} else if !strings.Contains(page, `id="linkAccount"`) {
			t.Errorf("trustEmail alone linked without asking: %d", status)
		}
	}
}

// What must not sign anyone in: the IdP's answer in another browser than
// the one that asked (login CSRF), the same answer twice, a cancel at the
// IdP (a clear page), a link-only provider.
func TestBrokerRefusals(t *testing.T) {
	up, down := brokerPair(t, "oidc", "")
	b := newBrowser(t)
	at, page := b.startCorp(down)
	action, f := formOf(t, at, page, "kc-form-login")
	f.Set("username", "alice")
	f.Set("password", "alice-pass-1")
	resp, err := b.c.PostForm(action, f)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	callback := resp.Header.Get("Location")
	if !strings.HasPrefix(callback, down.URL+"/realms/down/broker/corp/endpoint?") {
		t.Fatalf("upstream answered %d %q", resp.StatusCode, callback)
	}
	// Another browser (the attacker's victim) gets the answer: refused,
	// and the answer is spent.
	if st, _, pg := newBrowser(t).do(http.MethodGet, callback, nil); st != 400 || !strings.Contains(pg, "Cookie not found") {
		t.Errorf("callback in another browser: %d", st)
	}
	if st, _, _ := b.do(http.MethodGet, callback, nil); st != 400 {
		t.Errorf("callback after it was refused once: %d", st)
	}

	// A fresh login: the right browser gets in once; the same answer again
	// does not.
	b = newBrowser(t)
	at, page = b.startCorp(down)
	action, f = formOf(t, at, page, "kc-form-login")
	f.Set("username", "alice")
	f.Set("password", "alice-pass-1")
	resp, _ = b.c.PostForm(action, f)
	resp.Body.Close()
	callback = resp.Header.Get("Location")
	if _, cb, _ := b.do(http.MethodGet, callback, nil); cb == nil {
		t.Fatal("login failed")
	}
	if st, _, _ := b.do(http.MethodGet, callback, nil); st != 400 {
		t.Errorf("replayed callback: %d", st)
	}

	// The person cancels at the IdP.
	b = newBrowser(t)
	at, _ = b.startCorp(down)
	state := at.Query().Get("state")
	if state == "" {
		t.Fatalf("no state in %s", at)
	}
	cancel := down.URL + "/realms/down/broker/corp/endpoint?" + url.Values{"state": {state}, "error": {"access_denied"},
		"iss": {up.URL + "/realms/up"}}.Encode()
	if st, _, pg := b.do(http.MethodGet, cancel, nil); st != 401 || !strings.Contains(pg, "cancelled") {
		t.Errorf("cancel: %d %.200s", st, pg)
	}
	// An unknown state, a garbage body: pages, not 500s.
	for _, u := range []string{down.URL + "/realms/down/broker/corp/endpoint?state=nope&code=x",
		down.URL + "/realms/down/broker/nope/endpoint?state=x", down.URL + "/realms/down/broker/corp/login?session_code=x"} {
		if st, _, _ := b.do(http.MethodGet, u, nil); st/100 != 4 {
			t.Errorf("%s: %d", u, st)
		}
	}
	if st, _, _ := b.do(http.MethodPost, down.URL+"/realms/down/broker/corp/endpoint", url.Values{"SAMLResponse": {"PHg+"}, "RelayState": {"nope"}}); st/100 != 4 {
		t.Errorf("unknown SAML relay state: %d", st)
	}
}

// A link-only provider has no button, ignores kc_idp_hint and signs no new
// user in.
func TestBrokerLinkOnly(t *testing.T) {
	_, down := brokerPair(t, "oidc", `"linkOnly": true`)
	status, _, page := newBrowser(t).do(http.MethodGet, authorizeURL(down, url.Values{"kc_idp_hint": {"corp"}}), nil)
	if status != 200 || !strings.Contains(page, `id="kc-form-login"`) {
		t.Fatalf("kc_idp_hint to a link-only provider: %d", status)
	}
	if _, ok := links(t, page)["social-corp"]; ok {
		t.Error("link-only provider has a button")
	}
}

// patchCorp changes down's "corp" identity provider in the store.
func patchCorp(t *testing.T, down *keygate, change func(*rep.IdentityProvider)) {
	t.Helper()
	realm, err := down.st.GetRealmByName(t.Context(), "down")
	if err != nil {
		t.Fatal(err)
	}
	row, err := down.st.GetIdentityProvider(t.Context(), realm.ID, "corp")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := rep.IdentityProviderFromStore(row)
	change(&p)
	next, _ := rep.IdentityProviderToStore(realm.ID, p)
	if err := down.st.UpdateIdentityProvider(t.Context(), next); err != nil {
		t.Fatal(err)
	}
}

// Logging out of keygate logs out at an OIDC IdP with a logoutUrl too, as
// Keycloak's keycloakInitiatedBrowserLogout: the browser goes there with
// the IdP's ID token and comes back through the broker's logout_response
// to the app's post_logout_redirect_uri; with backchannelSupported the
// server calls it instead. Either way the upstream session ends, and the
// next login through the IdP asks for the password again. Without a
// logoutUrl the upstream session stays, as in Keycloak.
func TestBrokerOIDCLogout(t *testing.T) {
	for _, mode := range []string{"browser", "backchannel", "no logoutUrl"} {
		t.Run(mode, func(t *testing.T) {
			up, down := brokerPair(t, "oidc", "")
			upLogout := up.URL + "/realms/up/protocol/openid-connect/logout"
			patchCorp(t, down, func(p *rep.IdentityProvider) {
				switch mode {
				case "browser":
					p.Config["logoutUrl"] = upLogout
				case "backchannel":
					p.Config["logoutUrl"], p.Config["backchannelSupported"] = upLogout, "true"
				}
			})
			upSessions := func() int { return len(sessionsOf(t, up, "up", "alice")) }

			b := newBrowser(t)
			cb := b.corpLogin(down, "alice", "alice-pass-1")
			tok := exchangeTokens(t, down, cb)
			if n := upSessions(); n != 1 {
				t.Fatalf("upstream sessions after the login: %d", n)
			}
			// The upstream ID token the logout sends back is kept sealed
			// with down's --db-key.
			alice := userOf(t, down, "down", "alice")
			ss, err := down.st.ListUserSessions(t.Context(), alice.RealmID, alice.ID)
			if err != nil || len(ss) != 1 {
				t.Fatalf("down's sessions: %v, %v", ss, err)
			}
			var d struct{ Broker struct{ IDToken string } }
			if err := json.Unmarshal(ss[0].Data, &d); err != nil || !sealedNotJWT(d.Broker.IDToken) {
				t.Fatalf("down's session data: %v %.60s", err, ss[0].Data)
			}

			// RP-initiated logout at down, followed hop by hop.
			target := down.URL + "/realms/down/protocol/openid-connect/logout?" + url.Values{
				"id_token_hint": {tok["id_token"].(string)}, "post_logout_redirect_uri": {appRedirect}, "state": {"bye"}}.Encode()
			var trail []string
			var end *url.URL
			for range 10 {
				resp, err := b.c.Get(target)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				u := resp.Request.URL
				trail = append(trail, u.Scheme+"://"+u.Host+u.Path)
				if resp.StatusCode/100 != 3 {
					t.Fatalf("logout stopped at %d %s (trail %v)\n%s", resp.StatusCode, u, trail, down.log.String())
				}
				loc, _ := u.Parse(resp.Header.Get("Location"))
				if strings.HasPrefix(loc.String(), appRedirect) {
					end = loc
					break
				}
				target = loc.String()
			}
			if end == nil || end.Query().Get("state") != "bye" {
				t.Fatalf("logout ended at %v, want %s?state=bye (trail %v)", end, appRedirect, trail)
			}
			wentUp := slices.Contains(trail, upLogout)
			cameBack := slices.Contains(trail, down.URL+"/realms/down/broker/corp/endpoint/logout_response")
			if (mode == "browser") != (wentUp && cameBack) || (mode != "browser" && (wentUp || cameBack)) {
				t.Errorf("%s: trail %v", mode, trail)
			}

			wantUp := 0
			if mode == "no logoutUrl" {
				wantUp = 1
			}
			deadline := time.Now().Add(5 * time.Second) // the back channel runs after the answer
			for upSessions() != wantUp && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if n := upSessions(); n != wantUp {
				t.Fatalf("upstream sessions after the logout: %d, want %d", n, wantUp)
			}
			// The next login through corp: the upstream asks for the
			// password again, unless its session was left.
			at, page := b.startCorp(down)
			asked := strings.Contains(page, `id="kc-form-login"`) && strings.HasPrefix(at.String(), up.URL)
			if asked != (wantUp == 0) {
				t.Errorf("next login through corp: at %s, password asked %v", at, asked)
			}
			for _, secret := range []string{tok["id_token"].(string), "broker-secret-1"} {
				if strings.Contains(down.log.String(), secret) {
					t.Error("down's log holds a secret")
				}
			}
		})
	}
}

// An OIDC IdP's back-channel logout token ends the keygate sessions that
// came through its session: the upstream keygate, told to by its client's
// backchannel.logout.url, logs out one of alice's two browsers there, and
// only the keygate session of that browser ends (the token's sid); her
// other one stays. Forged and foreign tokens are refused and end nothing.
func TestBrokerOIDCBackchannelLogoutFromIdP(t *testing.T) {
	up, down := brokerPair(t, "oidc", "")
	downSessions := func(username string) []string { return sessionsOf(t, down, "down", username) }
	login := func(user, pw string) *browser {
		b := newBrowser(t)
		b.corpLogin(down, user, pw)
		return b
	}
	b1 := login("alice", "alice-pass-1")
	first := downSessions("alice")
	login("alice", "alice-pass-1")
	if len(first) != 1 || len(downSessions("alice")) != 2 {
		t.Fatalf("sessions before: alice %v then %v", first, downSessions("alice"))
	}

	// Refused tokens end nothing.
	bc := down.URL + "/realms/down/protocol/openid-connect/logout/backchannel-logout"
	post := func(form url.Values) int {
		resp, err := http.PostForm(bc, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	upIDToken := func() string { // an upstream ID token is no logout token
		resp, err := http.PostForm(up.URL+"/realms/up/protocol/openid-connect/token", url.Values{"grant_type": {"password"},
			"client_id": {"down-broker"}, "client_secret": {"broker-secret-1"}, "username": {"alice"}, "password": {"alice-pass-1"}, "scope": {"openid"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tok map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&tok)
		s, _ := tok["id_token"].(string)
		if s == "" {
			t.Fatalf("no upstream ID token: %v", tok)
		}
		return s
	}()
	for name, form := range map[string]url.Values{
		"none":        {},
		"garbage":     {"logout_token": {"a.b.c"}},
		"an ID token": {"logout_token": {upIDToken}},
	} {
		if status := post(form); status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, status)
		}
	}
	if len(downSessions("alice")) != 2 {
		t.Fatal("a refused logout token ended sessions")
	}

	// The upstream's logout of b1's session (its confirmation page).
	status, at, page := b1.do(http.MethodGet, up.URL+"/realms/up/protocol/openid-connect/logout", nil)
	if status != 200 {
		t.Fatalf("upstream logout page: %d %s", status, at)
	}
	action, fields := formOf(t, at, page, "kc-logout-confirm")
	fields.Set("confirmLogout", "Logout")
	if status, at, _ := b1.do(http.MethodPost, action, fields); status != 200 {
		t.Fatalf("upstream logout: %d %s", status, at)
	}
	deadline := time.Now().Add(10 * time.Second)
	for slices.Contains(downSessions("alice"), first[0]) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	left := downSessions("alice")
	if slices.Contains(left, first[0]) || len(left) != 1 {
		t.Fatalf("after the upstream's logout of the first browser: alice %v (first %s)\n%s\nUP:\n%s", left, first[0], down.log.String(), up.log.String())
	}
	if !strings.Contains(down.log.String(), `msg="logout requested by the identity provider" realm=down alias=corp sessions=1`) {
		t.Errorf("down did not log the IdP's logout\n%s", down.log.String())
	}

	// A token naming only the upstream session (sid, no sub) ends the
	// downstream session that upstream session signed in; once.
	upSids := sessionsOf(t, up, "up", "alice") // the second browser's, and the password grant's above
	sidOnly := func(sid string) string {
		now := time.Now().Unix()
		return signAsRealm(t, up, "up", map[string]any{"iss": up.URL + "/realms/up", "aud": "down-broker", "iat": now, "exp": now + 60,
			"jti": rand.Text(), "sid": sid, "events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}})
	}
	for _, sid := range upSids {
		tok := sidOnly(sid)
		if status := post(url.Values{"logout_token": {tok}}); status != http.StatusOK {
			t.Fatalf("sid-only logout token: %d\n%s", status, down.log.String())
		}
		if status := post(url.Values{"logout_token": {tok}}); status != http.StatusBadRequest {
			t.Errorf("the same token again: %d, want 400", status)
		}
	}
	if left := downSessions("alice"); len(left) != 0 {
		t.Errorf("alice's downstream sessions after sid-only logout tokens for %v: %v", upSids, left)
	}
	if strings.Contains(down.log.String(), upIDToken) {
		t.Errorf("down's log holds a token\n%s", down.log.String())
	}
}

// The client's own authorization parameters that the provider's
// forwardParameters names go on to the IdP, and with uiLocales the login
// page's language; the others do not.
func TestBrokerForwardParameters(t *testing.T) {
	up, down := brokerPair(t, "oidc", "")
	patchCorp(t, down, func(p *rep.IdentityProvider) {
		p.Config["forwardParameters"], p.Config["uiLocales"] = "acr_values,domain_hint", "true"
	})
	b := newBrowser(t)
	resp, err := b.c.Get(authorizeURL(down, url.Values{"kc_idp_hint": {"corp"}, "acr_values": {"gold"}, "domain_hint": {"corp.example"},
		"claims": {`{"id_token":{}}`}}))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), up.URL+"/realms/up/protocol/openid-connect/auth") {
		t.Fatalf("kc_idp_hint went to %d %s", resp.StatusCode, loc)
	}
	q := loc.Query()
	if q.Get("acr_values") != "gold" || q.Get("domain_hint") != "corp.example" || q.Get("ui_locales") != "en" || q.Has("claims") {
		t.Errorf("the IdP's authorization request %v", q)
	}
	// And the login goes through.
	_, at, page := b.do(http.MethodGet, loc.String(), nil)
	if _, cb, page := b.upstreamLogin(at, page, "alice", "alice-pass-1"); cb == nil || !strings.HasPrefix(cb.String(), appRedirect) {
		t.Fatalf("after upstream login: %s %.300s", cb, page)
	}
}

// A client reads its user's stored upstream token as Keycloak's
// /broker/{alias}/token serves it: the provider stores tokens and gives new
// users the broker read-token role (addReadTokenRoleOnCreate), and the
// token read back works at the upstream. Without a valid bearer token, or
// from a provider that stores none, it is refused in Keycloak's words.
func TestBrokerTokenRetrieval(t *testing.T) {
	up, down := brokerPair(t, "oidc", `"storeToken": true, "addReadTokenRoleOnCreate": true`)
	b := newBrowser(t)
	cb := b.corpLogin(down, "alice", "alice-pass-1")
	tok := exchangeTokens(t, down, cb)
	access := tok["access_token"].(string)
	if ra, _ := jwtClaims(t, access)["resource_access"].(map[string]any); ra["broker"] == nil {
		t.Fatalf("no broker role in the access token: %v", ra)
	}
	var allowOrigin string // the last answer's Access-Control-Allow-Origin
	getFrom := func(target, bearer, origin string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		allowOrigin = resp.Header.Get("Access-Control-Allow-Origin")
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	get := func(target, bearer string) (int, string) { return getFrom(target, bearer, "") }
	endpoint := down.URL + "/realms/down/broker/corp/token"
	status, body := get(endpoint, access)
	var stored map[string]any
	if status != 200 || json.Unmarshal([]byte(body), &stored) != nil || stored["access_token"] == nil {
		t.Fatalf("stored token: %d %.200s", status, body)
	}
	if status, body := get(up.URL+"/realms/up/protocol/openid-connect/userinfo", stored["access_token"].(string)); status != 200 || !strings.Contains(body, `"preferred_username":"alice"`) {
		t.Errorf("the stored upstream token at the upstream's userinfo: %d %.200s", status, body)
	}
	// At rest the token is sealed with down's --db-key.
	alice := userOf(t, down, "down", "alice")
	links, err := down.st.ListFederatedIdentities(t.Context(), alice.RealmID, alice.ID)
	if err != nil || len(links) != 1 {
		t.Fatalf("links %v, %v", links, err)
	}
	if !oidc.IsSealedSecret(links[0].Token) || strings.Contains(links[0].Token, stored["access_token"].(string)[:40]) {
		t.Errorf("the stored token is kept in the clear: %.60s", links[0].Token)
	}
	// A token stored before the --db-key was set is read as it is; one
	// sealed with another key is a clear 500 that shows nothing of it.
	setToken := func(v string) {
		t.Helper()
		l := links[0]
		l.Token = v
		if err := down.st.UpdateFederatedIdentity(t.Context(), l); err != nil {
			t.Fatal(err)
		}
	}
	setToken(`{"access_token":"from-before-the-db-key"}`)
	if status, body := get(endpoint, access); status != 200 || body != `{"access_token":"from-before-the-db-key"}` {
		t.Errorf("a token stored in the clear: %d %s", status, body)
	}
	otherKey, err := oidc.NewKeyring(nil, "some other db key, long enough")
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := otherKey.UpstreamTokens().Seal(`{"access_token":"sealed-elsewhere"}`)
	if err != nil {
		t.Fatal(err)
	}
	setToken(foreign)
	if status, body := get(endpoint, access); status != 500 || !strings.Contains(body, "cannot be read") || strings.Contains(body, "kgsealed") {
		t.Errorf("a token sealed with another key: %d %s", status, body)
	}
	setToken(links[0].Token)
	if !strings.Contains(down.log.String(), "type=IDENTITY_PROVIDER_RETRIEVE_TOKEN ") {
		t.Error("no IDENTITY_PROVIDER_RETRIEVE_TOKEN event")
	}
	// CORS as at the token endpoint: the app's own origin (webOrigins
	// "+"), not another.
	if status, _ := getFrom(endpoint, access, "http://app.localhost"); status != 200 || allowOrigin != "http://app.localhost" {
		t.Errorf("from the app's origin: %d, Access-Control-Allow-Origin %q", status, allowOrigin)
	}
	if _, _ = getFrom(endpoint, access, "https://evil.example"); allowOrigin != "" {
		t.Errorf("from another origin: Access-Control-Allow-Origin %q", allowOrigin)
	}
	// A token without broker's read-token role (a local user's) reads
	// nothing, and the refusal is an event.
	resp, err := http.PostForm(down.URL+"/realms/down/protocol/openid-connect/token", url.Values{"grant_type": {"password"},
		"client_id": {"app"}, "username": {"bob.local"}, "password": {"bob-local-pass-1"}})
	if err != nil {
		t.Fatal(err)
	}
	var bob map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&bob)
	resp.Body.Close()
	if status, body := get(endpoint, fmt.Sprint(bob["access_token"])); status != 403 || !strings.Contains(body, "Client [app] not authorized to retrieve tokens from identity provider [corp].") {
		t.Errorf("a token without read-token: %d %s", status, body)
	}
	if !strings.Contains(down.log.String(), "type=IDENTITY_PROVIDER_RETRIEVE_TOKEN_ERROR ") {
		t.Error("no IDENTITY_PROVIDER_RETRIEVE_TOKEN_ERROR event")
	}
	if status, body := get(endpoint, ""); status != 400 || !strings.Contains(body, "Invalid token.") {
		t.Errorf("no bearer token: %d %s", status, body)
	}
	if status, body := get(endpoint, access+"x"); status != 400 || !strings.Contains(body, "Invalid token.") {
		t.Errorf("a forged bearer token: %d %s", status, body)
	}
	if status, body := get(down.URL+"/realms/down/broker/nope/token", access); status != 404 {
		t.Errorf("an unknown provider: %d %s", status, body)
	}
	patchCorp(t, down, func(p *rep.IdentityProvider) { p.StoreToken = new(false) })
	if status, body := get(endpoint, access); status != 400 || !strings.Contains(body, "does not support this operation") {
		t.Errorf("a provider that stores no token: %d %s", status, body)
	}
	if strings.Contains(down.log.String(), stored["access_token"].(string)) {
		t.Error("down's log holds the upstream token")
	}
}

// brokerDBKey is the --db-key of a broker pair's down.
const brokerDBKey = "broker-test-db-key-0123456789"

// sealedNotJWT says whether v is a sealed value rather than a JWT in the
// clear (which has two dots; a sealed value's base64url has none).
func sealedNotJWT(v string) bool { return oidc.IsSealedSecret(v) && !strings.Contains(v, ".") }

// userOf is username's row in k's realm.
func userOf(t *testing.T, k *keygate, realmName, username string) store.User {
	t.Helper()
	realm, err := k.st.GetRealmByName(t.Context(), realmName)
	if err != nil {
		t.Fatal(err)
	}
	u, err := k.st.GetUserByUsername(t.Context(), realm.ID, username)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// sessionsOf lists the ids of the SSO sessions of username in k's realm.
func sessionsOf(t *testing.T, k *keygate, realmName, username string) []string {
	t.Helper()
	u := userOf(t, k, realmName, username)
	ss, err := k.st.ListUserSessions(t.Context(), u.RealmID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, s := range ss {
		ids = append(ids, s.ID)
	}
	return ids
}

// signAsRealm signs claims with the active RS256 key of k's realm, as
// that realm's own tokens are signed (a test standing in for its issuer).
func signAsRealm(t *testing.T, k *keygate, realmName string, claims map[string]any) string {
	t.Helper()
	realm, err := k.st.GetRealmByName(t.Context(), realmName)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := k.st.ListKeys(t.Context(), realm.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range keys {
		if key.Algorithm != "RS256" || !key.Active {
			continue
		}
		priv, err := x509.ParsePKCS8PrivateKey(key.Private)
		if err != nil {
			t.Fatal(err)
		}
		enc := func(v any) string {
			b, _ := json.Marshal(v)
			return base64.RawURLEncoding.EncodeToString(b)
		}
		input := enc(map[string]string{"alg": "RS256", "kid": key.ID, "typ": "logout+jwt"}) + "." + enc(claims)
		sum := sha256.Sum256([]byte(input))
		sig, err := rsa.SignPKCS1v15(nil, priv.(*rsa.PrivateKey), crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return input + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	t.Fatal("no active RS256 key")
	return ""
}

// prompt=none with kc_idp_hint goes on to an IdP with
// acceptsPromptNoneForwardFromClient, as Keycloak forwards it: the IdP's
// login_required comes back to the app as keygate's own; an upstream
// session signs in without a page. Without the flag keygate answers
// login_required itself, never asking the IdP.
func TestBrokerPromptNoneForward(t *testing.T) {
	up, down := brokerPair(t, "oidc", "")
	setFlag := func(v string) {
		patchCorp(t, down, func(p *rep.IdentityProvider) { p.Config["acceptsPromptNoneForwardFromClient"] = v })
	}
	silent := authorizeURL(down, url.Values{"prompt": {"none"}, "kc_idp_hint": {"corp"}})
	firstHop := func(b *browser) *url.URL {
		resp, _ := b.step(http.MethodGet, silent, nil)
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}

	// No upstream session: the IdP says login_required, the app hears it.
	setFlag("true")
	b := newBrowser(t)
	if hop := firstHop(b); !strings.HasPrefix(hop.String(), up.URL+"/realms/up/protocol/openid-connect/auth") || hop.Query().Get("prompt") != "none" {
		t.Fatalf("prompt=none went to %s", hop)
	}
	_, at, page := b.do(http.MethodGet, silent, nil)
	if at == nil || !strings.HasPrefix(at.String(), appRedirect) || at.Query().Get("error") != "login_required" || at.Query().Get("state") != "st-1" {
		t.Fatalf("prompt=none without an upstream session ended at %s %.300s", at, page)
	}

	// An upstream session (the keygate one logged out): signed in silently.
	b2 := newBrowser(t)
	cb := b2.corpLogin(down, "alice", "alice-pass-1")
	tok := exchangeTokens(t, down, cb)
	logout := down.URL + "/realms/down/protocol/openid-connect/logout?" + url.Values{"id_token_hint": {tok["id_token"].(string)}}.Encode()
	if status, _, _ := b2.do(http.MethodGet, logout, nil); status != 200 || len(sessionsOf(t, down, "down", "alice")) != 0 {
		t.Fatalf("downstream logout: %d, sessions %v", status, sessionsOf(t, down, "down", "alice"))
	}
	_, at, page = b2.do(http.MethodGet, silent, nil)
	if at == nil || !strings.HasPrefix(at.String(), appRedirect) || at.Query().Get("code") == "" {
		t.Fatalf("prompt=none with an upstream session ended at %s %.300s\nup's log:\n%s\ndown's log:\n%s", at, page, up.log, down.log)
	}
	if c := exchange(t, down, at); c["preferred_username"] != "alice" {
		t.Errorf("silent login's token %v", c)
	}

	// A first login that needs a page (noemail has no email to review)
	// after a silent upstream login: interaction_required for the app, no
	// page, no user.
	b4 := newBrowser(t)
	at, page = b4.startCorp(down)
	if _, at, page = b4.upstreamLogin(at, page, "noemail", "noemail-pass-1"); !strings.Contains(page, `id="kc-idp-review-profile-form"`) {
		t.Fatalf("noemail's first login without prompt=none: %s %.300s", at, page)
	}
	_, at, page = b4.do(http.MethodGet, silent, nil)
	if at == nil || !strings.HasPrefix(at.String(), appRedirect) || at.Query().Get("error") != "interaction_required" || at.Query().Get("state") != "st-1" {
		t.Fatalf("prompt=none for a first login that needs a page ended at %s %.300s", at, page)
	}
	if realm, err := down.st.GetRealmByName(t.Context(), "down"); err != nil {
		t.Fatal(err)
	} else if u, err := down.st.GetUserByUsername(t.Context(), realm.ID, "noemail"); err == nil {
		t.Errorf("user %s created by a prompt=none first login", u.ID)
	}

	// Without the flag: login_required from keygate, the IdP never asked.
	setFlag("false")
	b3 := newBrowser(t)
	if hop := firstHop(b3); !strings.HasPrefix(hop.String(), appRedirect) || hop.Query().Get("error") != "login_required" {
		t.Errorf("prompt=none without the flag went to %s", hop)
	}
}
