package idp

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store/sqlite"
)

// Which client addresses count as local for sslRequired "external": those
// Keycloak's SslRequired.isLocal accepts (loopback, site-local, link-local,
// unique local IPv6), IPv4-mapped ones by their IPv4 address.
func TestLocalAddresses(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1":          true,
		"127.255.255.254":    true,
		"::1":                true,
		"10.0.0.1":           true,
		"10.255.255.255":     true,
		"172.16.0.1":         true,
		"172.31.255.255":     true,
		"172.15.255.255":     false,
		"172.32.0.1":         false,
		"192.168.1.10":       true,
		"192.169.0.1":        false,
		"169.254.169.254":    true, // link-local
		"fe80::1":            true,
		"fe80::1%eth0":       true,
		"fc00::1":            true, // unique local, RFC 4193
		"fd12:3456::1":       true,
		"fec0::1":            true, // deprecated IPv6 site-local, as Java counts it
		"::ffff:10.1.2.3":    true,
		"::ffff:127.0.0.1":   true,
		"::ffff:203.0.113.5": false,
		"203.0.113.5":        false,
		"8.8.8.8":            false,
		"100.64.0.1":         false, // carrier-grade NAT is not private to Keycloak either
		"0.0.0.0":            false,
		"::":                 false,
		"2001:db8::1":        false,
		"fbff::1":            false,
		"fe00::1":            false,
	} {
		if got := isLocal(netip.MustParseAddr(addr)); got != want {
			t.Errorf("isLocal(%s) = %v, want %v", addr, got, want)
		}
	}
	if isLocal(netip.Addr{}) {
		t.Error("an unknown address counts as local")
	}
}

func TestSSLRequiredModes(t *testing.T) {
	pub, priv := netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("192.168.0.2")
	for _, c := range []struct {
		mode      string
		pub, priv bool
	}{
		{"none", false, false},
		{"external", true, false},
		{"EXTERNAL", true, false},
		{"all", true, true},
		{"", true, false}, // Keycloak's default
		{"bogus", true, true},
	} {
		if got := httpsRequired(c.mode, pub); got != c.pub {
			t.Errorf("%q from a public address: %v, want %v", c.mode, got, c.pub)
		}
		if got := httpsRequired(c.mode, priv); got != c.priv {
			t.Errorf("%q from a private address: %v, want %v", c.mode, got, c.priv)
		}
	}
}

func TestParseTrustedAddresses(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "",
		"10.0.0.0/8":                "10.0.0.0/8",
		"10.0.0.0/8, 192.168.1.7":   "10.0.0.0/8,192.168.1.7/32",
		"fd00::/8,::1":              "fd00::/8,::1/128",
		" 172.16.0.0/12 ,":          "172.16.0.0/12",
		"10.1.2.3/8":                "10.0.0.0/8",
		"::ffff:10.0.0.1":           "10.0.0.1/32",
		"10.0.0.0/8,not-an-address": "error",
		"10.0.0.0/33":               "error",
		"proxy.example.com":         "error",
	} {
		got, err := ParseTrustedAddresses(in)
		var parts []string
		for _, p := range got {
			parts = append(parts, p.String())
		}
		s := strings.Join(parts, ",")
		if err != nil {
			s = "error"
		}
		if s != want {
			t.Errorf("ParseTrustedAddresses(%q) = %q (%v), want %q", in, s, err, want)
		}
	}
}

// One function decides scheme, host and client address; forwarded headers
// count only with --proxy-headers and only from a trusted peer, and the
// client address is the nearest one no trusted proxy vouches for.
func TestRequestOrigin(t *testing.T) {
	trusted := func(s string) []netip.Prefix {
		p, err := ParseTrustedAddresses(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	type want struct{ scheme, host, ip string }
	for _, c := range []struct {
		name    string
		peer    string
		tls     bool
		headers [][2]string
		proxy   bool
		trusted []netip.Prefix
		want    want
	}{
		{"plain", "203.0.113.5:4000", false, nil, false, nil, want{"http", "kg.example", "203.0.113.5"}},
		{"tls", "203.0.113.5:4000", true, nil, false, nil, want{"https", "kg.example", "203.0.113.5"}},
		{"headers ignored without --proxy-headers", "127.0.0.1:4000", false,
			[][2]string{{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "evil.example"}, {"X-Forwarded-For", "10.0.0.1"}},
			false, nil, want{"http", "kg.example", "127.0.0.1"}},
		{"any peer trusted without a list", "198.51.100.7:4000", false,
			[][2]string{{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "sso.example.com"}, {"X-Forwarded-For", "203.0.113.9, 10.0.0.2"}},
			true, nil, want{"https", "sso.example.com", "203.0.113.9"}},
		{"untrusted peer", "198.51.100.7:4000", false,
			[][2]string{{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "evil.example"}, {"X-Forwarded-For", "10.0.0.1"}},
			true, trusted("10.0.0.0/8"), want{"http", "kg.example", "198.51.100.7"}},
		{"trusted peer", "10.0.0.5:4000", false,
			[][2]string{{"X-Forwarded-Proto", "HTTPS"}, {"X-Forwarded-Host", "sso.example.com:8443"}, {"X-Forwarded-For", "203.0.113.9"}},
			true, trusted("10.0.0.0/8"), want{"https", "sso.example.com:8443", "203.0.113.9"}},
		{"a client cannot prepend a local address past the trusted chain", "10.0.0.5:4000", false,
			[][2]string{{"X-Forwarded-For", "127.0.0.1, 203.0.113.9, 10.0.0.6"}},
			true, trusted("10.0.0.0/8"), want{"http", "kg.example", "203.0.113.9"}},
		{"several X-Forwarded-For lines are one list", "10.0.0.5:4000", false,
			[][2]string{{"X-Forwarded-For", "127.0.0.1"}, {"X-Forwarded-For", "203.0.113.9"}},
			true, trusted("10.0.0.0/8"), want{"http", "kg.example", "203.0.113.9"}},
		{"ports and brackets in X-Forwarded-For", "10.0.0.5:4000", false,
			[][2]string{{"X-Forwarded-For", "[2001:db8::7]:5555"}},
			true, trusted("10.0.0.0/8"), want{"http", "kg.example", "2001:db8::7"}},
		{"garbage in X-Forwarded-For stops the walk", "10.0.0.5:4000", false,
			[][2]string{{"X-Forwarded-For", "203.0.113.9, unknown"}},
			true, trusted("10.0.0.0/8"), want{"http", "kg.example", "10.0.0.5"}},
		{"IPv4-mapped peer matches an IPv4 prefix", "[::ffff:10.0.0.5]:4000", false,
			[][2]string{{"X-Forwarded-For", "203.0.113.9"}},
			true, trusted("10.0.0.0/8"), want{"http", "kg.example", "203.0.113.9"}},
		{"bad proto and host values are ignored", "127.0.0.1:4000", false,
			[][2]string{{"X-Forwarded-Proto", "javascript"}, {"X-Forwarded-Host", "evil.example/path@x"}},
			true, nil, want{"http", "kg.example", "127.0.0.1"}},
		{"a forwarded http downgrades a TLS hop", "127.0.0.1:4000", true,
			[][2]string{{"X-Forwarded-Proto", "http"}},
			true, nil, want{"http", "kg.example", "127.0.0.1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://kg.example/realms/x", nil)
			r.RemoteAddr = c.peer
			if c.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for _, kv := range c.headers {
				r.Header.Add(kv[0], kv[1])
			}
			o := requestOrigin(r, c.proxy, c.trusted)
			if got := (want{o.scheme, o.host, o.ip.String()}); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// testServer is a Server over a fresh SQLite file with realms "ext"
// (sslRequired external), "all" and "none" and the master realm.
func testServer(t *testing.T, cfg Config) (*Server, http.Handler) {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := NewServer(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := Bootstrap(ctx, st, srv.Limiter(), "admin", "admin-secret-pw"); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]string{"ext": "external", "all": "all", "none": "none"} {
		doc := `{"realm":"` + name + `","enabled":true,"sslRequired":"` + mode + `"}`
		if _, err := rep.ImportRealm(ctx, st, []byte(doc), rep.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	srv.SetReady()
	return srv, srv.Handler()
}

// fakeToken is an unsigned JWT whose payload names iss: the sslRequired
// check reads the issuer only to pick the realm whose setting applies.
func fakeToken(iss string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"iss":"`+iss+`"}`)) + ".c2ln"
}

// sslRequired is enforced on every realm endpoint (also under /auth), the
// admin API (by the realm in the path and the realm of the bearer token) and
// client registration, with Keycloak's answers: 403 JSON invalid_request
// "HTTPS required" for APIs, a 400 error page for browser pages.
func TestSSLRequired(t *testing.T) {
	_, h := testServer(t, Config{})
	const public, private = "203.0.113.5:5000", "192.168.1.20:5000"
	oc := "/protocol/openid-connect"
	type check int
	const (
		pass check = iota // whatever the endpoint answers, not HTTPS required
		api               // 403 JSON
		page              // 400 HTML
	)
	for _, c := range []struct {
		method, path, peer string
		tls                bool
		header             map[string]string
		want               check
	}{
		{"GET", "/realms/ext/.well-known/openid-configuration", public, false, nil, api},
		{"GET", "/realms/ext/.well-known/openid-configuration", private, false, nil, pass},
		{"GET", "/realms/ext/.well-known/openid-configuration", "127.0.0.1:5000", false, nil, pass},
		{"GET", "/realms/ext/.well-known/openid-configuration", "[::1]:5000", false, nil, pass},
		{"GET", "/realms/ext/.well-known/openid-configuration", public, true, nil, pass},
		{"GET", "/auth/realms/ext/.well-known/openid-configuration", public, false, nil, api},
		{"GET", "/realms/ext", public, false, nil, api},
		{"GET", "/realms/ext" + oc + "/certs", public, false, nil, api},
		{"POST", "/realms/ext" + oc + "/token", public, false, nil, api},
		{"POST", "/realms/ext" + oc + "/token/introspect", public, false, nil, api},
		{"GET", "/realms/ext" + oc + "/userinfo", public, false, nil, api},
		{"POST", "/realms/ext" + oc + "/revoke", public, false, nil, api},
		{"OPTIONS", "/realms/ext" + oc + "/token", public, false, nil, pass}, // preflight: the real request gets the error
		{"GET", "/realms/ext" + oc + "/auth?client_id=x", public, false, nil, page},
		{"GET", "/auth/realms/ext" + oc + "/auth?client_id=x", public, false, nil, page},
		{"POST", "/realms/ext/login-actions/authenticate", public, false, nil, page},
		{"GET", "/realms/ext" + oc + "/logout", public, false, nil, page},
		{"POST", "/realms/ext" + oc + "/logout", public, false, map[string]string{"Accept": "text/html,application/xhtml+xml"}, page},
		{"POST", "/realms/ext" + oc + "/logout", public, false, nil, api},
		{"GET", "/realms/ext" + oc + "/login-status-iframe.html", public, false, nil, page},
		{"GET", "/realms/ext" + oc + "/3p-cookies/step1.html", public, false, nil, page},
		{"POST", "/realms/ext/clients-registrations/openid-connect", public, false, nil, api},
		{"GET", "/realms/ext/clients-registrations/default/some-client", public, false, nil, api},
		{"GET", "/realms/all/.well-known/openid-configuration", "127.0.0.1:5000", false, nil, api},
		{"GET", "/realms/all/.well-known/openid-configuration", private, true, nil, pass},
		{"GET", "/realms/none/.well-known/openid-configuration", public, false, nil, pass},
		{"GET", "/realms/nosuchrealm/.well-known/openid-configuration", public, false, nil, pass},
		// The admin API: the realm in the path, or the realm that issued the token.
		{"GET", "/admin/realms/ext", public, false, nil, api},
		{"GET", "/admin/realms/ext/users", public, false, nil, api},
		{"GET", "/auth/admin/realms/ext/users", public, false, nil, api},
		{"GET", "/admin/realms/none/users", public, false, nil, pass},
		{"GET", "/admin/realms/none/users", "127.0.0.1:5000", false, map[string]string{"Authorization": "Bearer " + fakeToken("http://kg.example/realms/all")}, api},
		{"GET", "/admin/realms", public, false, map[string]string{"Authorization": "Bearer " + fakeToken("http://kg.example/realms/ext")}, api},
		{"GET", "/admin/realms", public, false, map[string]string{"Authorization": "Bearer " + fakeToken("http://kg.example/auth/realms/none")}, pass},
		{"GET", "/admin/realms", public, false, map[string]string{"Authorization": "Bearer not-a-jwt"}, pass},
		// The admin API takes the scheme in any case; so does this check.
		{"GET", "/admin/realms", public, false, map[string]string{"Authorization": "bearer " + fakeToken("http://kg.example/realms/ext")}, api},
		// Not realm endpoints.
		{"GET", "/health/ready", public, false, nil, pass},
		{"GET", "/resources/keygate.css", public, false, nil, pass},
	} {
		req := httptest.NewRequest(c.method, "http://kg.example"+c.path, nil)
		req.RemoteAddr = c.peer
		if c.tls {
			req.TLS = &tls.ConnectionState{}
		}
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Body)
		name := c.method + " " + c.path + " from " + c.peer
		if c.tls {
			name += " over TLS"
		}
		isAPI := rec.Code == 403 && strings.Contains(string(body), `"HTTPS required"`)
		isPage := rec.Code == 400 && strings.Contains(rec.Header().Get("Content-Type"), "text/html") && strings.Contains(string(body), "HTTPS required")
		switch c.want {
		case pass:
			if isAPI || isPage || strings.Contains(string(body), "HTTPS required") {
				t.Errorf("%s: HTTPS required (%d %s)", name, rec.Code, body)
			}
		case api:
			var e map[string]string
			if err := json.Unmarshal(body, &e); err != nil || rec.Code != 403 || e["error"] != "invalid_request" || e["error_description"] != "HTTPS required" || len(e) != 2 {
				t.Errorf("%s: %d %s, want 403 {invalid_request, HTTPS required}", name, rec.Code, body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s: Content-Type %q", name, ct)
			}
		case page:
			if !isPage {
				t.Errorf("%s: %d %q %s, want the 400 error page", name, rec.Code, rec.Header().Get("Content-Type"), body)
			}
		}
	}
}

// A JSON "HTTPS required" carries CORS headers, as Keycloak's does, so a
// browser app sees the reason instead of an opaque CORS failure.
func TestSSLRequiredCORS(t *testing.T) {
	_, h := testServer(t, Config{})
	req := httptest.NewRequest("POST", "http://kg.example/realms/ext/protocol/openid-connect/token", nil)
	req.RemoteAddr = "203.0.113.5:5000"
	req.Header.Set("Origin", "https://app.example.com")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 403 || rec.Header().Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("%d, Access-Control-Allow-Origin %q", rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
	}
}

// With --proxy-headers, the forwarded proto and address decide; from a peer
// outside --proxy-trusted-addresses they count for nothing, for sslRequired
// and for the issuer alike.
func TestForwardedHeadersTrust(t *testing.T) {
	discover := func(h http.Handler, peer string, hdr map[string]string) (int, string) {
		req := httptest.NewRequest("GET", "http://kg.example/realms/ext/.well-known/openid-configuration", nil)
		req.RemoteAddr = peer
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var doc struct{ Issuer string }
		_ = json.Unmarshal(rec.Body.Bytes(), &doc)
		return rec.Code, doc.Issuer
	}
	fromPublic := map[string]string{"X-Forwarded-For": "203.0.113.5"}
	viaTLSProxy := map[string]string{"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "sso.example.com"}

	_, off := testServer(t, Config{})
	if code, iss := discover(off, "127.0.0.1:1", viaTLSProxy); code != 200 || iss != "http://kg.example/realms/ext" {
		t.Errorf("without --proxy-headers: %d %q", code, iss)
	}

	_, any := testServer(t, Config{ProxyHeaders: true})
	if code, _ := discover(any, "127.0.0.1:1", fromPublic); code != 403 {
		t.Errorf("forwarded public client over http: %d, want 403", code)
	}
	if code, iss := discover(any, "127.0.0.1:1", viaTLSProxy); code != 200 || iss != "https://sso.example.com/realms/ext" {
		t.Errorf("forwarded https: %d %q", code, iss)
	}

	trusted, err := ParseTrustedAddresses("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	_, some := testServer(t, Config{ProxyHeaders: true, TrustedProxies: trusted})
	if code, iss := discover(some, "10.1.1.1:1", viaTLSProxy); code != 200 || iss != "https://sso.example.com/realms/ext" {
		t.Errorf("trusted proxy: %d %q", code, iss)
	}
	if code, _ := discover(some, "10.1.1.1:1", fromPublic); code != 403 {
		t.Errorf("trusted proxy, public client over http: %d, want 403", code)
	}
	// An untrusted local peer: its headers are ignored, so neither the
	// forged client address nor the forged https/host apply.
	if code, iss := discover(some, "192.168.7.7:1", viaTLSProxy); code != 200 || iss != "http://kg.example/realms/ext" {
		t.Errorf("untrusted peer's forwarded headers: %d %q", code, iss)
	}
	if code, _ := discover(some, "198.51.100.1:1", map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https"}); code != 403 {
		t.Errorf("a public untrusted peer claiming a local client over https: %d, want 403", code)
	}
}

// Strict-Transport-Security on https responses only (Keycloak's default
// browser security header value).
func TestHSTS(t *testing.T) {
	_, h := testServer(t, Config{ProxyHeaders: true})
	for _, c := range []struct {
		tls   bool
		proto string
		want  string
	}{
		{false, "", ""},
		{true, "", "max-age=31536000; includeSubDomains"},
		{false, "https", "max-age=31536000; includeSubDomains"},
		{true, "http", ""},
	} {
		for _, path := range []string{"/realms/ext/.well-known/openid-configuration", "/health/live", "/nowhere"} {
			req := httptest.NewRequest("GET", "http://kg.example"+path, nil)
			req.RemoteAddr = "127.0.0.1:1"
			if c.tls {
				req.TLS = &tls.ConnectionState{}
			}
			if c.proto != "" {
				req.Header.Set("X-Forwarded-Proto", c.proto)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if got := rec.Header().Get("Strict-Transport-Security"); got != c.want {
				t.Errorf("%s tls=%v proto=%q: Strict-Transport-Security %q, want %q", path, c.tls, c.proto, got, c.want)
			}
		}
	}
}

// /metrics is not on the public handler; the management handler serves it
// and the health checks, which the public handler keeps too.
func TestMetricsOffPublicHandler(t *testing.T) {
	srv, h := testServer(t, Config{})
	get := func(h http.Handler, path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "http://kg.example"+path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := get(h, "/metrics"); code != 404 {
		t.Errorf("public /metrics: %d, want 404", code)
	}
	for _, p := range []string{"/health/live", "/health/ready"} {
		if code, _ := get(h, p); code != 200 {
			t.Errorf("public %s: %d", p, code)
		}
	}
	m := srv.ManagementHandler()
	if code, body := get(m, "/metrics"); code != 200 || !strings.Contains(body, "keygate_http_requests_total") {
		t.Errorf("management /metrics: %d %.200s", code, body)
	}
	for _, p := range []string{"/health/live", "/health/ready"} {
		if code, _ := get(m, p); code != 200 {
			t.Errorf("management %s: %d", p, code)
		}
	}
	if code, _ := get(m, "/realms/master"); code != 404 {
		t.Errorf("management listener serves realms: %d", code)
	}
}
