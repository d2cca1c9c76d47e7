package rep

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/storetest/backends"
)

// TestFederatedIdentitiesRoundTrip: a Keycloak export's brokered users keep
// their identity-provider links (and so their accounts) through import
// and export; a link to a provider the realm lacks is refused by path.
func TestFederatedIdentitiesRoundTrip(t *testing.T) {
	st := backends.SQLite(t)
	ctx := context.Background()
	realm := `{"realm": "corp", "enabled": true,
		"identityProviders": [{"alias": "corp-saml", "providerId": "saml", "enabled": true, "config": {"singleSignOnServiceUrl": "https://idp.example/sso", "validateSignature": "false"}}],
		"users": [{"username": "alice", "enabled": true,
			"federatedIdentities": [{"identityProvider": "corp-saml", "userId": "alice@corp", "userName": "alice"}]}]}`
	mustImport(t, st, realm, ImportOptions{})
	row, _ := mustRealm(t, st, "corp")
	u, err := st.GetUserByFederatedIdentity(ctx, row.ID, "corp-saml", "alice@corp")
	if err != nil || u.Username != "alice" {
		t.Fatalf("imported link: %+v %v", u, err)
	}
	out, err := Export(ctx, st, "corp", ExportOptions{Users: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Users) != 1 || len(out.Users[0].FederatedIdentities) != 1 ||
		out.Users[0].FederatedIdentities[0] != (FederatedIdentity{IdentityProvider: "corp-saml", UserID: "alice@corp", UserName: "alice"}) {
		t.Fatalf("exported links: %+v", out.Users)
	}

	bad := strings.Replace(strings.Replace(realm, `"realm": "corp"`, `"realm": "corp2"`, 1), `"identityProvider": "corp-saml"`, `"identityProvider": "nope"`, 1)
	if _, err := ImportRealm(ctx, st, []byte(bad), ImportOptions{}); err == nil ||
		!strings.Contains(err.Error(), `users[0].federatedIdentities[0].identityProvider: unknown identity provider "nope"`) {
		t.Fatalf("unknown provider: %v", err)
	}
	if _, err := st.GetRealmByName(ctx, "corp2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused import left a realm: %v", err)
	}
}

// TestIdentityProviderSecretImportExport: an identity provider's
// clientSecret is sealed on import (with SealSecret), masked in exports
// unless secrets are asked for, and a masked one in an import is unset.
func TestIdentityProviderSecretImportExport(t *testing.T) {
	st := backends.SQLite(t)
	ctx := context.Background()
	realm := `{"realm": "up", "enabled": true, "identityProviders": [{"alias": "kc", "providerId": "keycloak-oidc", "enabled": true,
		"config": {"clientId": "kg", "clientSecret": "s3cret-Value", "authorizationUrl": "https://kc.example/auth", "tokenUrl": "https://kc.example/token"}}]}`
	seal := func(v string) (string, error) { return "sealed(" + v + ")", nil }
	mustImport(t, st, realm, ImportOptions{SealSecret: seal})
	row, _ := mustRealm(t, st, "up")
	p, err := st.GetIdentityProvider(ctx, row.ID, "kc")
	if err != nil || !strings.Contains(string(p.Config), `sealed(s3cret-Value)`) {
		t.Fatalf("stored: %s %v", p.Config, err)
	}
	out, err := Export(ctx, st, "up", ExportOptions{})
	if err != nil || out.IdentityProviders[0].Config["clientSecret"] != SecretMask {
		t.Fatalf("export: %v %v", out.IdentityProviders, err)
	}
	reveal := func(v string) (string, error) { return strings.TrimSuffix(strings.TrimPrefix(v, "sealed("), ")"), nil }
	out, err = Export(ctx, st, "up", ExportOptions{Secrets: true, Reveal: reveal})
	if err != nil || out.IdentityProviders[0].Config["clientSecret"] != "s3cret-Value" {
		t.Fatalf("export with secrets: %v %v", out.IdentityProviders, err)
	}
	masked := strings.Replace(strings.Replace(realm, `"realm": "up"`, `"realm": "up2"`, 1), "s3cret-Value", SecretMask, 1)
	mustImport(t, st, masked, ImportOptions{SealSecret: seal})
	row2, _ := mustRealm(t, st, "up2")
	if p, _ := st.GetIdentityProvider(ctx, row2.ID, "kc"); strings.Contains(string(p.Config), "clientSecret") {
		t.Fatalf("a masked secret was stored: %s", p.Config)
	}
}

// TestClientConsentsRoundTrip: users' clientConsents (a Keycloak export's)
// are imported, by clientId and client scope names, and exported again the
// same; an unknown client or scope is refused by path.
func TestClientConsentsRoundTrip(t *testing.T) {
	st := backends.SQLite(t)
	ctx := context.Background()
	realm := `{"realm": "cons", "enabled": true,
		"clients": [{"clientId": "dash", "consentRequired": true, "redirectUris": ["https://dash.example/*"]}],
		"users": [{"username": "alice", "enabled": true,
			"clientConsents": [{"clientId": "dash", "grantedClientScopes": ["profile", "email"], "createdDate": 1714979289123, "lastUpdatedDate": 1714979389123}]}]}`
	mustImport(t, st, realm, ImportOptions{})
	row, _ := mustRealm(t, st, "cons")
	u, err := st.GetUserByUsername(ctx, row.ID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.ListUserConsents(ctx, row.ID, u.ID)
	if err != nil || len(got) != 1 || len(got[0].Scopes) != 2 || got[0].Created.UnixMilli() != 1714979289123 {
		t.Fatalf("imported consents: %+v %v", got, err)
	}
	out, err := Export(ctx, st, "cons", ExportOptions{Users: true})
	if err != nil {
		t.Fatal(err)
	}
	want := UserConsent{ClientID: "dash", GrantedClientScopes: []string{"email", "profile"}, CreatedDate: 1714979289123, LastUpdatedDate: 1714979389123}
	if len(out.Users) != 1 || len(out.Users[0].ClientConsents) != 1 || out.Users[0].ClientConsents[0].ClientID != want.ClientID ||
		strings.Join(out.Users[0].ClientConsents[0].GrantedClientScopes, ",") != "email,profile" ||
		out.Users[0].ClientConsents[0].CreatedDate != want.CreatedDate || out.Users[0].ClientConsents[0].LastUpdatedDate != want.LastUpdatedDate {
		t.Fatalf("exported consents: %+v", out.Users)
	}

	// A users file (Keycloak's realm-users-N.json) into the existing realm.
	if _, err := ImportRealm(ctx, st, []byte(`{"realm": "cons", "users": [{"username": "bob", "enabled": true,
		"clientConsents": [{"clientId": "dash", "grantedClientScopes": ["email"]}]}]}`), ImportOptions{}); err != nil {
		t.Fatalf("users file: %v", err)
	}
	bob, err := st.GetUserByUsername(ctx, row.ID, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := st.ListUserConsents(ctx, row.ID, bob.ID); err != nil || len(got) != 1 || len(got[0].Scopes) != 1 {
		t.Fatalf("users file consents: %+v %v", got, err)
	}

	for _, tc := range []struct{ from, to, want string }{
		{`"clientId": "dash", "grantedClientScopes"`, `"clientId": "nope", "grantedClientScopes"`, `users[0].clientConsents[0].clientId: unknown client "nope"`},
		{`["profile", "email"]`, `["profile", "mail"]`, `users[0].clientConsents[0].grantedClientScopes[1]: unknown client scope "mail"`},
	} {
		bad := strings.Replace(strings.Replace(realm, `"realm": "cons"`, `"realm": "cons2"`, 1), tc.from, tc.to, 1)
		if _, err := ImportRealm(ctx, st, []byte(bad), ImportOptions{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.want, err)
		}
		if _, err := st.GetRealmByName(ctx, "cons2"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a refused import left a realm: %v", err)
		}
	}
}
