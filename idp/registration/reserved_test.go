package registration_test

import "testing"

// TestRegistrationReservedClientIDs: a registrant cannot take the clientId
// of a client the admin API lets only a server admin create: master's
// "<realm>-realm" clients (their roles manage that realm), realm-management,
// and the clients whose tokens stand for all of their user's roles.
func TestRegistrationReservedClientIDs(t *testing.T) {
	e := newEnv(t)
	var iat map[string]any
	e.call(201, "POST", "/admin/realms/master/clients-initial-access", e.admin, map[string]any{"count": 10}, &iat)
	tok := iat["token"].(string)
	var cl []map[string]any
	e.call(200, "GET", "/admin/realms/master/clients?clientId=admin-cli", e.admin, nil, &cl)
	e.call(204, "DELETE", "/admin/realms/master/clients/"+cl[0]["id"].(string), e.admin, nil, nil)
	const reg = "/realms/master/clients-registrations/default"
	for _, id := range []string{"acme-realm", "admin-cli"} {
		var body map[string]string
		e.call(400, "POST", reg, tok, map[string]any{"clientId": id}, &body)
		if body["error"] != "invalid_client_metadata" {
			t.Errorf("%s: %v", id, body)
		}
	}
	e.call(201, "POST", reg, tok, map[string]any{"clientId": "acme-app"}, nil)
}
