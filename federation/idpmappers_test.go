package federation

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/keygate/keygate/store"
)

func mapper(name, typ string, kv ...string) store.IdentityProviderMapper {
	cfg := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		cfg[kv[i]] = kv[i+1]
	}
	return store.IdentityProviderMapper{ID: name, Name: name, Alias: "corp", Mapper: typ, Config: cfg}
}

// samlUser is alice as a SAML IdP asserts her: attributes keyed by Name and
// by FriendlyName.
func samlUser() BrokeredIdentity {
	return BrokeredIdentity{UserID: "alice-id", Username: "Alice", NameID: "alice@corp.example",
		Attributes: map[string][]string{
			"urn:oid:0.9.2342.19200300.100.1.3": {"alice@corp.example"}, "mail": {"alice@corp.example"},
			"urn:oid:2.5.4.42": {"Alice"}, "givenName": {"Alice"},
			"uid":      {"alice"},
			"memberOf": {"sso-sre", "sso-stackstate-admins", "cn=ops,ou=groups"},
			"dept":     {"R&D"},
		}}
}

// oidcUser is alice as an OIDC IdP's tokens and userinfo describe her.
func oidcUser() BrokeredIdentity {
	var claims map[string]any
	_ = json.Unmarshal([]byte(`{
		"sub": "a1b2", "preferred_username": "Alice", "email": "alice@corp.example",
		"given_name": "Alice", "family_name": "Liddell",
		"groups": ["admins", "devs"], "level": 3, "staff": true, "single": ["only"],
		"address": {"locality": "Oxford", "country": "UK"},
		"dotted.name": "yes",
		"realm_access": {"roles": ["upstream-admin"]},
		"resource_access": {"portal": {"roles": ["editor"]}, "my.app": {"roles": ["viewer"]}},
		"emails": [{"value": "a@x"}, {"value": "b@x"}],
		"tags": ["x"]
	}`), &claims)
	return BrokeredIdentity{UserID: "a1b2", Username: "Alice", Email: "alice@corp.example", FirstName: "Alice", LastName: "Liddell", Claims: claims}
}

func settings(provider, sync string) IdPSettings {
	return IdPSettings{Alias: "corp", ProviderID: provider, SyncMode: sync, TrustEmail: true}
}

func mustApply(t *testing.T, ms []store.IdentityProviderMapper, s IdPSettings, b BrokeredIdentity, newUser bool) (MappedIdentity, []string) {
	t.Helper()
	out, w, err := ApplyIdPMappers(ms, s, b, newUser)
	if err != nil {
		t.Fatalf("ApplyIdPMappers: %v", err)
	}
	return out, w
}

func qr(names ...string) []RoleRef {
	var out []RoleRef
	for _, n := range names {
		out = append(out, RoleRef{Name: n, Qualified: true})
	}
	return out
}

func TestIdPMapperSAMLUserAttribute(t *testing.T) {
	ms := []store.IdentityProviderMapper{
		mapper("email", "saml-user-attribute-idp-mapper", "syncMode", "INHERIT", "attribute.name", "urn:oid:0.9.2342.19200300.100.1.3", "user.attribute", "email"),
		mapper("first", "saml-user-attribute-idp-mapper", "syncMode", "INHERIT", "attribute.friendly.name", "givenName", "user.attribute", "FirstName"),
		mapper("groups", "saml-user-attribute-idp-mapper", "syncMode", "INHERIT", "attribute.name", "memberOf", "user.attribute", "memberOf", "attribute.name.format", "ATTRIBUTE_FORMAT_BASIC"),
		mapper("dept", "saml-user-attribute-idp-mapper", "syncMode", "INHERIT", "attribute.name", "department", "user.attribute", "dept"),
	}
	b := samlUser()
	b.Email, b.FirstName = "", ""

	out, w := mustApply(t, ms, settings("saml", "IMPORT"), b, true)
	if len(w) != 0 {
		t.Errorf("warnings %v", w)
	}
	if out.Email != "alice@corp.example" || !out.EmailVerified || out.FirstName != "Alice" || out.Username != "alice" || out.ExternalID != "alice-id" {
		t.Errorf("new user %+v", out.Identity)
	}
	if got := out.Attributes["memberOf"]; !slices.Equal(got, []string{"sso-sre", "sso-stackstate-admins", "cn=ops,ou=groups"}) {
		t.Errorf("multi-valued attribute %v", got)
	}
	if _, ok := out.Attributes["dept"]; ok {
		t.Error("an attribute the assertion lacks is set on a new user")
	}

	// Later logins: IMPORT leaves everything; FORCE and LEGACY update and
	// remove what the assertion no longer has.
	if out, _ := mustApply(t, ms, settings("saml", "IMPORT"), b, false); out.Email != "" || len(out.Attributes) != 0 || out.Username != "" {
		t.Errorf("IMPORT later login changes %+v", out.Identity)
	}
	b2 := samlUser()
	b2.Attributes["memberOf"] = []string{"sso-sre"}
	delete(b2.Attributes, "givenName")
	b2.Attributes["department"] = []string{"ops"}
	for _, mode := range []string{"FORCE", "LEGACY"} {
		out, _ := mustApply(t, ms, settings("saml", mode), b2, false)
		if !slices.Equal(out.Attributes["memberOf"], []string{"sso-sre"}) || !slices.Equal(out.Attributes["dept"], []string{"ops"}) {
			t.Errorf("%s: attributes %v", mode, out.Attributes)
		}
		if out.Email != "alice@corp.example" || !out.EmailVerified {
			t.Errorf("%s: email %q %v", mode, out.Email, out.EmailVerified)
		}
		if out.Username != "" {
			t.Errorf("%s: a later login renames the user to %q", mode, out.Username)
		}
	}
	b3 := samlUser()
	delete(b3.Attributes, "memberOf")
	out, _ = mustApply(t, ms, settings("saml", "FORCE"), b3, false)
	if v, ok := out.Attributes["memberOf"]; !ok || v != nil {
		t.Errorf("FORCE does not remove an attribute the IdP stopped sending: %v %v", v, ok)
	}
	// A mapper's own mode overrides the provider's.
	ms[2].Config["syncMode"] = "IMPORT"
	out, _ = mustApply(t, ms, settings("saml", "FORCE"), b3, false)
	if _, ok := out.Attributes["memberOf"]; ok {
		t.Error("an IMPORT mapper ran under a FORCE provider")
	}
}

func TestIdPMapperOIDCUserAttribute(t *testing.T) {
	ms := []store.IdentityProviderMapper{
		mapper("locality", "oidc-user-attribute-idp-mapper", "syncMode", "FORCE", "claim", "address.locality", "user.attribute", "city"),
		mapper("groups", "oidc-user-attribute-idp-mapper", "syncMode", "FORCE", "claim", "groups", "user.attribute", "groups"),
		mapper("level", "oidc-user-attribute-idp-mapper", "syncMode", "FORCE", "claim", "level", "user.attribute", "level"),
		mapper("dotted", "oidc-user-attribute-idp-mapper", "syncMode", "FORCE", "claim", `dotted\.name`, "user.attribute", "dotted"),
		mapper("second email", "oidc-user-attribute-idp-mapper", "syncMode", "FORCE", "claim", "emails[1].value", "user.attribute", "alt"),
		mapper("mail", "oidc-user-attribute-idp-mapper", "syncMode", "FORCE", "claim", "address.country", "user.attribute", "lastName"),
		mapper("gone", "oidc-user-attribute-idp-mapper", "syncMode", "FORCE", "claim", "nope", "user.attribute", "nope"),
	}
	out, _ := mustApply(t, ms, settings("oidc", "IMPORT"), oidcUser(), true)
	want := map[string][]string{"city": {"Oxford"}, "groups": {"admins", "devs"}, "level": {"3"}, "dotted": {"yes"}, "alt": {"b@x"}}
	if !reflect.DeepEqual(out.Attributes, want) {
		t.Errorf("attributes %v, want %v", out.Attributes, want)
	}
	if out.LastName != "UK" || out.Username != "alice" {
		t.Errorf("profile %+v", out.Identity)
	}
	out, _ = mustApply(t, ms, settings("oidc", "IMPORT"), oidcUser(), false)
	if out.LastName != "UK" || !slices.Equal(out.Attributes["groups"], []string{"admins", "devs"}) {
		t.Errorf("FORCE mapper on a later login: %+v", out.Identity)
	}
	if v, ok := out.Attributes["nope"]; !ok || v != nil {
		t.Errorf("a missing claim does not remove the attribute: %v %v", v, ok)
	}
}

func TestIdPMapperUsernameTemplate(t *testing.T) {
	cases := []struct {
		name, provider, template, target string
		b                                BrokeredIdentity
		username, externalID, brokerName string
	}{
		{"saml attribute", "saml", "${ATTRIBUTE.uid}", "", samlUser(), "alice", "alice-id", "alice"},
		{"saml friendly name and alias", "saml", "${ALIAS}.${ATTRIBUTE.givenName | lowercase}", "", samlUser(), "corp.alice", "alice-id", "alice"},
		{"saml nameid localpart", "saml", "${NAMEID | localpart}", "", samlUser(), "alice", "alice-id", "alice"},
		{"saml default", "saml", "-", "", samlUser(), "corp.alice@corp.example", "alice-id", "alice"},
		{"saml unresolved", "saml", "${ATTRIBUTE.missing}-x", "", samlUser(), "", "alice-id", "alice"},
		{"saml upper", "saml", "${ATTRIBUTE.uid | uppercase}", "", samlUser(), "ALICE", "alice-id", "alice"},
		{"saml broker id", "saml", "${ATTRIBUTE.uid}", "BROKER_ID", samlUser(), "alice", "alice", "alice"},
		{"saml broker username", "saml", "${NAMEID}", "BROKER_USERNAME", samlUser(), "alice@corp.example", "alice-id", "alice@corp.example"},
		{"oidc claim", "oidc", "${ALIAS}.${CLAIM.preferred_username}", "", oidcUser(), "corp.Alice", "a1b2", "alice"},
		{"oidc nested and single array", "oidc", "${CLAIM.address.locality}-${CLAIM.single}", "", oidcUser(), "Oxford-only", "a1b2", "alice"},
		{"oidc default", "oidc", "-", "", oidcUser(), "corp.Alice", "a1b2", "alice"},
		{"oidc missing claim", "oidc", "${CLAIM.nope}x", "", oidcUser(), "x", "a1b2", "alice"},
		{"oidc sub lowercase", "oidc", "${CLAIM.sub | uppercase}", "", oidcUser(), "A1B2", "a1b2", "alice"},
		{"oidc unknown variable", "oidc", "${FOO}", "", oidcUser(), "FOO", "a1b2", "alice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			typ := c.provider + "-username-idp-mapper"
			m := mapper("username", typ, "syncMode", "INHERIT", "template", c.template)
			if c.template == "-" {
				delete(m.Config, "template")
			}
			if c.target != "" {
				m.Config["target"] = c.target
			}
			out, _ := mustApply(t, []store.IdentityProviderMapper{m}, settings(c.provider, "FORCE"), c.b, true)
			if c.target == "" && out.Username != c.username || out.ExternalID != c.externalID || out.BrokerUsername != c.brokerName {
				t.Errorf("username %q id %q broker username %q, want %q %q %q", out.Username, out.ExternalID, out.BrokerUsername, c.username, c.externalID, c.brokerName)
			}
		})
	}

	// FORCE renames the local user, LEGACY and IMPORT do not; a realm that
	// names users by email is never renamed.
	m := mapper("username", "saml-username-idp-mapper", "template", "${ATTRIBUTE.uid}.x")
	for mode, want := range map[string]string{"FORCE": "alice.x", "LEGACY": "", "IMPORT": ""} {
		m.Config["syncMode"] = mode
		out, _ := mustApply(t, []store.IdentityProviderMapper{m}, settings("saml", "LEGACY"), samlUser(), false)
		if out.Username != want {
			t.Errorf("%s later login: username %q, want %q", mode, out.Username, want)
		}
	}
	s := settings("saml", "FORCE")
	s.EmailAsUsername = true
	m.Config["syncMode"] = "FORCE"
	if out, _ := mustApply(t, []store.IdentityProviderMapper{m}, s, samlUser(), false); out.Username != "" {
		t.Errorf("email-as-username realm renamed to %q", out.Username)
	}
}

func TestIdPMapperDefaultUsername(t *testing.T) {
	b := oidcUser()
	if out, _ := mustApply(t, nil, settings("oidc", ""), b, true); out.Username != "alice" || out.BrokerUsername != "alice" {
		t.Errorf("default username %q / %q", out.Username, out.BrokerUsername)
	}
	s := settings("oidc", "")
	s.CaseSensitiveOriginalUsername = true
	if out, _ := mustApply(t, nil, s, b, true); out.Username != "Alice" || out.BrokerUsername != "Alice" {
		t.Errorf("case-sensitive username %q / %q", out.Username, out.BrokerUsername)
	}
	s = settings("oidc", "")
	s.EmailAsUsername = true
	if out, _ := mustApply(t, nil, s, b, true); out.Username != "alice@corp.example" {
		t.Errorf("email as username: %q", out.Username)
	}
	b.Username = ""
	if out, _ := mustApply(t, nil, settings("oidc", ""), b, true); out.Username != "corp.a1b2" {
		t.Errorf("no username: %q", out.Username)
	}
	s = settings("oidc", "")
	s.TrustEmail = false
	if out, _ := mustApply(t, nil, s, b, true); out.EmailVerified {
		t.Error("an untrusted email is verified")
	}
}

func TestIdPProviderSyncModeProfile(t *testing.T) {
	b := oidcUser()
	b.Email, b.FirstName = "new@corp.example", "Alicia"
	for mode, want := range map[string]string{"FORCE": "new@corp.example", "IMPORT": "", "LEGACY": "", "": ""} {
		out, _ := mustApply(t, nil, settings("oidc", mode), b, false)
		if out.Email != want || (want != "") != (out.FirstName == "Alicia") || out.EmailVerified != (want != "") {
			t.Errorf("provider %q: %+v", mode, out.Identity)
		}
	}
}

func TestIdPMapperRoles(t *testing.T) {
	type result struct{ roles, owned []RoleRef }
	grant := result{qr("r"), qr("r")}
	revoke := result{nil, qr("r")}
	none := result{}
	newGrant := result{qr("r"), qr("r")}
	cases := []struct {
		name     string
		provider string
		m        store.IdentityProviderMapper
		b        BrokeredIdentity
		applies  bool
		legacy   string // "force", "revoke", "" (nothing)
	}{
		{"saml by name", "saml", mapper("", "saml-role-idp-mapper", "attribute.name", "memberOf", "attribute.value", "sso-stackstate-admins", "role", "r"), samlUser(), true, "force"},
		{"saml by name, no value", "saml", mapper("", "saml-role-idp-mapper", "attribute.name", "memberOf", "attribute.value", "sso-nope", "role", "r"), samlUser(), false, "force"},
		{"saml by friendly name", "saml", mapper("", "saml-role-idp-mapper", "attribute.friendly.name", "givenName", "attribute.value", "Alice", "role", "r"), samlUser(), true, "force"},
		{"saml by name and friendly name", "saml", mapper("", "saml-role-idp-mapper", "attribute.name", "urn:oid:2.5.4.42", "attribute.friendly.name", "givenName", "attribute.value", "Alice", "role", "r"), samlUser(), true, "force"},
		{"saml name and another friendly name", "saml", mapper("", "saml-role-idp-mapper", "attribute.name", "urn:oid:2.5.4.42", "attribute.friendly.name", "mail", "attribute.value", "Alice", "role", "r"), samlUser(), false, "force"},
		{"saml any attribute", "saml", mapper("", "saml-role-idp-mapper", "attribute.value", "R&D", "role", "r"), samlUser(), true, "force"},
		{"saml advanced literal", "saml", mapper("", "saml-advanced-role-idp-mapper", "attributes", `[{"key":"memberOf","value":"sso-sre"},{"key":"dept","value":"R&D"}]`, "role", "r"), samlUser(), true, "force"},
		{"saml advanced one fails", "saml", mapper("", "saml-advanced-role-idp-mapper", "attributes", `[{"key":"memberOf","value":"sso-sre"},{"key":"dept","value":"Sales"}]`, "role", "r"), samlUser(), false, "force"},
		{"saml advanced same key twice", "saml", mapper("", "saml-advanced-role-idp-mapper", "attributes", `[{"key":"memberOf","value":"sso-sre"},{"key":"memberOf","value":"sso-stackstate-admins"}]`, "role", "r"), samlUser(), true, "force"},
		{"saml advanced regex", "saml", mapper("", "saml-advanced-role-idp-mapper", "attributes", `[{"key":"memberOf","value":"cn=ops,.*"}]`, "are.attribute.values.regex", "true", "role", "r"), samlUser(), true, "force"},
		{"saml advanced regex is whole-value", "saml", mapper("", "saml-advanced-role-idp-mapper", "attributes", `[{"key":"memberOf","value":"ops"}]`, "are.attribute.values.regex", "true", "role", "r"), samlUser(), false, "force"},
		{"saml advanced literal is not a regex", "saml", mapper("", "saml-advanced-role-idp-mapper", "attributes", `[{"key":"memberOf","value":"sso-.*"}]`, "role", "r"), samlUser(), false, "force"},
		{"saml advanced by friendly name", "saml", mapper("", "saml-advanced-role-idp-mapper", "attributes", `[{"key":"mail","value":"alice@corp.example"}]`, "role", "r"), samlUser(), true, "force"},
		{"oidc string", "oidc", mapper("", "oidc-role-idp-mapper", "claim", "email", "claim.value", "alice@corp.example", "role", "r"), oidcUser(), true, "revoke"},
		{"oidc array", "oidc", mapper("", "oidc-role-idp-mapper", "claim", "groups", "claim.value", "admins", "role", "r"), oidcUser(), true, "revoke"},
		{"oidc array miss", "oidc", mapper("", "oidc-role-idp-mapper", "claim", "groups", "claim.value", "ops", "role", "r"), oidcUser(), false, "revoke"},
		{"oidc number", "oidc", mapper("", "oidc-role-idp-mapper", "claim", "level", "claim.value", "3", "role", "r"), oidcUser(), true, "revoke"},
		{"oidc bool", "oidc", mapper("", "oidc-role-idp-mapper", "claim", "staff", "claim.value", "true", "role", "r"), oidcUser(), true, "revoke"},
		{"oidc nested", "oidc", mapper("", "oidc-role-idp-mapper", "claim", "address.country", "claim.value", "UK", "role", "r"), oidcUser(), true, "revoke"},
		{"oidc object", "oidc", mapper("", "oidc-role-idp-mapper", "claim", "address", "claim.value", `{"country":"UK","locality":"Oxford"}`, "role", "r"), oidcUser(), true, "revoke"},
		{"oidc missing claim", "oidc", mapper("", "oidc-role-idp-mapper", "claim", "nope", "claim.value", "x", "role", "r"), oidcUser(), false, "revoke"},
		{"oidc advanced", "keycloak-oidc", mapper("", "oidc-advanced-role-idp-mapper", "claims", `[{"key":"groups","value":"devs"},{"key":"address.locality","value":"Oxford"}]`, "role", "r"), oidcUser(), true, "revoke"},
		{"oidc advanced regex", "oidc", mapper("", "oidc-advanced-role-idp-mapper", "claims", `[{"key":"groups","value":"adm.*"},{"key":"level","value":"[0-9]"}]`, "are.claim.values.regex", "true", "role", "r"), oidcUser(), true, "revoke"},
		{"oidc advanced regex miss", "oidc", mapper("", "oidc-advanced-role-idp-mapper", "claims", `[{"key":"groups","value":"ops|sre"}]`, "are.claim.values.regex", "true", "role", "r"), oidcUser(), false, "revoke"},
		{"keycloak realm role", "keycloak-oidc", mapper("", "keycloak-oidc-role-to-role-idp-mapper", "external.role", "upstream-admin", "role", "r"), oidcUser(), true, ""},
		{"keycloak client role", "keycloak-oidc", mapper("", "keycloak-oidc-role-to-role-idp-mapper", "external.role", "portal.editor", "role", "r"), oidcUser(), true, ""},
		{"keycloak dotted client", "keycloak-oidc", mapper("", "keycloak-oidc-role-to-role-idp-mapper", "external.role", "my.app.viewer", "role", "r"), oidcUser(), true, ""},
		{"keycloak missing role", "keycloak-oidc", mapper("", "keycloak-oidc-role-to-role-idp-mapper", "external.role", "portal.admin", "role", "r"), oidcUser(), false, ""},
	}
	check := func(t *testing.T, what string, gs []Grant, want result) {
		t.Helper()
		var got result
		for _, g := range gs {
			got.roles = append(got.roles, g.Roles...)
			got.owned = append(got.owned, g.OwnedRoles...)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: roles %v owned %v, want %v %v", what, got.roles, got.owned, want.roles, want.owned)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.m
			m.Name = c.name
			m.Config["syncMode"] = "INHERIT"
			if err := ValidateIdPMapper(m, c.provider); err != nil {
				t.Fatalf("ValidateIdPMapper: %v", err)
			}
			if w := IdPMapperWarnings(m, c.provider); len(w) > 0 {
				t.Fatalf("warnings %v", w)
			}
			ms := []store.IdentityProviderMapper{m}
			out, _ := mustApply(t, ms, settings(c.provider, "IMPORT"), c.b, true)
			if c.applies {
				check(t, "new user", out.Grants, newGrant)
			} else {
				check(t, "new user", out.Grants, none)
			}
			out, _ = mustApply(t, ms, settings(c.provider, "IMPORT"), c.b, false)
			check(t, "IMPORT", out.Grants, none)
			out, _ = mustApply(t, ms, settings(c.provider, "FORCE"), c.b, false)
			if c.applies {
				check(t, "FORCE", out.Grants, grant)
			} else {
				check(t, "FORCE", out.Grants, revoke)
			}
			out, _ = mustApply(t, ms, settings(c.provider, ""), c.b, false)
			switch {
			case c.legacy == "force" && c.applies:
				check(t, "LEGACY", out.Grants, grant)
			case c.legacy != "" && !c.applies:
				check(t, "LEGACY", out.Grants, revoke)
			default:
				check(t, "LEGACY", out.Grants, none)
			}
		})
	}
}

func TestIdPMapperGroups(t *testing.T) {
	cases := []struct {
		name, provider string
		m              store.IdentityProviderMapper
		b              BrokeredIdentity
		applies        bool
	}{
		{"saml literal", "saml", mapper("", "saml-advanced-group-idp-mapper", "attributes", `[{"key":"memberOf","value":"sso-sre"}]`, "are.attribute.values.regex", "false", "group", "/sre"), samlUser(), true},
		{"saml regex miss", "saml", mapper("", "saml-advanced-group-idp-mapper", "attributes", `[{"key":"memberOf","value":"sso-x.*"}]`, "are.attribute.values.regex", "true", "group", "/sre"), samlUser(), false},
		{"oidc", "oidc", mapper("", "oidc-advanced-group-idp-mapper", "claims", `[{"key":"groups","value":"devs"}]`, "group", "/sre"), oidcUser(), true},
		{"oidc miss", "oidc", mapper("", "oidc-advanced-group-idp-mapper", "claims", `[{"key":"groups","value":"sre"}]`, "group", "/sre"), oidcUser(), false},
		{"hardcoded saml", "saml", mapper("", "oidc-hardcoded-group-idp-mapper", "group", "/sre"), samlUser(), true},
		{"hardcoded oidc", "oidc", mapper("", "oidc-hardcoded-group-idp-mapper", "group", "/sre"), oidcUser(), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.m.Name = c.name
			c.m.Config["syncMode"] = "INHERIT"
			ms := []store.IdentityProviderMapper{c.m}
			if err := ValidateIdPMapper(c.m, c.provider); err != nil {
				t.Fatal(err)
			}
			for _, mode := range []string{"new", "FORCE", "LEGACY", "IMPORT"} {
				s := settings(c.provider, mode)
				if mode == "new" {
					s.SyncMode = "IMPORT"
				}
				out, _ := mustApply(t, ms, s, c.b, mode == "new")
				var groups, owned []string
				for _, g := range out.Grants {
					groups = append(groups, g.Groups...)
					owned = append(owned, g.OwnedGroups...)
				}
				wantGroups, wantOwned := []string(nil), []string(nil)
				switch {
				case mode == "IMPORT":
				case mode == "new" && !c.applies:
				case c.applies:
					wantGroups, wantOwned = []string{"/sre"}, []string{"/sre"}
				default:
					wantOwned = []string{"/sre"}
				}
				if !slices.Equal(groups, wantGroups) || !slices.Equal(owned, wantOwned) {
					t.Errorf("%s: groups %v owned %v, want %v %v", mode, groups, owned, wantGroups, wantOwned)
				}
			}
		})
	}
}

func TestIdPMapperHardcoded(t *testing.T) {
	ms := []store.IdentityProviderMapper{
		mapper("guest", "oidc-hardcoded-role-idp-mapper", "syncMode", "INHERIT", "role", "webapp.editor"),
		mapper("legacy name", "hardcoded-role-idp-mapper", "syncMode", "INHERIT", "role", "guest"),
		mapper("tier", "hardcoded-attribute-idp-mapper", "syncMode", "INHERIT", "attribute", "tier", "attribute.value", "gold"),
		mapper("session", "hardcoded-user-session-attribute-idp-mapper", "attribute", "s", "attribute.value", "v"),
	}
	out, w := mustApply(t, ms, settings("saml", "IMPORT"), samlUser(), true)
	var roles []RoleRef
	for _, g := range out.Grants {
		roles = append(roles, g.Roles...)
		if len(g.OwnedRoles) > 0 {
			t.Errorf("a hardcoded role owns %v: it never removes", g.OwnedRoles)
		}
		if !g.ImportOnly {
			t.Error("an IMPORT mapper's grant is not ImportOnly")
		}
	}
	if !reflect.DeepEqual(roles, qr("webapp.editor", "guest")) || !slices.Equal(out.Attributes["tier"], []string{"gold"}) {
		t.Errorf("new user: roles %v attributes %v", roles, out.Attributes)
	}
	if len(w) != 1 || !strings.Contains(w[0], "session") {
		t.Errorf("the session attribute mapper is not named as stored only: %v", w)
	}
	for mode, wantRoles := range map[string]int{"FORCE": 2, "LEGACY": 0, "IMPORT": 0} {
		out, _ := mustApply(t, ms, settings("oidc", mode), oidcUser(), false)
		n := 0
		for _, g := range out.Grants {
			n += len(g.Roles)
		}
		if n != wantRoles {
			t.Errorf("%s: %d roles granted, want %d", mode, n, wantRoles)
		}
		wantAttr := mode != "IMPORT"
		if _, ok := out.Attributes["tier"]; ok != wantAttr {
			t.Errorf("%s: hardcoded attribute set %v, want %v", mode, ok, wantAttr)
		}
	}
}

func TestIdPMapperForceRemovesRole(t *testing.T) {
	// Two mappers grant the same role; FORCE removes it only when neither
	// applies (Keycloak's KEYCLOAK-8730: one mapper's grant is not undone
	// by another's miss).
	ms := []store.IdentityProviderMapper{
		mapper("admins", "saml-role-idp-mapper", "syncMode", "FORCE", "attribute.name", "memberOf", "attribute.value", "sso-stackstate-admins", "role", "stackstate-admin"),
		mapper("sre", "saml-role-idp-mapper", "syncMode", "FORCE", "attribute.name", "memberOf", "attribute.value", "sso-sre", "role", "stackstate-admin"),
	}
	want := func(b BrokeredIdentity) bool {
		out, _ := mustApply(t, ms, settings("saml", "IMPORT"), b, false)
		granted, owned := false, false
		for _, g := range out.Grants {
			granted = granted || slices.Contains(g.Roles, qr("stackstate-admin")[0])
			owned = owned || slices.Contains(g.OwnedRoles, qr("stackstate-admin")[0])
		}
		if !owned {
			t.Fatal("the FORCE mappers do not own their role")
		}
		return granted
	}
	b := samlUser()
	if !want(b) {
		t.Error("role not granted")
	}
	b.Attributes["memberOf"] = []string{"sso-sre"}
	if !want(b) {
		t.Error("one mapper's miss removes the role another grants")
	}
	b.Attributes["memberOf"] = []string{"sso-other"}
	if want(b) {
		t.Error("FORCE keeps a role the IdP no longer gives")
	}
}

func TestIdPMapperProblems(t *testing.T) {
	// Warnings: unknown types, keys, providers; stored-only types.
	ms := []store.IdentityProviderMapper{
		mapper("typo", "saml-role-idp-mapper", "attribute", "memberOf", "attribute.value", "x", "role", "r"),
		mapper("future", "saml-quantum-idp-mapper", "x", "y"),
		mapper("xpath", "saml-xpath-attribute-idp-mapper", "attribute.xpath", "//x"),
		mapper("wrong protocol", "oidc-role-idp-mapper", "claim", "a", "claim.value", "b", "role", "r"),
		mapper("no role", "saml-role-idp-mapper", "attribute.name", "memberOf", "attribute.value", "sso-sre"),
	}
	_, w, err := ApplyIdPMappers(ms, settings("saml", "FORCE"), samlUser(), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"typo" (saml-role-idp-mapper): unknown config key "attribute"`, `"future": unknown type`,
		`"xpath": type saml-xpath-attribute-idp-mapper`, `"wrong protocol": type oidc-role-idp-mapper does not apply`, `"no role": role: required`} {
		if !slices.ContainsFunc(w, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("no warning %q in %q", want, w)
		}
	}
	if err := ValidateIdPMapper(ms[1], "saml"); err != nil {
		t.Errorf("an unknown type is refused: %v", err)
	}
	if err := ValidateIdPMapper(ms[4], "saml"); err == nil || !strings.Contains(err.Error(), "role") {
		t.Errorf("a role mapper without a role: %v", err)
	}

	// Errors: what cannot run fails the login, naming the mapper.
	bad := []struct {
		m    store.IdentityProviderMapper
		want string
	}{
		{mapper("bad regex", "saml-advanced-role-idp-mapper", "attributes", `[{"key":"memberOf","value":"(?<=x)y"}]`, "are.attribute.values.regex", "true", "role", "r"), "regular expression"},
		{mapper("bad json", "saml-advanced-group-idp-mapper", "attributes", `{"memberOf":"x"}`, "group", "/g"), "attributes"},
		{mapper("bad mode", "oidc-hardcoded-group-idp-mapper", "syncMode", "ALWAYS", "group", "/g"), "syncMode"},
		{mapper("bad bool", "saml-advanced-role-idp-mapper", "attributes", `[]`, "are.attribute.values.regex", "yes", "role", "r"), "are.attribute.values.regex"},
		{mapper("bad target", "saml-username-idp-mapper", "template", "${NAMEID}", "target", "SOMEWHERE"), "target"},
	}
	for _, c := range bad {
		if err := ValidateIdPMapper(c.m, "saml"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: ValidateIdPMapper %v, want an error about %s", c.m.Name, err, c.want)
		}
		_, _, err := ApplyIdPMappers([]store.IdentityProviderMapper{c.m}, settings("saml", "FORCE"), samlUser(), true)
		if !errors.Is(err, ErrIdPMapper) || !strings.Contains(err.Error(), c.m.Name) {
			t.Errorf("%s: ApplyIdPMappers %v", c.m.Name, err)
		}
	}
	if err := ValidateIdPMapper(mapper("", "oidc-hardcoded-group-idp-mapper", "group", "/g"), "saml"); err == nil {
		t.Error("a mapper without a name")
	}
}

func TestIdPMapperTypes(t *testing.T) {
	saml, oidc, kc := IdPMapperTypes("saml"), IdPMapperTypes("oidc"), IdPMapperTypes("keycloak-oidc")
	for _, id := range []string{"saml-user-attribute-idp-mapper", "saml-username-idp-mapper", "saml-role-idp-mapper", "saml-advanced-role-idp-mapper",
		"saml-advanced-group-idp-mapper", "oidc-hardcoded-role-idp-mapper", "hardcoded-attribute-idp-mapper", "oidc-hardcoded-group-idp-mapper",
		"hardcoded-user-session-attribute-idp-mapper"} {
		if _, ok := saml[id]; !ok {
			t.Errorf("saml lacks %s", id)
		}
	}
	for _, id := range []string{"oidc-user-attribute-idp-mapper", "oidc-username-idp-mapper", "oidc-role-idp-mapper", "oidc-advanced-role-idp-mapper",
		"oidc-advanced-group-idp-mapper", "oidc-hardcoded-role-idp-mapper"} {
		if _, ok := oidc[id]; !ok {
			t.Errorf("oidc lacks %s", id)
		}
		if _, ok := saml[id]; ok && !strings.Contains(id, "hardcoded") {
			t.Errorf("saml offers %s", id)
		}
	}
	if _, ok := oidc["keycloak-oidc-role-to-role-idp-mapper"]; ok {
		t.Error("oidc offers the Keycloak role mapper")
	}
	if _, ok := kc["keycloak-oidc-role-to-role-idp-mapper"]; !ok {
		t.Error("keycloak-oidc lacks its role mapper")
	}
	raw, err := json.Marshal(saml["saml-role-idp-mapper"])
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		ID, Name, Category, HelpText string
		Properties                   []struct{ Name, Label, Type string }
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.ID != "saml-role-idp-mapper" || rep.Name != "SAML Attribute to Role" || rep.Category == "" || rep.HelpText == "" || len(rep.Properties) != 4 ||
		rep.Properties[3].Name != "role" || rep.Properties[3].Type != "Role" {
		t.Errorf("representation %s", raw)
	}
	// Every property of every type is a key its mapper knows.
	for id, typ := range IdPMapperTypes("*") {
		for _, p := range typ.Properties {
			if !idpMapperSpecs[id].known(p.Name) || p.Label == "" || p.Type == "" {
				t.Errorf("%s: property %+v", id, p)
			}
		}
	}
}

func TestParseIdPSettings(t *testing.T) {
	s, err := ParseIdPSettings(store.IdentityProvider{Alias: "corp", ProviderID: "saml",
		Config: json.RawMessage(`{"alias":"corp","providerId":"saml","trustEmail":true,"config":{"syncMode":"force","caseSensitiveOriginalUsername":"true"}}`)})
	if err != nil || !s.TrustEmail || s.SyncMode != "FORCE" || !s.CaseSensitiveOriginalUsername || s.Alias != "corp" || s.ProviderID != "saml" {
		t.Errorf("%+v %v", s, err)
	}
	if _, err := ParseIdPSettings(store.IdentityProvider{Alias: "x", Config: json.RawMessage(`{"config":{"syncMode":"SOMETIMES"}}`)}); err == nil {
		t.Error("an unknown syncMode")
	}
}
