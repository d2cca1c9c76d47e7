package test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAccountAPIRefusesServiceAccounts: a client's service account holds
// the realm's default roles (account's manage-account among them), so its
// client_credentials token passed every check of the Account REST API and
// could rewrite the service account user's profile (email, names, with
// editUsernameAllowed its username) or list its sessions. Found by calling
// POST /account with such a token. Keycloak's AccountLoader refuses
// service accounts: "Service accounts are not allowed to access this
// service" (401).
func TestAccountAPIRefusesServiceAccounts(t *testing.T) {
	realm := map[string]any{"realm": "svc", "enabled": true, "editUsernameAllowed": true,
		"clients": []map[string]any{{"clientId": "robot", "secret": "robot-secret", "serviceAccountsEnabled": true,
			"standardFlowEnabled": false}}}
	data, _ := json.Marshal(realm)
	file := filepath.Join(t.TempDir(), "svc.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", nil, "--import-realm", file)
	code, tok := postForm(t, s.oc("svc")+"/token", url.Values{"grant_type": {"client_credentials"}}, "robot", "robot-secret")
	if code != 200 {
		t.Fatalf("client_credentials: %d %v", code, tok)
	}
	at, _ := tok["access_token"].(string)
	call := func(method, path, body string) int {
		req, _ := http.NewRequest(method, s.URL+"/realms/svc/account"+path, strings.NewReader(body))
		req.Header.Set("Accept", "application/json")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+at)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := call(http.MethodPost, "", `{"username":"admin","email":"admin@example.com","firstName":"A","lastName":"B"}`); st != http.StatusUnauthorized {
		t.Errorf("profile update by a service account: %d, want 401", st)
	}
	for _, p := range []string{"", "/credentials", "/sessions"} {
		if st := call(http.MethodGet, p, ""); st != http.StatusUnauthorized {
			t.Errorf("GET %q by a service account: %d, want 401", p, st)
		}
	}
}
