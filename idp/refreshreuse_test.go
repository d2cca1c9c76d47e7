package idp_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
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
