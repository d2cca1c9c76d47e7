package admin_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestClientInstallation: GET /clients/{id}/installation/providers/
// keycloak-oidc-keycloak-json is the keycloak.json of the client, with
// Keycloak's keys and conditions (public-client, bearer-only, credentials
// by authenticator, verify-token-audience for a client with roles or named
// by an audience mapper, use-resource-role-mappings), as text/plain;
// keycloak-oidc-jboss-subsystem is the same as subsystem XML. It needs
// view-clients; a secret the caller may not see is masked; unknown
// providers and clients are 404.
func TestClientInstallation(t *testing.T) {
	e := newEnv(t)
	viewer := e.realmWithUser("inst", "viewer", "view-clients")
	users := e.userWithRoles("inst", "users", "view-users")
	b := "/admin/realms/inst"
	spa := e.must(201, "POST", b+"/clients", e.admin, map[string]any{"clientId": "spa", "publicClient": true}).id()
	backend := e.must(201, "POST", b+"/clients", e.admin, map[string]any{"clientId": "backend", "secret": "backend-secret"}).id()
	e.must(201, "POST", b+"/clients/"+backend+"/roles", e.admin, map[string]any{"name": "reader"})
	api := e.must(201, "POST", b+"/clients", e.admin, map[string]any{"clientId": "api", "bearerOnly": true}).id()
	target := e.must(201, "POST", b+"/clients", e.admin, map[string]any{"clientId": "target", "secret": "target-secret",
		"clientAuthenticatorType": "client-secret-jwt", "attributes": map[string]any{"token.endpoint.auth.signing.alg": "HS256"}}).id()
	e.must(201, "POST", b+"/client-scopes", e.admin, map[string]any{"name": "to-target", "protocol": "openid-connect",
		"protocolMappers": []map[string]any{{"name": "aud", "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper",
			"config": map[string]any{"included.client.audience": "target", "access.token.claim": "true"}}}})
	robot := e.must(201, "POST", b+"/clients", e.admin, map[string]any{"clientId": "robot", "secret": "robot-secret", "serviceAccountsEnabled": true}).id()
	var sa map[string]any
	e.must(200, "GET", b+"/clients/"+robot+"/service-account-user", e.admin, nil).json(t, &sa)
	e.must(204, "POST", b+"/users/"+sa["id"].(string)+"/role-mappings/clients/"+e.clientUUID("inst", "realm-management"), e.admin, named("realm-admin"))

	get := func(client, token string) (map[string]any, string) {
		t.Helper()
		r := e.must(200, "GET", b+"/clients/"+client+"/installation/providers/keycloak-oidc-keycloak-json", token, nil)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Fatalf("Content-Type %q", ct)
		}
		var m map[string]any
		r.json(t, &m)
		return m, string(r.body)
	}
	want := func(name string, got map[string]any, want map[string]any) {
		t.Helper()
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Fatalf("%s:\n got %s\nwant %s", name, g, w)
		}
	}
	base := e.url + "/"
	m, raw := get(spa, viewer)
	want("spa", m, map[string]any{"realm": "inst", "auth-server-url": base, "ssl-required": "external", "resource": "spa",
		"public-client": true, "confidential-port": 0})
	if i, j := strings.Index(raw, `"realm"`), strings.Index(raw, `"confidential-port"`); i < 0 || i > strings.Index(raw, `"auth-server-url"`) || j < strings.Index(raw, `"public-client"`) {
		t.Fatalf("keys out of Keycloak's order: %s", raw)
	}
	m, _ = get(backend, viewer)
	want("backend", m, map[string]any{"realm": "inst", "auth-server-url": base, "ssl-required": "external", "resource": "backend",
		"verify-token-audience": true, "credentials": map[string]any{"secret": "backend-secret"}, "use-resource-role-mappings": true,
		"confidential-port": 0})
	m, _ = get(api, viewer)
	want("api", m, map[string]any{"realm": "inst", "bearer-only": true, "auth-server-url": base, "ssl-required": "external",
		"resource": "api", "confidential-port": 0})
	m, _ = get(target, viewer)
	want("target", m, map[string]any{"realm": "inst", "auth-server-url": base, "ssl-required": "external", "resource": "target",
		"verify-token-audience": true, "credentials": map[string]any{"secret-jwt": map[string]any{"algorithm": "HS256", "secret": "target-secret"}},
		"confidential-port": 0})
	// The service account of robot outranks a view-clients caller.
	if m, _ = get(robot, viewer); m["credentials"].(map[string]any)["secret"] != "**********" {
		t.Fatalf("robot's secret shown to view-clients: %v", m["credentials"])
	}
	if m, _ = get(robot, e.admin); m["credentials"].(map[string]any)["secret"] != "robot-secret" {
		t.Fatalf("robot's secret for the server admin: %v", m["credentials"])
	}

	r := e.must(200, "GET", b+"/clients/"+backend+"/installation/providers/keycloak-oidc-jboss-subsystem", viewer, nil)
	xml := string(r.body)
	for _, s := range []string{`<secure-deployment name="WAR MODULE NAME.war">`, "<realm>inst</realm>", "<auth-server-url>" + base + "</auth-server-url>",
		"<ssl-required>EXTERNAL</ssl-required>", "<resource>backend</resource>", "<verify-token-audience>true</verify-token-audience>",
		`<credential name="secret">backend-secret</credential>`, "<use-resource-role-mappings>true</use-resource-role-mappings>"} {
		if !strings.Contains(xml, s) {
			t.Fatalf("subsystem XML lacks %s:\n%s", s, xml)
		}
	}

	r = e.must(404, "GET", b+"/clients/"+spa+"/installation/providers/docker-v2-compose-yaml", viewer, nil)
	if !strings.Contains(string(r.body), "Unknown Provider") {
		t.Fatalf("unknown provider: %s", r.body)
	}
	e.must(404, "GET", b+"/clients/"+uuid.NewString()+"/installation/providers/keycloak-oidc-keycloak-json", viewer, nil)
	e.must(403, "GET", b+"/clients/"+spa+"/installation/providers/keycloak-oidc-keycloak-json", users, nil)
}
