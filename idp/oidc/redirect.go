package oidc

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/keygate/keygate/idp/rep"
)

// Redirect URIs are matched as Keycloak matches them since CVE-2023-6291
// and CVE-2024-1132, and more strictly: the candidate is parsed, refused
// outright when a browser or the client could read it differently from
// us (userinfo, fragment, backslash, dot segments at any decoding depth),
// and a registered pattern's "*" only extends a path that ends in "/".
// Scheme, host and port are compared as parsed, never as string prefixes.

// maxDecode bounds the percent-decoding rounds (Keycloak decodes up to 5
// times); a path still changing after that is refused.
const maxDecode = 5

// URIError says why a configured redirect URI, web origin or post-logout
// redirect URI is refused.
type URIError struct {
	Field  string // "rootUrl", "redirectUris", "webOrigins" or "post.logout.redirect.uris"
	URI    string
	Reason string
}

func (e *URIError) Error() string {
	u := e.URI
	if len(u) > 200 {
		u = u[:200] + "..."
	}
	return fmt.Sprintf("Invalid %s entry %q: %s", e.Field, u, e.Reason)
}

const wildcardRule = "a wildcard is allowed only as the last character of the path, after a /"

// ValidateClient checks the URIs of a client representation with
// ValidateClientURIs (post.logout.redirect.uris is split on "##").
func ValidateClient(c *rep.Client) error {
	var post []string
	if v := c.Attributes["post.logout.redirect.uris"]; v != "" {
		post = strings.Split(v, "##")
	}
	return ValidateClientURIs(c.RootURL, c.RedirectURIs, c.WebOrigins, post)
}

// ValidateClientURIs checks a client's configured URIs before they are
// stored. Redirect and post-logout redirect URIs are absolute, or start
// with "/" (relative to rootUrl, or to the server when rootUrl is empty or
// "${authBaseUrl}" / "${authAdminUrl}"); they carry no userinfo, fragment,
// backslash or dot segment, and a "*" only as the last character of a path
// ending in "/". Post-logout redirect URIs may be "+" (the redirect URIs).
// Web origins are "+", "*" or an origin (scheme://host[:port]). The error
// is a *URIError.
func ValidateClientURIs(rootURL string, redirectURIs, webOrigins, postLogoutRedirectURIs []string) error {
	root := ""
	if rootURL != "" && !isPlaceholderRoot(rootURL) {
		u, reason := parseRedirect(rootURL)
		switch {
		case reason == "" && u.Opaque != "":
			reason = "not a hierarchical URI"
		case reason == "" && (u.RawQuery != "" || u.ForceQuery):
			reason = "has a query"
		}
		if reason != "" {
			return &URIError{"rootUrl", rootURL, reason}
		}
		root = strings.TrimSuffix(rootURL, "/")
	}
	check := func(field, raw string) error {
		if _, reason := parsePattern(resolveRelative(root, "http://keygate.invalid", raw)); reason != "" {
			return &URIError{field, raw, reason}
		}
		return nil
	}
	for _, u := range redirectURIs {
		if err := check("redirectUris", u); err != nil {
			return err
		}
	}
	for _, u := range postLogoutRedirectURIs {
		if u == "+" {
			continue
		}
		if err := check("post.logout.redirect.uris", u); err != nil {
			return err
		}
	}
	for _, o := range webOrigins {
		if o == "+" || o == "*" {
			continue
		}
		if _, reason := parseOrigin(o); reason != "" {
			return &URIError{"webOrigins", o, reason}
		}
	}
	return nil
}

func isPlaceholderRoot(root string) bool {
	return strings.HasPrefix(root, "${authBaseUrl}") || strings.HasPrefix(root, "${authAdminUrl}")
}

// resolveRelative makes a "/..." URI absolute as Keycloak does: against
// rootUrl (whose ${authBaseUrl} and ${authAdminUrl} name the server), or
// the server's base URL when rootUrl is empty.
func resolveRelative(root, base, u string) string {
	if !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//") {
		return u
	}
	for _, ph := range []string{"${authBaseUrl}", "${authAdminUrl}"} {
		if rest, ok := strings.CutPrefix(root, ph); ok {
			root = base + rest
		}
	}
	if root == "" {
		root = base
	}
	return strings.TrimSuffix(root, "/") + u
}

// redirectPattern is one registered redirect URI, parsed.
type redirectPattern struct {
	raw      string
	u        *url.URL // without the trailing "*"
	wildcard bool
	anyPort  bool // http on a loopback host without a port: RFC 8252 §7.3
}

// parsePattern parses an absolute registered redirect URI, or says why it
// is not acceptable.
func parsePattern(raw string) (*redirectPattern, string) {
	base, wildcard := strings.CutSuffix(raw, "*")
	if strings.Contains(base, "*") || raw == "*" {
		return nil, wildcardRule
	}
	u, reason := parseRedirect(base)
	if reason != "" {
		return nil, reason
	}
	if wildcard && (u.Opaque != "" || u.RawQuery != "" || u.ForceQuery || !strings.HasSuffix(u.Path, "/") || !strings.HasSuffix(base, "/")) {
		return nil, wildcardRule
	}
	p := &redirectPattern{raw: raw, u: u, wildcard: wildcard}
	p.anyPort = u.Scheme == "http" && u.Port() == "" && isLoopbackName(u.Hostname())
	return p, ""
}

// isLoopbackName reports the hosts Keycloak (and RFC 8252) treat as the
// native app's own machine.
func isLoopbackName(h string) bool {
	return strings.EqualFold(h, "localhost") || h == "127.0.0.1" || h == "::1"
}

// parseRedirect parses an absolute URI that a browser may be sent to, or
// says why doing so would be unsafe.
func parseRedirect(raw string) (*url.URL, string) {
	if raw == "" {
		return nil, "empty"
	}
	for i := 0; i < len(raw); i++ {
		switch b := raw[i]; {
		case b <= ' ' || b == 0x7f:
			return nil, "contains whitespace or a control character"
		case b == '\\':
			return nil, "contains a backslash"
		case b == '#':
			return nil, "has a fragment"
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "not a valid URI"
	}
	if u.Scheme == "" {
		return nil, "not absolute"
	}
	web := u.Scheme == "http" || u.Scheme == "https"
	if u.Opaque != "" {
		// urn:ietf:wg:oauth:2.0:oob and the like: exact match only. A
		// browser would read "https:host/x" as https://host/x.
		if web {
			return nil, "no host"
		}
		return u, ""
	}
	if u.User != nil {
		return nil, "has userinfo"
	}
	if web && u.Host == "" {
		return nil, "no host"
	}
	if auth, ok := rawAuthority(raw, u.Scheme); ok && strings.Contains(auth, "%") {
		return nil, "has a percent-encoded host"
	}
	if reason := checkPath(u.Path); reason != "" {
		return nil, reason
	}
	return u, ""
}

// rawAuthority returns the authority of raw as written, before Go decodes it.
func rawAuthority(raw, scheme string) (string, bool) {
	rest, ok := strings.CutPrefix(raw[len(scheme):], "://")
	if !ok {
		return "", false
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	return rest, true
}

// checkPath refuses dot segments and backslashes in a once-decoded path and
// in every further decoding of it: a client or proxy that decodes again
// must not find a way out of the registered path either.
func checkPath(p string) string {
	for range maxDecode {
		for seg := range strings.SplitSeq(p, "/") {
			// "..;x" is ".." to servlet containers (path parameters).
			if s, _, _ := strings.Cut(seg, ";"); s == "." || s == ".." {
				return "has a . or .. path segment"
			}
		}
		for i := 0; i < len(p); i++ {
			if p[i] == '\\' || p[i] < ' ' || p[i] == 0x7f {
				return "has an encoded backslash or control character"
			}
		}
		if !strings.Contains(p, "%") {
			return ""
		}
		d, err := url.PathUnescape(p)
		if err != nil {
			return "has an invalid percent-encoding"
		}
		if d == p {
			return ""
		}
		p = d
	}
	return "is percent-encoded too many times"
}

// match reports whether candidate c (parsed by parseRedirect from raw) is
// allowed by p.
func (p *redirectPattern) match(c *url.URL, raw string) bool {
	if p.u.Opaque != "" || c.Opaque != "" {
		return !p.wildcard && p.raw == raw
	}
	if p.u.Scheme != c.Scheme || !strings.EqualFold(p.u.Hostname(), c.Hostname()) {
		return false
	}
	if p.u.Port() != c.Port() && !p.anyPort {
		return false
	}
	if p.wildcard {
		// Keycloak ignores the query under a wildcard, and "/cb/*" also
		// matches "/cb".
		return strings.HasPrefix(c.Path, p.u.Path) || c.Path == strings.TrimSuffix(p.u.Path, "/")
	}
	if c.Path != p.u.Path && c.EscapedPath() != p.u.EscapedPath() {
		return false
	}
	return c.RawQuery == p.u.RawQuery && c.ForceQuery == p.u.ForceQuery
}

// redirectAllowed reports whether uri matches one of the absolute
// registered patterns. Invalid patterns match nothing.
func redirectAllowed(patterns []string, uri string) bool {
	c, reason := parseRedirect(uri)
	if reason != "" {
		return false
	}
	for _, raw := range patterns {
		if p, reason := parsePattern(raw); reason == "" && p.match(c, uri) {
			return true
		}
	}
	return false
}

// origin is a parsed web origin: lower-case scheme and host, and the port
// only when it is not the scheme's default (browsers omit it).
type origin struct{ scheme, host, port string }

// parseOrigin parses "scheme://host[:port]" (one trailing "/" tolerated, as
// Keycloak's console stores it), or says why it is not an origin.
func parseOrigin(raw string) (origin, string) {
	if strings.Contains(raw, "*") {
		return origin{}, `a web origin is "*", "+" or exact: scheme://host[:port]`
	}
	u, reason := parseRedirect(raw)
	switch {
	case reason != "":
		return origin{}, reason
	case u.Opaque != "" || u.Host == "":
		return origin{}, "no host"
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.ForceQuery:
		return origin{}, "an origin has no path or query"
	}
	o := origin{scheme: u.Scheme, host: strings.ToLower(u.Hostname()), port: u.Port()}
	if (o.scheme == "https" && o.port == "443") || (o.scheme == "http" && o.port == "80") {
		o.port = ""
	}
	return o, ""
}

// originOf is the origin a redirect pattern's page would send.
func originOf(p *redirectPattern) (origin, bool) {
	if p.u.Opaque != "" || p.u.Host == "" || (p.u.Scheme != "http" && p.u.Scheme != "https") {
		return origin{}, false
	}
	o, reason := parseOrigin(p.u.Scheme + "://" + p.u.Host)
	return o, reason == ""
}
