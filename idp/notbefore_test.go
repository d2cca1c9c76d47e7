package idp_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// notBeforeKeygate serves realm "nb" with a confidential client "svc"
// (direct grants) and user carol holding offline_access.
func notBeforeKeygate(t *testing.T) (k *keygate, admin string) {
	t.Helper()
	k, _, admin = newEventsKeygate(t)
	k.importRealm(t, `{"realm": "nb", "enabled": true, "sslRequired": "none",
		"roles": {"realm": [{"name": "offline_access"}]},
		"clients": [{"clientId": "svc", "enabled": true, "secret": "svc-secret-1", "publicClient": false,
			"directAccessGrantsEnabled": true}],
		"users": [{"username": "carol", "enabled": true, "realmRoles": ["offline_access"],
			"credentials": [{"type": "password", "value": "carol-pass-1"}]}]}`)
	return k, admin
}

func nbTokens(t *testing.T, k *keygate, scope string) map[string]any {
	t.Helper()
	return postToken(t, k.URL, "nb", url.Values{"grant_type": {"password"}, "client_id": {"svc"}, "client_secret": {"svc-secret-1"},
		"username": {"carol"}, "password": {"carol-pass-1"}, "scope": {scope}}, 200)
}

func nbRefresh(t *testing.T, k *keygate, rt string, want int) map[string]any {
	t.Helper()
	return postToken(t, k.URL, "nb", url.Values{"grant_type": {"refresh_token"}, "client_id": {"svc"},
		"client_secret": {"svc-secret-1"}, "refresh_token": {rt}}, want)
}

func nbUserinfo(t *testing.T, k *keygate, at string) int {
	t.Helper()
	return getJSON(t, k.URL+"/realms/nb/protocol/openid-connect/userinfo", at, nil)
}

// TestAdminLogoutEndsOfflineTokens: POST /users/{id}/logout sets the user's
// notBefore (Keycloak's UserResource.logout), so every token issued before
// it, offline ones included, is stale: the refresh is refused and the
// access token no longer opens userinfo.
func TestAdminLogoutEndsOfflineTokens(t *testing.T) {
	k, admin := notBeforeKeygate(t)
	off := nbTokens(t, k, "openid offline_access")
	on := nbTokens(t, k, "openid")
	realm, _ := k.st.GetRealmByName(t.Context(), "nb")
	carol, _ := k.st.GetUserByUsername(t.Context(), realm.ID, "carol")
	if s := nbUserinfo(t, k, off["access_token"].(string)); s != 200 {
		t.Fatalf("userinfo before logout: %d", s)
	}
	time.Sleep(1100 * time.Millisecond) // notBefore has a second's resolution
	if s, body := adminDo(t, "POST", k.URL+"/admin/realms/nb/users/"+carol.ID+"/logout", admin, nil); s != 204 {
		t.Fatalf("logout: %d %s", s, body)
	}
	nbRefresh(t, k, on["refresh_token"].(string), 400)
	nbRefresh(t, k, off["refresh_token"].(string), 400)
	if s := nbUserinfo(t, k, off["access_token"].(string)); s != 401 {
		t.Errorf("userinfo with the offline access token after logout: %d, want 401", s)
	}
	// A login after the logout works.
	nbRefresh(t, k, nbTokens(t, k, "openid offline_access")["refresh_token"].(string), 200)
}

// TestRealmNotBefore: a realm's notBefore (the admin console's "Revocation:
// set to now") makes every token issued before it stale: refresh,
// offline refresh, userinfo and introspection.
func TestRealmNotBefore(t *testing.T) {
	k, admin := notBeforeKeygate(t)
	off := nbTokens(t, k, "openid offline_access")
	on := nbTokens(t, k, "openid")
	time.Sleep(1100 * time.Millisecond)
	nb := time.Now().Unix()
	if s, body := adminDo(t, "PUT", k.URL+"/admin/realms/nb", admin, map[string]any{"realm": "nb", "notBefore": nb}); s != 204 {
		t.Fatalf("put realm: %d %s", s, body)
	}
	var rr map[string]any
	getJSON(t, k.URL+"/admin/realms/nb", admin, &rr)
	if n, _ := rr["notBefore"].(float64); int64(n) != nb {
		t.Fatalf("notBefore read back %v, want %d", rr["notBefore"], nb)
	}
	if s := nbUserinfo(t, k, on["access_token"].(string)); s != 401 {
		t.Errorf("userinfo with a token issued before notBefore: %d, want 401", s)
	}
	nbRefresh(t, k, on["refresh_token"].(string), 400)
	nbRefresh(t, k, off["refresh_token"].(string), 400)
	fresh := nbTokens(t, k, "openid")
	if s := nbUserinfo(t, k, fresh["access_token"].(string)); s != 200 {
		t.Errorf("userinfo with a fresh token: %d", s)
	}
	nbRefresh(t, k, fresh["refresh_token"].(string), 200)
}

func nbIntrospect(t *testing.T, k *keygate, token string) bool {
	t.Helper()
	resp, err := http.PostForm(k.URL+"/realms/nb/protocol/openid-connect/token/introspect", url.Values{
		"client_id": {"svc"}, "client_secret": {"svc-secret-1"}, "token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("introspect: %d %v", resp.StatusCode, err)
	}
	return out["active"] == true
}

// TestClientNotBefore: a client's notBefore (its "Revocation" tab) makes
// that client's earlier tokens stale, at introspection, userinfo and
// refresh, offline ones included; the token response and the realm's
// public info say the realm's notBefore, as Keycloak's do.
func TestClientNotBefore(t *testing.T) {
	k, admin := notBeforeKeygate(t)
	off := nbTokens(t, k, "openid offline_access")
	on := nbTokens(t, k, "openid")
	if !nbIntrospect(t, k, on["refresh_token"].(string)) || !nbIntrospect(t, k, on["access_token"].(string)) {
		t.Fatal("fresh tokens introspect inactive")
	}
	time.Sleep(1100 * time.Millisecond)
	var clients []map[string]any
	getJSON(t, k.URL+"/admin/realms/nb/clients?clientId=svc", admin, &clients)
	if len(clients) != 1 {
		t.Fatalf("clients: %v", clients)
	}
	c := clients[0]
	c["notBefore"] = time.Now().Unix()
	if s, body := adminDo(t, "PUT", k.URL+"/admin/realms/nb/clients/"+c["id"].(string), admin, c); s != 204 {
		t.Fatalf("put client: %d %s", s, body)
	}
	for name, tok := range map[string]string{"refresh": on["refresh_token"].(string), "offline": off["refresh_token"].(string),
		"access": on["access_token"].(string)} {
		if nbIntrospect(t, k, tok) {
			t.Errorf("%s token issued before the client's notBefore introspects active", name)
		}
	}
	if s := nbUserinfo(t, k, on["access_token"].(string)); s != 401 {
		t.Errorf("userinfo: %d, want 401", s)
	}
	nbRefresh(t, k, on["refresh_token"].(string), 400)
	nbRefresh(t, k, off["refresh_token"].(string), 400)
	fresh := nbTokens(t, k, "openid")
	if p := fresh["not-before-policy"]; p != float64(0) {
		t.Errorf("not-before-policy %v, want the realm's 0", p)
	}
	nbRefresh(t, k, fresh["refresh_token"].(string), 200)

	nb := time.Now().Unix()
	if s, body := adminDo(t, "PUT", k.URL+"/admin/realms/nb", admin, map[string]any{"realm": "nb", "notBefore": nb}); s != 204 {
		t.Fatalf("put realm: %d %s", s, body)
	}
	if p := nbTokens(t, k, "openid")["not-before-policy"]; p != float64(nb) {
		t.Errorf("not-before-policy %v, want %d", p, nb)
	}
	var info map[string]any
	getJSON(t, k.URL+"/realms/nb", "", &info)
	if p := info["tokens-not-before"]; p != float64(nb) {
		t.Errorf("tokens-not-before %v, want %d", p, nb)
	}
}

// TestRealmNotBeforeEndsSSOCookie: a realm's notBefore ends the browser's
// SSO too: an identity cookie issued before it signs no one in (Keycloak's
// verifyIdentityToken: "Identity cookie expired"), and a disabled user's
// cookie signs no one in either.
func TestRealmNotBeforeEndsSSOCookie(t *testing.T) {
	k, _, admin := newEventsKeygate(t)
	b := newBrowser(t)
	if status, cb, _ := b.passwordLogin(k, "carol", "carol-pass-1"); status/100 != 3 || cb.Query().Get("code") == "" {
		t.Fatalf("login: %d %s", status, cb)
	}
	if status, cb, _ := b.do(http.MethodGet, authorizeURL(k, url.Values{"prompt": {"none"}}), nil); status/100 != 3 || cb.Query().Get("code") == "" {
		t.Fatalf("SSO before notBefore: %d %s", status, cb)
	}
	time.Sleep(1100 * time.Millisecond)
	if s, body := adminDo(t, "PUT", k.URL+"/admin/realms/down", admin, map[string]any{"notBefore": time.Now().Unix()}); s != 204 {
		t.Fatalf("put realm: %d %s", s, body)
	}
	if status, cb, _ := b.do(http.MethodGet, authorizeURL(k, url.Values{"prompt": {"none"}}), nil); status/100 != 3 || cb.Query().Get("error") != "login_required" {
		t.Errorf("SSO after notBefore: %d %s, want login_required", status, cb)
	}
	// The log says why the cookie no longer signs in (at debug level).
	if !strings.Contains(k.log.String(), `"why":"issued before the realm's not-before"`) {
		t.Errorf("no debug line on the cookie refused by notBefore:\n%s", k.log)
	}
	// A new login gets a cookie that works.
	if status, cb, _ := b.passwordLogin(k, "carol", "carol-pass-1"); status/100 != 3 || cb.Query().Get("code") == "" {
		t.Fatalf("login after notBefore: %d %s", status, cb)
	}
	if status, cb, _ := b.do(http.MethodGet, authorizeURL(k, url.Values{"prompt": {"none"}}), nil); status/100 != 3 || cb.Query().Get("code") == "" {
		t.Fatalf("SSO with the new cookie: %d %s", status, cb)
	}
	realm, _ := k.st.GetRealmByName(t.Context(), "down")
	carol, _ := k.st.GetUserByUsername(t.Context(), realm.ID, "carol")
	if s, body := adminDo(t, "PUT", k.URL+"/admin/realms/down/users/"+carol.ID, admin, map[string]any{"enabled": false}); s != 204 {
		t.Fatalf("disable: %d %s", s, body)
	}
	if status, cb, _ := b.do(http.MethodGet, authorizeURL(k, url.Values{"prompt": {"none"}}), nil); cb.Query().Get("code") != "" {
		t.Errorf("SSO of a disabled user: %d %s, want no code", status, cb)
	}
}
