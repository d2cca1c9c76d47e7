package registration_test

import (
	"net/url"
	"testing"
)

// TestRegistrationBearerTokenScope: a realm user's access token registers
// clients only when create-client or manage-clients is in its client's
// scope, as the admin API counts an admin's roles (Keycloak reads the
// token's resource_access): an application that receives the tokens of a
// user holding manage-clients, without those roles in its scope, cannot
// register clients with them.
func TestRegistrationBearerTokenScope(t *testing.T) {
	e := newEnv(t)
	const b = "/admin/realms/acme"
	var rm []map[string]any
	e.call(200, "GET", b+"/clients?clientId=realm-management", e.admin, nil, &rm)
	h := e.call(201, "POST", b+"/users", e.admin, map[string]any{"username": "mc", "enabled": true,
		"credentials": []map[string]any{{"type": "password", "value": "Passw0rd-mc"}}}, nil)
	user := pathBase(h.Get("Location"))
	e.call(204, "POST", b+"/users/"+user+"/role-mappings/clients/"+rm[0]["id"].(string), e.admin,
		[]map[string]any{{"name": "manage-clients"}}, nil)
	e.call(201, "POST", b+"/clients", e.admin, map[string]any{"clientId": "portal", "secret": "portal-secret",
		"directAccessGrantsEnabled": true, "fullScopeAllowed": false}, nil)
	token := func(client, secret string) string {
		var tok map[string]any
		form := url.Values{"grant_type": {"password"}, "client_id": {client}, "username": {"mc"}, "password": {"Passw0rd-mc"}}
		if secret != "" {
			form.Set("client_secret", secret)
		}
		e.form(200, "/realms/acme/protocol/openid-connect/token", "", form, &tok)
		return tok["access_token"].(string)
	}
	md := map[string]any{"redirect_uris": []string{"https://a.example.com/cb"}}
	e.call(403, "POST", regURL, token("portal", "portal-secret"), md, nil)
	e.call(201, "POST", regURL, token("admin-cli", ""), md, nil)
}
