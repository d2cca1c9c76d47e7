package admin_test

import (
	"strings"
	"testing"

	"github.com/keygate/keygate/idp"
)

// TestFederatedIdentityEndpoints: Keycloak's federated-identity endpoints
// of a user; linking an account to a user who outranks the caller would
// hand that account the user's rights, and is refused.
func TestFederatedIdentityEndpoints(t *testing.T) {
	e := newEnv(t)
	e.realmWithUser("acme", "alice")
	const b = "/admin/realms/acme"
	e.must(201, "POST", b+"/identity-provider/instances", e.admin, map[string]any{"alias": "corp", "providerId": "oidc",
		"config": map[string]string{"clientId": "x", "clientSecret": "x-Secret", "authorizationUrl": "https://idp.example/auth",
			"tokenUrl": "https://idp.example/token"}})
	alice := e.userID("acme", "alice")
	links := b + "/users/" + alice + "/federated-identity"
	var got []map[string]any
	if e.must(200, "GET", links, e.admin, nil).json(t, &got); len(got) != 0 {
		t.Fatalf("links of a new user: %v", got)
	}
	e.must(204, "POST", links+"/corp", e.admin, map[string]any{"userId": "alice-at-corp", "userName": "alice"})
	e.must(409, "POST", links+"/corp", e.admin, map[string]any{"userId": "other", "userName": "x"})
	e.must(404, "POST", links+"/nope", e.admin, map[string]any{"userId": "x"})
	e.must(400, "POST", links+"/corp", e.admin, map[string]any{"userName": "x"})
	if e.must(200, "GET", links, e.admin, nil).json(t, &got); len(got) != 1 || got[0]["identityProvider"] != "corp" ||
		got[0]["userId"] != "alice-at-corp" || got[0]["userName"] != "alice" {
		t.Fatalf("links: %v", got)
	}
	// Another user cannot take the same account.
	e.userWithRoles("acme", "bob")
	e.must(409, "POST", b+"/users/"+e.userID("acme", "bob")+"/federated-identity/corp", e.admin, map[string]any{"userId": "alice-at-corp"})
	e.must(204, "DELETE", links+"/corp", e.admin, nil)
	e.must(404, "DELETE", links+"/corp", e.admin, nil)

	// manage-users links its own account to a realm-admin: refused.
	mu := e.userWithRoles("acme", "mu", "manage-users")
	e.userWithRoles("acme", "ra", "realm-admin")
	e.must(403, "POST", b+"/users/"+e.userID("acme", "ra")+"/federated-identity/corp", mu, map[string]any{"userId": "mine"})
	e.must(204, "POST", b+"/users/"+e.userID("acme", "bob")+"/federated-identity/corp", mu, map[string]any{"userId": "bob-at-corp"})
}

// TestIdentityProviderSecret: an OIDC provider's clientSecret reads back
// masked, the mask in a PUT keeps it, and with --db-key it is sealed at rest.
func TestIdentityProviderSecret(t *testing.T) {
	e := newFedEnv(t, idp.Config{DBKey: testDBKey})
	const b = acme + "/identity-provider/instances"
	e.must(201, "POST", b, e.admin, map[string]any{"alias": "up", "providerId": "oidc",
		"config": map[string]string{"clientId": "kg", "clientSecret": "up-Secret-123", "authorizationUrl": "https://idp.example/auth",
			"tokenUrl": "https://idp.example/token"}})
	var got map[string]any
	e.must(200, "GET", b+"/up", e.admin, nil).json(t, &got)
	if got["config"].(map[string]any)["clientSecret"] != "**********" {
		t.Fatalf("clientSecret shown: %v", got["config"])
	}
	stored := func() string {
		row, err := e.st.GetIdentityProvider(t.Context(), e.realmID(), "up")
		if err != nil {
			t.Fatal(err)
		}
		return string(row.Config)
	}
	if s := stored(); strings.Contains(s, "up-Secret-123") || !strings.Contains(s, "kgsealed:") {
		t.Fatalf("stored unsealed: %s", s)
	}
	cfg := got["config"].(map[string]any)
	cfg["clientId"] = "kg2"
	before := stored()
	e.must(204, "PUT", b+"/up", e.admin, got)
	if s := stored(); !strings.Contains(s, "kg2") || secretOf(s) != secretOf(before) {
		t.Fatalf("the mask changed the secret: %s", s)
	}
}

func secretOf(config string) string {
	i := strings.Index(config, "kgsealed:")
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(config[i:], '"')
	return config[i : i+j]
}
