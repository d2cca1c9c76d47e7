package registration_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"
)

// TestRegistrationAllowedClientScopes: a registrant may ask only for the
// realm's default and optional client scopes (Keycloak's "Allowed Client
// Scopes" policy), or keep the ones an admin gave its client; any other
// client scope would put its mappers and scope mappings into the
// registrant's tokens.
func TestRegistrationAllowedClientScopes(t *testing.T) {
	e := newEnv(t)
	iat := e.initialAccess(10, 0)
	h := e.call(201, "POST", "/admin/realms/acme/client-scopes", e.admin, map[string]any{"name": "payroll-admin", "protocol": "openid-connect",
		"protocolMappers": []map[string]any{{"name": "payroll", "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper",
			"config": map[string]string{"included.custom.audience": "payroll", "access.token.claim": "true"}}}}, nil)
	scopeID := pathBase(h.Get("Location"))

	var body map[string]string
	e.call(403, "POST", regURL, iat, map[string]any{"redirect_uris": []string{"https://a.example.com/cb"}, "scope": "openid payroll-admin"}, &body)
	if body["error"] != "insufficient_scope" {
		t.Errorf("refusal: %v", body)
	}
	e.call(403, "POST", defaultURL, iat, map[string]any{"clientId": "d1", "defaultClientScopes": []string{"profile", "payroll-admin"}}, nil)
	e.call(403, "POST", defaultURL, iat, map[string]any{"clientId": "d2", "optionalClientScopes": []string{"payroll-admin"}}, nil)
	// The realm's own defaults are fine.
	e.call(201, "POST", regURL, iat, map[string]any{"redirect_uris": []string{"https://a.example.com/cb"}, "scope": "openid profile email offline_access"}, nil)
	var reg map[string]any
	e.call(201, "POST", defaultURL, iat, map[string]any{"clientId": "app", "secret": "app-secret-value", "serviceAccountsEnabled": true,
		"defaultClientScopes": []string{"profile", "email"}}, &reg)
	rat := reg["registrationAccessToken"].(string)

	// Not by an update either.
	e.call(403, "PUT", defaultURL+"/app", rat, map[string]any{"clientId": "app", "optionalClientScopes": []string{"payroll-admin"}}, nil)
	var tok map[string]any
	e.form(200, "/realms/acme/protocol/openid-connect/token", "app:app-secret-value", url.Values{"grant_type": {"client_credentials"}}, &tok)
	if claims := decodeJWT(t, tok["access_token"].(string)); audHas(claims["aud"], "payroll") {
		t.Fatalf("registrant's token has the payroll audience: %v", claims)
	}
	// A scope an admin gave the client stays through the registrant's updates.
	var cl []map[string]any
	e.call(200, "GET", "/admin/realms/acme/clients?clientId=app", e.admin, nil, &cl)
	e.call(204, "PUT", "/admin/realms/acme/clients/"+cl[0]["id"].(string)+"/optional-client-scopes/"+scopeID, e.admin, nil, nil)
	e.call(200, "GET", defaultURL+"/app", rat, nil, &reg)
	e.call(200, "PUT", defaultURL+"/app", rat, reg, &reg)
}

func pathBase(p string) string { return path.Base(p) }

// decodeJWT returns a JWT's claims, unverified.
func decodeJWT(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// audHas reports whether an aud claim (a string or a list) has want.
func audHas(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		return slices.Contains(a, any(want))
	}
	return false
}
