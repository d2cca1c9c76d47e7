package test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"
)

// browser is a cookie-keeping HTTP client that does not follow redirects,
// so every hop of the flow can be checked.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	status   int
	location string
	body     string
	doc      *html.Node
}

func (b *browser) get(u string) page { return b.send(http.MethodGet, u, nil) }

func (b *browser) post(u string, form url.Values) page { return b.send(http.MethodPost, u, form) }

func (b *browser) send(method, u string, form url.Values) page {
	b.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	p := page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: sb.String()}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		p.doc, _ = html.Parse(strings.NewReader(p.body))
	}
	return p
}

// find returns the first element matching pred.
func find(n *html.Node, pred func(*html.Node) bool) *html.Node {
	if n == nil {
		return nil
	}
	if n.Type == html.ElementNode && pred(n) {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := find(c, pred); f != nil {
			return f
		}
	}
	return nil
}

func attr(n *html.Node, k string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == k {
			return a.Val
		}
	}
	return ""
}

func byID(id string) func(*html.Node) bool {
	return func(n *html.Node) bool { return attr(n, "id") == id }
}

func byName(name string) func(*html.Node) bool {
	return func(n *html.Node) bool { return attr(n, "name") == name }
}

// loginForm returns the login form's absolute action and CSRF token.
func loginForm(t *testing.T, base string, p page) (string, string) {
	t.Helper()
	if p.status != 200 || p.doc == nil {
		t.Fatalf("want the login page, got %d (Location %q): %.300s", p.status, p.location, p.body)
	}
	form := find(p.doc, byID("kc-form-login"))
	if form == nil || find(form, byID("kc-login")) == nil || find(form, byName("username")) == nil || find(form, byName("password")) == nil {
		t.Fatalf("login page lacks Keycloak's form fields: %.500s", p.body)
	}
	action := attr(form, "action")
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	a, err := u.Parse(action)
	if err != nil {
		t.Fatal(err)
	}
	return a.String(), attr(find(form, byName("csrf_token")), "value")
}

func authURL(base, realm string, q url.Values) string {
	return base + "/realms/" + realm + "/protocol/openid-connect/auth?" + q.Encode()
}

func codeQuery(client, redirect, state, nonce, challenge string) url.Values {
	q := url.Values{"client_id": {client}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {"openid profile email"}, "state": {state}, "nonce": {nonce}}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	return q
}

func TestAuthorizationCodeFlow(t *testing.T) {
	s := seeded(t)
	ctx := testContext(t)
	issuer := s.URL + "/realms/test"
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	const cb = "http://127.0.0.1:9999/cb"
	conf := &oauth2.Config{ClientID: "webapp", ClientSecret: "webapp-secret", Endpoint: provider.Endpoint(), RedirectURL: cb, Scopes: []string{"openid", "profile", "email"}}
	verifier := oauth2.GenerateVerifier()
	state := "st/ate+with&odd=chars"
	b := newBrowser(t)

	// 1. The form, a wrong password, then the right one.
	action, csrf := loginForm(t, s.URL, b.get(authURL(s.URL, "test", codeQuery("webapp", cb, state, "nonce-1", oauth2.S256ChallengeFromVerifier(verifier)))))
	if csrf == "" {
		t.Fatal("login form carries no CSRF token")
	}
	bad := b.post(action, url.Values{"username": {"alice"}, "password": {"wrong"}, "csrf_token": {csrf}})
	if bad.status != 200 || bad.location != "" || !strings.Contains(bad.body, "Invalid username or password.") {
		t.Fatalf("wrong password: %d %q %.300s", bad.status, bad.location, bad.body)
	}
	if find(bad.doc, byID("input-error")) == nil {
		t.Error("the error is not in the announced alert element")
	}
	ok := b.post(action, url.Values{"username": {"alice"}, "password": {"alice-pass"}, "csrf_token": {csrf}})
	if !isRedirect(ok.status) || !strings.HasPrefix(ok.location, cb+"?") {
		t.Fatalf("login: %d %q %.300s", ok.status, ok.location, ok.body)
	}
	loc, _ := url.Parse(ok.location)
	q := loc.Query()
	if q.Get("state") != state || q.Get("code") == "" || q.Get("session_state") == "" || q.Get("iss") != issuer {
		t.Fatalf("callback parameters %v", q)
	}
	code := q.Get("code")

	// 2. A replayed form finds the attempt spent.
	if replay := b.post(action, url.Values{"username": {"alice"}, "password": {"alice-pass"}, "csrf_token": {csrf}}); replay.status < 400 || replay.location != "" {
		t.Errorf("replayed login form: %d %q", replay.status, replay.location)
	}

	// 3. The code for tokens, with x/oauth2 and PKCE.
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption("wrong-verifier-wrong-verifier-wrong-verifier-00")); err == nil {
		t.Fatal("a wrong code_verifier was accepted")
	}
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("a code survived a failed redemption; it gets one attempt")
	}
	_, code = reauthorize(t, b, s.URL, "webapp", cb, "s1", "nonce-1b", verifier)
	if _, err := conf.Exchange(ctx, code); err == nil {
		t.Fatal("a code issued with PKCE was redeemed without a code_verifier")
	}
	// A code is single use whatever the outcome; take a fresh one (the
	// browser's SSO session answers without the form).
	_, code = reauthorize(t, b, s.URL, "webapp", cb, "s2", "nonce-2", verifier)
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: "webapp"}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	if idt.Nonce != "nonce-2" {
		t.Errorf("nonce %q", idt.Nonce)
	}
	var idc map[string]any
	_ = idt.Claims(&idc)
	if idc["acr"] != "0" || idc["preferred_username"] != "alice" {
		t.Errorf("SSO re-authorization claims %v (acr should be 0: no fresh login)", idc)
	}

	// 4. Code replay fails and revokes what the first use issued.
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil {
		t.Error("a code was redeemed twice")
	}
	code2, body := postForm(t, issuer+"/protocol/openid-connect/token/introspect", url.Values{"token": {tok.AccessToken}}, "webapp", "webapp-secret")
	if body["active"] != false {
		t.Errorf("tokens of a replayed code stay active: %d %v", code2, body)
	}

	// 5. SSO into a second client without the form.
	v2 := oauth2.GenerateVerifier()
	second := b.get(authURL(s.URL, "test", codeQuery("webapp2", "http://127.0.0.1:9998/app/cb", "s3", "n3", oauth2.S256ChallengeFromVerifier(v2))))
	if !isRedirect(second.status) || !strings.HasPrefix(second.location, "http://127.0.0.1:9998/app/cb?") {
		t.Fatalf("SSO into webapp2 (wildcard redirect): %d %q %.200s", second.status, second.location, second.body)
	}
	// A code of webapp2 is worthless to webapp.
	c2, _ := url.Parse(second.location)
	if _, err := conf.Exchange(ctx, c2.Query().Get("code"), oauth2.VerifierOption(v2)); err == nil {
		t.Error("webapp redeemed webapp2's code")
	}

	// 6. Logout: open redirects refused, then a real logout ends the session.
	lo := issuer + "/protocol/openid-connect/logout"
	evil := b.get(lo + "?" + url.Values{"client_id": {"webapp"}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
	if evil.status != 400 || evil.location != "" {
		t.Errorf("open redirect through logout: %d %q", evil.status, evil.location)
	}
	noClient := b.get(lo + "?" + url.Values{"post_logout_redirect_uri": {cb}}.Encode())
	if noClient.status != 400 || noClient.location != "" {
		t.Errorf("post_logout_redirect_uri without a client: %d %q", noClient.status, noClient.location)
	}
	confirm := b.get(lo)
	if confirm.status != 200 || find(confirm.doc, byID("kc-logout")) == nil {
		t.Fatalf("logout without a hint should ask: %d %.200s", confirm.status, confirm.body)
	}
	out := b.get(lo + "?" + url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {cb}, "state": {"bye"}}.Encode())
	if !isRedirect(out.status) || out.location != cb+"?state=bye" {
		t.Fatalf("logout: %d %q %.200s", out.status, out.location, out.body)
	}
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token(); err == nil {
		t.Error("a refresh token outlived the logout of its session")
	}
	again := b.get(authURL(s.URL, "test", codeQuery("webapp", cb, "s4", "n4", "")))
	loginForm(t, s.URL, again) // the form again: no SSO session left
}

// reauthorize runs the authorization request with an SSO session in the
// browser and returns the callback URL and code.
func reauthorize(t *testing.T, b *browser, base, client, redirect, state, nonce, verifier string) (*url.URL, string) {
	t.Helper()
	p := b.get(authURL(base, "test", codeQuery(client, redirect, state, nonce, oauth2.S256ChallengeFromVerifier(verifier))))
	if !isRedirect(p.status) {
		t.Fatalf("SSO authorization: %d %.200s", p.status, p.body)
	}
	u, _ := url.Parse(p.location)
	return u, u.Query().Get("code")
}

func TestAuthorizationErrors(t *testing.T) {
	s := seeded(t)
	ctx := testContext(t)
	const cb = "http://127.0.0.1:9999/cb"
	chal := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())

	t.Run("unregistered redirect_uri never redirects", func(t *testing.T) {
		for _, ru := range []string{"https://evil.example/cb", cb + "/../x", "http://127.0.0.1:9999/cbx", ""} {
			p := newBrowser(t).get(authURL(s.URL, "test", codeQuery("webapp", ru, "x", "n", chal)))
			if p.status != 400 || p.location != "" || find(p.doc, byID("kc-error-message")) == nil {
				t.Errorf("redirect_uri %q: %d %q", ru, p.status, p.location)
			}
		}
	})
	t.Run("unknown client shows an error page", func(t *testing.T) {
		p := newBrowser(t).get(authURL(s.URL, "test", codeQuery("ghost", cb, "x", "n", chal)))
		if p.status != 400 || p.location != "" {
			t.Errorf("%d %q", p.status, p.location)
		}
	})
	t.Run("prompt=none without a session", func(t *testing.T) {
		q := codeQuery("webapp", cb, "pn", "n", chal)
		q.Set("prompt", "none")
		p := newBrowser(t).get(authURL(s.URL, "test", q))
		u, _ := url.Parse(p.location)
		if !isRedirect(p.status) || u.Query().Get("error") != "login_required" || u.Query().Get("state") != "pn" {
			t.Errorf("%d %q", p.status, p.location)
		}
	})
	t.Run("public client without PKCE", func(t *testing.T) {
		p := newBrowser(t).get(authURL(s.URL, "test", codeQuery("spa", "http://localhost:3000/app", "x", "n", "")))
		u, _ := url.Parse(p.location)
		if !isRedirect(p.status) || u.Query().Get("error") != "invalid_request" {
			t.Errorf("%d %q", p.status, p.location)
		}
	})
	t.Run("response modes", func(t *testing.T) {
		b := newBrowser(t)
		action, csrf := loginForm(t, s.URL, b.get(authURL(s.URL, "test", codeQuery("webapp", cb, "f", "n", chal))))
		if p := b.post(action, url.Values{"username": {"carol"}, "password": {"carol-pass"}, "csrf_token": {csrf}}); !isRedirect(p.status) {
			t.Fatalf("login: %d", p.status)
		}
		q := codeQuery("webapp", cb, "frag", "n", chal)
		q.Set("response_mode", "fragment")
		p := b.get(authURL(s.URL, "test", q))
		if !strings.HasPrefix(p.location, cb+"#") || !strings.Contains(p.location, "code=") {
			t.Errorf("fragment: %q", p.location)
		}
		q.Set("response_mode", "form_post")
		p = b.get(authURL(s.URL, "test", q))
		form := find(p.doc, func(n *html.Node) bool { return n.Data == "form" })
		if p.status != 200 || attr(form, "action") != cb || find(form, byName("code")) == nil || attr(find(form, byName("state")), "value") != "frag" {
			t.Errorf("form_post: %d %.300s", p.status, p.body)
		}
	})
	t.Run("CSRF token missing or wrong", func(t *testing.T) {
		b := newBrowser(t)
		action, _ := loginForm(t, s.URL, b.get(authURL(s.URL, "test", codeQuery("webapp", cb, "c", "n", chal))))
		for _, tok := range []string{"", "forged"} {
			p := b.post(action, url.Values{"username": {"carol"}, "password": {"carol-pass"}, "csrf_token": {tok}})
			if p.status != http.StatusForbidden || p.location != "" {
				t.Errorf("csrf %q: %d %q", tok, p.status, p.location)
			}
		}
		// Another browser (no attempt cookie) cannot post this attempt.
		_, csrf := loginForm(t, s.URL, b.get(authURL(s.URL, "test", codeQuery("webapp", cb, "c2", "n", chal))))
		p := newBrowser(t).post(action, url.Values{"username": {"carol"}, "password": {"carol-pass"}, "csrf_token": {csrf}})
		if p.status != 400 || p.location != "" {
			t.Errorf("cross-browser post: %d %q", p.status, p.location)
		}
	})
	t.Run("expired code", func(t *testing.T) {
		// Realm other issues codes valid for one second.
		b := newBrowser(t)
		v := oauth2.GenerateVerifier()
		action, csrf := loginForm(t, s.URL, b.get(authURL(s.URL, "other", codeQuery("webapp", cb, "e", "n", oauth2.S256ChallengeFromVerifier(v)))))
		p := b.post(action, url.Values{"username": {"alice"}, "password": {"other-alice-pass"}, "csrf_token": {csrf}})
		u, _ := url.Parse(p.location)
		time.Sleep(2100 * time.Millisecond)
		conf := &oauth2.Config{ClientID: "webapp", ClientSecret: "other-secret", RedirectURL: cb,
			Endpoint: oauth2.Endpoint{TokenURL: s.URL + "/realms/other/protocol/openid-connect/token"}}
		_, err := conf.Exchange(ctx, u.Query().Get("code"), oauth2.VerifierOption(v))
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Errorf("expired code: %v", err)
		}
	})
	t.Run("locked user sees the generic error", func(t *testing.T) {
		b := newBrowser(t)
		action, csrf := loginForm(t, s.URL, b.get(authURL(s.URL, "test", codeQuery("webapp", cb, "l", "n", chal))))
		var last page
		for i := 0; i < 6; i++ {
			last = b.post(action, url.Values{"username": {"dave"}, "password": {"nope"}, "csrf_token": {csrf}})
		}
		last = b.post(action, url.Values{"username": {"dave"}, "password": {"dave-pass"}, "csrf_token": {csrf}})
		if last.status != 200 || last.location != "" || !strings.Contains(last.body, "Invalid username or password.") {
			t.Errorf("locked user: %d %q", last.status, last.location)
		}
	})
}

// isRedirect accepts 302 and 303: fosite answers authorization responses
// with 303 See Other, Keycloak with 302; browsers treat both as a GET.
func isRedirect(status int) bool { return status == http.StatusFound || status == http.StatusSeeOther }

// TestConcurrentCodeRedemption redeems one authorization code ten times at
// once: one request gets tokens, the others invalid_grant (never a
// server_error, never a second set of tokens).
func TestConcurrentCodeRedemption(t *testing.T) {
	s := seeded(t)
	const cb = "http://127.0.0.1:9999/cb"
	verifier := oauth2.GenerateVerifier()
	b := newBrowser(t)
	action, csrf := loginForm(t, s.URL, b.get(authURL(s.URL, "test", codeQuery("webapp", cb, "st", "n", oauth2.S256ChallengeFromVerifier(verifier)))))
	if p := b.post(action, url.Values{"username": {"alice"}, "password": {"alice-pass"}, "csrf_token": {csrf}}); !isRedirect(p.status) {
		t.Fatalf("login: %d %.300s", p.status, p.body)
	}
	for round := range 3 {
		_, code := reauthorize(t, b, s.URL, "webapp", cb, "st", fmt.Sprint("n", round), verifier)
		const n = 10
		var wg sync.WaitGroup
		start := make(chan struct{})
		codes, bodies := make([]int, n), make([]map[string]any, n)
		for i := range n {
			wg.Go(func() {
				<-start
				codes[i], bodies[i] = postForm(t, s.URL+"/realms/test/protocol/openid-connect/token", url.Values{
					"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {cb}, "code_verifier": {verifier},
				}, "webapp", "webapp-secret")
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for i := range n {
			switch {
			case codes[i] == 200:
				won++
			case codes[i] != 400 || bodies[i]["error"] != "invalid_grant":
				t.Errorf("round %d, redemption %d: %d %v", round, i, codes[i], bodies[i])
			}
		}
		if won != 1 {
			t.Errorf("round %d: %d of %d concurrent redemptions of one code got tokens; want 1", round, won, n)
		}
	}
}
