package oidc

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// The attacks of issue 9 §2: a wildcard was a string prefix, so the
// authority and dot segments escaped it.
func TestRedirectMatchRefusesIssue9Attacks(t *testing.T) {
	cases := []struct{ pattern, uri string }{
		{"https://app.example.com*", "https://app.example.com@evil.example/cb"},
		{"https://app.example.com*", "https://app.example.com.evil.example/cb"},
		{"https://app.example.com*", "https://app.example.com:8443/cb"},
		{"https://app.example.com/*", "https://app.example.com@evil.example/cb"},
		{"https://app.example.com/*", "https://app.example.com.evil.example/cb"},
		{"http://localhost:3000/*", "http://localhost:3000/../../evil"},
		{"http://localhost:3000/*", "http://localhost:3000/%2e%2e/evil"},
		{"http://localhost:3000/*", "http://localhost:3000/%2E%2E/%2e%2E/evil"},
		{"http://localhost:3000/*", "http://localhost:3000/..%2fevil"},
		{"http://localhost:3000/*", "http://localhost:3000/app/..%2F..%2Fevil"},
		{"http://localhost:3000/*", "http://localhost:3000/app%2F..%2F..%2Fevil"},
		{"http://localhost:3000/*", "http://localhost:3000/app/%252e%252e/evil"},
		{"http://localhost:3000/*", "http://localhost:3000/app/%25252e%25252e%25252fevil"},
		{"http://localhost:3000/*", "http://localhost:3000/app/..;/evil"},
		{"http://localhost:3000/*", "http://localhost:3000/app/./x"},
		{"http://localhost:3000/*", `http://localhost:3000/app\..\evil`},
		{"http://localhost:3000/*", "http://localhost:3000/app/%5c..%5cevil"},
		{"http://localhost:3000/*", "http://localhost:3000/app#@evil.example"},
		{"http://localhost:3000/*", "http://user:pw@localhost:3000/app"},
		{"http://localhost:3000/*", "http://localhost:3000@evil.example/app"},
		{"http://localhost:3000/*", "http://localhost:3001/app"},
		{"http://localhost:3000/*", "https://localhost:3000/app"},
		{"http://localhost:3000/*", "http://localhost/app"},
		{"http://localhost:3000/*", "http://localhost%2e:3000/app"},
		{"http://localhost:3000/*", "http://localhost:3000/app/%zz"},
		{"http://localhost:3000/*", "http://localhost:3000/%2525252525252e%2525252525252e/"},
		{"https://app.example.com/cb/*", "https://app.example.com/cbx"},
		{"https://app.example.com/cb/*", "https://app.example.com/cb/../admin"},
		{"https://app.example.com/cb/*", "https://app.example.com/c%62/%2e%2e/admin"},
	}
	for _, c := range cases {
		if redirectAllowed([]string{c.pattern}, c.uri) {
			t.Errorf("pattern %q accepted %q", c.pattern, c.uri)
		}
	}
}

// What held before must keep holding: an exact registration refuses every
// variant of itself.
func TestRedirectMatchExactRefusesVariants(t *testing.T) {
	const reg = "https://app.example.com/cb"
	for _, uri := range []string{
		"https://app.example.com/cb/",
		"https://app.example.com/cbx",
		"https://app.example.com/CB",
		"https://app.example.com/cb?next=https://evil.example",
		"https://app.example.com/cb?",
		"https://app.example.com/cb#x",
		"https://app.example.com/cb/../cb",
		"https://app.example.com/x/../cb",
		"http://app.example.com/cb",
		"https://app.example.com:8443/cb",
		"https://app.example.com@evil.example/cb",
		"https://evil.example/cb?https://app.example.com/cb",
		"https://app.example.com.evil.example/cb",
		"https://evil.example\\@app.example.com/cb",
		"//app.example.com/cb",
		"https:app.example.com/cb",
		" https://app.example.com/cb",
		"https://app.example.com/cb\t",
		"https://app.example.com/cb\n",
		"javascript:alert(1)//https://app.example.com/cb",
		"",
	} {
		if redirectAllowed([]string{reg}, uri) {
			t.Errorf("%q matched %q", reg, uri)
		}
	}
}

// What real clients register must keep working.
func TestRedirectMatchLegitimate(t *testing.T) {
	realm := &Realm{Row: store.Realm{Name: "master"}, Issuer: "https://sso.example.com/realms/master"}
	cases := []struct {
		name     string
		root     string
		patterns []string
		uri      string
	}{
		{"exact", "", []string{"https://app.example.com/cb"}, "https://app.example.com/cb"},
		{"host case", "", []string{"https://app.example.com/cb"}, "https://APP.Example.com/cb"},
		{"exact with its query", "", []string{"https://app.example.com/cb?tenant=a"}, "https://app.example.com/cb?tenant=a"},
		{"percent-encoded path, exactly", "", []string{"https://app.example.com/a%20b"}, "https://app.example.com/a%20b"},
		{"encoded slash not forming a dot segment", "", []string{"https://app.example.com/*"}, "https://app.example.com/foo/bar%20bar%2092%2F72/3"},
		{"keycloak-js login", "", []string{"http://localhost:8080/*"}, "http://localhost:8080/app/?state=x"},
		{"keycloak-js silent-check-sso", "", []string{"https://spa.example.com/*"}, "https://spa.example.com/silent-check-sso.html"},
		{"wildcard ignores the query", "", []string{"https://spa.example.com/*"}, "https://spa.example.com/app?tab=1&x=%2F.."},
		{"wildcard covers its directory", "", []string{"https://spa.example.com/app/*"}, "https://spa.example.com/app"},
		{"oauth2-proxy callback", "", []string{"https://proxy.example.com/oauth2/callback"}, "https://proxy.example.com/oauth2/callback"},
		{"admin console", "${authAdminUrl}", []string{"/admin/master/console/*"}, "https://sso.example.com/admin/master/console/"},
		{"admin console deep link", "${authAdminUrl}", []string{"/admin/master/console/*"}, "https://sso.example.com/admin/master/console/index.html"},
		{"account console", "${authBaseUrl}", []string{"/realms/master/account/*"}, "https://sso.example.com/realms/master/account/"},
		{"relative to rootUrl", "https://app.example.com/", []string{"/cb"}, "https://app.example.com/cb"},
		{"relative without rootUrl", "", []string{"/app/*"}, "https://sso.example.com/app/x"},
		{"loopback any port", "", []string{"http://127.0.0.1/callback"}, "http://127.0.0.1:53412/callback"},
		{"loopback ipv6 any port", "", []string{"http://[::1]/callback"}, "http://[::1]:61000/callback"},
		{"localhost any port", "", []string{"http://localhost/*"}, "http://localhost:4200/x"},
		{"loopback with a port", "", []string{"http://127.0.0.1:9999/cb"}, "http://127.0.0.1:9999/cb"},
		{"native app private scheme", "", []string{"com.example.app:/oauth2redirect"}, "com.example.app:/oauth2redirect"},
		{"native app private scheme wildcard", "", []string{"com.example.app:/cb/*"}, "com.example.app:/cb/done"},
		{"oob urn", "", []string{"urn:ietf:wg:oauth:2.0:oob"}, "urn:ietf:wg:oauth:2.0:oob"},
	}
	for _, c := range cases {
		cl := &Client{Settings: rep.ClientSettings{RootURL: c.root, RedirectURIs: c.patterns, PostLogoutRedirectURIs: []string{"+"}}}
		if !cl.allowsRedirect(realm, c.uri) {
			t.Errorf("%s: %v refused %q", c.name, c.patterns, c.uri)
		}
		if !cl.allowsPostLogoutRedirect(realm, c.uri) {
			t.Errorf("%s: post-logout %v refused %q", c.name, c.patterns, c.uri)
		}
		if err := ValidateClientURIs(c.root, c.patterns, nil, []string{"+"}); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	// Keycloak frees the port of loopback URIs registered without one only.
	if redirectAllowed([]string{"http://127.0.0.1:9999/cb"}, "http://127.0.0.1:9998/cb") {
		t.Error("a registered loopback port was ignored")
	}
	if redirectAllowed([]string{"https://127.0.0.1/cb"}, "https://127.0.0.1:8443/cb") {
		t.Error("any port was allowed for https loopback")
	}
	if redirectAllowed([]string{"http://localhost/cb"}, "http://127.0.0.1:8080/cb") {
		t.Error("localhost matched 127.0.0.1")
	}
	if redirectAllowed([]string{"com.example.app:/cb"}, "com.example.evil:/cb") {
		t.Error("another private-use scheme matched")
	}
}

func TestPostLogoutRedirectURIs(t *testing.T) {
	realm := &Realm{Row: store.Realm{Name: "r"}, Issuer: "https://sso.example.com/realms/r"}
	c := &Client{Settings: rep.ClientSettings{RedirectURIs: []string{"https://app.example.com/*"},
		PostLogoutRedirectURIs: []string{"https://other.example.com/bye"}}}
	for uri, want := range map[string]bool{
		"https://other.example.com/bye":          true,
		"https://app.example.com/":               false, // not "+": the redirect URIs do not count
		"https://other.example.com/bye/../admin": false,
		"https://other.example.com/bye?x=1":      false,
	} {
		if got := c.allowsPostLogoutRedirect(realm, uri); got != want {
			t.Errorf("%q: %v, want %v", uri, got, want)
		}
	}
	none := &Client{Settings: rep.ClientSettings{RedirectURIs: []string{"https://app.example.com/*"}}}
	if none.allowsPostLogoutRedirect(realm, "https://app.example.com/") {
		t.Error("a client without post.logout.redirect.uris allowed one")
	}
}

func TestValidateClientURIsRefuses(t *testing.T) {
	cases := []struct {
		root                     string
		redirects, origins, post []string
		field                    string
	}{
		{"", []string{"https://app.example.com*"}, nil, nil, "redirectUris"},
		{"", []string{"https://*.example.com/cb"}, nil, nil, "redirectUris"},
		{"", []string{"https://app.example.com:*/cb"}, nil, nil, "redirectUris"},
		{"", []string{"*://app.example.com/cb"}, nil, nil, "redirectUris"},
		{"", []string{"https://app.example.com/cb?x=*"}, nil, nil, "redirectUris"},
		{"", []string{"https://app.example.com/cb*"}, nil, nil, "redirectUris"},
		{"", []string{"https://app.example.com/*/cb"}, nil, nil, "redirectUris"},
		{"", []string{"*"}, nil, nil, "redirectUris"},
		{"", []string{"http://localhost:3000*"}, nil, nil, "redirectUris"},
		{"", []string{"https://user@app.example.com/cb"}, nil, nil, "redirectUris"},
		{"", []string{"https://app.example.com/cb#frag"}, nil, nil, "redirectUris"},
		{"", []string{`https://app.example.com\cb`}, nil, nil, "redirectUris"},
		{"", []string{"https://app.example.com/a/../cb"}, nil, nil, "redirectUris"},
		{"", []string{"https://app.example.com/a/%2e%2e/cb"}, nil, nil, "redirectUris"},
		{"", []string{"app.example.com/cb"}, nil, nil, "redirectUris"},
		{"", []string{"//app.example.com/cb"}, nil, nil, "redirectUris"},
		{"", []string{"https:///cb"}, nil, nil, "redirectUris"},
		{"https://a@evil.example", []string{"/cb"}, nil, nil, "rootUrl"},
		{"", nil, nil, []string{"https://app.example.com*"}, "post.logout.redirect.uris"},
		{"", nil, nil, []string{"https://app.example.com/../x"}, "post.logout.redirect.uris"},
		{"", nil, []string{"https://*.example.com"}, nil, "webOrigins"},
		{"", nil, []string{"https://app.example.com/path"}, nil, "webOrigins"},
		{"", nil, []string{"https://u@app.example.com"}, nil, "webOrigins"},
		{"", nil, []string{"app.example.com"}, nil, "webOrigins"},
	}
	for _, c := range cases {
		err := ValidateClientURIs(c.root, c.redirects, c.origins, c.post)
		var ue *URIError
		if !errors.As(err, &ue) || ue.Field != c.field || ue.Reason == "" {
			t.Errorf("%q %v %v %v: %v, want a %s error", c.root, c.redirects, c.origins, c.post, err, c.field)
		}
	}
	ok := &rep.Client{RootURL: "https://app.example.com", RedirectURIs: []string{"/cb/*", "https://app.example.com/login"},
		WebOrigins: []string{"+", "*", "https://other.example.com", "http://localhost:3000/"},
		Attributes: map[string]string{"post.logout.redirect.uris": "+##https://app.example.com/bye"}}
	if err := ValidateClient(ok); err != nil {
		t.Errorf("valid client: %v", err)
	}
	ok.Attributes["post.logout.redirect.uris"] = "+##https://app.example.com/bye*"
	if err := ValidateClient(ok); err == nil || !strings.Contains(err.Error(), "post.logout.redirect.uris") {
		t.Errorf("post-logout wildcard outside a path: %v", err)
	}
}

// Keycloak's built-in clients (relative URIs under ${authBaseUrl} and
// ${authAdminUrl}, "+" everywhere) pass the validator, so admin updates and
// imports of them keep working.
func TestValidateClientAcceptsBuiltinClients(t *testing.T) {
	for _, name := range []string{"master", "acme"} {
		for _, c := range rep.NewRealm(name).Clients {
			if err := ValidateClient(&c); err != nil {
				t.Errorf("%s/%s: %v", name, c.ClientID, err)
			}
		}
	}
}

func TestAllowsOrigin(t *testing.T) {
	realm := &Realm{Row: store.Realm{Name: "r"}, Issuer: "https://sso.example.com/realms/r"}
	c := &Client{Settings: rep.ClientSettings{RootURL: "https://root.example.com",
		RedirectURIs: []string{"https://a.example.com/cb", "http://localhost:3000/*", "/rel/*", "https://bad.example.com*"},
		WebOrigins:   []string{"+", "https://b.example.com/", "https://c.example.com:443"}}}
	for origin, want := range map[string]bool{
		"https://a.example.com":              true,
		"https://A.EXAMPLE.COM":              true,
		"http://localhost:3000":              true,
		"https://root.example.com":           true,
		"https://b.example.com":              true,
		"https://c.example.com":              true,
		"https://bad.example.com":            false, // an invalid pattern lends no origin
		"http://a.example.com":               false,
		"https://a.example.com:8443":         false,
		"http://localhost:3001":              false,
		"https://a.example.com.evil.example": false,
		"https://evil.example":               false,
		"null":                               false,
		"":                                   false,
	} {
		if got := c.allowsOrigin(realm, origin); got != want {
			t.Errorf("%q: %v, want %v", origin, got, want)
		}
	}
	any := &Client{Settings: rep.ClientSettings{WebOrigins: []string{"*"}}}
	if !any.allowsOrigin(realm, "https://whoever.example") {
		t.Error(`"*" refused an origin`)
	}
	if (&Client{}).allowsOrigin(realm, "https://a.example.com") {
		t.Error("a client without web origins allowed one")
	}
}

// FuzzRedirectMatch checks the matcher's invariants on arbitrary input: a
// match never carries userinfo, a fragment, a backslash or a dot segment,
// and has the pattern's scheme, host and port.
func FuzzRedirectMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"https://app.example.com/*", "https://app.example.com/cb"},
		{"https://app.example.com*", "https://app.example.com@evil.example/cb"},
		{"http://localhost:3000/*", "http://localhost:3000/%2e%2e/evil"},
		{"http://localhost:3000/*", "http://localhost:3000/..%2fevil"},
		{"http://127.0.0.1/cb", "http://127.0.0.1:5000/cb"},
		{"https://app.example.com/cb?x=1", "https://app.example.com/cb?x=1"},
		{"com.example.app:/cb/*", "com.example.app:/cb/x"},
		{"urn:ietf:wg:oauth:2.0:oob", "urn:ietf:wg:oauth:2.0:oob"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, uri string) {
		if !redirectAllowed([]string{pattern}, uri) {
			return
		}
		if strings.ContainsAny(uri, "#\\ \t\r\n") {
			t.Fatalf("%q matched %q: fragment, backslash or whitespace", pattern, uri)
		}
		u, err := url.Parse(uri)
		if err != nil {
			t.Fatalf("%q matched unparsable %q", pattern, uri)
		}
		p, err := url.Parse(strings.TrimSuffix(pattern, "*"))
		if err != nil {
			t.Fatalf("invalid pattern %q matched %q", pattern, uri)
		}
		if u.User != nil || u.Fragment != "" {
			t.Fatalf("%q matched %q with userinfo or fragment", pattern, uri)
		}
		if u.Opaque != "" || p.Opaque != "" {
			if pattern != uri {
				t.Fatalf("opaque %q matched %q", pattern, uri)
			}
			return
		}
		if u.Scheme != p.Scheme || !strings.EqualFold(u.Hostname(), p.Hostname()) {
			t.Fatalf("%q matched %q: scheme or host differs", pattern, uri)
		}
		loopbackAnyPort := p.Scheme == "http" && p.Port() == "" && isLoopbackName(p.Hostname())
		if u.Port() != p.Port() && !loopbackAnyPort {
			t.Fatalf("%q matched %q: port differs", pattern, uri)
		}
		for path, i := u.Path, 0; i < maxDecode; i++ {
			for seg := range strings.SplitSeq(path, "/") {
				if s, _, _ := strings.Cut(seg, ";"); s == "." || s == ".." {
					t.Fatalf("%q matched %q: dot segment", pattern, uri)
				}
			}
			if strings.Contains(path, `\`) {
				t.Fatalf("%q matched %q: encoded backslash", pattern, uri)
			}
			d, err := url.PathUnescape(path)
			if err != nil {
				t.Fatalf("%q matched %q: bad encoding", pattern, uri)
			}
			path = d
		}
		if strings.HasSuffix(pattern, "*") {
			if !strings.HasPrefix(u.Path, p.Path) && u.Path != strings.TrimSuffix(p.Path, "/") {
				t.Fatalf("%q matched %q outside its path", pattern, uri)
			}
		} else if u.RawQuery != p.RawQuery {
			t.Fatalf("exact %q matched %q with another query", pattern, uri)
		}
	})
}
