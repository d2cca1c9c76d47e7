package oidc

import (
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"testing"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

func TestSetClaimNestsAndMerges(t *testing.T) {
	m := map[string]any{}
	setClaim(m, "realm_access.roles", []string{"a", "b"})
	setClaim(m, "realm_access.roles", []any{"b", "c"})
	setClaim(m, `org\.acme.tenant`, "x")
	setClaim(m, "", map[string]any{"resource_access": map[string]any{"app": map[string]any{"roles": []any{"r"}}}})
	setClaim(m, "", map[string]any{"resource_access": map[string]any{"other": map[string]any{"roles": []any{"s"}}}})
	want := map[string]any{
		"realm_access":    map[string]any{"roles": []any{"a", "b", "c"}},
		"org.acme":        map[string]any{"tenant": "x"},
		"resource_access": map[string]any{"app": map[string]any{"roles": []any{"r"}}, "other": map[string]any{"roles": []any{"s"}}},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %#v\nwant %#v", m, want)
	}
}

func TestTyped(t *testing.T) {
	cases := []struct {
		v, label string
		want     any
	}{
		{"true", "boolean", true}, {"no", "boolean", false}, {"42", "long", int64(42)}, {"x", "int", "x"},
		{`{"a":1}`, "JSON", map[string]any{"a": 1.0}}, {"plain", "String", "plain"}, {"plain", "", "plain"},
	}
	for _, c := range cases {
		if got := typed(c.v, c.label); !reflect.DeepEqual(got, c.want) {
			t.Errorf("typed(%q, %q) = %#v, want %#v", c.v, c.label, got, c.want)
		}
	}
}

func TestRedirectMatching(t *testing.T) {
	reg := []string{"https://app.example/cb", "http://127.0.0.1:3000/*"}
	for uri, ok := range map[string]bool{
		"https://app.example/cb":            true,
		"https://app.example/cb/":           false,
		"https://app.example/cb?x=1":        false,
		"https://app.example/cbevil":        false,
		"http://127.0.0.1:3000/any/path":    true,
		"http://127.0.0.1:30001/":           false,
		"https://evil.example/?https://app": false,
	} {
		if got := redirectAllowed(reg, uri); got != ok {
			t.Errorf("redirectAllowed(%q) = %v, want %v", uri, got, ok)
		}
	}
}

func TestWebOrigins(t *testing.T) {
	c := &Client{Settings: rep.ClientSettings{
		RedirectURIs: []string{"https://a.example/cb", "https://a.example/other", "http://localhost:3000/*"},
		WebOrigins:   []string{"+", "https://b.example/"},
	}}
	want := []string{"https://a.example", "http://localhost:3000", "https://b.example"}
	if got := webOrigins(c); !reflect.DeepEqual(got, want) {
		t.Errorf("webOrigins = %v, want %v", got, want)
	}
}

func TestCheckPKCE(t *testing.T) {
	pub := &Client{Settings: rep.ClientSettings{PublicClient: true}}
	conf := &Client{}
	plainOK := &Client{Settings: rep.ClientSettings{PublicClient: true, PKCEMethod: "plain"}}
	form := func(ch, m string) url.Values { return url.Values{"code_challenge": {ch}, "code_challenge_method": {m}} }
	cases := []struct {
		name string
		c    *Client
		f    url.Values
		ok   bool
	}{
		{"public without PKCE", pub, url.Values{}, false},
		{"public with S256", pub, form("x", "S256"), true},
		{"public with plain", pub, form("x", "plain"), false},
		{"confidential without PKCE", conf, url.Values{}, true},
		{"client allowing plain", plainOK, form("x", "plain"), true},
		{"client allowing plain, S256", plainOK, form("x", "S256"), true},
	}
	for _, c := range cases {
		if err := checkPKCE(c.c, c.f); (err == nil) != c.ok {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
}

// The claims engine runs Keycloak's mappers: properties, attributes, roles
// with a client-id placeholder, groups with and without full paths, and the
// audience-resolve mapper (which skips the client itself).
func TestComputeClaims(t *testing.T) {
	m := &realmModel{scopes: map[string]*rep.ClientScope{
		"roles": {Name: "roles", Attributes: map[string]string{"include.in.token.scope": "false"}, ProtocolMappers: []rep.ProtocolMapper{
			{ProtocolMapper: "oidc-usermodel-realm-role-mapper", Config: map[string]string{"claim.name": "realm_access.roles", "multivalued": "true", "access.token.claim": "true"}},
			{ProtocolMapper: "oidc-usermodel-client-role-mapper", Config: map[string]string{"claim.name": "resource_access.${client_id}.roles", "multivalued": "true", "access.token.claim": "true"}},
			{ProtocolMapper: "oidc-audience-resolve-mapper", Config: map[string]string{"access.token.claim": "true"}},
		}},
		"profile": {Name: "profile", ProtocolMappers: []rep.ProtocolMapper{
			{ProtocolMapper: "oidc-usermodel-property-mapper", Config: map[string]string{"user.attribute": "username", "claim.name": "preferred_username", "access.token.claim": "true", "id.token.claim": "true", "userinfo.token.claim": "true"}},
			{ProtocolMapper: "oidc-full-name-mapper", Config: map[string]string{"access.token.claim": "true", "id.token.claim": "true"}},
		}},
		"groups": {Name: "groups", ProtocolMappers: []rep.ProtocolMapper{
			{ProtocolMapper: "oidc-group-membership-mapper", Config: map[string]string{"claim.name": "groups", "full.path": "false", "id.token.claim": "true"}},
		}},
	}}
	c := &Client{Row: store.Client{ClientID: "app"}, Settings: rep.ClientSettings{DefaultClientScopes: []string{"roles", "profile"}, OptionalClientScopes: []string{"groups"}}}
	sub := subject{
		user:   store.User{ID: "u", Username: "ann", FirstName: "Ann", LastName: "Lee"},
		roles:  userRoles{realm: []string{"viewer"}, client: map[string][]string{"app": {"editor"}, "account": {"view-profile"}}},
		groups: []string{"/team/dev"}, sess: &Session{}, client: c,
	}
	cs := computeClaims(m, sub, []string{"openid", "groups"})
	if cs.scope != "openid profile groups" {
		t.Errorf("scope %q", cs.scope)
	}
	if !reflect.DeepEqual(cs.accessAud, []string{"account"}) {
		t.Errorf("aud %v (audience resolve adds clients whose roles are in the token, not the client itself)", cs.accessAud)
	}
	ra := cs.access["resource_access"].(map[string]any)
	if !reflect.DeepEqual(ra["app"], map[string]any{"roles": []any{"editor"}}) {
		t.Errorf("resource_access %v", ra)
	}
	if cs.id["name"] != "Ann Lee" || cs.userinfo["preferred_username"] != "ann" || cs.id["realm_access"] != nil {
		t.Errorf("id %v userinfo %v", cs.id, cs.userinfo)
	}
	if !reflect.DeepEqual(cs.id["groups"], []any{"dev"}) || cs.access["groups"] != nil {
		t.Errorf("groups id=%v access=%v", cs.id["groups"], cs.access["groups"])
	}
	// Without the optional scope, its mappers do not run.
	if cs := computeClaims(m, sub, []string{"openid"}); cs.id["groups"] != nil {
		t.Errorf("optional scope not requested, yet groups = %v", cs.id["groups"])
	}
}

// Claim names nest on dots; an escaped dot ("\.") stays in the name, as in
// Keycloak's mappers (a client id with dots in resource_access).
func TestSplitClaim(t *testing.T) {
	for name, want := range map[string][]string{
		"preferred_username":               {"preferred_username"},
		"realm_access.roles":               {"realm_access", "roles"},
		`resource_access.my\.client.roles`: {"resource_access", "my.client", "roles"},
		`a\.b`:                             {"a.b"},
		"trailing.":                        {"trailing", ""},
	} {
		if got := splitClaim(name); !slices.Equal(got, want) {
			t.Errorf("splitClaim(%q) = %q, want %q", name, got, want)
		}
	}
	dst := map[string]any{}
	setClaim(dst, "groups", []any{"a"})
	setClaim(dst, "groups", []any{"b", "a"})
	setClaim(dst, `x\.y.z`, "v")
	if got := fmt.Sprint(dst); got != "map[groups:[a b] x.y:map[z:v]]" {
		t.Errorf("claims %s", got)
	}
}
