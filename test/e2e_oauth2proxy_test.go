//go:build e2e

package test

import (
	"bytes"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestE2EOAuth2Proxy puts the real oauth2-proxy (its keycloak-oidc provider,
// as dashboards are fronted in the field) between a browser and an
// upstream, with keygate as the identity provider: login through keygate's
// form with PKCE, roles and email reaching the upstream as headers,
// --allowed-role refusing a user without the role, a refresh of the session
// through keygate's refresh_token grant, and sign-out.
func TestE2EOAuth2Proxy(t *testing.T) {
	bin := os.Getenv("OAUTH2_PROXY_BIN")
	if bin == "" {
		t.Fatal("OAUTH2_PROXY_BIN is not set: run `make e2e`, which builds oauth2-proxy")
	}
	proxyAddr := freeAddr(t)
	proxy := "http://" + proxyAddr
	realmFile := filepath.Join(t.TempDir(), "dash.json")
	writeJSON(t, realmFile, dashRealm(proxy+"/oauth2/callback"))
	s := startServer(t, "", []string{"KC_BOOTSTRAP_ADMIN_USERNAME=admin", "KC_BOOTSTRAP_ADMIN_PASSWORD=admin-secret-pw"}, "--import-realm", realmFile)

	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := map[string]string{}
		for _, k := range []string{"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups", "X-Forwarded-Preferred-Username", "X-Forwarded-Access-Token"} {
			h[k] = r.Header.Get(k)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(h)
	}))
	t.Cleanup(upstream.Close)

	cmd := exec.Command(bin,
		"--http-address="+proxyAddr,
		"--provider=keycloak-oidc",
		"--oidc-issuer-url="+s.URL+"/realms/dash",
		"--client-id=dashboard", "--client-secret=dashboard-secret",
		"--redirect-url="+proxy+"/oauth2/callback",
		"--upstream="+upstream.URL,
		"--cookie-secret=0123456789abcdef0123456789abcdef",
		"--cookie-secure=false",
		"--cookie-refresh=1s",
		"--email-domain=*",
		"--skip-provider-button=true",
		"--code-challenge-method=S256",
		"--allowed-role=viewer",
		"--pass-access-token=true",
	)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("oauth2-proxy log:\n%s", lastLines(logs.String(), 60))
		}
	})
	waitHTTP(t, proxy+"/ping")

	// alice holds viewer: through keygate's form to the upstream.
	b := newBrowser(t)
	p := follow(t, b, proxy+"/")
	action, csrf := loginForm(t, s.URL, p)
	p = b.post(action, url.Values{"username": {"alice"}, "password": {"alice-dash-pw"}, "csrf_token": {csrf}})
	p = follow(t, b, resolve(t, action, p.location))
	if p.status != 200 {
		t.Fatalf("after login: %d %.300s", p.status, p.body)
	}
	var h map[string]string
	if err := json.Unmarshal([]byte(p.body), &h); err != nil {
		t.Fatalf("upstream answer %q: %v", p.body, err)
	}
	groups := strings.Split(h["X-Forwarded-Groups"], ",")
	if h["X-Forwarded-Email"] != "alice@example.com" || h["X-Forwarded-Preferred-Username"] != "alice" || !slices.Contains(groups, "role:viewer") ||
		!slices.Contains(groups, "role:dashboard:operator") {
		t.Errorf("upstream headers %v", h)
	}
	at := claimsOf(t, h["X-Forwarded-Access-Token"])
	aud := strs(at["aud"])
	if a, ok := at["aud"].(string); ok { // one audience is a string, as Keycloak writes it
		aud = []string{a}
	}
	if !slices.Contains(aud, "dashboard") || at["azp"] != "dashboard" {
		t.Errorf("access token aud %v azp %v", at["aud"], at["azp"])
	}

	// The session cookie outlives --cookie-refresh: oauth2-proxy refreshes
	// it with keygate's refresh_token grant and the upstream sees a new
	// access token for the same session.
	time.Sleep(2200 * time.Millisecond) // oauth2-proxy truncates the session's age to whole seconds
	p = b.get(proxy + "/")
	if p.status != 200 {
		t.Fatalf("after the cookie refresh period: %d %.300s", p.status, p.body)
	}
	var h2 map[string]string
	_ = json.Unmarshal([]byte(p.body), &h2)
	if h2["X-Forwarded-Access-Token"] == h["X-Forwarded-Access-Token"] {
		t.Error("oauth2-proxy did not refresh the session through keygate")
	} else if at2 := claimsOf(t, h2["X-Forwarded-Access-Token"]); at2["sid"] != at["sid"] {
		t.Errorf("refresh changed the session: %v -> %v", at["sid"], at2["sid"])
	}

	// Requests that arrive together once the refresh is due each make
	// oauth2-proxy (cookie session store) refresh with the same refresh
	// token. keygate's refresh tokens are reusable, as Keycloak's by
	// default (revokeRefreshToken off), so every one is served; with
	// single-use tokens all but the first refresh failed.
	time.Sleep(2200 * time.Millisecond)
	codes := make([]int, 6)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() {
			if resp, err := b.c.Get(proxy + "/"); err == nil {
				codes[i] = resp.StatusCode
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("concurrent requests due for a refresh: request %d got %d (all: %v)", i, c, codes)
			break
		}
	}

	// Sign-out drops oauth2-proxy's session: the next request goes back to
	// the identity provider.
	if p = b.get(proxy + "/oauth2/sign_out"); p.status/100 != 3 {
		t.Errorf("sign_out: %d", p.status)
	}
	if p = b.get(proxy + "/"); p.status/100 != 3 {
		t.Errorf("after sign-out: %d, want a redirect to log in", p.status)
	}

	// A StackState user carried over as it was (Helm values, unsalted md5)
	// signs in through oauth2-proxy with the old password; that login
	// replaced the md5 hash with a PBKDF2 credential.
	values := filepath.Join(t.TempDir(), "authentication.yaml")
	md5hex := fmt.Sprintf("%x", md5.Sum([]byte("ops-legacy-pw")))
	if err := os.WriteFile(values, []byte("stackstate:\n  authentication:\n    file:\n      logins:\n"+
		"        - username: ops\n          passwordHash: "+md5hex+"\n          roles: [ viewer, stackstate-admin ]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := usersImport(t, "--realm", "dash", "--db", "sqlite:"+s.DB, values); code != 0 {
		t.Fatalf("users import: %d %s %s", code, out, errOut)
	}
	// StackState's file had no emails, which oauth2-proxy requires: the
	// operator adds them through the admin API.
	setEmail(t, s, "dash", "ops", "ops@example.com")
	b = newBrowser(t)
	action, csrf = loginForm(t, s.URL, follow(t, b, proxy+"/"))
	p = b.post(action, url.Values{"username": {"ops"}, "password": {"ops-legacy-pw"}, "csrf_token": {csrf}})
	p = follow(t, b, resolve(t, action, p.location))
	h = nil
	if p.status != 200 || json.Unmarshal([]byte(p.body), &h) != nil {
		t.Fatalf("StackState user through oauth2-proxy: %d %.300s", p.status, p.body)
	}
	if groups := strings.Split(h["X-Forwarded-Groups"], ","); h["X-Forwarded-Preferred-Username"] != "ops" || !slices.Contains(groups, "role:stackstate-admin") {
		t.Errorf("StackState user's upstream headers %v", h)
	}
	onePolicyCredential(t, readCredentials(t, s.DB, "dash", "ops"))

	// bob lacks viewer: keygate logs him in, oauth2-proxy refuses him.
	b = newBrowser(t)
	action, csrf = loginForm(t, s.URL, follow(t, b, proxy+"/"))
	p = b.post(action, url.Values{"username": {"bob"}, "password": {"bob-dash-pw"}, "csrf_token": {csrf}})
	p = follow(t, b, resolve(t, action, p.location))
	if p.status != http.StatusForbidden {
		t.Errorf("bob without viewer: %d, want 403", p.status)
	}
}

// setEmail gives a user a verified email through the admin API, as the
// bootstrap admin.
func setEmail(t *testing.T, s *server, realm, username, email string) {
	t.Helper()
	code, body := postForm(t, s.URL+"/realms/master/protocol/openid-connect/token", url.Values{"grant_type": {"password"},
		"client_id": {"admin-cli"}, "username": {"admin"}, "password": {"admin-secret-pw"}})
	if code != 200 {
		t.Fatalf("admin token: %d %v", code, body)
	}
	auth := "Bearer " + body["access_token"].(string)
	req := mustReq(t, "GET", s.URL+"/admin/realms/"+realm+"/users?exact=true&username="+username, "")
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var users []map[string]any
	err = json.NewDecoder(resp.Body).Decode(&users)
	resp.Body.Close()
	if err != nil || len(users) != 1 {
		t.Fatalf("find %s: %v %v", username, users, err)
	}
	req = mustReq(t, "PUT", s.URL+"/admin/realms/"+realm+"/users/"+users[0]["id"].(string), `{"email":"`+email+`","emailVerified":true}`)
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	if code, body := do(t, req); code != 204 {
		t.Fatalf("set email: %d %v", code, body)
	}
}

// dashRealm is a realm with one oauth2-proxy client, configured as
// Keycloak's docs for oauth2-proxy ask: the client in its own access
// token's audience.
func dashRealm(redirect string) map[string]any {
	user := func(name, pw string, roles []string, clientRoles map[string][]string) map[string]any {
		return map[string]any{"username": name, "enabled": true, "email": name + "@example.com", "emailVerified": true,
			"credentials": []map[string]any{{"type": "password", "value": pw}},
			"realmRoles":  roles, "clientRoles": clientRoles}
	}
	return map[string]any{
		"realm": "dash", "enabled": true,
		"roles": map[string]any{
			"realm":  []map[string]any{{"name": "viewer"}},
			"client": map[string]any{"dashboard": []map[string]any{{"name": "operator"}}},
		},
		"clients": []map[string]any{{
			"clientId": "dashboard", "enabled": true, "secret": "dashboard-secret", "publicClient": false,
			"standardFlowEnabled": true, "redirectUris": []string{redirect},
			"protocolMappers": []map[string]any{{
				"name": "aud-self", "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper",
				"config": map[string]any{"included.client.audience": "dashboard", "access.token.claim": "true", "id.token.claim": "false"},
			}},
		}},
		"users": []map[string]any{
			user("alice", "alice-dash-pw", []string{"viewer"}, map[string][]string{"dashboard": {"operator"}}),
			user("bob", "bob-dash-pw", nil, nil),
		},
	}
}

// follow GETs u and follows redirects to the first answer that is not one.
func follow(t *testing.T, b *browser, u string) page {
	t.Helper()
	for range 10 {
		p := b.get(u)
		if p.status/100 != 3 || p.location == "" {
			return p
		}
		u = resolve(t, u, p.location)
	}
	t.Fatalf("too many redirects, last %s", u)
	return page{}
}

func resolve(t *testing.T, base, ref string) string {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	return r.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func waitHTTP(t *testing.T, u string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up: %v", u, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
