//go:build e2e

package test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestE2ESPAOidcClientTs drives Debian's Chromium (playwright-core) through
// a single-page app that uses the oidc-client-ts npm package, served from
// its own origin: discovery and JWKS by fetch (CORS), a PKCE login through
// the form, a silent renew by refresh token and by the prompt=none iframe,
// and an RP-initiated logout after which a silent renew fails. It also
// screenshots the welcome page at a phone and a desktop viewport.
func TestE2ESPAOidcClientTs(t *testing.T) {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatal("Debian chromium is required: apt-get install -y chromium (.ci/run installs it)")
	}
	npmInstall(t)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := "http://" + ln.Addr().String()
	var kgURL string
	mux := http.NewServeMux()
	mux.Handle("GET /oidc/", http.StripPrefix("/oidc/", http.FileServer(http.Dir("node/node_modules/oidc-client-ts/dist/browser"))))
	page := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, spaPage, kgURL+"/realms/spa", app, body)
		}
	}
	mux.HandleFunc("GET /{$}", page(spaHome))
	mux.HandleFunc("GET /callback.html", page(spaCallback))
	mux.HandleFunc("GET /silent.html", page(spaSilent))
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	realm := map[string]any{
		"realm": "spa", "enabled": true, "displayName": "Acme SPA",
		"clients": []map[string]any{{
			"clientId": "spa", "publicClient": true, "redirectUris": []string{app + "/*"}, "webOrigins": []string{"+"},
			"attributes": map[string]string{"post.logout.redirect.uris": "+", "pkce.code.challenge.method": "S256"},
		}},
		"users": []map[string]any{{
			"username": "sam", "enabled": true, "email": "sam@example.com", "firstName": "Sam", "lastName": "Page",
			"credentials": []map[string]any{{"type": "password", "value": "sam-pass"}},
		}},
	}
	data, _ := json.Marshal(realm)
	file := filepath.Join(t.TempDir(), "spa-realm.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", nil, "--import-realm", file)
	kgURL = s.URL
	runNode(t, "spa.test.mjs", "KEYGATE_URL="+s.URL, "APP_URL="+app)
}

// spaPage is the app's shell: oidc-client-ts's browser build and one
// UserManager; %[3]s is the page's own script. #status says where it is.
const spaPage = `<!doctype html><html><head><meta charset="utf-8"><title>spa</title>
<script src="/oidc/oidc-client-ts.min.js"></script></head><body>
<p id="status">loading</p>
<script>
const mgr = new oidc.UserManager({
  authority: %[1]q, client_id: 'spa', response_type: 'code', scope: 'openid profile email',
  redirect_uri: %[2]q + '/callback.html', silent_redirect_uri: %[2]q + '/silent.html',
  post_logout_redirect_uri: %[2]q + '/?loggedout=1', automaticSilentRenew: false, loadUserInfo: true,
  userStore: new oidc.WebStorageStateStore({ store: window.localStorage }),
});
window.mgr = mgr;
const status = (s) => { document.getElementById('status').textContent = s; };
%[3]s
</script></body></html>`

const spaHome = `mgr.getUser().then((u) => status(u && !u.expired ? 'signed-in:' + u.profile.preferred_username : 'anonymous'))
  .catch((e) => status('error:' + e.message));`

const spaCallback = `mgr.signinRedirectCallback().then((u) => status('signed-in:' + u.profile.preferred_username))
  .catch((e) => status('callback-error:' + e.message));`

const spaSilent = `mgr.signinSilentCallback().catch((e) => status('silent-error:' + e.message));`
