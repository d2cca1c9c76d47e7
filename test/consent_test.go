package test

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"
)

// TestConsent drives Keycloak's consent screen for a client with
// consentRequired, through the real login pages and go-oidc/x/oauth2: No
// answers access_denied, Yes is remembered for later logins (SSO ones
// included), prompt=consent asks again and prompt=none learns
// consent_required once it is revoked; the admin API lists and revokes
// the consent, a revoked consent stops the refresh tokens, a forged page
// post is refused, and the password grant cannot skip the screen.
func TestConsent(t *testing.T) {
	s := seeded(t)
	ctx := testContext(t)
	issuer := s.URL + "/realms/test"
	const cb = "http://127.0.0.1:9999/consent/cb"
	if code := adminJSON(t, s, "POST", "/admin/realms/test/clients", map[string]any{"clientId": "consent-app",
		"name": "Consent App", "secret": "consent-secret", "consentRequired": true, "redirectUris": []string{cb},
		"directAccessGrantsEnabled": true, "standardFlowEnabled": true}, nil); code != 201 {
		t.Fatalf("create client: %d", code)
	}
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: "consent-app", ClientSecret: "consent-secret", Endpoint: provider.Endpoint(), RedirectURL: cb,
		Scopes: []string{"openid", "profile", "email"}}
	b := newBrowser(t)
	auth := func(state string, extra ...string) page {
		q := codeQuery("consent-app", cb, state, "n-"+state, "")
		for i := 0; i+1 < len(extra); i += 2 {
			q.Set(extra[i], extra[i+1])
		}
		return b.get(authURL(s.URL, "test", q))
	}
	follow := func(p page) page {
		t.Helper()
		if !isRedirect(p.status) {
			t.Fatalf("want a redirect, got %d: %.300s", p.status, p.body)
		}
		u, err := url.Parse(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		next, err := u.Parse(p.location)
		if err != nil {
			t.Fatal(err)
		}
		return b.get(next.String())
	}
	// consentPage checks the page and returns its form's action and token.
	consentPage := func(p page) (string, string, []string) {
		t.Helper()
		form := find(p.doc, byID("kc-oauth-form"))
		if p.status != 200 || form == nil || find(form, byName("accept")) == nil || find(form, byName("cancel")) == nil {
			t.Fatalf("want the consent page, got %d: %.500s", p.status, p.body)
		}
		if !strings.Contains(p.body, "Grant Access to Consent App") {
			t.Errorf("the page does not name the client: %.500s", p.body)
		}
		var scopes []string
		list := find(p.doc, byID("kc-oauth-scopes"))
		for li := list.FirstChild; li != nil; li = li.NextSibling {
			if li.Type == html.ElementNode && li.FirstChild != nil {
				scopes = append(scopes, li.FirstChild.Data)
			}
		}
		u, _ := url.Parse(s.URL)
		a, _ := u.Parse(attr(form, "action"))
		return a.String(), attr(find(form, byName("csrf_token")), "value"), scopes
	}
	callback := func(p page, state string) url.Values {
		t.Helper()
		if !isRedirect(p.status) || !strings.HasPrefix(p.location, cb+"?") {
			t.Fatalf("want the callback, got %d %q: %.300s", p.status, p.location, p.body)
		}
		loc, _ := url.Parse(p.location)
		if loc.Query().Get("state") != state {
			t.Fatalf("callback state %q, want %q", loc.Query().Get("state"), state)
		}
		return loc.Query()
	}
	login := func(p page) page {
		t.Helper()
		action, csrf := loginForm(t, s.URL, p)
		return b.post(action, url.Values{"username": {"alice"}, "password": {"alice-pass"}, "csrf_token": {csrf}})
	}

	// 1. The screen after the password, naming what is asked; No.
	action, csrf, scopes := consentPage(follow(login(auth("s1"))))
	if !slices.Contains(scopes, "User profile") || !slices.Contains(scopes, "Email address") {
		t.Errorf("scopes on the screen: %q", scopes)
	}
	if forged := b.post(action, url.Values{"accept": {"Yes"}, "csrf_token": {"forged"}}); forged.status != 403 {
		t.Errorf("a consent post without the page's token: %d", forged.status)
	}
	denied := callback(b.post(action, url.Values{"cancel": {"No"}, "csrf_token": {csrf}}), "s1")
	if denied.Get("error") != "access_denied" || denied.Get("code") != "" {
		t.Fatalf("No: %v", denied)
	}

	// 2. Yes: a code, and tokens go-oidc verifies.
	action, csrf, _ = consentPage(follow(login(auth("s2"))))
	q := callback(b.post(action, url.Values{"accept": {"Yes"}, "csrf_token": {csrf}}), "s2")
	tok, err := conf.Exchange(ctx, q.Get("code"))
	if err != nil {
		t.Fatalf("exchange after consent: %v", err)
	}
	if _, err := provider.Verifier(&oidc.Config{ClientID: "consent-app"}).Verify(ctx, tok.Extra("id_token").(string)); err != nil {
		t.Fatal(err)
	}

	// 3. Remembered: the SSO session answers at once; prompt=consent asks.
	if c := callback(auth("s3"), "s3"); c.Get("code") == "" {
		t.Errorf("a consented client asked again: %v", c)
	}
	action, csrf, scopes = consentPage(follow(auth("s4", "prompt", "consent")))
	if len(scopes) < 2 {
		t.Errorf("prompt=consent shows %q", scopes)
	}
	if c := callback(b.post(action, url.Values{"accept": {"Yes"}, "csrf_token": {csrf}}), "s4"); c.Get("code") == "" {
		t.Errorf("prompt=consent, Yes: %v", c)
	}
	// A new optional scope (address) is asked for alone.
	_, _, scopes = consentPage(follow(auth("s5", "scope", "openid profile email address")))
	if !slices.Equal(scopes, []string{"Address"}) {
		t.Errorf("a new scope: the screen shows %q, want only Address", scopes)
	}

	// 4. The admin API shows the consent; revoking it stops the refresh
	// token and makes prompt=none learn consent_required.
	var users []map[string]any
	adminJSON(t, s, "GET", "/admin/realms/test/users?username=alice&exact=true", nil, &users)
	alice := users[0]["id"].(string)
	var consents []struct {
		ClientID            string   `json:"clientId"`
		GrantedClientScopes []string `json:"grantedClientScopes"`
		CreatedDate         int64    `json:"createdDate"`
	}
	adminJSON(t, s, "GET", "/admin/realms/test/users/"+alice+"/consents", nil, &consents)
	if len(consents) != 1 || consents[0].ClientID != "consent-app" || !slices.Contains(consents[0].GrantedClientScopes, "profile") ||
		!slices.Contains(consents[0].GrantedClientScopes, "email") || consents[0].CreatedDate < time.Now().Add(-time.Hour).UnixMilli() {
		t.Errorf("consents: %+v", consents)
	}
	tok, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
	if err != nil {
		t.Fatalf("refresh with the consent: %v", err)
	}
	// A consent that no longer covers the token's scopes (a scope the
	// client applies by default since) fails the refresh: invalid_scope.
	var cls []map[string]any
	adminJSON(t, s, "GET", "/admin/realms/test/clients?clientId=consent-app", nil, &cls)
	if code := adminJSON(t, s, "POST", "/admin/realms/test/client-scopes", map[string]any{"name": "consent-extra",
		"protocol": "openid-connect"}, nil); code != 201 {
		t.Fatalf("create client scope: %d", code)
	}
	var allScopes []map[string]any
	adminJSON(t, s, "GET", "/admin/realms/test/client-scopes", nil, &allScopes)
	i := slices.IndexFunc(allScopes, func(m map[string]any) bool { return m["name"] == "consent-extra" })
	if len(cls) != 1 || i < 0 {
		t.Fatalf("client %v, scope at %d", cls, i)
	}
	extra := "/admin/realms/test/clients/" + cls[0]["id"].(string) + "/default-client-scopes/" + allScopes[i]["id"].(string)
	if code := adminJSON(t, s, "PUT", extra, nil, nil); code != 204 {
		t.Fatalf("add default scope: %d", code)
	}
	_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_scope" {
		t.Errorf("refresh beyond the consent: %v", err)
	}
	if code := adminJSON(t, s, "DELETE", extra, nil, nil); code != 204 {
		t.Fatalf("remove default scope: %d", code)
	}
	if tok, err = conf.Exchange(ctx, callback(auth("s5b"), "s5b").Get("code")); err != nil {
		t.Fatalf("exchange after the scope went: %v", err)
	}
	// Revoking the consent logs the client out of alice's sessions, as
	// Keycloak's backchannel logout: its refresh token is gone.
	if code := adminJSON(t, s, "DELETE", "/admin/realms/test/users/"+alice+"/consents/consent-app", nil, nil); code != 204 {
		t.Fatalf("revoke consent: %d", code)
	}
	_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("refresh after the consent was revoked: %v", err)
	}
	if c := callback(auth("s6", "prompt", "none"), "s6"); c.Get("error") != "consent_required" {
		t.Errorf("prompt=none without consent: %v", c)
	}

	// 5. The password grant cannot ask: refused before the password counts.
	for _, pw := range []string{"alice-pass", "wrong"} {
		code, body := postForm(t, issuer+"/protocol/openid-connect/token", url.Values{"grant_type": {"password"},
			"username": {"alice"}, "password": {pw}, "scope": {"openid"}}, "consent-app", "consent-secret")
		if code != 400 || body["error"] != "invalid_client" || body["error_description"] != "Client requires user consent" {
			t.Errorf("password grant (%s) on a consent client: %d %v", pw, code, body)
		}
	}
}
