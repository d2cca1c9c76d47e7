package registration_test

import "testing"

// TestRegistrationMapperChanges: a protocol mapper of a type registrants
// may not bring, which an admin put on the client, may be sent back as it
// is, but not changed, nor copied under another name.
func TestRegistrationMapperChanges(t *testing.T) {
	e := newEnv(t)
	iat := e.initialAccess(1, 0)
	var reg map[string]any
	e.call(201, "POST", defaultURL, iat, map[string]any{"clientId": "app"}, &reg)
	rat := reg["registrationAccessToken"].(string)
	var cl []map[string]any
	e.call(200, "GET", "/admin/realms/acme/clients?clientId=app", e.admin, nil, &cl)
	e.call(201, "POST", "/admin/realms/acme/clients/"+cl[0]["id"].(string)+"/protocol-mappers/models", e.admin, map[string]any{
		"name": "tier", "protocol": "openid-connect", "protocolMapper": "oidc-hardcoded-claim-mapper",
		"config": map[string]string{"claim.name": "tier", "claim.value": "free", "access.token.claim": "true", "jsonType.label": "String"}}, nil)
	e.call(200, "GET", defaultURL+"/app", rat, nil, &reg)
	rat = reg["registrationAccessToken"].(string)
	mapper := reg["protocolMappers"].([]any)[0].(map[string]any)

	changed := clone(mapper)
	changed["config"] = map[string]string{"claim.name": "realm_access", "claim.value": `{"roles":["admin"]}`, "access.token.claim": "true", "jsonType.label": "JSON"}
	reg["protocolMappers"] = []any{changed}
	e.call(403, "PUT", defaultURL+"/app", rat, reg, nil)
	copied := clone(changed)
	delete(copied, "id")
	copied["name"] = "roles"
	reg["protocolMappers"] = []any{mapper, copied}
	e.call(403, "PUT", defaultURL+"/app", rat, reg, nil)
	reg["protocolMappers"] = []any{mapper}
	e.call(200, "PUT", defaultURL+"/app", rat, reg, nil)
}

func clone(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}
