package test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// What a browser single-page app needs before and around its login, found
// by running OIDC libraries against keygate (issue 12 §1).

// Discovery and the JWKS are readable from any origin, without
// credentials, and their preflight is answered, so that browser libraries
// that fetch() them (oidc-client-ts) can start a login.
func TestSPADiscoveryAndCertsCORS(t *testing.T) {
	s := seeded(t)
	const origin = "https://spa.example.org"
	paths := []string{
		"/realms/test/.well-known/openid-configuration",
		"/realms/test/protocol/openid-connect/certs",
		"/auth/realms/test/.well-known/openid-configuration", // the legacy prefix
	}
	for _, p := range paths {
		req, _ := http.NewRequest(http.MethodGet, s.URL+p, nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("GET %s: %d, Access-Control-Allow-Origin %q; want 200 and *", p, resp.StatusCode, h.Get("Access-Control-Allow-Origin"))
		}
		if v := h.Get("Access-Control-Allow-Credentials"); v != "" {
			t.Errorf("GET %s: Access-Control-Allow-Credentials %q; a public document allows none", p, v)
		}

		pre, _ := http.NewRequest(http.MethodOptions, s.URL+p, nil)
		pre.Header.Set("Origin", origin)
		pre.Header.Set("Access-Control-Request-Method", "GET")
		pre.Header.Set("Access-Control-Request-Headers", "cache-control, x-requested-with")
		resp, err = http.DefaultClient.Do(pre)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h = resp.Header
		if resp.StatusCode/100 != 2 || h.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "GET") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "cache-control") || h.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("OPTIONS %s: %d %v", p, resp.StatusCode, h)
		}
	}
	// An SPA can read why a realm's discovery failed.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/realms/nope/.well-known/openid-configuration", nil)
	req.Header.Set("Origin", origin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("unknown realm's discovery: %d %v", resp.StatusCode, resp.Header)
	}
	// The token endpoint keeps its per-client CORS: credentials, and only
	// the client's web origins.
	pre, _ := http.NewRequest(http.MethodOptions, s.URL+"/realms/test/protocol/openid-connect/token", nil)
	pre.Header.Set("Origin", origin)
	pre.Header.Set("Access-Control-Request-Method", "POST")
	resp, err = http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("the token endpoint allowed %q, an origin no client lists", v)
	}
}

// checkLifespan checks exp = iat + want exactly, as Keycloak sets it.
func checkLifespan(t *testing.T, what, jwt string, want time.Duration) {
	t.Helper()
	c := claimsOf(t, jwt)
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	if iat == 0 || time.Duration(exp-iat)*time.Second != want {
		t.Errorf("%s: exp %v - iat %v = %vs, want %v", what, exp, iat, exp-iat, want.Seconds())
	}
}

// The code flow's tokens carry openid in scope like the password grant's,
// and every token's exp is its iat plus the lifespan, whatever the moment
// within the second it was issued (tokens are requested back to back for
// more than two seconds, so some straddle a second boundary).
func TestSPACodeFlowScopeAndExactLifetimes(t *testing.T) {
	s := seeded(t)
	ctx := testContext(t)
	issuer := s.URL + "/realms/test"
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	const cb = "http://127.0.0.1:9999/cb"
	conf := &oauth2.Config{ClientID: "webapp", ClientSecret: "webapp-secret", Endpoint: provider.Endpoint(), RedirectURL: cb,
		Scopes: []string{"openid", "profile", "email"}}
	verifier := oauth2.GenerateVerifier()
	b := newBrowser(t)
	action, csrf := loginForm(t, s.URL, b.get(authURL(s.URL, "test", codeQuery("webapp", cb, "state-1", "nonce-1", oauth2.S256ChallengeFromVerifier(verifier)))))
	ok := b.post(action, url.Values{"username": {"alice"}, "password": {"alice-pass"}, "csrf_token": {csrf}})
	if !isRedirect(ok.status) {
		t.Fatalf("login: %d %.300s", ok.status, ok.body)
	}
	loc, _ := url.Parse(ok.location)
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	const want = "openid profile email"
	if got := tok.Extra("scope"); got != want {
		t.Errorf("code flow token response scope %q, want %q", got, want)
	}
	if got := claimsOf(t, tok.AccessToken)["scope"]; got != want {
		t.Errorf("code flow access token scope %q, want %q", got, want)
	}
	if got := tok.Extra("expires_in"); got != 300.0 {
		t.Errorf("expires_in %v, want 300", got)
	}
	checkLifespan(t, "code flow access token", tok.AccessToken, 300*time.Second)
	checkLifespan(t, "code flow ID token", tok.Extra("id_token").(string), 300*time.Second)
	checkLifespan(t, "code flow refresh token", tok.RefreshToken, 1800*time.Second)
	if c := claimsOf(t, tok.Extra("id_token").(string)); c["iat"] != claimsOf(t, tok.AccessToken)["iat"] {
		t.Errorf("the ID token's iat %v differs from the access token's %v", c["iat"], claimsOf(t, tok.AccessToken)["iat"])
	}

	// Refreshes, password and client_credentials grants back to back.
	cc := (&clientcredentials.Config{ClientID: "webapp", ClientSecret: "webapp-secret", TokenURL: provider.Endpoint().TokenURL}).TokenSource(ctx)
	refresh := tok.RefreshToken
	n := 0
	for start := time.Now(); time.Since(start) < 2200*time.Millisecond || n < 20; n++ {
		code, body := postForm(t, provider.Endpoint().TokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, "webapp", "webapp-secret")
		if code != 200 {
			t.Fatalf("refresh %d: %d %v", n, code, body)
		}
		refresh = body["refresh_token"].(string)
		checkLifespan(t, "refreshed access token", body["access_token"].(string), 300*time.Second)
		checkLifespan(t, "refreshed ID token", body["id_token"].(string), 300*time.Second)
		checkLifespan(t, "refresh token", refresh, 1800*time.Second)
		if body["expires_in"] != 300.0 || body["refresh_expires_in"] != 1800.0 {
			t.Errorf("refresh %d: expires_in %v, refresh_expires_in %v; want 300 and 1800", n, body["expires_in"], body["refresh_expires_in"])
		}
		if body["scope"] != want {
			t.Errorf("refresh %d: scope %q", n, body["scope"])
		}
		st, err := cc.Token()
		if err != nil {
			t.Fatal(err)
		}
		checkLifespan(t, "client_credentials access token", st.AccessToken, 300*time.Second)
		if n%8 == 0 {
			code, body := postForm(t, provider.Endpoint().TokenURL, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-pass"}, "scope": {"openid"}}, "webapp", "webapp-secret")
			if code != 200 {
				t.Fatalf("password grant: %d %v", code, body)
			}
			checkLifespan(t, "password grant access token", body["access_token"].(string), 300*time.Second)
			checkLifespan(t, "password grant ID token", body["id_token"].(string), 300*time.Second)
			checkLifespan(t, "password grant refresh token", body["refresh_token"].(string), 1800*time.Second)
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("%d rounds of refresh and client_credentials tokens", n)
}

// An authorization request without state is served (Keycloak accepts
// them), and the callback carries no state: x/oauth2 leaves state out
// when it is empty, and go-oidc verifies the ID token.
func TestSPAAuthorizationWithoutState(t *testing.T) {
	s := seeded(t)
	ctx := testContext(t)
	provider, err := oidc.NewProvider(ctx, s.URL+"/realms/test")
	if err != nil {
		t.Fatal(err)
	}
	const cb = "http://127.0.0.1:9999/cb"
	conf := &oauth2.Config{ClientID: "webapp", ClientSecret: "webapp-secret", Endpoint: provider.Endpoint(), RedirectURL: cb,
		Scopes: []string{oidc.ScopeOpenID, "profile"}}
	verifier := oauth2.GenerateVerifier()
	u := conf.AuthCodeURL("", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-0123456789"))
	if pu, _ := url.Parse(u); pu.Query().Has("state") {
		t.Fatalf("x/oauth2 sent a state: %s", u)
	}
	b := newBrowser(t)
	action, csrf := loginForm(t, s.URL, b.get(u))
	ok := b.post(action, url.Values{"username": {"alice"}, "password": {"alice-pass"}, "csrf_token": {csrf}})
	if !isRedirect(ok.status) || !strings.HasPrefix(ok.location, cb+"?") {
		t.Fatalf("login without state: %d %q %.300s", ok.status, ok.location, ok.body)
	}
	q, _ := url.Parse(ok.location)
	if q.Query().Has("state") || q.Query().Get("code") == "" {
		t.Errorf("callback %q: want a code and no state", ok.location)
	}
	tok, err := conf.Exchange(ctx, q.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: "webapp"}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil || idt.Nonce != "n-0123456789" {
		t.Fatalf("ID token: %v (nonce %q)", err, idt.Nonce)
	}

	// With an SSO session, no form and still no state.
	v2 := oauth2.GenerateVerifier()
	sso := b.get(conf.AuthCodeURL("", oauth2.S256ChallengeOption(v2)))
	if sl, _ := url.Parse(sso.location); !isRedirect(sso.status) || sl.Query().Has("state") || sl.Query().Get("code") == "" {
		t.Errorf("SSO without state: %d %q", sso.status, sso.location)
	}
	// A short state is not refused either.
	short := b.get(conf.AuthCodeURL("x", oauth2.S256ChallengeOption(v2)))
	if sl, _ := url.Parse(short.location); !isRedirect(short.status) || sl.Query().Get("state") != "x" || sl.Query().Get("code") == "" {
		t.Errorf("one-character state: %d %q", short.status, short.location)
	}
}

// A browser at an unknown realm's authorization endpoint gets the styled
// error page; API clients still get JSON.
func TestSPAUnknownRealmPage(t *testing.T) {
	s := seeded(t)
	b := newBrowser(t)
	p := b.get(authURL(s.URL, "no-such-realm", codeQuery("app", "http://127.0.0.1:9999/cb", "st", "n", "")))
	if p.status != http.StatusNotFound || p.doc == nil || find(p.doc, byID("kc-error-message")) == nil {
		t.Fatalf("unknown realm from a browser: %d %.300s", p.status, p.body)
	}
	if !strings.Contains(p.body, "/resources/keygate/style.") {
		t.Error("the page does not carry the login pages' stylesheet")
	}
	code, body := postForm(t, s.URL+"/realms/no-such-realm/protocol/openid-connect/token", url.Values{"grant_type": {"client_credentials"}}, "a", "b")
	if code != http.StatusNotFound || body["error"] != "Realm does not exist" {
		t.Errorf("unknown realm's token endpoint: %d %v", code, body)
	}
}

func getJSON(t *testing.T, ctx context.Context, u string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, resp.Header, m
}

// "/" is a short welcome page in the login pages' look: what keygate is
// (not its version: that is for /metrics), the way to an account console, where the admin API is;
// it names no realm but master and looks none up. Unknown paths under
// /admin/ are JSON 404s (405 for a known path with another method).
func TestSPAWelcomeAndAdminMisses(t *testing.T) {
	s := seeded(t)
	b := newBrowser(t)
	p := b.get(s.URL + "/")
	if p.status != 200 || p.doc == nil || find(p.doc, byID("kc-page-title")) == nil {
		t.Fatalf("welcome page: %d %.300s", p.status, p.body)
	}
	for _, want := range []string{"/resources/keygate/style.", "/admin/realms", "/realms/master/account", "Welcome to keygate"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("welcome page lacks %q", want)
		}
	}
	if strings.Contains(p.body, "kg-version") || strings.Contains(p.body, "Version") {
		t.Error("the public welcome page shows keygate's version")
	}
	for _, realm := range []string{"realm-test", `"test"`, "other"} {
		if strings.Contains(p.body, realm) {
			t.Errorf("welcome page names realm %s", realm)
		}
	}
	if legacy := b.get(s.URL + "/auth/"); legacy.status != 200 || !strings.Contains(legacy.body, "/auth/realms/master/account") {
		t.Errorf("welcome page under /auth: %d", legacy.status)
	}
	// The realm form redirects without a lookup: a realm that exists and
	// one that does not are answered alike.
	for name, want := range map[string]string{"test": "/realms/test/account", "no-such": "/realms/no-such/account",
		"a b": "/realms/a%20b/account", "../admin": "/", "": "/"} {
		r := b.get(s.URL + "/?realm=" + url.QueryEscape(name))
		if r.status != http.StatusSeeOther || r.location != want {
			t.Errorf("?realm=%q: %d %q, want 303 %q", name, r.status, r.location, want)
		}
	}
	if nf := b.get(s.URL + "/no-such-page"); nf.status != 404 {
		t.Errorf("/no-such-page: %d", nf.status)
	}

	ctx := testContext(t)
	for _, p := range []string{"/admin", "/admin/", "/admin/nope", "/admin/master/console/", "/admin/realms/test/no-such-thing", "/admin/realms/test/users/x/y/z"} {
		code, h, body := getJSON(t, ctx, s.URL+p)
		if code != 404 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") || body["error"] == nil {
			t.Errorf("GET %s: %d %q %v; want a JSON 404", p, code, h.Get("Content-Type"), body)
		}
	}
	req, _ := http.NewRequest(http.MethodPatch, s.URL+"/admin/realms/test/users", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 405 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || resp.Header.Get("Allow") == "" {
		t.Errorf("PATCH users: %d %v %v; want a JSON 405 with Allow", resp.StatusCode, resp.Header, body)
	}
	// Known admin routes are untouched: no token is still 401.
	if code, _, _ := getJSON(t, ctx, s.URL+"/admin/realms/test/users"); code != 401 {
		t.Errorf("GET users without a token: %d, want 401", code)
	}
}

// A code issued to prompt=none from a live SSO session (an SPA's silent
// renew in an iframe, keycloak-js's check-sso) is redeemed with an ID
// token: fosite compares auth_time with the authorization request's time,
// which the token endpoint must carry over.
func TestSPAPromptNoneCodeRedeems(t *testing.T) {
	s := seeded(t)
	ctx := testContext(t)
	provider, err := oidc.NewProvider(ctx, s.URL+"/realms/test")
	if err != nil {
		t.Fatal(err)
	}
	const cb = "http://127.0.0.1:9999/cb"
	conf := &oauth2.Config{ClientID: "webapp", ClientSecret: "webapp-secret", Endpoint: provider.Endpoint(), RedirectURL: cb,
		Scopes: []string{oidc.ScopeOpenID, "profile"}}
	b := newBrowser(t)
	action, csrf := loginForm(t, s.URL, b.get(conf.AuthCodeURL("s0")))
	if ok := b.post(action, url.Values{"username": {"alice"}, "password": {"alice-pass"}, "csrf_token": {csrf}}); !isRedirect(ok.status) {
		t.Fatalf("login: %d", ok.status)
	}
	time.Sleep(1100 * time.Millisecond) // the renew comes in a later second than the login
	v := oauth2.GenerateVerifier()
	p := b.get(conf.AuthCodeURL("s1", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("prompt", "none"), oidc.Nonce("renew-nonce")))
	loc, _ := url.Parse(p.location)
	if !isRedirect(p.status) || loc.Query().Get("code") == "" {
		t.Fatalf("prompt=none with a session: %d %q", p.status, p.location)
	}
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("redeeming the prompt=none code: %v", err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: "webapp"}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil || idt.Nonce != "renew-nonce" {
		t.Fatalf("ID token: %v", err)
	}
}
