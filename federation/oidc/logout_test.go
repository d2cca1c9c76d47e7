package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/keygate/keygate/federation"
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
