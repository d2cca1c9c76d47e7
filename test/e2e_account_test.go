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

// TestE2EAccountConsole drives Debian's Chromium (playwright-core) through
// the account console of the real binary: login through the realm's form
// (the console is client account-console, PKCE), every page at a phone
// and a desktop viewport (screenshots in test/out/account), a password
// change, signing out another session, and keycloak-js's
// accountManagement() landing on the console with a link back to the app.
func TestE2EAccountConsole(t *testing.T) {
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
		fmt.Fprintf(w, accountAppPage, kgURL)
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	user := func(name string) map[string]any {
		return map[string]any{"username": name, "enabled": true, "email": name + "@example.com", "firstName": strings.ToUpper(name[:1]) + name[1:],
			"lastName": "Moneypenny", "credentials": []map[string]any{{"type": "password", "value": name + "-pass-1"}},
			"clientRoles": map[string][]string{"account": {"manage-account", "view-profile"}}}
	}
	realm := map[string]any{
		"realm": "acctui", "enabled": true, "displayName": "Acme Observability", "passwordPolicy": "length(10) and digits(1)",
		"clients": []map[string]any{{"clientId": "kjs", "name": "Acme Dashboards", "publicClient": true, "redirectUris": []string{app + "/*"},
			"webOrigins": []string{"+"}, "attributes": map[string]string{"post.logout.redirect.uris": "+", "pkce.code.challenge.method": "S256"}}},
		"users": []map[string]any{user("eve"), user("max"), user("ida")},
		"identityProviders": []map[string]any{{"alias": "corp", "displayName": "Corporate SSO", "providerId": "oidc", "enabled": true,
			"config": map[string]string{"clientId": "kg", "clientSecret": "s", "authorizationUrl": "http://127.0.0.1:1/auth",
				"tokenUrl": "http://127.0.0.1:1/token", "issuer": "http://127.0.0.1:1"}}},
	}
	data, _ := json.Marshal(realm)
	file := filepath.Join(t.TempDir(), "acctui.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", nil, "--import-realm", file)
	kgURL = s.URL
	runNode(t, "account.test.mjs", "KEYGATE_URL="+s.URL, "APP_URL="+app)
	for _, secret := range []string{"eve-pass-1", "eve-pass-22", "max-pass-1", "ida-pass-1", "ida-pass-22"} {
		if strings.Contains(s.logs.String(), secret) {
			t.Error("the server log contains a password")
		}
	}
}

// accountAppPage is a keycloak-js app of realm acctui whose button calls
// accountManagement().
const accountAppPage = `<!doctype html><html><head><meta charset="utf-8"><title>app</title></head><body>
<p id="status">loading</p>
<button id="account" type="button">Manage account</button>
<script type="module">
import Keycloak from '/kc/keycloak.js';
const kc = new Keycloak({ url: %q, realm: 'acctui', clientId: 'kjs' });
window.kc = kc;
document.getElementById('account').onclick = () => kc.accountManagement();
kc.init({ onLoad: 'login-required', pkceMethod: 'S256', checkLoginIframe: false })
  .then(ok => { document.getElementById('status').textContent = ok ? 'authenticated:' + kc.tokenParsed.preferred_username : 'anonymous'; })
  .catch(e => { document.getElementById('status').textContent = 'init-error:' + JSON.stringify(e); });
</script></body></html>`
