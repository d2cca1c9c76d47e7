package registration_test

import (
	"fmt"
	"strings"
	"testing"
)

const defaultURL = "/realms/acme/clients-registrations/default"

func (e *env) trustLoopback() string {
	h := e.call(201, "POST", "/admin/realms/acme/components", e.admin, map[string]any{"name": "Trusted Hosts", "providerId": "trusted-hosts",
		"providerType": "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy", "subType": "anonymous",
		"config": map[string][]string{"trusted-hosts": {"127.0.0.0/8"}}}, nil)
	loc := h.Get("Location")
	return loc[strings.LastIndex(loc, "/")+1:]
}

// Issue 9 §4: an RFC 7592 update is held to the policies that admitted
// the registration. Anonymously registered clients stay full-scope-disabled
// and are updated only from a trusted host.
func TestRegistrationUpdateKeepsAnonymousPolicies(t *testing.T) {
	e := newEnv(t)
	policy := e.trustLoopback()
	var reg map[string]any
	e.call(201, "POST", defaultURL, "", map[string]any{"clientId": "anon-app", "redirectUris": []string{"https://a.example.com/cb"}}, &reg)
	if reg["fullScopeAllowed"] != false {
		t.Fatalf("anonymous registration: fullScopeAllowed %v", reg["fullScopeAllowed"])
	}
	rat := reg["registrationAccessToken"].(string)

	reg["fullScopeAllowed"] = true
	var body map[string]string
	e.call(403, "PUT", defaultURL+"/anon-app", rat, reg, &body)
	if !strings.Contains(body["error_description"], "Full Scope") {
		t.Errorf("enabling full scope: %v", body)
	}
	var cur map[string]any
	e.call(200, "GET", defaultURL+"/anon-app", rat, nil, &cur)
	if cur["fullScopeAllowed"] != false {
		t.Errorf("after the refused update: fullScopeAllowed %v", cur["fullScopeAllowed"])
	}

	// A benign update from a trusted host works and keeps the policies.
	cur["name"] = "renamed"
	e.call(200, "PUT", defaultURL+"/anon-app", rat, cur, &reg)
	rat = reg["registrationAccessToken"].(string)
	reg["fullScopeAllowed"] = true
	e.call(403, "PUT", defaultURL+"/anon-app", rat, reg, nil)

	// Without the trusted-hosts policy the caller is no longer trusted.
	e.call(204, "DELETE", "/admin/realms/acme/components/"+policy, e.admin, nil, nil)
	reg["fullScopeAllowed"] = false
	e.call(403, "PUT", defaultURL+"/anon-app", rat, reg, &body)
	if !strings.Contains(body["error_description"], "Trusted Hosts") {
		t.Errorf("update from an untrusted host: %v", body)
	}

	// An authenticated registration (initial access token) is not bound by them.
	var auth map[string]any
	e.call(201, "POST", defaultURL, e.initialAccess(1, 0), map[string]any{"clientId": "iat-app", "redirectUris": []string{"https://b.example.com/cb"}}, &auth)
	auth["fullScopeAllowed"] = true
	e.call(200, "PUT", defaultURL+"/iat-app", auth["registrationAccessToken"].(string), auth, &auth)
	if auth["fullScopeAllowed"] != true {
		t.Errorf("authenticated update: %v", auth)
	}
}

// Issue 9 §4: registrants cannot open CORS to every origin or stretch
// tokens and sessions beyond the realm's lifespans, on create or update.
func TestRegistrationRefusesWildcardOriginAndLongLifespans(t *testing.T) {
	e := newEnv(t)
	iat := e.initialAccess(20, 0)
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{"redirectUris": []string{"https://a.example.com/cb"}}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	var body map[string]string
	for name, extra := range map[string]map[string]any{
		"webOrigins *":                  {"webOrigins": []string{"*"}},
		"web origin with a path":        {"webOrigins": []string{"https://a.example.com/cb"}},
		"access token lifespan":         {"attributes": map[string]string{"access.token.lifespan": "86400"}},
		"access token never expiring":   {"attributes": map[string]string{"access.token.lifespan": "-1"}},
		"client session max lifespan":   {"attributes": map[string]string{"client.session.max.lifespan": "999999999"}},
		"client session idle timeout":   {"attributes": map[string]string{"client.session.idle.timeout": "36000"}},
		"offline session idle timeout":  {"attributes": map[string]string{"client.offline.session.idle.timeout": "99999999"}},
		"offline session max lifespan":  {"attributes": map[string]string{"client.offline.session.max.lifespan": "99999999"}},
		"lifespan that is not a number": {"attributes": map[string]string{"access.token.lifespan": "5m"}},
	} {
		e.call(400, "POST", defaultURL, iat, base(extra), &body)
		if body["error"] != "invalid_client_metadata" {
			t.Errorf("%s: %v", name, body)
		}
	}
	// Within the realm's limits is fine.
	var reg map[string]any
	e.call(201, "POST", defaultURL, iat, base(map[string]any{"clientId": "ok-app", "webOrigins": []string{"+", "https://a.example.com"},
		"attributes": map[string]string{"access.token.lifespan": "60", "client.session.idle.timeout": "600"}}), &reg)
	rat := reg["registrationAccessToken"].(string)
	reg["webOrigins"] = []string{"*"}
	e.call(400, "PUT", defaultURL+"/ok-app", rat, reg, nil)
	reg["webOrigins"] = []string{"+"}
	reg["attributes"] = map[string]string{"access.token.lifespan": "3600"}
	e.call(400, "PUT", defaultURL+"/ok-app", rat, reg, nil)
	reg["attributes"] = map[string]string{"access.token.lifespan": "120"}
	e.call(200, "PUT", defaultURL+"/ok-app", rat, reg, &reg)
}

// Issue 9 §2: registered redirect URIs go through the same rules as the
// matcher (userinfo, dot segments, encoded traversal), on create and update.
func TestRegistrationRefusesUnsafeRedirectURIs(t *testing.T) {
	e := newEnv(t)
	iat := e.initialAccess(20, 0)
	var body map[string]string
	for _, uri := range []string{
		"https://app.example.com@evil.example/cb",
		"https://app.example.com/a/../cb",
		"https://app.example.com/a/%2e%2e/cb",
		"https://app.example.com/a/..%2Fcb",
		"http://localhost:3000/cb/../../x",
	} {
		e.call(400, "POST", regURL, iat, map[string]any{"redirect_uris": []string{uri}}, &body)
		if body["error"] != "invalid_redirect_uri" {
			t.Errorf("%s: %v", uri, body)
		}
		e.call(400, "POST", regURL, iat, map[string]any{"redirect_uris": []string{"https://ok.example.com/cb"}, "post_logout_redirect_uris": []string{uri}}, &body)
		if body["error"] != "invalid_client_metadata" {
			t.Errorf("post-logout %s: %v", uri, body)
		}
	}
	var reg map[string]any
	e.call(201, "POST", regURL, iat, map[string]any{"redirect_uris": []string{"https://ok.example.com/cb"}}, &reg)
	md := map[string]any{"client_id": reg["client_id"], "redirect_uris": []string{"https://ok.example.com@evil.example/cb"}}
	e.call(400, "PUT", regURL+"/"+reg["client_id"].(string), reg["registration_access_token"].(string), md, &body)
	if body["error"] != "invalid_redirect_uri" {
		t.Errorf("update: %v", body)
	}
}

// Keycloak's anonymous "Consent Required" and "Max Clients Limit"
// policies: an anonymously registered client asks people for consent and
// cannot stop asking; anonymous registration stops at the realm's limit of
// clients (the policy's max-clients, else 200). Authenticated registration
// is bound by neither.
func TestRegistrationAnonymousConsentAndMaxClients(t *testing.T) {
	e := newEnv(t)
	e.trustLoopback()
	for _, tc := range []struct{ url, id string }{{defaultURL, "anon-default"}, {regURL, ""}} {
		var reg map[string]any
		body := map[string]any{"redirectUris": []string{"https://a.example.com/cb"}, "redirect_uris": []string{"https://a.example.com/cb"}}
		if tc.id != "" {
			body["clientId"] = tc.id
		}
		e.call(201, "POST", tc.url, "", body, &reg)
		id, _ := reg["clientId"].(string)
		if id == "" {
			id, _ = reg["client_id"].(string)
		}
		var admin []map[string]any
		e.call(200, "GET", "/admin/realms/acme/clients?clientId="+id, e.admin, nil, &admin)
		if len(admin) != 1 || admin[0]["consentRequired"] != true {
			t.Fatalf("%s: anonymous client %q: %v", tc.url, id, admin)
		}
		if tc.url == defaultURL {
			reg["consentRequired"] = false
			var out map[string]string
			e.call(403, "PUT", defaultURL+"/"+id, reg["registrationAccessToken"].(string), reg, &out)
			if !strings.Contains(out["error_description"], "Consent Required") {
				t.Errorf("turning consent off: %v", out)
			}
		}
	}
	var auth map[string]any
	e.call(201, "POST", defaultURL, e.initialAccess(1, 0), map[string]any{"clientId": "iat-app", "redirectUris": []string{"https://b.example.com/cb"}}, &auth)
	if auth["consentRequired"] == true {
		t.Errorf("an authenticated registration was made to ask for consent: %v", auth["consentRequired"])
	}

	var clients []map[string]any
	e.call(200, "GET", "/admin/realms/acme/clients", e.admin, nil, &clients)
	e.call(201, "POST", "/admin/realms/acme/components", e.admin, map[string]any{"name": "Max Clients Limit", "providerId": "max-clients",
		"providerType": "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy", "subType": "anonymous",
		"config": map[string][]string{"max-clients": {fmt.Sprint(len(clients) + 1)}}}, nil)
	e.call(201, "POST", defaultURL, "", map[string]any{"clientId": "last-one", "redirectUris": []string{"https://c.example.com/cb"}}, nil)
	var out map[string]string
	e.call(403, "POST", defaultURL, "", map[string]any{"clientId": "one-too-many", "redirectUris": []string{"https://d.example.com/cb"}}, &out)
	if !strings.Contains(out["error_description"], "Max Clients Limit") {
		t.Errorf("past the limit: %v", out)
	}
	e.call(201, "POST", defaultURL, e.initialAccess(1, 0), map[string]any{"clientId": "iat-app-2", "redirectUris": []string{"https://e.example.com/cb"}}, nil)
}
