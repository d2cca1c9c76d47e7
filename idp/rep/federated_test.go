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
		"identityProviders": [{"alias": "corp-saml", "providerId": "saml", "enabled": true, "config": {"singleSignOnServiceUrl": "https://idp.example/sso"}}],
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
