package admin_test

import "testing"

// TestFederatedIdentityEndpoints: Keycloak's federated-identity endpoints
// of a user; linking an account to a user who outranks the caller would
// hand that account the user's rights, and is refused.
func TestFederatedIdentityEndpoints(t *testing.T) {
	e := newEnv(t)
	e.realmWithUser("acme", "alice")
	const b = "/admin/realms/acme"
	e.must(201, "POST", b+"/identity-provider/instances", e.admin, map[string]any{"alias": "corp", "providerId": "oidc",
		"config": map[string]string{"clientId": "x", "authorizationUrl": "https://idp.example/auth", "tokenUrl": "https://idp.example/token"}})
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
