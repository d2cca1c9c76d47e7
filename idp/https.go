package idp

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/keygate/keygate/idp/oidc"
)

// ---- where a request comes from

// origin is what the server believes about one request: the scheme and host
// the client used and the client's address. requestOrigin decides it once,
// in the middleware; issuers, redirects, sslRequired, brute-force records
// and logs all read that one answer.
type origin struct {
	scheme string     // "http" or "https"
	host   string     // host[:port] the client addressed
	ip     netip.Addr // the client's address; invalid when unknown
}

// forwardedHeaders are the proxy headers keygate reads (--proxy-headers
// xforwarded) or removes, so that no handler reads them on its own.
var forwardedHeaders = []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "Forwarded"}

// requestOrigin decides scheme, host and client address for r. The
// listener gives them (TLS or not, Host, the peer address); with
// proxyHeaders, X-Forwarded-Proto, -Host and -For override them, but only
// when the peer is a trusted proxy: any peer when trusted is empty (serve
// warns at start), else a peer inside one of the trusted prefixes.
//
// The client address is found by walking X-Forwarded-For from the right,
// past the hops that are trusted proxies themselves: the leftmost entries
// are whatever the client sent, so a client cannot claim a local address
// past a trusted chain. With no trusted list every hop is trusted and the
// walk ends at the leftmost entry, as Keycloak reads the header.
func requestOrigin(r *http.Request, proxyHeaders bool, trusted []netip.Prefix) origin {
	o := origin{scheme: "http", host: r.Host, ip: peerAddr(r.RemoteAddr)}
	if r.TLS != nil {
		o.scheme = "https"
	}
	isTrusted := func(a netip.Addr) bool {
		if len(trusted) == 0 {
			return true
		}
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if !proxyHeaders || !o.ip.IsValid() || !isTrusted(o.ip) {
		return o
	}
	if v := strings.ToLower(firstValue(r.Header.Values("X-Forwarded-Proto"))); v == "http" || v == "https" {
		o.scheme = v
	}
	if v := firstValue(r.Header.Values("X-Forwarded-Host")); validHost(v) {
		o.host = v
	}
	var hops []string
	for _, line := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(line, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := hopAddr(strings.TrimSpace(hops[i]))
		if !ok {
			break // "unknown", obfuscated or garbage: the last known hop stands
		}
		o.ip = a
		if !isTrusted(a) {
			break
		}
	}
	return o
}

func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(remote); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// hopAddr parses one X-Forwarded-For entry: an address, with or without a
// port ("192.0.2.1:4711", "[2001:db8::1]:4711").
func hopAddr(s string) (netip.Addr, bool) {
	a := peerAddr(s)
	if !a.IsValid() {
		a = peerAddr(strings.Trim(s, "[]"))
	}
	return a, a.IsValid()
}

func firstValue(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	v, _, _ := strings.Cut(lines[0], ",")
	return strings.TrimSpace(v)
}

// validHost accepts a host[:port] fit for an issuer URL: no path, userinfo,
// query, whitespace or control characters.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for _, c := range h {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune(`/\@?#%"<>{}|^`+"`", c) {
			return false
		}
	}
	return true
}

// ParseTrustedAddresses parses --proxy-trusted-addresses: IP addresses and
// CIDR prefixes, comma-separated, as Keycloak 26's option of the same name.
func ParseTrustedAddresses(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("--proxy-trusted-addresses: %q: want an IP address or a CIDR prefix", f)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("--proxy-trusted-addresses: %q: want an IP address or a CIDR prefix", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// applyOrigin returns r as every handler should see it: Host and RemoteAddr
// set from o, the forwarded headers removed and X-Forwarded-Proto set to o's
// scheme (the OIDC provider runs with ProxyHeaders on and reads exactly
// these). r must be a copy the caller owns.
func applyOrigin(r *http.Request, o origin) {
	r.Host = o.host
	if o.ip.IsValid() {
		port := "0"
		if _, p, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			port = p
		}
		r.RemoteAddr = net.JoinHostPort(o.ip.String(), port)
	}
	for _, h := range forwardedHeaders {
		r.Header.Del(h)
	}
	r.Header.Set("X-Forwarded-Proto", o.scheme)
}

// ---- sslRequired

// isLocal reports whether a counts as a local client for sslRequired
// "external", as Keycloak's SslRequired.isLocal: loopback, RFC 1918 and
// IPv6 site-local (fec0::/10), link-local, and unique local IPv6 (fc00::/7).
func isLocal(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || ipv6SiteLocal.Contains(a)
}

var ipv6SiteLocal = netip.MustParsePrefix("fec0::/10")

// httpsRequired is Keycloak's SslRequired.isRequired: "none" never, "all"
// always, "external" unless the client is local. Anything else requires
// HTTPS, as Keycloak's default branch does.
func httpsRequired(mode string, client netip.Addr) bool {
	switch strings.ToLower(mode) {
	case "none":
		return false
	case "external", "":
		return !isLocal(client)
	}
	return true
}

// sslRealms names the realms whose sslRequired applies to r: the realm in
// a /realms/{realm}/... path (endpoints, login pages, client registration),
// or for the admin API the realm in /admin/realms/{realm}/... and the realm
// that issued the bearer token. The token is not verified here (the admin
// API does that); its iss only picks the realm, so a forged one can only
// make the request stricter or point at a realm whose rules then apply.
func sslRealms(r *http.Request) []string {
	path := r.URL.Path
	if rest, ok := strings.CutPrefix(path, "/realms/"); ok {
		if name, _, _ := strings.Cut(rest, "/"); name != "" {
			return []string{name}
		}
		return nil
	}
	var names []string
	if rest, ok := strings.CutPrefix(path, "/admin/realms/"); ok {
		if name, _, _ := strings.Cut(rest, "/"); name != "" {
			names = append(names, name)
		}
	} else if path != "/admin/realms" {
		return nil
	}
	if name := oidc.IssuerRealm(r.Header.Get("Authorization")); name != "" {
		names = append(names, name)
	}
	return names
}

// checkSSL answers "HTTPS required" and returns true when a realm that r
// concerns requires HTTPS and r came over plain http from a client the
// realm's sslRequired does not exempt. A realm that does not exist or cannot
// be read is skipped: its handler answers 404 or 503 itself.
func (s *Server) checkSSL(w http.ResponseWriter, r *http.Request, o origin) bool {
	if o.scheme == "https" || r.Method == http.MethodOptions {
		return false // a CORS preflight passes; the request itself gets the error
	}
	for _, name := range sslRealms(r) {
		set, err := s.oidc.RealmSettings(r.Context(), name)
		if err != nil || !httpsRequired(set.SSLRequired, o.ip) {
			continue
		}
		if browserPage(r) {
			s.login.RealmErrorPage(w, r, name, set.DisplayName, http.StatusBadRequest, "httpsRequiredMessage")
		} else {
			httpsRequiredJSON(w, r)
		}
		return true
	}
	return false
}

// browserPage tells the endpoints a person's browser navigates to, which get
// Keycloak's error page; every other endpoint is an API and gets JSON.
func browserPage(r *http.Request) bool {
	const oc = "/protocol/openid-connect/"
	_, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/realms/"), "/")
	switch {
	case strings.HasPrefix(rest, "login-actions/"),
		rest == oc[1:]+"auth",
		strings.HasPrefix(rest, oc[1:]+"login-status-iframe.html"),
		strings.HasPrefix(rest, oc[1:]+"3p-cookies/"):
		return true
	case rest == oc[1:]+"logout":
		// RP-initiated logout is a browser navigation (GET, or a form POST);
		// a POST from a back channel does not ask for HTML.
		return r.Method == http.MethodGet || strings.Contains(r.Header.Get("Accept"), "text/html")
	}
	return false
}

const httpsRequiredText = "HTTPS required" // Keycloak's httpsRequiredMessage and error_description

// httpsRequiredJSON is Keycloak's answer on its APIs: 403 invalid_request,
// with CORS for any origin so a browser app can read it.
func httpsRequiredJSON(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if o := r.Header.Get("Origin"); o != "" {
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte(`{"error":"invalid_request","error_description":"` + httpsRequiredText + `"}`))
}

// hstsValue is Keycloak's default Strict-Transport-Security header.
const hstsValue = "max-age=31536000; includeSubDomains"
