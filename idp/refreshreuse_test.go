package idp_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

// Attacks on reusable refresh token families (revokeRefreshToken off,
// Keycloak's default): every token of a family is stored as one row keyed
// "family:<request id>", renewed by each refresh.

// TestRefreshFamilyNotBefore: a notBefore ends every token of a reusable
// family issued before it, even after the family's row was renewed by a
// later token: Keycloak's NotBeforeCheck reads the presented token's iat,
// and the row's time is its newest token's.
func TestRefreshFamilyNotBefore(t *testing.T) {
	k, admin := lifeKeygate(t)
	scopes := []string{"openid", "openid offline_access"}
	old := make([]map[string]any, len(scopes))
	for i, scope := range scopes {
		old[i] = nbTokens(t, k, scope)
	}
	time.Sleep(1100 * time.Millisecond) // notBefore has a second's resolution
	next := make([]map[string]any, len(scopes))
	nb := int64(1 << 62)
	for i := range scopes {
		next[i] = nbRefresh(t, k, old[i]["refresh_token"].(string), 200)
		nb = min(nb, int64(jwtClaims(t, next[i]["refresh_token"].(string))["iat"].(float64)))
	}
	// "Revoke what was issued before nb" (the renewals are from nb's
	// second or later; the first tokens from a second before).
	if s, b := adminDo(t, "PUT", k.URL+"/admin/realms/nb", admin, map[string]any{"notBefore": nb}); s != 204 {
		t.Fatalf("put realm: %d %s", s, b)
	}
	for i, scope := range scopes {
		if nbIntrospect(t, k, old[i]["refresh_token"].(string)) {
			t.Errorf("%s: a refresh token issued before notBefore introspects active", scope)
		}
		if s := nbUserinfo(t, k, old[i]["access_token"].(string)); s != 401 {
			t.Errorf("%s: userinfo with an access token issued before notBefore: %d", scope, s)
		}
		if tok := tryRefresh(t, k, "nb", old[i]["refresh_token"].(string)); tok != nil {
			t.Errorf("%s: a refresh token issued before notBefore refreshed through its renewed family", scope)
		}
		// The renewal's token is from notBefore's second: not stale.
		nbRefresh(t, k, next[i]["refresh_token"].(string), 200)
	}
}

// tryRefresh refreshes with rt at realm's client svc and returns the new
// tokens, or nil when refused.
func tryRefresh(t *testing.T, k *keygate, realm, rt string) map[string]any {
	t.Helper()
	secret := "svc-secret-1"
	resp, err := http.PostForm(k.URL+"/realms/"+realm+"/protocol/openid-connect/token", url.Values{"grant_type": {"refresh_token"},
		"client_id": {"svc"}, "client_secret": {secret}, "refresh_token": {rt}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode == 200 {
		return out
	}
	if resp.StatusCode/100 != 4 {
		t.Errorf("refresh: %d %v", resp.StatusCode, out)
	}
	return nil
}

func postStatus(t *testing.T, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// resign returns tok with its payload's claims changed and its signature
// kept (no key: a forgery).
func resign(t *testing.T, tok string, set map[string]any) string {
	t.Helper()
	c := jwtClaims(t, tok)
	for k, v := range set {
		c[k] = v
	}
	raw, _ := json.Marshal(c)
	parts := strings.Split(tok, ".")
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
}

// TestRefreshFamilyForeignTokens: nothing but a refresh token of the
// realm names a family: the realm's internal HS512 tokens (the login
// attempt and SSO identity cookies, which share its HMAC key), ID and
// access tokens, another realm's refresh token, and a refresh token whose
// jti was rewritten are refused at the token, introspection, revocation
// and logout endpoints, and none of them touches the family.
func TestRefreshFamilyForeignTokens(t *testing.T) {
	k, _ := lifeKeygate(t)
	tok := postToken(t, k.URL, "down", url.Values{"grant_type": {"password"}, "client_id": {"svc"}, "client_secret": {"svc-secret-1"},
		"username": {"carol"}, "password": {"carol-pass-1"}, "scope": {"openid"}}, 200)
	rt := tok["refresh_token"].(string)
	victim := nbTokens(t, k, "openid") // another realm's family with the same client and user names

	foreign := map[string]string{"id token": tok["id_token"].(string), "access token": tok["access_token"].(string),
		"nb's refresh token": victim["refresh_token"].(string),
		// A refresh token of down whose jti names nb's family: the
		// signature no longer matches.
		"rewritten jti":          resign(t, rt, map[string]any{"jti": jwtClaims(t, victim["refresh_token"].(string))["jti"]}),
		"rewritten typ of an ID": resign(t, tok["id_token"].(string), map[string]any{"typ": "Refresh", "jti": jwtClaims(t, rt)["jti"]}),
	}
	b := newBrowser(t)
	b.do(http.MethodGet, authorizeURL(k, nil), nil)
	realmURL, _ := url.Parse(k.URL + "/realms/down/")
	for _, c := range b.c.Jar.Cookies(realmURL) {
		if strings.Count(c.Value, ".") == 2 {
			foreign["cookie "+c.Name] = c.Value
		}
	}
	if status, cb, _ := b.passwordLogin(k, "carol", "carol-pass-1"); status/100 != 3 || cb.Query().Get("code") == "" {
		t.Fatalf("login: %d %s", status, cb)
	}
	for _, c := range b.c.Jar.Cookies(realmURL) {
		if strings.Count(c.Value, ".") == 2 {
			foreign["cookie "+c.Name+" after login"] = c.Value
		}
	}
	if len(foreign) < 7 {
		t.Fatalf("no internal tokens among the browser's cookies: %v", foreign)
	}
	ep := k.URL + "/realms/down/protocol/openid-connect/"
	svc := url.Values{"client_id": {"svc"}, "client_secret": {"svc-secret-1"}}
	with := func(kv ...string) url.Values {
		f := url.Values{}
		for k, v := range svc {
			f[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	for name, bad := range foreign {
		if s, out := postStatus(t, ep+"token", with("grant_type", "refresh_token", "refresh_token", bad)); s != 400 {
			t.Errorf("%s as refresh token: %d %v", name, s, out)
		}
		if s, out := postStatus(t, ep+"token/introspect", with("token", bad)); s != 200 || (out["active"] == true && out["typ"] != "Bearer") {
			t.Errorf("%s introspected: %d %v", name, s, out)
		}
		if s, out := postStatus(t, ep+"logout", with("refresh_token", bad)); s != 400 {
			t.Errorf("%s as the logout's refresh token: %d %v", name, s, out)
		}
		if name != "access token" {
			postStatus(t, ep+"revoke", with("token", bad, "token_type_hint", "refresh_token"))
		}
	}
	// The families named or resembled are untouched.
	if next := tryRefresh(t, k, "down", rt); next == nil {
		t.Error("down's family died of the foreign tokens")
	}
	nbRefresh(t, k, victim["refresh_token"].(string), 200)
	if s := getJSON(t, k.URL+"/realms/down/protocol/openid-connect/userinfo", tok["access_token"].(string), nil); s != 200 {
		t.Errorf("down's access token after the foreign tokens: %d", s)
	}
}

// TestRefreshFamilyEndings: whatever ends a session ends every token of
// its reusable family, the first one as much as the newest, at refresh
// and introspection, and the access tokens issued from it.
func TestRefreshFamilyEndings(t *testing.T) {
	k, admin := lifeKeygate(t)
	realm, _ := k.st.GetRealmByName(t.Context(), "nb")
	carol, _ := k.st.GetUserByUsername(t.Context(), realm.ID, "carol")
	ep := k.URL + "/realms/nb/protocol/openid-connect/"
	svc := url.Values{"client_id": {"svc"}, "client_secret": {"svc-secret-1"}}
	form := func(k, v string) url.Values {
		f := url.Values{k: {v}}
		for n, x := range svc {
			f[n] = x
		}
		return f
	}
	var clients []map[string]any
	getJSON(t, k.URL+"/admin/realms/nb/clients?clientId=svc", admin, &clients)
	client := clients[0]
	setClient := func(enabled bool) {
		client["enabled"] = enabled
		if s, b := adminDo(t, "PUT", k.URL+"/admin/realms/nb/clients/"+client["id"].(string), admin, client); s != 204 {
			t.Fatalf("client enabled %v: %d %s", enabled, s, b)
		}
	}
	for _, c := range []struct {
		name, scope string
		end         func(t *testing.T, first, last map[string]any)
		after       func()
	}{
		{"RP logout with the first token", "openid", func(t *testing.T, first, _ map[string]any) {
			if s, out := postStatus(t, ep+"logout", form("refresh_token", first["refresh_token"].(string))); s != 204 {
				t.Fatalf("logout: %d %v", s, out)
			}
		}, nil},
		{"offline logout with the first token", "openid offline_access", func(t *testing.T, first, _ map[string]any) {
			if s, out := postStatus(t, ep+"logout", form("refresh_token", first["refresh_token"].(string))); s != 204 {
				t.Fatalf("logout: %d %v", s, out)
			}
		}, nil},
		{"revocation of the first token", "openid offline_access", func(t *testing.T, first, _ map[string]any) {
			if s, out := postStatus(t, ep+"revoke", form("token", first["refresh_token"].(string))); s != 200 {
				t.Fatalf("revoke: %d %v", s, out)
			}
		}, nil},
		{"admin deletes the session", "openid", func(t *testing.T, _, last map[string]any) {
			sid := jwtClaims(t, last["refresh_token"].(string))["sid"].(string)
			if s, b := adminDo(t, "DELETE", k.URL+"/admin/realms/nb/sessions/"+sid, admin, nil); s != 204 {
				t.Fatalf("delete session: %d %s", s, b)
			}
		}, nil},
		{"admin deletes the offline session", "openid offline_access", func(t *testing.T, _, last map[string]any) {
			sid := jwtClaims(t, last["refresh_token"].(string))["sid"].(string)
			if s, b := adminDo(t, "DELETE", k.URL+"/admin/realms/nb/sessions/"+sid+"?isOffline=true", admin, nil); s != 204 {
				t.Fatalf("delete offline session: %d %s", s, b)
			}
		}, nil},
		{"consent and offline tokens revoked", "openid offline_access", func(t *testing.T, _, _ map[string]any) {
			if s, b := adminDo(t, "DELETE", k.URL+"/admin/realms/nb/users/"+carol.ID+"/consents/svc", admin, nil); s != 204 {
				t.Fatalf("revoke consent: %d %s", s, b)
			}
		}, nil},
		{"client disabled", "openid offline_access", func(t *testing.T, _, _ map[string]any) { setClient(false) },
			func() { setClient(true) }},
		{"user disabled", "openid", func(t *testing.T, _, _ map[string]any) {
			if s, b := adminDo(t, "PUT", k.URL+"/admin/realms/nb/users/"+carol.ID, admin, map[string]any{"enabled": false}); s != 204 {
				t.Fatalf("disable: %d %s", s, b)
			}
		}, func() {
			adminDo(t, "PUT", k.URL+"/admin/realms/nb/users/"+carol.ID, admin, map[string]any{"enabled": true})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			first := nbTokens(t, k, c.scope)
			mid := nbRefresh(t, k, first["refresh_token"].(string), 200)
			last := nbRefresh(t, k, first["refresh_token"].(string), 200)
			c.end(t, first, last)
			if c.after != nil {
				defer c.after()
			}
			for i, tok := range []map[string]any{first, mid, last} {
				if tryRefresh(t, k, "nb", tok["refresh_token"].(string)) != nil {
					t.Errorf("refresh token %d of the family refreshed after it ended", i)
				}
				if c.name != "client disabled" && nbIntrospect(t, k, tok["refresh_token"].(string)) { // (a disabled client cannot introspect)
					t.Errorf("refresh token %d introspects active", i)
				}
				if s := nbUserinfo(t, k, tok["access_token"].(string)); s != 401 {
					t.Errorf("access token %d: userinfo %d", i, s)
				}
			}
		})
	}
}

// TestRefreshFamilyToggle: the realm's revokeRefreshToken turned on and
// off (twice) during a family's life never lets an old token back in.
// Tokens issued while it was on are single-use; a family that was made
// single-use keeps its spent row, and its tokens issued while it was off
// are then reuse, which revokes everything.
func TestRefreshFamilyToggle(t *testing.T) {
	k, admin := lifeKeygate(t)
	revoke := func(on bool) {
		t.Helper()
		if s, b := adminDo(t, "PUT", k.URL+"/admin/realms/nb", admin, map[string]any{"revokeRefreshToken": on}); s != 204 {
			t.Fatalf("revokeRefreshToken %v: %d %s", on, s, b)
		}
	}
	defer revoke(false)
	t.Run("off on off on", func(t *testing.T) {
		a := nbTokens(t, k, "openid")                          // off: family
		b := nbRefresh(t, k, a["refresh_token"].(string), 200) // family
		revoke(true)
		c := nbRefresh(t, k, b["refresh_token"].(string), 200) // single-use; family spent
		revoke(false)
		// c is single-use: its refresh begins a new family (a and b's
		// row is spent), and reviving neither a nor b.
		d := tryRefresh(t, k, "nb", c["refresh_token"].(string))
		if d == nil {
			t.Fatal("the newest token refused after the toggle back off")
		}
		for name, old := range map[string]string{"a": a["refresh_token"].(string), "b": b["refresh_token"].(string)} {
			if tryRefresh(t, k, "nb", old) != nil {
				t.Errorf("%s (off, spent while on) refreshed after the toggle back off", name)
			}
		}
		// That reuse revoked the family, c and d included.
		if tryRefresh(t, k, "nb", c["refresh_token"].(string)) != nil {
			t.Error("c refreshed after its family's reuse")
		}
		if tryRefresh(t, k, "nb", d["refresh_token"].(string)) != nil {
			t.Error("d refreshed after its family's reuse")
		}
		revoke(true)
		for name, old := range map[string]string{"a": a["refresh_token"].(string), "c": c["refresh_token"].(string)} {
			if tryRefresh(t, k, "nb", old) != nil {
				t.Errorf("%s refreshed after the second toggle on", name)
			}
		}
		revoke(false)
	})
	t.Run("on off on off", func(t *testing.T) {
		revoke(true)
		a := nbTokens(t, k, "openid offline_access") // single-use
		revoke(false)
		b := nbRefresh(t, k, a["refresh_token"].(string), 200) // a spent; b names a new family
		b2 := nbRefresh(t, k, b["refresh_token"].(string), 200)
		nbRefresh(t, k, b["refresh_token"].(string), 200) // reusable
		revoke(true)
		c := nbRefresh(t, k, b2["refresh_token"].(string), 200) // family spent; c single-use
		if tryRefresh(t, k, "nb", b["refresh_token"].(string)) != nil {
			t.Error("b (reusable while off) refreshed after the family was made single-use")
		}
		revoke(false)
		for name, old := range map[string]string{"a": a["refresh_token"].(string), "b": b["refresh_token"].(string),
			"b2": b2["refresh_token"].(string), "c": c["refresh_token"].(string)} {
			if tryRefresh(t, k, "nb", old) != nil {
				t.Errorf("%s refreshed after the family's reuse was detected", name)
			}
		}
		if s := nbUserinfo(t, k, c["access_token"].(string)); s != 401 {
			t.Errorf("the family's access token after reuse: userinfo %d", s)
		}
	})
	t.Run("concurrent refreshes across a toggle", func(t *testing.T) {
		a := nbTokens(t, k, "openid")
		var wg sync.WaitGroup
		var mu sync.Mutex
		var got []string
		for i := range 12 {
			wg.Go(func() {
				if i == 6 {
					revoke(true)
					return
				}
				if out := tryRefresh(t, k, "nb", a["refresh_token"].(string)); out != nil {
					mu.Lock()
					got = append(got, out["refresh_token"].(string))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		// Now on: every token of the family is single-use; at most one
		// of them still refreshes, once.
		won := 0
		for _, rt := range append(got, a["refresh_token"].(string)) {
			if tryRefresh(t, k, "nb", rt) != nil {
				won++
			}
		}
		if won > 1 {
			t.Errorf("%d tokens of one family refreshed once revokeRefreshToken was on", won)
		}
		revoke(false)
	})
}

// TestRefreshFamilyLogoutRace: refreshes with old and new tokens of a
// family racing a logout; once the logout has answered, no token of the
// family, including any the race issued, refreshes, and none of their
// access tokens opens userinfo.
func TestRefreshFamilyLogoutRace(t *testing.T) {
	k, _ := lifeKeygate(t)
	for _, scope := range []string{"openid", "openid offline_access"} {
		first := nbTokens(t, k, scope)
		second := nbRefresh(t, k, first["refresh_token"].(string), 200)
		var mu sync.Mutex
		issued := []string{first["refresh_token"].(string), second["refresh_token"].(string)}
		access := []string{first["access_token"].(string), second["access_token"].(string)}
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				for range 3 {
					mu.Lock()
					rt := issued[i%len(issued)]
					mu.Unlock()
					if out := tryRefresh(t, k, "nb", rt); out != nil {
						mu.Lock()
						issued = append(issued, out["refresh_token"].(string))
						access = append(access, out["access_token"].(string))
						mu.Unlock()
					}
				}
			})
		}
		time.Sleep(5 * time.Millisecond)
		if s, out := postStatus(t, k.URL+"/realms/nb/protocol/openid-connect/logout", url.Values{"client_id": {"svc"},
			"client_secret": {"svc-secret-1"}, "refresh_token": {first["refresh_token"].(string)}}); s != 204 {
			t.Fatalf("logout: %d %v", s, out)
		}
		wg.Wait()
		for i, rt := range issued {
			if tryRefresh(t, k, "nb", rt) != nil {
				t.Errorf("%s: token %d of %d refreshed after the logout", scope, i, len(issued))
			}
			if nbIntrospect(t, k, rt) {
				t.Errorf("%s: token %d of %d introspects active after the logout", scope, i, len(issued))
			}
		}
		for i, at := range access {
			if s := nbUserinfo(t, k, at); s != 401 {
				t.Errorf("%s: access token %d of %d: userinfo %d after the logout", scope, i, len(access), s)
			}
		}
	}
}

// TestRefreshFamilySweep: a family is one row however often it is
// refreshed, expiring with its newest token; the sweep keeps it while
// that token lives (an older one expiring changes nothing) and deletes it
// after.
func TestRefreshFamilySweep(t *testing.T) {
	k, admin := lifeKeygate(t)
	first := nbTokens(t, k, "openid")
	rows := countTokens(t, k)
	jti := jwtClaims(t, first["refresh_token"].(string))["jti"].(string)
	key := "family:" + jti[:strings.LastIndexByte(jti, '.')]
	// A longer idle timeout: the renewal's token outlives the first.
	if s, b := adminDo(t, "PUT", k.URL+"/admin/realms/nb", admin, map[string]any{"ssoSessionIdleTimeout": 7200}); s != 204 {
		t.Fatalf("put realm: %d %s", s, b)
	}
	var last map[string]any
	for range 5 {
		last = nbRefresh(t, k, first["refresh_token"].(string), 200)
	}
	if n := countTokens(t, k); n != rows {
		t.Errorf("%d stored tokens after 5 refreshes, %d before", n, rows)
	}
	firstExp := time.Unix(int64(jwtClaims(t, first["refresh_token"].(string))["exp"].(float64)), 0)
	lastExp := time.Unix(int64(jwtClaims(t, last["refresh_token"].(string))["exp"].(float64)), 0)
	row, err := k.st.GetToken(t.Context(), store.KindRefresh, key)
	if err != nil || !row.Expires.Truncate(time.Second).Equal(lastExp) {
		t.Fatalf("family row %v expires %v, want the newest token's %v", err, row.Expires, lastExp)
	}
	if _, err := k.st.DeleteExpiredTokens(t.Context(), firstExp.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := k.st.GetToken(t.Context(), store.KindRefresh, key); err != nil {
		t.Fatalf("the sweep past the first token's expiry took the family: %v", err)
	}
	if _, err := k.st.DeleteExpiredTokens(t.Context(), lastExp.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := k.st.GetToken(t.Context(), store.KindRefresh, key); err == nil {
		t.Fatal("the sweep past the newest token's expiry left the family")
	}
	nbRefresh(t, k, last["refresh_token"].(string), 400)
}

// TestRefreshFamilyBackOff: a family made single-use (revokeRefreshToken
// turned on) becomes reusable again when it is turned off, without
// reviving the tokens it had while it was first off: the session's newest
// token goes on refreshing (it was refused as "Stale token" for good,
// since its family's key was taken by the spent row), and an old one
// presented is still a reuse that ends everything.
func TestRefreshFamilyBackOff(t *testing.T) {
	k, admin := lifeKeygate(t)
	revoke := func(on bool) {
		t.Helper()
		if s, b := adminDo(t, "PUT", k.URL+"/admin/realms/nb", admin, map[string]any{"revokeRefreshToken": on}); s != 204 {
			t.Fatalf("revokeRefreshToken %v: %d %s", on, s, b)
		}
	}
	for _, scope := range []string{"openid", "openid offline_access"} {
		a := nbTokens(t, k, scope) // off: reusable
		revoke(true)
		c := nbRefresh(t, k, a["refresh_token"].(string), 200) // single-use
		revoke(false)
		d := nbRefresh(t, k, c["refresh_token"].(string), 200) // reusable again
		rows := countTokens(t, k)
		e := nbRefresh(t, k, d["refresh_token"].(string), 200)
		nbRefresh(t, k, d["refresh_token"].(string), 200)
		nbRefresh(t, k, e["refresh_token"].(string), 200)
		if n := countTokens(t, k); n != rows {
			t.Errorf("%s: %d stored tokens after 3 refreshes of the new family, %d before", scope, n, rows)
		}
		nbRefresh(t, k, c["refresh_token"].(string), 400) // single-use, spent: a reuse
		for name, tok := range map[string]map[string]any{"a": a, "d": d, "e": e} {
			if tryRefresh(t, k, "nb", tok["refresh_token"].(string)) != nil {
				t.Errorf("%s: %s refreshed after the reuse", scope, name)
			}
		}
		if s := nbUserinfo(t, k, e["access_token"].(string)); s != 401 {
			t.Errorf("%s: the family's access token after the reuse: userinfo %d", scope, s)
		}

		// And an old token of the first reusable period is a reuse too.
		a = nbTokens(t, k, scope)
		revoke(true)
		c = nbRefresh(t, k, a["refresh_token"].(string), 200)
		revoke(false)
		d = nbRefresh(t, k, c["refresh_token"].(string), 200)
		nbRefresh(t, k, a["refresh_token"].(string), 400)
		nbRefresh(t, k, d["refresh_token"].(string), 400)
	}
}

// TestRefreshFamilyOfflineIdle: an offline family ends when its offline
// session has been idle for the realm's offlineSessionIdleTimeout since
// its last refresh, or lived past its max lifespan, as the realm has them
// now, even for a token whose own exp (set under longer ones) is later, as
// Keycloak's offline session checks; an online family ends with its SSO
// session's idle timeout.
func TestRefreshFamilyOfflineIdle(t *testing.T) {
	k, admin := lifeKeygate(t)
	grant := func(realm, scope string) map[string]any {
		return postToken(t, k.URL, realm, url.Values{"grant_type": {"password"}, "client_id": {"svc"}, "client_secret": {"svc-secret-1"},
			"username": {"carol"}, "password": {"carol-pass-1"}, "scope": {scope}}, 200)
	}
	tokens := map[string]string{}
	for _, c := range []struct{ name, realm, scope string }{
		{"offline (idle)", "nb", "openid offline_access"}, {"online (idle)", "nb", "openid"},
		{"offline (max)", "nb2", "openid offline_access"},
	} {
		first := grant(c.realm, c.scope)
		next := postToken(t, k.URL, c.realm, url.Values{"grant_type": {"refresh_token"}, "client_id": {"svc"},
			"client_secret": {"svc-secret-1"}, "refresh_token": {first["refresh_token"].(string)}}, 200)
		tokens[c.realm+" "+c.name+" first"] = first["refresh_token"].(string)
		tokens[c.realm+" "+c.name+" newest"] = next["refresh_token"].(string)
	}
	for realm, set := range map[string]map[string]any{
		"nb":  {"offlineSessionIdleTimeout": 1, "ssoSessionIdleTimeout": 1},
		"nb2": {"offlineSessionMaxLifespanEnabled": true, "offlineSessionMaxLifespan": 1},
	} {
		if s, b := adminDo(t, "PUT", k.URL+"/admin/realms/"+realm, admin, set); s != 204 {
			t.Fatalf("put realm %s: %d %s", realm, s, b)
		}
	}
	time.Sleep(1100 * time.Millisecond)
	for name, rt := range tokens {
		if tryRefresh(t, k, strings.Fields(name)[0], rt) != nil {
			t.Errorf("%s token refreshed after its session's timeout", name)
		}
		if s, out := postStatus(t, k.URL+"/realms/"+strings.Fields(name)[0]+"/protocol/openid-connect/token/introspect", url.Values{
			"client_id": {"svc"}, "client_secret": {"svc-secret-1"}, "token": {rt}}); s != 200 || out["active"] != false {
			t.Errorf("%s token introspected after its session's timeout: %d %v", name, s, out)
		}
	}
}
