package rep

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/storetest/backends"
)

// samlIdP is a valid SAML provider's representation with extra config.
func samlIdP(alias string, extra string) string {
	return `{"alias": "` + alias + `", "providerId": "saml", "config": {"singleSignOnServiceUrl": "https://idp.example/sso",
		"validateSignature": "false"` + extra + `}}`
}

// TestImportIdentityProviderValidation: a realm import refuses an identity
// provider or mapper keygate could not run, naming the JSON path, the
// provider's alias and the key, and writes nothing.
func TestImportIdentityProviderValidation(t *testing.T) {
	st := backends.SQLite(t)
	ctx := context.Background()
	oidcIdP := `{"alias": "up", "providerId": "oidc", "config": {"clientId": "kg", "clientSecret": "s", "authorizationUrl": "https://up/auth", "tokenUrl": "https://up/token"}}`
	cases := []struct {
		name, idps, mappers, want string
	}{
		{"saml without a single sign-on URL", `{"alias": "corp", "providerId": "saml", "config": {"validateSignature": "false"}}`, ``,
			`identityProviders[0].config.singleSignOnServiceUrl: identity provider "corp": required`},
		{"saml signature validation without a certificate", `{"alias": "corp", "providerId": "saml", "config": {"singleSignOnServiceUrl": "https://idp/sso"}}`, ``,
			`identityProviders[0].config.signingCertificate: identity provider "corp": required when validateSignature is true`},
		{"saml bad clock skew", samlIdP("corp", `, "allowedClockSkew": "soon"`), ``,
			`identityProviders[0].config.allowedClockSkew: identity provider "corp": must be a number`},
		{"oidc without a client id", `{"alias": "up", "providerId": "oidc", "config": {"authorizationUrl": "https://up/auth", "tokenUrl": "https://up/token"}}`, ``,
			`identityProviders[0].config.clientId: identity provider "up": required`},
		{"keycloak-oidc with a bad sync mode", `{"alias": "up", "providerId": "keycloak-oidc", "config": {"clientId": "kg", "clientSecret": "s",
			"authorizationUrl": "https://up/auth", "tokenUrl": "https://up/token", "syncMode": "SOMETIMES"}}`, ``,
			`identityProviders[0].config.syncMode: identity provider "up": "SOMETIMES": want IMPORT, FORCE or LEGACY`},
		{"alias with a slash", samlIdP("a/b", ""), ``, `identityProviders[0].alias: identity provider "a/b": only letters`},
		{"alias of dots", samlIdP("..", ""), ``, `identityProviders[0].alias: identity provider "..": cannot be only dots`},
		{"alias with a space", samlIdP("my idp", ""), ``, `identityProviders[0].alias: identity provider "my idp": only letters`},
		{"no providerId", `{"alias": "x"}`, ``, `identityProviders[0].providerId: identity provider "x": required`},
		{"mapper without its role", oidcIdP, `{"name": "boss", "identityProviderAlias": "up", "identityProviderMapper": "oidc-hardcoded-role-idp-mapper", "config": {}}`,
			`identityProviderMappers[0].config.role: identity provider "up" mapper "boss": required`},
		{"mapper with a bad sync mode", oidcIdP, `{"name": "boss", "identityProviderAlias": "up", "identityProviderMapper": "hardcoded-role-idp-mapper", "config": {"role": "x", "syncMode": "NEVER"}}`,
			`identityProviderMappers[0].config.syncMode: identity provider "up" mapper "boss": "NEVER": want INHERIT`},
		{"mapper with a bad regular expression", oidcIdP, `{"name": "re", "identityProviderAlias": "up", "identityProviderMapper": "oidc-advanced-role-idp-mapper",
			"config": {"role": "x", "claims": "[{\"key\":\"groups\",\"value\":\"(\"}]", "are.claim.values.regex": "true"}}`,
			`identityProviderMappers[0].config.claims: identity provider "up" mapper "re": regular expression`},
		{"mapper without a type", oidcIdP, `{"name": "m", "identityProviderAlias": "up"}`,
			`identityProviderMappers[0].identityProviderMapper: identity provider "up" mapper "m": required`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := `{"realm": "bad", "enabled": true, "users": [{"username": "u"}], "identityProviders": [` + c.idps + `]`
			if c.mappers != "" {
				doc += `, "identityProviderMappers": [` + c.mappers + `]`
			}
			doc += `}`
			_, err := ImportRealm(ctx, st, []byte(doc), ImportOptions{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if _, err := st.GetRealmByName(ctx, "bad"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("a refused import left a realm: %v", err)
			}
		})
	}
}

// TestImportIdentityProviderWarnings: providers keygate cannot sign in
// through (Keycloak's social providers) are stored; what keygate stores
// without acting on is one warning per provider, by key name only; a
// masked clientSecret passes and is left unset.
func TestImportIdentityProviderWarnings(t *testing.T) {
	st := backends.SQLite(t)
	ctx := context.Background()
	doc := `{"realm": "w", "enabled": true, "identityProviders": [
		{"alias": "github", "providerId": "github", "config": {"clientId": "gh", "clientSecret": "gh-Secret-1"}},
		` + samlIdP("corp", `, "artifactResolutionServiceUrl": "https://idp/artifact-Value", "xmlSigKeyInfoKeyNameTransformer": "KEY_ID", "frobnicate": "x", "empty": ""`) + `,
		{"alias": "up", "providerId": "keycloak-oidc", "config": {"clientId": "kg", "clientSecret": "**********", "authorizationUrl": "https://up/auth",
			"tokenUrl": "https://up/token", "hideOnLoginPage": "true"}}],
		"identityProviderMappers": [
		{"name": "gh role", "identityProviderAlias": "github", "identityProviderMapper": "hardcoded-role-idp-mapper", "config": {"role": "x"}},
		{"name": "xpath", "identityProviderAlias": "corp", "identityProviderMapper": "saml-xpath-attribute-idp-mapper", "config": {"attribute": "", "xpath": "//x"}}]}`
	res := mustImport(t, st, doc, ImportOptions{})
	all := strings.Join(res.Warnings, "\n")
	for _, want := range []string{
		`identityProviders[0]: identity provider "github": providerId "github" is stored and exported but cannot be used to sign in`,
		`identityProviders[1]: identity provider "corp": settings keygate stores but does not act on: artifactResolutionServiceUrl, frobnicate (unknown key), xmlSigKeyInfoKeyNameTransformer`,
		`identityProviders[2]: identity provider "up": clientSecret is masked in the file and left unset`,
		`identityProviderMappers[1]: identity provider mapper "xpath": type saml-xpath-attribute-idp-mapper`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
	for _, secret := range []string{"artifact-Value", "gh-Secret-1", "KEY_ID"} {
		if strings.Contains(all, secret) {
			t.Errorf("a warning shows the value %q:\n%s", secret, all)
		}
	}
	if n := strings.Count(all, `identity provider "corp": settings`); n != 1 {
		t.Errorf("%d warnings for corp's settings, want 1", n)
	}

	realm, _ := mustRealm(t, st, "w")
	gh, err := st.GetIdentityProvider(ctx, realm.ID, "github")
	if err != nil || gh.ProviderID != "github" {
		t.Fatalf("github provider: %+v %v", gh, err)
	}
	out, err := Export(ctx, st, "w", ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byAlias := map[string]IdentityProvider{}
	for _, p := range out.IdentityProviders {
		byAlias[p.Alias] = p
	}
	up, corp := byAlias["up"], byAlias["corp"]
	if _, ok := up.Config["clientSecret"]; ok {
		t.Errorf("masked secret stored: %v", up.Config)
	}
	if _, ok := up.Config["hideOnLoginPage"]; ok || up.HideOnLogin == nil || !*up.HideOnLogin {
		t.Errorf("hideOnLoginPage not moved to hideOnLogin: %v %v", up.Config, up.HideOnLogin)
	}
	if _, ok := corp.Config["empty"]; ok {
		t.Errorf("empty config value kept: %v", corp.Config)
	}
	// What Keycloak's representation always carries.
	if corp.UpdateProfileFirstLoginMode != "on" || corp.TrustEmail == nil || *corp.TrustEmail || corp.StoreToken == nil ||
		corp.LinkOnly == nil || corp.HideOnLogin == nil || corp.AddReadTokenRoleOnCreate == nil || corp.AuthenticateByDefault == nil ||
		corp.Enabled == nil || !*corp.Enabled || corp.FirstBrokerLoginFlowAlias != "" {
		t.Errorf("defaults: %+v", corp)
	}
	if len(out.IdentityProviderMappers) != 2 {
		t.Errorf("mappers: %+v", out.IdentityProviderMappers)
	}
	for _, m := range out.IdentityProviderMappers {
		if _, ok := m.Config["attribute"]; ok {
			t.Errorf("empty mapper config value kept: %v", m.Config)
		}
	}
}

func TestCheckIdentityProviderAlias(t *testing.T) {
	for _, ok := range []string{"corp", "corp-saml", "a.b_c-D9", "x"} {
		if err := CheckIdentityProviderAlias(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "a b", "a%2Fb", "a?b", "a#b", "é", "a\\b", "a\x00", strings.Repeat("a", 256)} {
		if err := CheckIdentityProviderAlias(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
