package oidc_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/keygate/keygate/idp/rep"
)

// A client stored before patterns were validated (realm import, an older
// keygate) keeps its malformed wildcard; the endpoints must still never
// send a browser to another host through it (issue 9 §2).
func TestLegacyWildcardNeverRedirectsToAnotherHost(t *testing.T) {
	ctx := t.Context()
	st, srv, master := bootstrapped(t)
	yes := true
	for id, uris := range map[string][]string{"legacy": {"https://app.example.com*"}, "modern": {"https://app.example.com/*"}} {
		c := rep.Client{ClientID: id, PublicClient: &yes, DirectAccessGrantsEnabled: &yes, RedirectURIs: uris,
			Attributes: map[string]string{"post.logout.redirect.uris": "+"}}
		if _, _, err := rep.CreateClient(ctx, st, master, &c); err != nil {
			t.Fatal(err)
		}
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	oc := ts.URL + "/realms/master/protocol/openid-connect"
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) (int, string, string) {
		t.Helper()
		resp, err := noFollow.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(b)
	}
	evil := []string{
		"https://app.example.com@evil.example/cb",
		"https://app.example.com.evil.example/cb",
		"https://app.example.com/../../evil",
		"https://app.example.com/%2e%2e/evil",
		"https://app.example.com/..%2fevil",
	}
	for _, client := range []string{"legacy", "modern"} {
		for _, ru := range evil {
			q := url.Values{"client_id": {client}, "redirect_uri": {ru}, "response_type": {"code"}, "scope": {"openid"}, "state": {"state-123456"},
				"code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"}}
			status, loc, body := get(oc + "/auth?" + q.Encode())
			if status != http.StatusBadRequest || loc != "" || !strings.Contains(body, "kc-error-message") {
				t.Errorf("auth %s %q: %d, Location %q", client, ru, status, loc)
			}
		}
	}
	// The well-formed pattern still lets its own URI through to the login form.
	q := url.Values{"client_id": {"modern"}, "redirect_uri": {"https://app.example.com/silent-check-sso.html"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"state-123456"}, "code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"}}
	if status, loc, body := get(oc + "/auth?" + q.Encode()); status != http.StatusOK || loc != "" || !strings.Contains(body, "kc-form-login") {
		t.Errorf("legitimate redirect_uri: %d %q", status, loc)
	}

	// Post-logout: an ID token of the attacker's own session, no session
	// in the browser at all.
	for _, client := range []string{"legacy", "modern"} {
		resp, err := http.PostForm(oc+"/token", url.Values{"grant_type": {"password"}, "client_id": {client},
			"username": {"admin"}, "password": {"admin-secret-pw"}, "scope": {"openid"}})
		if err != nil {
			t.Fatal(err)
		}
		var tok map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		idToken, _ := tok["id_token"].(string)
		if idToken == "" {
			t.Fatalf("password grant: %d %v", resp.StatusCode, tok)
		}
		for _, ru := range evil {
			q := url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {ru}}
			status, loc, body := get(oc + "/logout?" + q.Encode())
			if status != http.StatusBadRequest || loc != "" || !strings.Contains(body, "kc-error-message") {
				t.Errorf("logout %s %q: %d, Location %q", client, ru, status, loc)
			}
		}
	}
}

// Relative redirect URIs resolve as Keycloak resolves them: against rootUrl,
// whose ${authBaseUrl} names this server, or this server when it is empty
// (the built-in account and admin consoles register theirs so).
func TestRelativeRedirectURIsResolveAgainstTheServer(t *testing.T) {
	ctx := t.Context()
	st, srv, master := bootstrapped(t)
	yes := true
	for id, root := range map[string]string{"placeholder": "${authBaseUrl}", "norooturl": ""} {
		c := rep.Client{ClientID: id, PublicClient: &yes, RootURL: root, RedirectURIs: []string{"/app/*"}}
		if _, _, err := rep.CreateClient(ctx, st, master, &c); err != nil {
			t.Fatal(err)
		}
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, client := range []string{"placeholder", "norooturl"} {
		for ru, want := range map[string]int{ts.URL + "/app/cb": http.StatusOK, ts.URL + "/other": http.StatusBadRequest,
			"https://evil.example/app/cb": http.StatusBadRequest} {
			q := url.Values{"client_id": {client}, "redirect_uri": {ru}, "response_type": {"code"}, "scope": {"openid"}, "state": {"state-123456"},
				"code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"}}
			resp, err := noFollow.Get(ts.URL + "/realms/master/protocol/openid-connect/auth?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want || resp.Header.Get("Location") != "" {
				t.Errorf("%s %q: %d %q, want %d", client, ru, resp.StatusCode, resp.Header.Get("Location"), want)
			}
		}
	}
}
