package test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/oauth2"
)

// The tests here cover the OIDC findings of the external review (issue 9):
// required actions, introspection rules, remember-me, the form_post page and
// terse error descriptions. Each runs its own realm, written inline, so it
// states exactly the settings it depends on.

const hardCB = "http://127.0.0.1:9999/cb"

// hardRealm is realm "hard": rememberMe off (the default), one-second
// authorization codes, a confidential client "app" (every grant), a second
// confidential client "app2", a public client "pub", a service-account
// client "svc" whose service account has a pending required action, and
// users with and without pending actions.
const hardRealm = `{"realm":"hard","enabled":true,"accessCodeLifespan":1,
	"clients":[
		{"clientId":"app","secret":"app-secret","directAccessGrantsEnabled":true,"serviceAccountsEnabled":true,
			"standardFlowEnabled":true,"redirectUris":["` + hardCB + `"]},
		{"clientId":"app2","secret":"app2-secret","directAccessGrantsEnabled":true,"standardFlowEnabled":true,
			"redirectUris":["` + hardCB + `"]},
		{"clientId":"pub","publicClient":true,"directAccessGrantsEnabled":true,"redirectUris":["` + hardCB + `"]},
		{"clientId":"svc","secret":"svc-secret","serviceAccountsEnabled":true}],
	"users":[
		{"username":"ok","enabled":true,"credentials":[{"type":"password","value":"ok-pass"}]},
		{"username":"temp","enabled":true,"credentials":[{"type":"password","value":"temp-pass","temporary":true}]},
		{"username":"verify","enabled":true,"requiredActions":["VERIFY_EMAIL"],
			"credentials":[{"type":"password","value":"verify-pass"}]},
		{"username":"service-account-svc","enabled":true,"serviceAccountClientId":"svc","requiredActions":["CONFIGURE_TOTP"]}]}`

// rememberRealm is realm "remember", the same login with Remember Me on.
const rememberRealm = `{"realm":"remember","enabled":true,"rememberMe":true,
	"clients":[{"clientId":"app","secret":"app-secret","standardFlowEnabled":true,"redirectUris":["` + hardCB + `"]}],
	"users":[{"username":"ok","enabled":true,"credentials":[{"type":"password","value":"ok-pass"}]}]}`

func hardServer(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	var args []string
	for name, body := range map[string]string{"hard.json": hardRealm, "remember.json": rememberRealm} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--import-realm", p)
	}
	return startServer(t, "", []string{"KC_BOOTSTRAP_ADMIN_USERNAME=admin", "KC_BOOTSTRAP_ADMIN_PASSWORD=admin-secret-pw"}, args...)
}

func (s *server) oc(realm string) string {
	return s.URL + "/realms/" + realm + "/protocol/openid-connect"
}

func wantOAuthError(t *testing.T, what string, code int, body map[string]any, status int, errCode, desc string) {
	t.Helper()
	if code != status || body["error"] != errCode || body["error_description"] != desc {
		t.Errorf("%s: %d %v; want %d {error:%s error_description:%q}", what, code, body, status, errCode, desc)
	}
	if body["access_token"] != nil || body["refresh_token"] != nil {
		t.Errorf("%s: an error answer carries a token", what)
	}
}

// TestIntrospectionClientRules: public clients may not introspect
// (Keycloak: 403 invalid_request "Client not allowed."), and a refresh token
// is active only to the client it was issued to. Access tokens stay
// introspectable by any confidential client of the realm, as in Keycloak.
func TestIntrospectionClientRules(t *testing.T) {
	s := hardServer(t)
	oc := s.oc("hard")
	code, pubTok := postForm(t, oc+"/token", url.Values{"grant_type": {"password"}, "client_id": {"pub"}, "username": {"ok"}, "password": {"ok-pass"}})
	if code != 200 {
		t.Fatalf("public client login: %d %v", code, pubTok)
	}
	code, body := postForm(t, oc+"/token/introspect", url.Values{"client_id": {"pub"}, "token": {pubTok["access_token"].(string)}})
	if code != 403 || body["error"] != "invalid_request" || body["error_description"] != "Client not allowed." || body["active"] != nil {
		t.Errorf("public client introspects: %d %v", code, body)
	}

	code, tok := postForm(t, oc+"/token", url.Values{"grant_type": {"password"}, "username": {"ok"}, "password": {"ok-pass"}}, "app", "app-secret")
	if code != 200 {
		t.Fatalf("login: %d %v", code, tok)
	}
	rt, at := tok["refresh_token"].(string), tok["access_token"].(string)
	introspect := func(token, client, secret string) map[string]any {
		t.Helper()
		code, body := postForm(t, oc+"/token/introspect", url.Values{"token": {token}}, client, secret)
		if code != 200 {
			t.Errorf("introspect as %s: %d %v", client, code, body)
		}
		return body
	}
	if body := introspect(rt, "app", "app-secret"); body["active"] != true {
		t.Errorf("own refresh token: %v", body)
	}
	if body := introspect(rt, "app2", "app2-secret"); body["active"] != false || len(body) != 1 {
		t.Errorf("another client's refresh token: %v; want only active:false", body)
	}
	if body := introspect(pubTok["refresh_token"].(string), "app", "app-secret"); body["active"] != false || len(body) != 1 {
		t.Errorf("the public client's refresh token, to app: %v; want only active:false", body)
	}
	if body := introspect(at, "app2", "app2-secret"); body["active"] != true {
		t.Errorf("another client's access token: %v", body)
	}
}

// browserLogin runs the login form for client app of realm and returns the
// form's answer.
func browserLogin(t *testing.T, b *browser, s *server, realm string, q url.Values, form url.Values) page {
	t.Helper()
	action, csrf := loginForm(t, s.URL, b.get(authURL(s.URL, realm, q)))
	form.Set("csrf_token", csrf)
	return b.post(action, form)
}

// TestRememberMeNeedsRealmSetting: rememberMe=on posted to a realm with
// Remember Me off gives an ordinary browser session (no persistent cookie,
// no remember-me session); where the realm allows it, it is honoured.
func TestRememberMeNeedsRealmSetting(t *testing.T) {
	s := hardServer(t)
	login := func(realm string) (page, *http.Response) {
		t.Helper()
		b := newBrowser(t)
		chal := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
		form := b.get(authURL(s.URL, realm, codeQuery("app", hardCB, "st", "n", chal)))
		action, csrf := loginForm(t, s.URL, form)
		req, _ := http.NewRequest("POST", action, strings.NewReader(url.Values{"username": {"ok"}, "password": {"ok-pass"},
			"rememberMe": {"on"}, "csrf_token": {csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if !isRedirect(resp.StatusCode) {
			t.Fatalf("%s login: %d", realm, resp.StatusCode)
		}
		return form, resp
	}
	identity := func(resp *http.Response) *http.Cookie {
		for _, c := range resp.Cookies() {
			if c.Name == "KEYCLOAK_IDENTITY" {
				return c
			}
		}
		t.Fatal("no KEYCLOAK_IDENTITY cookie")
		return nil
	}
	remembered := func(realm string) bool {
		t.Helper()
		st := openDB(t, s.DB)
		u := lookupUser(t, st, realm, "ok")
		ss, err := st.ListUserSessions(context.Background(), u.RealmID, u.ID)
		if err != nil || len(ss) != 1 {
			t.Fatalf("%s sessions: %v %v", realm, ss, err)
		}
		return ss[0].RememberMe
	}

	form, resp := login("hard")
	if c := identity(resp); c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Errorf("realm without Remember Me: persistent SSO cookie (Max-Age %d, Expires %v)", c.MaxAge, c.Expires)
	}
	if remembered("hard") {
		t.Error("realm without Remember Me: the session is a remember-me session")
	}
	if find(form.doc, byName("rememberMe")) != nil {
		t.Error("realm without Remember Me shows the checkbox")
	}

	form, resp = login("remember")
	if c := identity(resp); c.MaxAge <= 0 {
		t.Errorf("realm with Remember Me: SSO cookie Max-Age %d", c.MaxAge)
	}
	if !remembered("remember") {
		t.Error("realm with Remember Me: rememberMe=on ignored")
	}
	if find(form.doc, byName("rememberMe")) == nil {
		t.Error("realm with Remember Me shows no checkbox")
	}
}

// TestFormPostPage: response_mode=form_post answers with keygate's own page:
// a CSP whose script hash matches the one inline script, framing limited to
// the origin, every value escaped, and a submit button for browsers without
// JavaScript. Error responses in form_post mode use the same page.
func TestFormPostPage(t *testing.T) {
	s := hardServer(t)
	b := newBrowser(t)
	chal := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	if p := browserLogin(t, b, s, "hard", codeQuery("app", hardCB, "st", "n", chal), url.Values{"username": {"ok"}, "password": {"ok-pass"}}); !isRedirect(p.status) {
		t.Fatalf("login: %d", p.status)
	}
	const evilState = `"><script>alert(1)</script><x y='`

	check := func(t *testing.T, q url.Values, b *browser, want map[string]string) {
		t.Helper()
		req, _ := http.NewRequest("GET", authURL(s.URL, "hard", q), nil)
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(raw)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if strings.Contains(body, "<script>alert") {
			t.Error("the state parameter reached the page unescaped")
		}
		doc, err := html.Parse(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		form := find(doc, func(n *html.Node) bool { return n.Data == "form" })
		if attr(form, "method") != "post" || attr(form, "action") != hardCB {
			t.Errorf("form method %q action %q", attr(form, "method"), attr(form, "action"))
		}
		for k, v := range want {
			if got := attr(find(form, byName(k)), "value"); got != v && !(v == "*" && got != "") {
				t.Errorf("hidden %s = %q, want %q", k, got, v)
			}
		}
		ns := find(doc, func(n *html.Node) bool { return n.Data == "noscript" })
		if ns == nil || !strings.Contains(renderNode(ns), `type="submit"`) {
			t.Error("no submit button for browsers without JavaScript")
		}
		var scripts []string
		var walk func(*html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode && n.Data == "script" && n.FirstChild != nil {
				scripts = append(scripts, n.FirstChild.Data)
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
		csp := resp.Header.Get("Content-Security-Policy")
		if len(scripts) != 1 {
			t.Fatalf("%d inline scripts", len(scripts))
		}
		sum := sha256.Sum256([]byte(scripts[0]))
		hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		for _, d := range []string{"script-src " + hash, "frame-ancestors 'self'", "default-src 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("CSP %q lacks %q", csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP allows unsafe-inline: %q", csp)
		}
		if resp.Header.Get("X-Frame-Options") != "SAMEORIGIN" || !strings.Contains(resp.Header.Get("Cache-Control"), "no-store") {
			t.Errorf("headers %v", resp.Header)
		}
	}

	t.Run("success", func(t *testing.T) {
		q := codeQuery("app", hardCB, evilState, "n", chal)
		q.Set("response_mode", "form_post")
		check(t, q, b, map[string]string{"state": evilState, "code": "*", "session_state": "*", "iss": s.URL + "/realms/hard"})
	})
	t.Run("error", func(t *testing.T) {
		q := codeQuery("app", hardCB, evilState, "n", chal)
		q.Set("response_mode", "form_post")
		q.Set("prompt", "none")
		check(t, q, newBrowser(t), map[string]string{"state": evilState, "error": "login_required"})
	})
}

func renderNode(n *html.Node) string {
	var sb strings.Builder
	_ = html.Render(&sb, n)
	return sb.String()
}

// TestTerseErrorDescriptions: error descriptions are Keycloak's short
// texts, never fosite's explanations and hints; error codes stay RFC 6749's.
func TestTerseErrorDescriptions(t *testing.T) {
	s := hardServer(t)
	oc := s.oc("hard")
	tokenURL := oc + "/token"
	app := []string{"app", "app-secret"}

	// A code and its verifier from a browser login.
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	chal := oauth2.S256ChallengeFromVerifier(verifier)
	if p := browserLogin(t, b, s, "hard", codeQuery("app", hardCB, "st", "n", chal), url.Values{"username": {"ok"}, "password": {"ok-pass"}}); !isRedirect(p.status) {
		t.Fatalf("login: %d", p.status)
	}
	newCode := func() string {
		t.Helper()
		u, code := reauthorizeIn(t, b, s.URL, "hard", "app", hardCB, chal)
		if code == "" {
			t.Fatalf("no code: %v", u)
		}
		return code
	}
	redeem := func(code string, extra url.Values, client ...string) (int, map[string]any) {
		f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {hardCB}, "code_verifier": {verifier}}
		for k, v := range extra {
			f[k] = v
		}
		for k, v := range f {
			if len(v) == 1 && v[0] == "" {
				delete(f, k)
			}
		}
		if len(client) == 0 {
			client = app
		}
		return postForm(t, tokenURL, f, client...)
	}
	_, pwTok := postForm(t, tokenURL, url.Values{"grant_type": {"password"}, "username": {"ok"}, "password": {"ok-pass"}}, app...)
	rt, _ := pwTok["refresh_token"].(string)

	type result struct {
		code int
		body map[string]any
	}
	cases := []struct {
		name    string
		run     func() result
		status  int
		errCode string
		desc    string
	}{
		{"missing grant_type", func() result {
			c, b := postForm(t, tokenURL, url.Values{"scope": {"openid"}}, app...)
			return result{c, b}
		},
			400, "invalid_request", "Missing form parameter: grant_type"},
		{"unknown grant_type", func() result {
			c, b := postForm(t, tokenURL, url.Values{"grant_type": {"urn:nope"}}, app...)
			return result{c, b}
		}, 400, "unsupported_grant_type", "Unsupported grant_type"},
		{"wrong client secret", func() result {
			c, b := postForm(t, tokenURL, url.Values{"grant_type": {"client_credentials"}}, "app", "wrong")
			return result{c, b}
		}, 401, "invalid_client", "Invalid client or Invalid client credentials"},
		{"no client credentials", func() result {
			c, b := postForm(t, tokenURL, url.Values{"grant_type": {"client_credentials"}})
			return result{c, b}
		}, 400, "invalid_client", "Missing client_id parameter"},
		{"missing password", func() result {
			c, b := postForm(t, tokenURL, url.Values{"grant_type": {"password"}, "username": {"ok"}}, app...)
			return result{c, b}
		}, 400, "invalid_request", "Missing parameter: password"},
		{"unknown scope", func() result {
			c, b := postForm(t, tokenURL, url.Values{"grant_type": {"password"}, "username": {"ok"}, "password": {"ok-pass"}, "scope": {"openid admin:all"}}, app...)
			return result{c, b}
		}, 400, "invalid_scope", "Invalid scopes: openid admin:all"},
		{"public client, client_credentials", func() result {
			c, b := postForm(t, tokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {"pub"}})
			return result{c, b}
		}, 400, "unauthorized_client", "Public client not allowed to retrieve service account"},
		{"missing code", func() result { c, b := redeem("", nil); return result{c, b} },
			400, "invalid_request", "Missing parameter: code"},
		{"garbage code", func() result { c, b := redeem("not-a-code.really", nil); return result{c, b} },
			400, "invalid_grant", "Code not valid"},
		{"wrong redirect_uri", func() result {
			c, b := redeem(newCode(), url.Values{"redirect_uri": {"http://127.0.0.1:9999/other"}})
			return result{c, b}
		}, 400, "invalid_grant", "Incorrect redirect_uri"},
		{"wrong code_verifier", func() result {
			c, b := redeem(newCode(), url.Values{"code_verifier": {oauth2.GenerateVerifier()}})
			return result{c, b}
		}, 400, "invalid_grant", "PKCE verification failed: Code mismatch"},
		{"malformed code_verifier", func() result {
			c, b := redeem(newCode(), url.Values{"code_verifier": {"short"}})
			return result{c, b}
		}, 400, "invalid_grant", "PKCE verification failed: Invalid code verifier"},
		{"no code_verifier", func() result {
			c, b := redeem(newCode(), url.Values{"code_verifier": {""}})
			return result{c, b}
		}, 400, "invalid_grant", "PKCE code verifier not specified"},
		{"code of another client", func() result {
			c, b := redeem(newCode(), nil, "app2", "app2-secret")
			return result{c, b}
		}, 400, "invalid_grant", "Code not valid"},
		{"replayed code", func() result {
			code := newCode()
			if c, b := redeem(code, nil); c != 200 {
				t.Fatalf("first redemption: %d %v", c, b)
			}
			c, b := redeem(code, nil)
			return result{c, b}
		}, 400, "invalid_grant", "Code not valid"},
		{"expired code", func() result {
			code := newCode()
			time.Sleep(2100 * time.Millisecond) // realm hard: accessCodeLifespan 1 s
			c, b := redeem(code, nil)
			return result{c, b}
		}, 400, "invalid_grant", "Code is expired"},
		{"garbage refresh token", func() result {
			c, b := postForm(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"abc.def.ghi"}}, app...)
			return result{c, b}
		}, 400, "invalid_grant", "Invalid refresh token"},
		{"refresh token of another client", func() result {
			c, b := postForm(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "app2", "app2-secret")
			return result{c, b}
		}, 400, "invalid_grant", "Invalid refresh token"},
		{"revoke without a token", func() result {
			c, b := postForm(t, oc+"/revoke", url.Values{"token_type_hint": {"refresh_token"}}, app...)
			return result{c, b}
		}, 400, "invalid_request", "Token not provided"},
		{"revoke another client's token", func() result {
			c, b := postForm(t, oc+"/revoke", url.Values{"token": {rt}}, "app2", "app2-secret")
			return result{c, b}
		}, 400, "unauthorized_client", "Unmatching clients"},
		{"revoke with a wrong secret", func() result {
			c, b := postForm(t, oc+"/revoke", url.Values{"token": {rt}}, "app", "wrong")
			return result{c, b}
		}, 401, "invalid_client", "Invalid client or Invalid client credentials"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.run()
			wantOAuthError(t, c.name, r.code, r.body, c.status, c.errCode, c.desc)
		})
	}

	// Errors redirected from the authorization endpoint are as terse.
	authErr := func(q url.Values) url.Values {
		t.Helper()
		p := newBrowser(t).get(authURL(s.URL, "hard", q))
		u, err := url.Parse(p.location)
		if !isRedirect(p.status) || err != nil {
			t.Fatalf("%d %q %.200s", p.status, p.location, p.body)
		}
		return u.Query()
	}
	for _, c := range []struct {
		name          string
		q             url.Values
		errCode, desc string
		keepsState    bool
	}{
		{"public client without PKCE", codeQuery("pub", hardCB, "s1", "n", ""), "invalid_request", "Missing parameter: code_challenge_method", true},
		{"unsupported response_type", func() url.Values {
			q := codeQuery("app", hardCB, "s2", "n", chal)
			q.Set("response_type", "token")
			return q
		}(), "unsupported_response_type", "Unsupported response_type", true},
		{"unknown scope", func() url.Values {
			q := codeQuery("app", hardCB, "s3", "n", chal)
			q.Set("scope", "openid admin:all")
			return q
		}(), "invalid_scope", "Invalid scopes: openid admin:all", true},
	} {
		t.Run("authorize: "+c.name, func(t *testing.T) {
			got := authErr(c.q)
			if got.Get("error") != c.errCode || got.Get("error_description") != c.desc {
				t.Errorf("error %q, error_description %q; want %q, %q", got.Get("error"), got.Get("error_description"), c.errCode, c.desc)
			}
			if c.keepsState && got.Get("state") != c.q.Get("state") {
				t.Errorf("state %q", got.Get("state"))
			}
		})
	}
}

// reauthorizeIn is reauthorize for any realm: an authorization request
// answered from the browser's SSO session.
func reauthorizeIn(t *testing.T, b *browser, base, realm, client, redirect, challenge string) (*url.URL, string) {
	t.Helper()
	p := b.get(authURL(base, realm, codeQuery(client, redirect, "st", "n", challenge)))
	if !isRedirect(p.status) {
		t.Fatalf("SSO authorization: %d %.200s", p.status, p.body)
	}
	u, _ := url.Parse(p.location)
	return u, u.Query().Get("code")
}

// adminAPI calls the admin REST API as the bootstrap admin (admin-cli).
func (s *server) adminAPI(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	code, tok := postForm(t, s.oc("master")+"/token", url.Values{"grant_type": {"password"},
		"client_id": {"admin-cli"}, "username": {"admin"}, "password": {"admin-secret-pw"}})
	if code != 200 {
		t.Fatalf("admin token: %d %v", code, tok)
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, s.URL+"/admin/realms"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (s *server) userID(t *testing.T, realm, username string) string {
	t.Helper()
	code, body := s.adminAPI(t, "GET", "/"+realm+"/users?exact=true&username="+username, nil)
	var users []map[string]any
	if err := json.Unmarshal(body, &users); code != 200 || err != nil || len(users) != 1 {
		t.Fatalf("find %s: %d %s", username, code, body)
	}
	return users[0]["id"].(string)
}

// TestRequiredActionsBlockGrants: a user with pending required actions
// (a temporary password, or any other action) gets no tokens from any grant,
// as in Keycloak: 400 invalid_grant "Account is not fully set up". An action
// added after login stops refresh and code redemption too.
func TestRequiredActionsBlockGrants(t *testing.T) {
	s := hardServer(t)
	tokenURL := s.oc("hard") + "/token"
	pw := func(user, pass string) url.Values {
		return url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}, "scope": {"openid"}}
	}
	const notSetUp = "Account is not fully set up"

	t.Run("password grant", func(t *testing.T) {
		for _, u := range []string{"temp", "verify"} {
			code, body := postForm(t, tokenURL, pw(u, u+"-pass"), "app", "app-secret")
			wantOAuthError(t, u, code, body, 400, "invalid_grant", notSetUp)
			// The wrong password says nothing about the account's state.
			code, body = postForm(t, tokenURL, pw(u, "wrong"), "app", "app-secret")
			wantOAuthError(t, u+", wrong password", code, body, 401, "invalid_grant", "Invalid user credentials")
			if n := countSessions(t, s.DB, "hard", u); n != 0 {
				t.Errorf("%s: %d SSO sessions written by refused grants", u, n)
			}
		}
		if code, body := postForm(t, tokenURL, pw("ok", "ok-pass"), "app", "app-secret"); code != 200 {
			t.Errorf("user without actions: %d %v", code, body)
		}
	})

	t.Run("browser login issues no code before the action", func(t *testing.T) {
		b := newBrowser(t)
		chal := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
		p := browserLogin(t, b, s, "hard", codeQuery("app", hardCB, "st", "n", chal), url.Values{"username": {"temp"}, "password": {"temp-pass"}})
		// The password is right: the required action's page comes next,
		// and no code until it is done.
		if !isRedirect(p.status) || !strings.Contains(p.location, "/login-actions/required-action?") ||
			!strings.Contains(p.location, "execution=UPDATE_PASSWORD") || strings.Contains(p.location, "code=") {
			t.Fatalf("login with a temporary password: %d %q %.300s", p.status, p.location, p.body)
		}
		if n := countSessions(t, s.DB, "hard", "temp"); n != 0 {
			t.Errorf("%d SSO sessions after a login that cannot complete", n)
		}
		// Nothing to resume: the next authorization shows the form again.
		loginForm(t, s.URL, b.get(authURL(s.URL, "hard", codeQuery("app", hardCB, "st2", "n", chal))))
	})

	t.Run("client_credentials", func(t *testing.T) {
		code, body := postForm(t, tokenURL, url.Values{"grant_type": {"client_credentials"}}, "svc", "svc-secret")
		wantOAuthError(t, "service account with a pending action", code, body, 400, "invalid_grant", notSetUp)
		if code, body := postForm(t, tokenURL, url.Values{"grant_type": {"client_credentials"}}, "app", "app-secret"); code != 200 {
			t.Errorf("service account without actions: %d %v", code, body)
		}
	})

	t.Run("action added after login", func(t *testing.T) {
		// ok logs in by password and in a browser, then an admin resets the
		// password as temporary (Keycloak's "reset password", temporary on).
		code, tok := postForm(t, tokenURL, pw("ok", "ok-pass"), "app", "app-secret")
		if code != 200 {
			t.Fatalf("login: %d %v", code, tok)
		}
		b := newBrowser(t)
		verifier := oauth2.GenerateVerifier()
		chal := oauth2.S256ChallengeFromVerifier(verifier)
		p := browserLogin(t, b, s, "hard", codeQuery("app", hardCB, "st", "n", chal), url.Values{"username": {"ok"}, "password": {"ok-pass"}})
		if !isRedirect(p.status) {
			t.Fatalf("browser login: %d %.300s", p.status, p.body)
		}
		loc, _ := url.Parse(p.location)
		authCode := loc.Query().Get("code")

		id := s.userID(t, "hard", "ok")
		if code, body := s.adminAPI(t, "PUT", "/hard/users/"+id+"/reset-password", map[string]any{"type": "password", "value": "new-temp-pass", "temporary": true}); code != 204 {
			t.Fatalf("reset password: %d %s", code, body)
		}

		code, body := postForm(t, tokenURL, url.Values{"grant_type": {"authorization_code"}, "code": {authCode},
			"redirect_uri": {hardCB}, "code_verifier": {verifier}}, "app", "app-secret")
		wantOAuthError(t, "code redemption", code, body, 400, "invalid_grant", notSetUp)
		code, body = postForm(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, "app", "app-secret")
		wantOAuthError(t, "refresh", code, body, 400, "invalid_grant", notSetUp)

		// The browser's SSO session issues no code either; prompt=none
		// answers interaction_required.
		sso := b.get(authURL(s.URL, "hard", codeQuery("app", hardCB, "st3", "n", chal)))
		if !isRedirect(sso.status) || !strings.Contains(sso.location, "execution=UPDATE_PASSWORD") || strings.Contains(sso.location, "code=") {
			t.Errorf("SSO authorization with a pending action: %d %q %.300s", sso.status, sso.location, sso.body)
		}
		q := codeQuery("app", hardCB, "st4", "n", chal)
		q.Set("prompt", "none")
		silent := b.get(authURL(s.URL, "hard", q))
		if u, _ := url.Parse(silent.location); !isRedirect(silent.status) || u.Query().Get("error") != "interaction_required" || u.Query().Get("code") != "" {
			t.Errorf("prompt=none with a pending action: %d %q", silent.status, silent.location)
		}

		// Once the action is done (a permanent password), grants work again.
		if code, body := s.adminAPI(t, "PUT", "/hard/users/"+id+"/reset-password", map[string]any{"type": "password", "value": "new-pass", "temporary": false}); code != 204 {
			t.Fatalf("reset password: %d %s", code, body)
		}
		if code, body := postForm(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, "app", "app-secret"); code != 200 {
			t.Errorf("refresh once set up: %d %v", code, body)
		}
	})
}
