package oidc

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/store"
)

// Logout at the IdP as Keycloak's keycloakInitiatedBrowserLogout: the
// browser goes to logoutUrl (its own query kept) with state, the ID token
// of the login (sendIdTokenOnLogout, on unless "false"), client_id when
// asked, and the way back; no logoutUrl, nothing to do and no ID token kept.
func TestLogoutRedirect(t *testing.T) {
	f := newFakeIdP(t)
	logoutURL := f.srv.URL + "/logout?tenant=t1"
	req := federation.BrokerRequest{ID: "ID_1", RelayState: "logout-state", CallbackURL: callback}
	for _, tc := range []struct {
		name        string
		kv          []string
		hint        bool
		clientID    string
		noRedirect  bool
		keepIDToken bool
	}{
		{name: "defaults", kv: []string{"logoutUrl", logoutURL}, hint: true, keepIDToken: true},
		{name: "sendIdTokenOnLogout false", kv: []string{"logoutUrl", logoutURL, "sendIdTokenOnLogout", "false"}, keepIDToken: true},
		{name: "sendClientIdOnLogout", kv: []string{"logoutUrl", logoutURL, "sendClientIdOnLogout", "true"}, hint: true, clientID: "kg", keepIDToken: true},
		{name: "no logoutUrl", kv: nil, noRedirect: true, keepIDToken: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := open(t, f, "oidc", tc.kv...)
			id, err := f.login(t, b, nil)
			if err != nil {
				t.Fatal(err)
			}
			if (id.IDToken != "") != tc.keepIDToken {
				t.Fatalf("ID token kept for logout: %v, want %v", id.IDToken != "", tc.keepIDToken)
			}
			start, err := b.(federation.SingleLogout).Logout(context.Background(), req, id)
			if err != nil {
				t.Fatal(err)
			}
			if tc.noRedirect {
				if start.RedirectURL != "" || start.PostURL != "" {
					t.Fatalf("logout without a logoutUrl: %+v", start)
				}
				return
			}
			u, err := url.Parse(start.RedirectURL)
			if err != nil || u.Scheme+"://"+u.Host+u.Path != f.srv.URL+"/logout" {
				t.Fatalf("logout redirect %q", start.RedirectURL)
			}
			q := u.Query()
			want := url.Values{"tenant": {"t1"}, "state": {"logout-state"}, "post_logout_redirect_uri": {callback + "/logout_response"}}
			if tc.hint {
				want.Set("id_token_hint", id.IDToken)
			}
			if tc.clientID != "" {
				want.Set("client_id", tc.clientID)
			}
			if q.Encode() != want.Encode() {
				t.Errorf("logout query\n got %s\nwant %s", q.Encode(), want.Encode())
			}
		})
	}
}

// With backchannelSupported the server calls logoutUrl itself, with state
// and id_token_hint, and the browser has nothing to do there; a failed
// call is only logged. Without an ID token it falls back to the browser.
func TestLogoutBackchannel(t *testing.T) {
	f := newFakeIdP(t)
	got := make(chan url.Values, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Query()
	}))
	t.Cleanup(up.Close)
	b := open(t, f, "oidc", "logoutUrl", up.URL+"/logout", "backchannelSupported", "true")
	id, err := f.login(t, b, nil)
	if err != nil || id.IDToken == "" {
		t.Fatalf("login: %v (ID token kept: %v)", err, id.IDToken != "")
	}
	req := federation.BrokerRequest{ID: "ID_1", RelayState: "logout-state", CallbackURL: callback}
	start, err := b.(federation.SingleLogout).Logout(context.Background(), req, id)
	if err != nil || start.RedirectURL != "" || start.PostURL != "" {
		t.Fatalf("back-channel logout: %+v, %v; want nothing for the browser", start, err)
	}
	select {
	case q := <-got:
		if q.Get("state") != "logout-state" || q.Get("id_token_hint") != id.IDToken || q.Has("post_logout_redirect_uri") {
			t.Errorf("back-channel logout query %v", q)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the IdP was never called")
	}
	// A failed call is logged, without the URL (it carries the ID token).
	var logs syncBuffer
	env := testEnv(nil)
	env.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	t.Cleanup(refusing.Close)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	for _, target := range []string{refusing.URL, gone.URL} {
		bb, err := Open(context.Background(), env, idpOf(t, "oidc", f.config("logoutUrl", target+"/logout", "backchannelSupported", "true")))
		if err != nil {
			t.Fatal(err)
		}
		before := logs.String()
		if _, err := bb.(federation.SingleLogout).Logout(context.Background(), req, id); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for logs.String() == before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := logs.String(); !strings.Contains(got[len(before):], "back-channel logout at the identity provider") || strings.Contains(got, id.IDToken) {
			t.Errorf("back-channel logout to %s logged %q (want the failure, never the token)", target, got[len(before):])
		}
	}

	id.IDToken = ""
	start, err = b.(federation.SingleLogout).Logout(context.Background(), req, id)
	if err != nil || start.RedirectURL == "" {
		t.Fatalf("back-channel logout without an ID token: %+v, %v; want the browser sent", start, err)
	}
}

// The return from the IdP's logout must carry the pending logout's state.
func TestHandleLogoutResponse(t *testing.T) {
	f := newFakeIdP(t)
	b := open(t, f, "oidc", "logoutUrl", f.srv.URL+"/logout").(federation.SingleLogout)
	req := federation.BrokerRequest{RelayState: "logout-state", CallbackURL: callback}
	if _, _, start, err := b.HandleLogout(context.Background(), req, url.Values{"state": {"logout-state"}}); err != nil || start.RedirectURL != "" {
		t.Errorf("logout response: %+v, %v", start, err)
	}
	for _, params := range []url.Values{{}, {"state": {"other"}}} {
		if _, _, _, err := b.HandleLogout(context.Background(), req, params); !errors.Is(err, federation.ErrBrokerRefused) {
			t.Errorf("logout response %v: %v, want a refusal", params, err)
		}
	}
	if _, _, _, err := b.HandleLogout(context.Background(), federation.BrokerRequest{}, url.Values{"state": {""}}); !errors.Is(err, federation.ErrBrokerRefused) {
		t.Errorf("logout response with no pending state: %v, want a refusal", err)
	}
}

// memReplay is env.Replay in memory.
func memReplay() func(context.Context, string, time.Time) error {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(_ context.Context, id string, _ time.Time) error {
		mu.Lock()
		defer mu.Unlock()
		if seen[id] {
			return store.ErrConflict
		}
		seen[id] = true
		return nil
	}
}

// A back-channel logout token is taken only as Back-Channel Logout 1.0
// §2.6 describes it, signed by the provider's keys, and once.
func TestVerifyLogoutToken(t *testing.T) {
	f := newFakeIdP(t)
	env := testEnv(nil)
	env.Replay = memReplay()
	openWith := func(kv ...string) *Broker {
		b, err := Open(context.Background(), env, idpOf(t, "oidc", f.config(kv...)))
		if err != nil {
			t.Fatal(err)
		}
		return b.(*Broker)
	}
	b := openWith()
	now := time.Now().Unix()
	good := func() map[string]any {
		return map[string]any{"iss": f.issuer(), "aud": []any{"other", f.clientID}, "iat": now, "exp": now + 120,
			"jti": base64.RawURLEncoding.EncodeToString(randBytes(9)), "sub": "user-1", "sid": "idp-session-1",
			"events": map[string]any{backchannelLogoutEvent: map[string]any{}}}
	}
	if !b.Issues(f.issuer()) || b.Issues("https://other.example") || b.Issues("") {
		t.Error("Issues does not answer by the configured issuer")
	}
	tok := f.sign("RS256", "rsa", good())
	sub, sid, err := b.VerifyLogoutToken(context.Background(), tok)
	if err != nil || sub != "user-1" || sid != "idp-session-1" {
		t.Fatalf("good logout token: %q %q %v", sub, sid, err)
	}
	if _, _, err := b.VerifyLogoutToken(context.Background(), tok); !errors.Is(err, federation.ErrBrokerRefused) {
		t.Errorf("the same token again: %v, want a refusal", err)
	}
	sidOnly := good()
	delete(sidOnly, "sub")
	if sub, sid, err := b.VerifyLogoutToken(context.Background(), f.sign("ES256", "ec", sidOnly)); err != nil || sub != "" || sid != "idp-session-1" {
		t.Errorf("sid-only logout token: %q %q %v", sub, sid, err)
	}
	noExp := good()
	delete(noExp, "exp")
	if _, _, err := b.VerifyLogoutToken(context.Background(), f.sign("RS256", "rsa", noExp)); err != nil {
		t.Errorf("fresh logout token without exp: %v", err)
	}

	for name, change := range map[string]func(c map[string]any){
		"another audience":   func(c map[string]any) { c["aud"] = "other" },
		"no audience":        func(c map[string]any) { delete(c, "aud") },
		"another issuer":     func(c map[string]any) { c["iss"] = "https://other.example" },
		"expired":            func(c map[string]any) { c["exp"] = now - 60 },
		"old without exp":    func(c map[string]any) { delete(c, "exp"); c["iat"] = now - 600 },
		"issued in future":   func(c map[string]any) { c["iat"] = now + 600 },
		"no iat":             func(c map[string]any) { delete(c, "iat") },
		"no event":           func(c map[string]any) { delete(c, "events") },
		"another event":      func(c map[string]any) { c["events"] = map[string]any{"http://example/other": map[string]any{}} },
		"event not a object": func(c map[string]any) { c["events"] = map[string]any{backchannelLogoutEvent: "yes"} },
		"a nonce":            func(c map[string]any) { c["nonce"] = "n" },
		"neither sub nor sid": func(c map[string]any) {
			delete(c, "sub")
			delete(c, "sid")
		},
		"no jti": func(c map[string]any) { delete(c, "jti") },
	} {
		c := good()
		change(c)
		if _, _, err := b.VerifyLogoutToken(context.Background(), f.sign("RS256", "rsa", c)); !errors.Is(err, federation.ErrBrokerRefused) {
			t.Errorf("%s: %v, want a refusal", name, err)
		}
	}
	for _, alg := range []string{"none", "HS256"} {
		if _, _, err := b.VerifyLogoutToken(context.Background(), f.sign(alg, "", good())); !errors.Is(err, federation.ErrBrokerRefused) {
			t.Errorf("alg %s: %v, want a refusal", alg, err)
		}
	}
	// Signed by a key the provider does not publish, under its kid.
	forged, err := signJWT(map[string]any{"alg": "RS256", "kid": "rsa"}, good(), func(in []byte) ([]byte, error) { return keySign("RS256", testRSA(t, 1), in) })
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.VerifyLogoutToken(context.Background(), forged); !errors.Is(err, federation.ErrBrokerRefused) {
		t.Errorf("another key: %v, want a refusal", err)
	}
	// Providers that cannot tell who signed take none.
	if _, _, err := openWith("validateSignature", "false").VerifyLogoutToken(context.Background(), f.sign("RS256", "rsa", good())); !errors.Is(err, federation.ErrBrokerRefused) {
		t.Errorf("validateSignature false: %v, want a refusal", err)
	}
	noIssuer := openWith("issuer", "-")
	if noIssuer.Issues(f.issuer()) {
		t.Error("a provider without an issuer claims tokens")
	}
	if _, _, err := noIssuer.VerifyLogoutToken(context.Background(), f.sign("RS256", "rsa", good())); !errors.Is(err, federation.ErrBrokerRefused) {
		t.Errorf("no issuer configured: %v, want a refusal", err)
	}
}

// syncBuffer is a log sink read while another goroutine writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
