//go:build e2e

package test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestE2ERequiredActions drives Chromium through keycloak-js logins whose
// users have required actions: a temporary password forces the update
// page (policy errors shown), then keycloak-js gets its tokens; terms and
// profile in the realm's order; delete_account; the consent screen of a
// client with consentRequired (No, then Yes). Each new page is
// screenshotted at phone and desktop sizes (test/out/actions).
func TestE2ERequiredActions(t *testing.T) {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatal("Debian chromium is required: apt-get install -y chromium (.ci/run installs it)")
	}
	npmInstall(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("GET /kc/", http.StripPrefix("/kc/", http.FileServer(http.Dir("node/node_modules/keycloak-js/lib"))))
	var kgURL string
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, appPage, kgURL) // realm "browser"
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	actions := []map[string]any{}
	for i, a := range []string{"CONFIGURE_TOTP", "TERMS_AND_CONDITIONS", "UPDATE_PASSWORD", "UPDATE_PROFILE", "VERIFY_EMAIL", "delete_account"} {
		actions = append(actions, map[string]any{"alias": a, "providerId": a, "name": a, "enabled": true, "defaultAction": false,
			"priority": (i + 1) * 10, "config": map[string]string{}})
	}
	pw := func(v string, temporary bool) []map[string]any {
		return []map[string]any{{"type": "password", "value": v, "temporary": temporary}}
	}
	realm := map[string]any{
		"realm": "browser", "enabled": true, "displayName": "Acme Observability",
		"passwordPolicy":  "length(10) and digits(1) and notUsername(undefined) and passwordHistory(2)",
		"requiredActions": actions,
		"clients": []map[string]any{
			{"clientId": "kjs", "publicClient": true, "redirectUris": []string{app + "/*"}, "webOrigins": []string{"+"},
				"attributes": map[string]string{"post.logout.redirect.uris": "+", "pkce.code.challenge.method": "S256"}},
			{"clientId": "kjs-consent", "name": "Dashboards", "publicClient": true, "consentRequired": true,
				"redirectUris": []string{app + "/*"}, "webOrigins": []string{"+"}},
		},
		"users": []map[string]any{
			{"username": "wes", "enabled": true, "email": "wes@example.com", "firstName": "Wes", "lastName": "Anderson",
				"credentials": pw("wes-pass-12345", false)},
			{"username": "tina", "enabled": true, "email": "tina@example.com", "firstName": "Tina", "lastName": "Turner",
				"credentials": pw("Temporary-Pass-1", true)},
			{"username": "uma", "enabled": true, "email": "uma@example.com", "requiredActions": []string{"UPDATE_PROFILE", "TERMS_AND_CONDITIONS"},
				"credentials": pw("uma-pass-12345", false)},
			{"username": "vic", "enabled": true, "email": "vic@example.com", "firstName": "Vic", "lastName": "Reeves",
				"requiredActions": []string{"delete_account"}, "clientRoles": map[string][]string{"account": {"delete-account"}},
				"credentials": pw("vic-pass-12345", false)},
		},
	}
	data, _ := json.Marshal(realm)
	file := filepath.Join(t.TempDir(), "actions-realm.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", nil, "--import-realm", file)
	kgURL = s.URL
	runNode(t, "actions.test.mjs", "KEYGATE_URL="+s.URL, "APP_URL="+app)
	for _, secret := range []string{"Temporary-Pass-1", "Brand-New-Pass-1"} {
		if strings.Contains(s.logs.String(), secret) {
			t.Error("the server log contains a password")
		}
	}
}
