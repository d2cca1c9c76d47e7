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

// TestE2EBrowserKeycloakJS drives Debian's Chromium (playwright-core) through
// a page that uses the keycloak-js npm package against the real binary:
// login-required with PKCE S256 through the form, token refresh, SSO into a
// second client, prompt=none without a session, wrong password, logout.
func TestE2EBrowserKeycloakJS(t *testing.T) {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatal("Debian chromium is required: apt-get install -y chromium (.ci/run installs it)")
	}
	npmInstall(t)

	// The app: a static page plus keycloak-js's ES module, on its own origin.
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
		fmt.Fprintf(w, appPage, kgURL)
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	realm := map[string]any{
		"realm": "browser", "enabled": true, "displayName": "Acme Observability",
		"bruteForceProtected": true, "failureFactor": 10, "quickLoginCheckMilliSeconds": 1,
		"clients": []map[string]any{
			{"clientId": "kjs", "publicClient": true, "redirectUris": []string{app + "/*"}, "webOrigins": []string{"+"},
				"attributes": map[string]string{"post.logout.redirect.uris": "+", "pkce.code.challenge.method": "S256"}},
			{"clientId": "kjs2", "publicClient": true, "redirectUris": []string{app + "/*"}, "webOrigins": []string{"+"},
				"attributes": map[string]string{"post.logout.redirect.uris": "+"}},
		},
		"roles": map[string]any{"realm": []map[string]any{{"name": "viewer"}}},
		"users": []map[string]any{{
			"username": "eve", "enabled": true, "email": "eve@example.com", "firstName": "Eve", "lastName": "Moneypenny",
			"credentials": []map[string]any{{"type": "password", "value": "eve-pass"}}, "realmRoles": []string{"viewer"},
		}},
	}
	data, _ := json.Marshal(realm)
	file := filepath.Join(t.TempDir(), "browser-realm.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", nil, "--import-realm", file)
	kgURL = s.URL
	runNode(t, "browser.test.mjs", "KEYGATE_URL="+s.URL, "APP_URL="+app)
	for _, secret := range []string{"eve-pass"} {
		if strings.Contains(s.logs.String(), secret) {
			t.Error("the server log contains the password")
		}
	}
}

// appPage is a minimal keycloak-js app: ?client= picks the client id,
// ?mode=check-sso asks without forcing a login.
const appPage = `<!doctype html><html><head><meta charset="utf-8"><title>app</title></head><body>
<p id="status">loading</p>
<script type="module">
import Keycloak from '/kc/keycloak.js';
const q = new URLSearchParams(location.search);
const kc = new Keycloak({ url: %q, realm: 'browser', clientId: q.get('client') || 'kjs' });
window.kc = kc;
kc.onAuthLogout = () => { document.getElementById('status').textContent = 'logged-out-by-iframe'; };
kc.init({ onLoad: q.get('mode') || 'login-required', pkceMethod: 'S256', checkLoginIframe: true, checkLoginIframeInterval: 1 })
  .then(ok => { document.getElementById('status').textContent = ok ? 'authenticated:' + kc.tokenParsed.preferred_username : 'anonymous'; })
  .catch(e => { document.getElementById('status').textContent = 'init-error:' + JSON.stringify(e); });
</script></body></html>`
