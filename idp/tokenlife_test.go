package idp_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/store/sqlstore"
)

// lifeKeygate is notBeforeKeygate's realm with a second confidential
// client "other", and a second realm "nb2" with the same client and user.
func lifeKeygate(t *testing.T) (k *keygate, admin string) {
	t.Helper()
	k, _, admin = newEventsKeygate(t)
	for _, name := range []string{"nb", "nb2"} {
		k.importRealm(t, `{"realm": "`+name+`", "enabled": true, "sslRequired": "none",
		"roles": {"realm": [{"name": "offline_access"}]},
		"clients": [{"clientId": "svc", "enabled": true, "secret": "svc-secret-1", "publicClient": false,
			"directAccessGrantsEnabled": true},
			{"clientId": "other", "enabled": true, "secret": "other-secret-1", "publicClient": false,
			"directAccessGrantsEnabled": true}],
		"users": [{"username": "carol", "enabled": true, "realmRoles": ["offline_access"],
			"credentials": [{"type": "password", "value": "carol-pass-1"}]}]}`)
	}
	return k, admin
}

// countTokens counts the stored refresh and offline tokens, spent ones too.
func countTokens(t *testing.T, k *keygate) int {
	t.Helper()
	var n int
	if err := k.st.(*sqlstore.Store).DB().QueryRowContext(t.Context(), `SELECT count(*) FROM tokens WHERE kind IN ('refresh', 'offline')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTokenLifecycleAttacks: tokens presented where they do not belong,
// and after what ends them, are refused.
func TestTokenLifecycleAttacks(t *testing.T) {
	k, admin := lifeKeygate(t)
	realm, _ := k.st.GetRealmByName(t.Context(), "nb")
	carol, _ := k.st.GetUserByUsername(t.Context(), realm.ID, "carol")
	userinfo := func(realm, tok string) int {
		return getJSON(t, k.URL+"/realms/"+realm+"/protocol/openid-connect/userinfo", tok, nil)
	}

	t.Run("refresh by another client", func(t *testing.T) {
		tok := nbTokens(t, k, "openid")
		postToken(t, k.URL, "nb", url.Values{"grant_type": {"refresh_token"}, "client_id": {"other"},
			"client_secret": {"other-secret-1"}, "refresh_token": {tok["refresh_token"].(string)}}, 400)
		nbRefresh(t, k, tok["refresh_token"].(string), 200) // and it was not spent by the attempt
	})
	t.Run("wrong token kinds as bearer", func(t *testing.T) {
		tok := nbTokens(t, k, "openid")
		for name, bad := range map[string]string{"id token": tok["id_token"].(string), "refresh token": tok["refresh_token"].(string)} {
			if s := userinfo("nb", bad); s != 401 {
				t.Errorf("userinfo with the %s: %d", name, s)
			}
			if s, _ := adminDo(t, "GET", k.URL+"/admin/realms/nb/users", bad, nil); s != 401 {
				t.Errorf("admin API with the %s: %d", name, s)
			}
			if s := getJSON(t, k.URL+"/realms/nb/account/", bad, nil); s != 401 {
				t.Errorf("account API with the %s: %d", name, s)
			}
		}
		if s := userinfo("nb2", tok["access_token"].(string)); s != 401 {
			t.Errorf("realm nb's access token at nb2's userinfo: %d", s)
		}
		if s := userinfo("nb", tok["access_token"].(string)); s != 200 {
			t.Errorf("userinfo with the access token: %d", s)
		}
	})
	t.Run("introspection by another client", func(t *testing.T) {
		tok := nbTokens(t, k, "openid")
		resp, err := http.PostForm(k.URL+"/realms/nb/protocol/openid-connect/token/introspect", url.Values{
			"client_id": {"other"}, "client_secret": {"other-secret-1"}, "token": {tok["refresh_token"].(string)}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		if out["active"] != false || len(out) != 1 {
			t.Errorf("svc's refresh token introspected by other: %v", out)
		}
	})
	t.Run("offline role removed", func(t *testing.T) {
		tok := nbTokens(t, k, "openid offline_access")
		var role map[string]any
		getJSON(t, k.URL+"/admin/realms/nb/roles/offline_access", admin, &role)
		if s, b := adminDo(t, "DELETE", k.URL+"/admin/realms/nb/users/"+carol.ID+"/role-mappings/realm", admin, []any{role}); s != 204 {
			t.Fatalf("remove role: %d %s", s, b)
		}
		defer adminDo(t, "POST", k.URL+"/admin/realms/nb/users/"+carol.ID+"/role-mappings/realm", admin, []any{role})
		nbRefresh(t, k, tok["refresh_token"].(string), 400)
	})
	t.Run("RP logout with the refresh token", func(t *testing.T) {
		tok := nbTokens(t, k, "openid")
		resp, err := http.PostForm(k.URL+"/realms/nb/protocol/openid-connect/logout", url.Values{"client_id": {"svc"},
			"client_secret": {"svc-secret-1"}, "refresh_token": {tok["refresh_token"].(string)}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 204 {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		nbRefresh(t, k, tok["refresh_token"].(string), 400)
		if s := userinfo("nb", tok["access_token"].(string)); s != 401 {
			t.Errorf("userinfo after logout: %d", s)
		}
		if nbIntrospect(t, k, tok["access_token"].(string)) {
			t.Error("access token introspects active after logout")
		}
	})
	t.Run("user disabled", func(t *testing.T) {
		tok := nbTokens(t, k, "openid offline_access")
		if s, b := adminDo(t, "PUT", k.URL+"/admin/realms/nb/users/"+carol.ID, admin, map[string]any{"enabled": false}); s != 204 {
			t.Fatalf("disable: %d %s", s, b)
		}
		nbRefresh(t, k, tok["refresh_token"].(string), 400)
		if s := userinfo("nb", tok["access_token"].(string)); s != 401 {
			t.Errorf("userinfo of a disabled user: %d", s)
		}
		if nbIntrospect(t, k, tok["access_token"].(string)) || nbIntrospect(t, k, tok["refresh_token"].(string)) {
			t.Error("a disabled user's token introspects active")
		}
		adminDo(t, "PUT", k.URL+"/admin/realms/nb/users/"+carol.ID, admin, map[string]any{"enabled": true})
	})
	t.Run("client disabled", func(t *testing.T) {
		tok := nbTokens(t, k, "openid offline_access")
		var clients []map[string]any
		getJSON(t, k.URL+"/admin/realms/nb/clients?clientId=svc", admin, &clients)
		c := clients[0]
		c["enabled"] = false
		if s, b := adminDo(t, "PUT", k.URL+"/admin/realms/nb/clients/"+c["id"].(string), admin, c); s != 204 {
			t.Fatalf("disable client: %d %s", s, b)
		}
		if s := userinfo("nb", tok["access_token"].(string)); s != 401 {
			t.Errorf("userinfo with a disabled client's token: %d", s)
		}
		c["enabled"] = true
		adminDo(t, "PUT", k.URL+"/admin/realms/nb/clients/"+c["id"].(string), admin, c)
	})
	revokeRefresh := func(t *testing.T, on bool) {
		t.Helper()
		if s, b := adminDo(t, "PUT", k.URL+"/admin/realms/nb", admin, map[string]any{"revokeRefreshToken": on}); s != 204 {
			t.Fatalf("revokeRefreshToken %v: %d %s", on, s, b)
		}
	}
	t.Run("refresh reuse revokes the family with revokeRefreshToken on", func(t *testing.T) {
		revokeRefresh(t, true)
		defer revokeRefresh(t, false)
		tok := nbTokens(t, k, "openid")
		next := nbRefresh(t, k, tok["refresh_token"].(string), 200)
		nbRefresh(t, k, tok["refresh_token"].(string), 400)
		nbRefresh(t, k, next["refresh_token"].(string), 400)
		if s := userinfo("nb", next["access_token"].(string)); s != 401 {
			t.Errorf("userinfo with the family's access token after reuse: %d", s)
		}
		// A reusable family (issued while it was off) turns single-use
		// at its next refresh: its older tokens are then a reuse.
		revokeRefresh(t, false)
		tok = nbTokens(t, k, "openid")
		revokeRefresh(t, true)
		next = nbRefresh(t, k, tok["refresh_token"].(string), 200)
		nbRefresh(t, k, tok["refresh_token"].(string), 400)
		nbRefresh(t, k, next["refresh_token"].(string), 400)
	})
	t.Run("refresh tokens are reusable with revokeRefreshToken off", func(t *testing.T) {
		// Keycloak's default: any refresh token of a live session works
		// until it expires, each refresh issues a new one, and a family
		// stays one stored row however often it is refreshed.
		for _, scope := range []string{"openid", "openid offline_access"} {
			tok := nbTokens(t, k, scope)
			first := tok["refresh_token"].(string)
			rows := countTokens(t, k)
			next := nbRefresh(t, k, first, 200)
			if next["refresh_token"] == first {
				t.Errorf("%s: a refresh returned the presented refresh token", scope)
			}
			again := nbRefresh(t, k, first, 200)
			nbRefresh(t, k, next["refresh_token"].(string), 200)
			codes := make([]int, 8)
			var wg sync.WaitGroup
			for i := range codes {
				wg.Go(func() {
					resp, err := http.PostForm(k.URL+"/realms/nb/protocol/openid-connect/token", url.Values{"grant_type": {"refresh_token"},
						"client_id": {"svc"}, "client_secret": {"svc-secret-1"}, "refresh_token": {first}})
					if err == nil {
						codes[i] = resp.StatusCode
						resp.Body.Close()
					}
				})
			}
			wg.Wait()
			for i, c := range codes {
				if c != 200 {
					t.Errorf("%s: concurrent refresh %d with one token: %d", scope, i, c)
				}
			}
			if n := countTokens(t, k); n != rows {
				t.Errorf("%s: %d stored tokens after 11 refreshes of one family, %d before", scope, n, rows)
			}
			if !nbIntrospect(t, k, first) {
				t.Errorf("%s: the first refresh token introspects inactive", scope)
			}
			for _, at := range []any{tok["access_token"], next["access_token"], again["access_token"]} {
				if s := userinfo("nb", at.(string)); s != 200 {
					t.Errorf("%s: userinfo: %d", scope, s)
				}
			}
			// Revoking any token of the family (RFC 7009) ends all of it.
			resp, err := http.PostForm(k.URL+"/realms/nb/protocol/openid-connect/revoke", url.Values{"client_id": {"svc"},
				"client_secret": {"svc-secret-1"}, "token": {again["refresh_token"].(string)}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			nbRefresh(t, k, first, 400)
			nbRefresh(t, k, next["refresh_token"].(string), 400)
			if s := userinfo("nb", next["access_token"].(string)); s != 401 {
				t.Errorf("%s: userinfo after the family was revoked: %d", scope, s)
			}
		}
	})
	t.Run("access token of a session past its max lifespan, not yet swept", func(t *testing.T) {
		tok := nbTokens(t, k, "openid")
		if s, b := adminDo(t, "PUT", k.URL+"/admin/realms/nb", admin, map[string]any{"ssoSessionMaxLifespan": 1}); s != 204 {
			t.Fatalf("ssoSessionMaxLifespan: %d %s", s, b)
		}
		defer adminDo(t, "PUT", k.URL+"/admin/realms/nb", admin, map[string]any{"ssoSessionMaxLifespan": 36000})
		time.Sleep(1100 * time.Millisecond)
		if s := userinfo("nb", tok["access_token"].(string)); s != 401 {
			t.Errorf("userinfo: %d", s)
		}
		if nbIntrospect(t, k, tok["access_token"].(string)) || nbIntrospect(t, k, tok["refresh_token"].(string)) {
			t.Error("a timed-out session's token introspects active")
		}
		nbRefresh(t, k, tok["refresh_token"].(string), 400)
	})
	t.Run("revocation by another client", func(t *testing.T) {
		tok := nbTokens(t, k, "openid")
		for _, which := range []string{"refresh_token", "access_token"} {
			resp, err := http.PostForm(k.URL+"/realms/nb/protocol/openid-connect/revoke", url.Values{"client_id": {"other"},
				"client_secret": {"other-secret-1"}, "token": {tok[which].(string)}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		if s := userinfo("nb", tok["access_token"].(string)); s != 200 {
			t.Errorf("other revoked svc's access token: userinfo %d", s)
		}
		next := nbRefresh(t, k, tok["refresh_token"].(string), 200)
		// svc's own revocation of its refresh token ends its access tokens.
		resp, err := http.PostForm(k.URL+"/realms/nb/protocol/openid-connect/revoke", url.Values{"client_id": {"svc"},
			"client_secret": {"svc-secret-1"}, "token": {next["refresh_token"].(string)}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		nbRefresh(t, k, next["refresh_token"].(string), 400)
		if s := userinfo("nb", next["access_token"].(string)); s != 401 {
			t.Errorf("userinfo after svc revoked its refresh token: %d", s)
		}
	})
	t.Run("refresh cannot widen to offline", func(t *testing.T) {
		tok := nbTokens(t, k, "openid")
		out := postToken(t, k.URL, "nb", url.Values{"grant_type": {"refresh_token"}, "client_id": {"svc"},
			"client_secret": {"svc-secret-1"}, "refresh_token": {tok["refresh_token"].(string)}, "scope": {"openid offline_access"}}, 200)
		if c := jwtClaims(t, out["refresh_token"].(string)); c["typ"] != "Refresh" || strings.Contains(out["scope"].(string), "offline") {
			t.Errorf("a refresh asking offline_access widened the grant: scope %v, refresh token %v", out["scope"], c)
		}
	})
	t.Run("user deleted", func(t *testing.T) {
		tok := nbTokens(t, k, "openid offline_access")
		if s, b := adminDo(t, "DELETE", k.URL+"/admin/realms/nb/users/"+carol.ID, admin, nil); s != 204 {
			t.Fatalf("delete: %d %s", s, b)
		}
		nbRefresh(t, k, tok["refresh_token"].(string), 400)
		if s := userinfo("nb", tok["access_token"].(string)); s != 401 {
			t.Errorf("userinfo of a deleted user: %d", s)
		}
		if nbIntrospect(t, k, tok["refresh_token"].(string)) {
			t.Error("a deleted user's offline token introspects active")
		}
	})
}

// TestLogoutHintMustBeIDToken: RP-initiated logout takes an ID token as
// id_token_hint, not an access token (Keycloak checks typ ID): an access
// token reaches every resource server it is sent to, and one of them
// would otherwise end the user's SSO session without a confirmation.
func TestLogoutHintMustBeIDToken(t *testing.T) {
	k, _ := lifeKeygate(t)
	logout := func(hint string) int {
		resp, err := http.Get(k.URL + "/realms/nb/protocol/openid-connect/logout?" + url.Values{"id_token_hint": {hint}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tok := nbTokens(t, k, "openid")
	if s := logout(tok["access_token"].(string)); s != http.StatusBadRequest {
		t.Errorf("logout with an access token as id_token_hint: %d, want 400", s)
	}
	next := nbRefresh(t, k, tok["refresh_token"].(string), 200) // the session lives
	if s := logout(next["id_token"].(string)); s != http.StatusOK {
		t.Errorf("logout with the ID token: %d", s)
	}
	nbRefresh(t, k, next["refresh_token"].(string), 400)
}

// TestOfflineLogoutKeepsSSOSession: a logout with an offline token ends
// its offline session, not the SSO session it began in (Keycloak's
// LogoutEndpoint.logoutToken logs the offline session out only).
func TestOfflineLogoutKeepsSSOSession(t *testing.T) {
	k, _ := lifeKeygate(t)
	realm, _ := k.st.GetRealmByName(t.Context(), "nb")
	off := nbTokens(t, k, "openid offline_access")
	sid, _ := jwtClaims(t, off["id_token"].(string))["sid"].(string)
	resp, err := http.PostForm(k.URL+"/realms/nb/protocol/openid-connect/logout", url.Values{"client_id": {"svc"},
		"client_secret": {"svc-secret-1"}, "refresh_token": {off["refresh_token"].(string)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	nbRefresh(t, k, off["refresh_token"].(string), 400)
	if _, err := k.st.GetSession(t.Context(), realm.ID, sid); err != nil {
		t.Errorf("the SSO session %s ended with the offline token's logout: %v", sid, err)
	}
}

// TestRecreatedClientDoesNotRevive: deleting a client ends its tokens, and
// a new client given the same clientId does not bring them back (its
// tokens were issued before it existed; Keycloak keeps them in client
// sessions of the deleted client's id).
func TestRecreatedClientDoesNotRevive(t *testing.T) {
	k, admin := lifeKeygate(t)
	tok := nbTokens(t, k, "openid offline_access")
	on := nbTokens(t, k, "openid")
	var clients []map[string]any
	getJSON(t, k.URL+"/admin/realms/nb/clients?clientId=svc", admin, &clients)
	if len(clients) != 1 {
		t.Fatalf("clients: %v", clients)
	}
	if s, b := adminDo(t, "DELETE", k.URL+"/admin/realms/nb/clients/"+clients[0]["id"].(string), admin, nil); s != 204 {
		t.Fatalf("delete client: %d %s", s, b)
	}
	if s := getJSON(t, k.URL+"/realms/nb/protocol/openid-connect/userinfo", on["access_token"].(string), nil); s != 401 {
		t.Errorf("userinfo with a deleted client's token: %d", s)
	}
	time.Sleep(1100 * time.Millisecond) // the new client is from a later second than the tokens
	if s, b := adminDo(t, "POST", k.URL+"/admin/realms/nb/clients", admin, map[string]any{"clientId": "svc", "enabled": true,
		"secret": "svc-secret-1", "publicClient": false, "directAccessGrantsEnabled": true}); s != 201 {
		t.Fatalf("create client: %d %s", s, b)
	}
	nbRefresh(t, k, tok["refresh_token"].(string), 400)
	nbRefresh(t, k, on["refresh_token"].(string), 400)
	if s := getJSON(t, k.URL+"/realms/nb/protocol/openid-connect/userinfo", on["access_token"].(string), nil); s != 401 {
		t.Errorf("userinfo with the old client's token after its clientId was reused: %d", s)
	}
	if nbIntrospect(t, k, on["access_token"].(string)) || nbIntrospect(t, k, tok["refresh_token"].(string)) {
		t.Error("the old client's tokens introspect active after its clientId was reused")
	}
	fresh := nbTokens(t, k, "openid")
	nbRefresh(t, k, fresh["refresh_token"].(string), 200)
}

// TestAccessTokenWithinSessionMax: an access token does not outlive its SSO
// session's max lifespan (Keycloak caps its exp there), so that a token
// taken just before the session's end is not good for a whole lifespan
// after it.
func TestAccessTokenWithinSessionMax(t *testing.T) {
	k, _, _ := newEventsKeygate(t)
	k.importRealm(t, `{"realm": "cap", "enabled": true, "sslRequired": "none", "ssoSessionMaxLifespan": 20,
		"accessTokenLifespan": 300,
		"clients": [{"clientId": "svc", "enabled": true, "secret": "svc-secret-1", "publicClient": false,
			"directAccessGrantsEnabled": true}],
		"users": [{"username": "carol", "enabled": true, "credentials": [{"type": "password", "value": "carol-pass-1"}]}]}`)
	tok := postToken(t, k.URL, "cap", url.Values{"grant_type": {"password"}, "client_id": {"svc"}, "client_secret": {"svc-secret-1"},
		"username": {"carol"}, "password": {"carol-pass-1"}, "scope": {"openid"}}, 200)
	for _, name := range []string{"access_token", "id_token"} {
		c := jwtClaims(t, tok[name].(string))
		if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat > 21 {
			t.Errorf("%s lives %vs past a 20s SSO session", name, exp-iat)
		}
	}
	if e, _ := tok["expires_in"].(float64); e > 21 {
		t.Errorf("expires_in %v past a 20s SSO session", e)
	}
}
