package test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// fetch sends one request with extra headers and returns status, headers
// and body; redirects are not followed unless cl does.
func fetch(t *testing.T, cl *http.Client, method, u string, body url.Values, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(body.Encode())
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if cl == nil {
		cl = noRedirects
	}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// runKeygate runs the binary to its end and returns its combined output.
func runKeygate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
	return string(out), err
}

const httpsRequiredJSON = `{"error":"invalid_request","error_description":"HTTPS required"}`

// TestHTTPSRequired: realm "test" has sslRequired "external". Behind
// --proxy-headers xforwarded (no trusted list: every peer trusted, with a
// warning at start), a public client reaching keygate over plain http gets
// Keycloak's "HTTPS required" on every realm surface; the same client over
// https (forwarded proto) and local clients over http do not.
func TestHTTPSRequired(t *testing.T) {
	env := []string{"KC_BOOTSTRAP_ADMIN_USERNAME=admin", "KC_BOOTSTRAP_ADMIN_PASSWORD=admin-secret-pw"}
	s := startServer(t, "", env, "--import-realm", "testdata/realm-test.json", "--proxy-headers", "xforwarded")
	if !strings.Contains(s.logs.String(), "--proxy-trusted-addresses") {
		t.Errorf("no warning that forwarded headers are trusted from every peer:\n%s", s.logs.String())
	}
	public := map[string]string{"X-Forwarded-For": "203.0.113.5"}
	publicTLS := map[string]string{"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "sso.example.com"}
	privateHop := map[string]string{"X-Forwarded-For": "10.1.2.3"}
	oc := "/realms/test/protocol/openid-connect"
	grant := url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"}, "username": {"admin"}, "password": {"admin-secret-pw"}}
	carol := url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"carol-pass"}, "client_id": {"webapp"}, "client_secret": {"webapp-secret"}}

	code, _, body := fetch(t, nil, "POST", s.URL+"/realms/master/protocol/openid-connect/token", grant, nil)
	if code != 200 {
		t.Fatalf("admin login from loopback: %d %s", code, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal([]byte(body), &tok)
	bearer := map[string]string{"Authorization": "Bearer " + tok.AccessToken, "X-Forwarded-For": "203.0.113.5"}

	for _, c := range []struct {
		method, path string
		form         url.Values
		hdr          map[string]string
	}{
		{"GET", "/realms/test/.well-known/openid-configuration", nil, public},
		{"GET", "/auth/realms/test/.well-known/openid-configuration", nil, public},
		{"GET", oc + "/certs", nil, public},
		{"POST", oc + "/token", carol, public},
		{"POST", oc + "/token/introspect", url.Values{"token": {"x"}}, public},
		{"GET", oc + "/userinfo", nil, public},
		{"POST", "/realms/test/clients-registrations/openid-connect", nil, public},
		{"GET", "/admin/realms/test/users", nil, bearer},
		// No realm in the path: master's sslRequired applies through the token.
		{"GET", "/admin/realms", nil, bearer},
	} {
		code, h, body := fetch(t, nil, c.method, s.URL+c.path, c.form, c.hdr)
		if code != 403 || body != httpsRequiredJSON || h.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s from a public client over http: %d %q %s, want 403 %s", c.method, c.path, code, h.Get("Content-Type"), body, httpsRequiredJSON)
		}
	}
	for _, path := range []string{oc + "/auth?client_id=webapp&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fcb", "/auth" + oc + "/auth?client_id=webapp"} {
		code, h, body := fetch(t, nil, "GET", s.URL+path, nil, public)
		if code != 400 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(body, "HTTPS required") {
			t.Errorf("GET %s from a public client over http: %d %q, want the 400 error page", path, code, h.Get("Content-Type"))
		}
	}

	// The same client through a TLS-terminating proxy, and local clients.
	code, h, body := fetch(t, nil, "GET", s.URL+"/realms/test/.well-known/openid-configuration", nil, publicTLS)
	var doc struct{ Issuer string }
	_ = json.Unmarshal([]byte(body), &doc)
	if code != 200 || doc.Issuer != "https://sso.example.com/realms/test" {
		t.Errorf("public client over forwarded https: %d, issuer %q", code, doc.Issuer)
	}
	if got := h.Get("Strict-Transport-Security"); got != "max-age=31536000; includeSubDomains" {
		t.Errorf("https response: Strict-Transport-Security %q", got)
	}
	if code, _, body := fetch(t, nil, "POST", s.URL+oc+"/token", carol, publicTLS); code != 200 {
		t.Errorf("token over forwarded https: %d %s", code, body)
	}
	for _, hdr := range []map[string]string{nil, privateHop} {
		code, h, body := fetch(t, nil, "POST", s.URL+oc+"/token", carol, hdr)
		if code != 200 {
			t.Errorf("token from a local client (%v) over http: %d %s", hdr, code, body)
		}
		if got := h.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("http response carries Strict-Transport-Security %q", got)
		}
	}
}

// TestProxyTrustedAddresses: with --proxy-trusted-addresses, forwarded
// headers from any other peer are ignored: they neither change the issuer
// nor the client address sslRequired looks at. No warning at start.
func TestProxyTrustedAddresses(t *testing.T) {
	s := startServer(t, "", nil, "--import-realm", "testdata/realm-test.json", "--proxy-headers", "xforwarded",
		"--proxy-trusted-addresses", "10.0.0.0/8, 192.168.0.1")
	if strings.Contains(s.logs.String(), "--proxy-trusted-addresses") {
		t.Errorf("warned although trusted addresses are set:\n%s", s.logs.String())
	}
	// The test connects from 127.0.0.1, not a trusted proxy.
	forged := map[string]string{"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}
	code, _, body := fetch(t, nil, "GET", s.URL+"/realms/test/.well-known/openid-configuration", nil, forged)
	var doc struct{ Issuer string }
	_ = json.Unmarshal([]byte(body), &doc)
	if code != 200 || doc.Issuer != s.URL+"/realms/test" {
		t.Errorf("forwarded headers from an untrusted peer: %d, issuer %q, want 200 and %s/realms/test", code, doc.Issuer, s.URL)
	}

	for _, bad := range []string{"10.0.0.0/33", "proxy.example.com"} {
		out, err := runKeygate(t, "serve", "--http-addr", "127.0.0.1:0", "--db", "sqlite:"+filepath.Join(t.TempDir(), "x.db"), "--proxy-headers", "xforwarded", "--proxy-trusted-addresses", bad)
		if err == nil || !strings.Contains(out, "--proxy-trusted-addresses") {
			t.Errorf("--proxy-trusted-addresses %s: %v %s", bad, err, out)
		}
	}
	out, err := runKeygate(t, "serve", "--http-addr", "127.0.0.1:0", "--db", "sqlite:"+filepath.Join(t.TempDir(), "x.db"), "--proxy-trusted-addresses", "10.0.0.0/8")
	if err == nil || !strings.Contains(out, "--proxy-headers") {
		t.Errorf("--proxy-trusted-addresses without --proxy-headers: %v %s", err, out)
	}
}

// TestHTTPSOnlyRealm: a realm with sslRequired "all" refuses plain http even
// from loopback, and answers over the TLS listener, with HSTS there.
func TestHTTPSOnlyRealm(t *testing.T) {
	realm := filepath.Join(t.TempDir(), "strict.json")
	if err := os.WriteFile(realm, []byte(`{"realm":"strict","enabled":true,"sslRequired":"all"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", nil, "--import-realm", realm, "--https-addr", "127.0.0.1:0", "--https-self-signed")
	m := tlsListenRE.FindStringSubmatch(s.logs.String())
	if m == nil {
		t.Fatalf("no https listener in the log:\n%s", s.logs.String())
	}
	const disc = "/realms/strict/.well-known/openid-configuration"
	if code, h, body := fetch(t, nil, "GET", s.URL+disc, nil, nil); code != 403 || body != httpsRequiredJSON || h.Get("Strict-Transport-Security") != "" {
		t.Errorf("sslRequired all over http from loopback: %d %s (HSTS %q)", code, body, h.Get("Strict-Transport-Security"))
	}
	if code, _, body := fetch(t, nil, "GET", s.URL+"/realms/master/.well-known/openid-configuration", nil, nil); code != 200 {
		t.Errorf("master (external) over http from loopback: %d %s", code, body)
	}
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	code, h, body := fetch(t, cl, "GET", "https://"+m[1]+disc, nil, nil)
	if code != 200 {
		t.Errorf("sslRequired all over https: %d %s", code, body)
	}
	if got := h.Get("Strict-Transport-Security"); got != "max-age=31536000; includeSubDomains" {
		t.Errorf("https: Strict-Transport-Security %q", got)
	}
}

var mgmtListenRE = regexp.MustCompile(`msg="management listener" addr=(\S+)`)

// TestMetricsAddr: /metrics is not served on the public listener; with
// --metrics-addr a separate listener serves it and /health/*, which stay on
// the public listener too.
func TestMetricsAddr(t *testing.T) {
	s := startServer(t, "", nil)
	if code, _, _ := fetch(t, nil, "GET", s.URL+"/metrics", nil, nil); code != 404 {
		t.Errorf("/metrics on the public listener: %d, want 404", code)
	}
	s = startServer(t, "", nil, "--metrics-addr", "127.0.0.1:0")
	if code, _, _ := fetch(t, nil, "GET", s.URL+"/metrics", nil, nil); code != 404 {
		t.Errorf("/metrics on the public listener with --metrics-addr: %d, want 404", code)
	}
	m := mgmtListenRE.FindStringSubmatch(s.logs.String())
	if m == nil {
		t.Fatalf("no management listener in the log:\n%s", s.logs.String())
	}
	mgmt := "http://" + m[1]
	code, _, body := fetch(t, nil, "GET", mgmt+"/metrics", nil, nil)
	if code != 200 || !strings.Contains(body, `keygate_http_requests_total{code="200",route="GET /health/ready"}`) {
		t.Errorf("management /metrics: %d %.300s", code, body)
	}
	for _, base := range []string{s.URL, mgmt} {
		for _, p := range []string{"/health/live", "/health/ready"} {
			if code, _, body := fetch(t, nil, "GET", base+p, nil, nil); code != 200 || !strings.Contains(body, `"UP"`) {
				t.Errorf("%s%s: %d %s", base, p, code, body)
			}
		}
	}
	if code, _, _ := fetch(t, nil, "GET", mgmt+"/realms/master/.well-known/openid-configuration", nil, nil); code != 404 {
		t.Errorf("the management listener serves realms: %d", code)
	}
}

// TestMaxConnections: with --max-connections 2, two idle connections fill
// the public listener, so a third client waits (in the kernel's queue)
// until one closes, then is served; the management listener has no limit,
// so readiness probes get through meanwhile. A bad value is refused.
func TestMaxConnections(t *testing.T) {
	s := startServer(t, "", nil, "--max-connections", "2", "--metrics-addr", "127.0.0.1:0")
	m := mgmtListenRE.FindStringSubmatch(s.logs.String())
	if m == nil {
		t.Fatalf("no management listener in the log:\n%s", s.logs.String())
	}
	host := strings.TrimPrefix(s.URL, "http://")
	var idle []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	time.Sleep(100 * time.Millisecond) // both accepted
	quick := &http.Client{Timeout: 700 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := quick.Get(s.URL + "/health/live"); err == nil {
		resp.Body.Close()
		t.Fatalf("a third connection was served while two were open: %d", resp.StatusCode)
	}
	resp, err := quick.Get("http://" + m[1] + "/health/ready")
	if err != nil {
		t.Fatalf("the management listener is limited too: %v", err)
	}
	resp.Body.Close()
	idle[0].Close()
	slow := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err = slow.Get(s.URL + "/health/live")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after one idle connection closed: %v", err)
	}
	resp.Body.Close()

	out, err := exec.Command(binary, "serve", "--max-connections", "-1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--max-connections -1") {
		t.Errorf("--max-connections -1: %v %s", err, out)
	}
}

// TestForwardedClientAddressAgrees: behind a trusted proxy, the client
// address is the nearest X-Forwarded-For hop no trusted proxy vouches for
// (not the leftmost entry, which the client writes), and brute-force
// records, sslRequired and the access log all use that same address.
func TestForwardedClientAddressAgrees(t *testing.T) {
	env := []string{"KC_BOOTSTRAP_ADMIN_USERNAME=admin", "KC_BOOTSTRAP_ADMIN_PASSWORD=admin-secret-pw"}
	s := startServer(t, "", env, "--import-realm", "testdata/realm-test.json", "--proxy-headers", "xforwarded",
		"--proxy-trusted-addresses", "127.0.0.1")
	// The client claims to be 10.9.9.9; the proxy (127.0.0.1) appended the
	// address it saw, 198.51.100.23.
	hdr := map[string]string{"X-Forwarded-For": "10.9.9.9, 198.51.100.23"}
	wrong := url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"wrong"}, "client_id": {"webapp"}, "client_secret": {"webapp-secret"}}
	if code, _, body := fetch(t, nil, "POST", s.URL+"/realms/test/protocol/openid-connect/token", wrong, hdr); code != 403 || body != httpsRequiredJSON {
		t.Errorf("public client over http: %d %s, want HTTPS required", code, body)
	}
	hdr["X-Forwarded-Proto"] = "https"
	if code, _, body := fetch(t, nil, "POST", s.URL+"/realms/test/protocol/openid-connect/token", wrong, hdr); code != 401 {
		t.Fatalf("wrong password over https: %d %s", code, body)
	}
	if !strings.Contains(s.logs.String(), "ip=198.51.100.23") {
		t.Errorf("the access log does not show the client address:\n%s", lastLines(s.logs.String(), 5))
	}

	code, _, body := fetch(t, nil, "POST", s.URL+"/realms/master/protocol/openid-connect/token",
		url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"}, "username": {"admin"}, "password": {"admin-secret-pw"}}, nil)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &tok) != nil {
		t.Fatalf("admin login: %d %s", code, body)
	}
	auth := map[string]string{"Authorization": "Bearer " + tok.AccessToken}
	_, _, body = fetch(t, nil, "GET", s.URL+"/admin/realms/test/users?username=carol&exact=true", nil, auth)
	var users []struct{ ID string }
	if json.Unmarshal([]byte(body), &users) != nil || len(users) != 1 {
		t.Fatalf("carol: %s", body)
	}
	_, _, body = fetch(t, nil, "GET", s.URL+"/admin/realms/test/attack-detection/brute-force/users/"+users[0].ID, nil, auth)
	var bf struct {
		NumFailures   int
		LastIPFailure string
	}
	if err := json.Unmarshal([]byte(body), &bf); err != nil || bf.NumFailures != 1 || bf.LastIPFailure != "198.51.100.23" {
		t.Errorf("brute-force record: %s, want one failure from 198.51.100.23", body)
	}
}
