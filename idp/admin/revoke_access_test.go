package admin_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// TestRevokedOfflineAccessTokens: an offline session's access tokens skip
// the SSO session check (they outlive it), so revoking the offline session
// must also revoke them, as the logout endpoint does. Keycloak ends the
// offline user session they hang on, and userinfo refuses them at once.
func TestRevokedOfflineAccessTokens(t *testing.T) {
	e := newEnv(t)
	const realm = "offrev"
	e.realmWithUser(realm, "viewer", "view-users")
	userAdmin := e.userWithRoles(realm, "useradmin", "manage-users", "view-users")
	base := "/admin/realms/" + realm
	e.must(201, "POST", base+"/clients", e.admin, map[string]any{"clientId": "cli", "publicClient": true,
		"directAccessGrantsEnabled": true})
	alice := e.must(201, "POST", base+"/users", e.admin, map[string]any{"username": "alice", "enabled": true,
		"credentials": []map[string]any{{"type": "password", "value": "Passw0rd-alice"}}}).id()

	type tokens struct {
		Access  string `json:"access_token"`
		Session string `json:"session_state"`
	}
	offline := func() tokens {
		t.Helper()
		resp, err := client.PostForm(e.url+"/realms/"+realm+"/protocol/openid-connect/token", url.Values{
			"grant_type": {"password"}, "client_id": {"cli"}, "username": {"alice"}, "password": {"Passw0rd-alice"},
			"scope": {"openid offline_access"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tok tokens
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&tok) != nil || tok.Access == "" {
			t.Fatalf("offline grant: %d", resp.StatusCode)
		}
		return tok
	}
	userinfo := func(access string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", e.url+"/realms/"+realm+"/protocol/openid-connect/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+access)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	// Revoking the offline session (DELETE /sessions/{id}?isOffline=true).
	tok := offline()
	if code := userinfo(tok.Access); code != 200 {
		t.Fatalf("userinfo with a fresh offline access token: %d", code)
	}
	e.must(204, "DELETE", base+"/sessions/"+tok.Session+"?isOffline=true", userAdmin, nil)
	if code := userinfo(tok.Access); code != 401 {
		t.Errorf("userinfo after the offline session was revoked: %d, want 401", code)
	}

	// Revoking the user's grant to the client (DELETE .../consents/{client}).
	tok = offline()
	e.must(204, "DELETE", base+"/users/"+alice+"/consents/cli", userAdmin, nil)
	if code := userinfo(tok.Access); code != 401 {
		t.Errorf("userinfo after the grant was revoked: %d, want 401", code)
	}
}
