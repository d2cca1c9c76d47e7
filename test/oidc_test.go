package test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// seeded starts one server with the two test realms.
func seeded(t *testing.T) *server {
	return startServer(t, "", []string{"KC_BOOTSTRAP_ADMIN_USERNAME=admin", "KC_BOOTSTRAP_ADMIN_PASSWORD=admin-secret-pw"},
		"--import-realm", "testdata/realm-test.json", "--import-realm", "testdata/realm-other.json")
}

func webappConfig(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID: "webapp", ClientSecret: "webapp-secret", Endpoint: p.Endpoint(),
		Scopes: []string{oidc.ScopeOpenID, "profile", "email"},
	}
}

// claimsOf decodes a JWT's payload without verifying it (the verifiers do that).
func claimsOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %.20q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func headerOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func strs(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// postForm sends a form and decodes the JSON answer.
func postForm(t *testing.T, u string, form url.Values, basic ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s %s: status %d, non-JSON body %q", req.Method, req.URL.Path, resp.StatusCode, body)
		}
	}
	return resp.StatusCode, m
}

func TestOIDCWithRealClients(t *testing.T) {
	s := seeded(t)
	ctx := testContext(t)
	issuer := s.URL + "/realms/test"
	tokenURL := issuer + "/protocol/openid-connect/token"

	provider, err := oidc.NewProvider(ctx, issuer) // checks the issuer exactly
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	idVerifier := provider.Verifier(&oidc.Config{ClientID: "webapp"})
	conf := webappConfig(provider)
	var issued []string // every token, to grep the log for later

	t.Run("discovery", func(t *testing.T) {
		var d struct {
			Issuer           string `json:"issuer"`
			TokenEndpoint    string `json:"token_endpoint"`
			UserinfoEndpoint string `json:"userinfo_endpoint"`
		}
		if err := provider.Claims(&d); err != nil {
			t.Fatal(err)
		}
		if d.Issuer != issuer {
			t.Errorf("issuer %q, want %q", d.Issuer, issuer)
		}
		for name, got := range map[string]string{"token": d.TokenEndpoint, "userinfo": d.UserinfoEndpoint} {
			if !strings.HasPrefix(got, issuer+"/protocol/openid-connect/") {
				t.Errorf("%s endpoint %q not under the realm", name, got)
			}
		}
		// Keycloak's realm info.
		code, info := do(t, mustReq(t, http.MethodGet, issuer, ""))
		if code != 200 || info["realm"] != "test" || info["public_key"] == "" || info["token-service"] != issuer+"/protocol/openid-connect" {
			t.Errorf("realm info %d %v", code, info)
		}
		// The legacy /auth prefix serves the same realm.
		code, _ = do(t, mustReq(t, http.MethodGet, s.URL+"/auth/realms/test/.well-known/openid-configuration", ""))
		if code != 200 {
			t.Errorf("/auth prefix: %d", code)
		}
	})

	var first *oauth2.Token
	t.Run("password grant", func(t *testing.T) {
		tok, err := conf.PasswordCredentialsToken(ctx, "alice", "alice-pass")
		if err != nil {
			t.Fatal(err)
		}
		first = tok
		issued = append(issued, tok.AccessToken, tok.RefreshToken)
		if tok.TokenType != "Bearer" {
			t.Errorf("token_type %q", tok.TokenType)
		}
		for _, k := range []string{"refresh_expires_in", "session_state", "scope", "not-before-policy"} {
			if tok.Extra(k) == nil {
				t.Errorf("token response lacks %s", k)
			}
		}
		if got := tok.Extra("refresh_expires_in").(float64); got < 1700 || got > 1800 {
			t.Errorf("refresh_expires_in %v, want ~1800", got)
		}
		scope := strings.Fields(tok.Extra("scope").(string))
		for _, want := range []string{"openid", "profile", "email"} {
			if !slices.Contains(scope, want) {
				t.Errorf("scope %v lacks %s", scope, want)
			}
		}
		rawID, _ := tok.Extra("id_token").(string)
		issued = append(issued, rawID)
		idt, err := idVerifier.Verify(ctx, rawID)
		if err != nil {
			t.Fatalf("go-oidc rejects the ID token: %v", err)
		}
		var idc map[string]any
		_ = idt.Claims(&idc)
		if idc["typ"] != "ID" || idc["azp"] != "webapp" || idc["preferred_username"] != "alice" ||
			idc["email"] != "alice@example.com" || idc["name"] != "Alice Liddell" || idc["sub"] != "a11ce000-0000-4000-8000-000000000001" {
			t.Errorf("ID token claims %v", idc)
		}
		if idc["sid"] != tok.Extra("session_state") {
			t.Errorf("sid %v != session_state %v", idc["sid"], tok.Extra("session_state"))
		}
		if _, ok := idc["at_hash"]; !ok {
			t.Error("ID token lacks at_hash")
		}
		if g := strs(idc["groups"]); !slices.Equal(g, []string{"/team/dev"}) {
			t.Errorf("ID token groups %v", g)
		}
		if _, ok := idc["realm_access"]; ok {
			t.Error("realm_access must stay out of the ID token (Keycloak's roles scope writes the access token only)")
		}

		// The access token verifies as a JWT against the JWKS with the client
		// in its audience, as oauth2-proxy's keycloak-oidc provider requires.
		at, err := idVerifier.Verify(ctx, tok.AccessToken)
		if err != nil {
			t.Fatalf("access token not verifiable with aud=webapp: %v", err)
		}
		var ac map[string]any
		_ = at.Claims(&ac)
		if h := headerOf(t, tok.AccessToken); h["alg"] != "RS256" || h["kid"] == "" {
			t.Errorf("access token header %v", h)
		}
		if ac["typ"] != "Bearer" || ac["azp"] != "webapp" || ac["iss"] != issuer || ac["sid"] != idc["sid"] || ac["tenant"] != "acme" || ac["team"] != "platform" {
			t.Errorf("access token claims %v", ac)
		}
		realmRoles := strs(ac["realm_access"].(map[string]any)["roles"])
		for _, want := range []string{"viewer", "default-roles-test", "offline_access", "uma_authorization"} {
			if !slices.Contains(realmRoles, want) {
				t.Errorf("realm_access.roles %v lacks %s", realmRoles, want)
			}
		}
		ra := ac["resource_access"].(map[string]any)
		if r := strs(ra["webapp"].(map[string]any)["roles"]); !slices.Equal(r, []string{"editor"}) {
			t.Errorf("resource_access.webapp.roles %v", r)
		}
		if r := strs(ra["account"].(map[string]any)["roles"]); !slices.Contains(r, "manage-account") || !slices.Contains(r, "view-profile") {
			t.Errorf("resource_access.account.roles %v", r)
		}
		aud := strs(ac["aud"])
		if !slices.Contains(aud, "webapp") || !slices.Contains(aud, "account") {
			t.Errorf("aud %v, want webapp and account", ac["aud"])
		}
		if !slices.Contains(strs(ac["allowed-origins"]), "http://127.0.0.1:9999") {
			t.Errorf("allowed-origins %v", ac["allowed-origins"])
		}
		// keycloak-js decodes the refresh token: it must be a JWT.
		rc := claimsOf(t, tok.RefreshToken)
		if rc["typ"] != "Refresh" || rc["sid"] != idc["sid"] || rc["aud"] != issuer {
			t.Errorf("refresh token claims %v", rc)
		}
		if h := headerOf(t, tok.RefreshToken); h["alg"] != "HS512" {
			t.Errorf("refresh token alg %v, want HS512", h["alg"])
		}
	})

	t.Run("userinfo", func(t *testing.T) {
		ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(first))
		if err != nil {
			t.Fatal(err)
		}
		var c map[string]any
		_ = ui.Claims(&c)
		if c["sub"] != "a11ce000-0000-4000-8000-000000000001" || c["preferred_username"] != "alice" || c["email"] != "alice@example.com" || c["team"] != "platform" {
			t.Errorf("userinfo %v", c)
		}
		if _, ok := c["tenant"]; ok {
			t.Error("tenant is access-token only, yet userinfo carries it")
		}
		if !slices.Equal(strs(c["groups"]), []string{"/team/dev"}) {
			t.Errorf("userinfo groups %v", c["groups"])
		}
	})

	t.Run("refresh issues new tokens; the old refresh token stays valid", func(t *testing.T) {
		old := first.RefreshToken
		src := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: old, Expiry: time.Now().Add(-time.Minute)})
		next, err := src.Token()
		if err != nil {
			t.Fatal(err)
		}
		issued = append(issued, next.AccessToken, next.RefreshToken)
		if next.RefreshToken == old || next.AccessToken == first.AccessToken {
			t.Fatal("refresh did not rotate the tokens")
		}
		if _, err := idVerifier.Verify(ctx, next.Extra("id_token").(string)); err != nil {
			t.Errorf("refreshed ID token: %v", err)
		}
		if claimsOf(t, next.AccessToken)["sid"] != claimsOf(t, first.AccessToken)["sid"] {
			t.Error("refresh changed the session id")
		}
		// Keycloak's default (revokeRefreshToken off): the older refresh
		// token still works, and so does the newer one after it.
		// TestConcurrentRefresh has the single-use mode.
		for _, rt := range []string{old, next.RefreshToken} {
			code, body := postForm(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "webapp", "webapp-secret")
			if code != 200 {
				t.Errorf("refresh again: %d %v", code, body)
			} else {
				issued = append(issued, body["access_token"].(string), body["refresh_token"].(string))
			}
		}
	})

	t.Run("client credentials", func(t *testing.T) {
		cc := clientcredentials.Config{ClientID: "webapp", ClientSecret: "webapp-secret", TokenURL: tokenURL}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		issued = append(issued, tok.AccessToken)
		if tok.RefreshToken != "" {
			t.Error("client_credentials returned a refresh token; Keycloak does not by default")
		}
		at, err := idVerifier.Verify(ctx, tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		var c map[string]any
		_ = at.Claims(&c)
		if c["preferred_username"] != "service-account-webapp" || c["client_id"] != "webapp" || c["azp"] != "webapp" {
			t.Errorf("service account claims %v", c)
		}
		if _, ok := c["sid"]; ok {
			t.Error("client_credentials token carries a sid")
		}
		// client_secret_post works too.
		code, body := postForm(t, tokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {"webapp"}, "client_secret": {"webapp-secret"}})
		if code != 200 || body["access_token"] == nil || body["refresh_expires_in"] != 0.0 {
			t.Errorf("client_secret_post: %d %v", code, body)
		}
		// RFC 7009 on an access token: only the owning client may revoke it,
		// and afterwards it is inactive though its signature and exp are fine.
		intro, revoke := issuer+"/protocol/openid-connect/token/introspect", issuer+"/protocol/openid-connect/revoke"
		isActive := func(token string) bool {
			t.Helper()
			code, body := postForm(t, intro, url.Values{"token": {token}}, "webapp", "webapp-secret")
			if code != 200 {
				t.Fatalf("introspect: %d %v", code, body)
			}
			return body["active"] == true
		}
		other := body["access_token"].(string)
		if !isActive(tok.AccessToken) || !isActive(other) {
			t.Fatal("fresh service-account tokens are inactive")
		}
		code, body = postForm(t, revoke, url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}, "webapp2", "webapp2-secret")
		if code != 400 || body["error"] != "unauthorized_client" || !isActive(tok.AccessToken) {
			t.Errorf("another client revoking webapp's token: %d %v", code, body)
		}
		code, _ = postForm(t, revoke, url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}, "webapp", "webapp-secret")
		if code != 200 || isActive(tok.AccessToken) {
			t.Errorf("revoked access token: revoke %d, still active %v", code, isActive(tok.AccessToken))
		}
		if !isActive(other) {
			t.Error("revoking one client_credentials token ended another")
		}
	})

	t.Run("introspection and revocation", func(t *testing.T) {
		tok, err := conf.PasswordCredentialsToken(ctx, "carol", "carol-pass")
		if err != nil {
			t.Fatal(err)
		}
		issued = append(issued, tok.AccessToken, tok.RefreshToken)
		intro := issuer + "/protocol/openid-connect/token/introspect"
		code, body := postForm(t, intro, url.Values{"token": {tok.AccessToken}}, "webapp", "webapp-secret")
		if code != 200 || body["active"] != true || body["username"] != "carol" || body["client_id"] != "webapp" {
			t.Fatalf("introspect: %d %v", code, body)
		}
		if r := strs(body["realm_access"].(map[string]any)["roles"]); !slices.Contains(r, "viewer") {
			t.Errorf("carol's composite stackstate-admin should include viewer: %v", r)
		}
		// Keycloak 26: the token's own claims, then what the mappers that
		// are on for introspection give (a mapper stored without the key
		// counts when it is on for the access token).
		for k, want := range map[string]any{"introspected": "yes", "tenant": "acme", "token_type": "Bearer",
			"typ": "Bearer", "azp": "webapp", "iss": issuer, "preferred_username": "carol"} {
			if body[k] != want {
				t.Errorf("introspection %s = %v, want %v", k, body[k], want)
			}
		}
		if v, ok := body["token_only"]; ok {
			t.Errorf("token_only (off for introspection) is in the answer: %v", v)
		}
		at := claimsOf(t, tok.AccessToken)
		if at["token_only"] != "yes" || at["introspected"] != nil || at["sub"] != body["sub"] || at["jti"] != body["jti"] || at["exp"] != body["exp"] {
			t.Errorf("access token %v against introspection %v", at, body)
		}
		code, body = postForm(t, intro, url.Values{"token": {tok.RefreshToken}}, "webapp", "webapp-secret")
		if code != 200 || body["active"] != true || body["typ"] != "Refresh" || body["token_type"] != "Refresh" || body["username"] != "carol" ||
			body["introspected"] != "yes" || body["token_only"] != nil || body["client_id"] != "webapp" {
			t.Errorf("introspect refresh token: %d %v", code, body)
		}
		if r, _ := body["realm_access"].(map[string]any); !slices.Contains(strs(r["roles"]), "viewer") {
			t.Errorf("refresh token introspection without the roles mapper's claim: %v", body)
		}
		code, _ = postForm(t, intro, url.Values{"token": {tok.AccessToken}})
		if code != 401 {
			t.Errorf("introspection without client auth: %d", code)
		}
		code, body = postForm(t, intro, url.Values{"token": {"not.a.token"}}, "webapp", "webapp-secret")
		if code != 200 || body["active"] != false {
			t.Errorf("garbage token: %d %v", code, body)
		}
		// Revoking the refresh token ends its access token too.
		code, _ = postForm(t, issuer+"/protocol/openid-connect/revoke", url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}, "webapp", "webapp-secret")
		if code != 200 {
			t.Fatalf("revoke: %d", code)
		}
		code, body = postForm(t, intro, url.Values{"token": {tok.AccessToken}}, "webapp", "webapp-secret")
		if body["active"] != false {
			t.Errorf("access token still active after revoking its refresh token: %d %v", code, body)
		}
		code, body = postForm(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "webapp", "webapp-secret")
		if code != 400 || body["error"] != "invalid_grant" {
			t.Errorf("revoked refresh token: %d %v", code, body)
		}
		if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Error("userinfo accepts a revoked access token")
		}
	})

	t.Run("fullScopeAllowed=false limits roles to the client's scope", func(t *testing.T) {
		sc := &oauth2.Config{ClientID: "scoped", ClientSecret: "scoped-secret", Endpoint: provider.Endpoint(), Scopes: []string{"openid"}}
		tok, err := sc.PasswordCredentialsToken(ctx, "carol", "carol-pass")
		if err != nil {
			t.Fatal(err)
		}
		issued = append(issued, tok.AccessToken, tok.RefreshToken)
		c := claimsOf(t, tok.AccessToken)
		ra, _ := c["realm_access"].(map[string]any)
		// carol holds stackstate-admin (composite of viewer) and the default
		// roles; only viewer is scope-mapped to this client.
		if got := strs(ra["roles"]); !slices.Equal(got, []string{"viewer"}) {
			t.Errorf("realm roles %v, want [viewer]", got)
		}
		if _, ok := c["resource_access"]; ok {
			t.Errorf("no client role is in scope, yet resource_access = %v", c["resource_access"])
		}
	})

	t.Run("legacy credential re-hashed on login", func(t *testing.T) {
		creds := readCredentials(t, s.DB, "test", "alice")
		if len(creds) != 1 {
			t.Fatalf("alice has %d credentials, want 1", len(creds))
		}
		var cd struct {
			HashIterations int    `json:"hashIterations"`
			Algorithm      string `json:"algorithm"`
		}
		_ = json.Unmarshal([]byte(creds[0].CredentialData), &cd)
		if cd.Algorithm != "pbkdf2-sha256" || cd.HashIterations != 20000 {
			t.Errorf("after login alice's credential is %+v, want pbkdf2-sha256/20000", cd)
		}
		if creds[0].ID != "c0000000-0000-4000-8000-00000000a11c" {
			t.Errorf("re-hash changed the credential id to %s", creds[0].ID)
		}
		if strings.Contains(creds[0].SecretData, "88SedhLsWZt3") {
			t.Error("the old 27500-iteration value is still stored")
		}
		if _, err := conf.PasswordCredentialsToken(ctx, "alice", "alice-pass"); err != nil {
			t.Errorf("login after re-hash: %v", err)
		}
	})

	t.Run("no secret in the log", func(t *testing.T) {
		log := s.logs.String()
		secrets := append([]string{"alice-pass", "carol-pass", "webapp-secret", "admin-secret-pw", "secretData"}, issued...)
		for _, sec := range secrets {
			if sec != "" && strings.Contains(log, sec) {
				t.Errorf("the server log contains a secret (%.12s...)", sec)
			}
		}
		if !strings.Contains(log, "/protocol/openid-connect/token") {
			t.Error("debug log has no request lines; the check above proves nothing")
		}
	})
}

func mustReq(t *testing.T, method, u, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestTokenEndpointErrors(t *testing.T) {
	s := seeded(t)
	tokenURL := s.URL + "/realms/test/protocol/openid-connect/token"
	pw := func(user, pass string) url.Values {
		return url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}}
	}
	generic := map[string]any{"error": "invalid_grant", "error_description": "Invalid user credentials"}
	cases := []struct {
		name   string
		url    string
		form   url.Values
		basic  []string
		status int
		want   map[string]any
	}{
		{"unknown realm", s.URL + "/realms/nope/protocol/openid-connect/token", pw("alice", "alice-pass"), []string{"webapp", "webapp-secret"}, 404, map[string]any{"error": "Realm does not exist"}},
		{"unknown client", tokenURL, pw("alice", "alice-pass"), []string{"ghost", "x"}, 401, map[string]any{"error": "invalid_client"}},
		{"wrong client secret", tokenURL, pw("alice", "alice-pass"), []string{"webapp", "wrong"}, 401, map[string]any{"error": "invalid_client"}},
		{"wrong password", tokenURL, pw("carol", "nope"), []string{"webapp", "webapp-secret"}, 401, generic},
		{"unknown user", tokenURL, pw("mallory", "nope"), []string{"webapp", "webapp-secret"}, 401, generic},
		{"empty password", tokenURL, pw("carol", ""), []string{"webapp", "webapp-secret"}, 400, map[string]any{"error": "invalid_request"}},
		{"disabled user, wrong password", tokenURL, pw("bob", "nope"), []string{"webapp", "webapp-secret"}, 401, generic},
		{"disabled user, right password", tokenURL, pw("bob", "bob-pass"), []string{"webapp", "webapp-secret"}, 400, map[string]any{"error": "invalid_grant", "error_description": "Account disabled"}},
		{"public client asks client_credentials", tokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {"spa"}}, nil, 400, nil},
		{"client without direct access grants", tokenURL, pw("carol", "carol-pass"), []string{"nodirect", "nodirect-secret"}, 400, map[string]any{"error": "unauthorized_client"}},
		{"client without service account", tokenURL, url.Values{"grant_type": {"client_credentials"}}, []string{"nodirect", "nodirect-secret"}, 400, map[string]any{"error": "unauthorized_client"}},
		{"unsupported grant", tokenURL, url.Values{"grant_type": {"urn:nope"}}, []string{"webapp", "webapp-secret"}, 400, map[string]any{"error": "unsupported_grant_type"}},
		{"garbage refresh token", tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"abc.def.ghi"}}, []string{"webapp", "webapp-secret"}, 400, map[string]any{"error": "invalid_grant"}},
		{"unknown scope", tokenURL, url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"carol-pass"}, "scope": {"openid admin:all"}}, []string{"webapp", "webapp-secret"}, 400, map[string]any{"error": "invalid_scope"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := postForm(t, c.url, c.form, c.basic...)
			if code != c.status {
				t.Errorf("status %d, want %d (body %v)", code, c.status, body)
			}
			for k, v := range c.want {
				if body[k] != v {
					t.Errorf("%s = %v, want %v (body %v)", k, body[k], v, body)
				}
			}
			if c.status >= 400 && body["access_token"] != nil {
				t.Error("an error answer carries a token")
			}
		})
	}
	t.Run("public client asks client_credentials is refused", func(t *testing.T) {
		_, body := postForm(t, tokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {"spa"}})
		if e := body["error"]; e != "unauthorized_client" && e != "invalid_client" && e != "invalid_grant" {
			t.Errorf("error %v", e)
		}
	})
	t.Run("malformed body", func(t *testing.T) {
		req := mustReq(t, http.MethodPost, tokenURL, "%zz=%%%")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("webapp", "webapp-secret")
		code, body := do(t, req)
		if code != 400 || body["error"] != "invalid_request" {
			t.Errorf("%d %v", code, body)
		}
	})
	t.Run("failed logins write no session", func(t *testing.T) {
		if n := countSessions(t, s.DB, "test", "carol"); n != 0 {
			t.Errorf("carol has %d sessions after only failed logins", n)
		}
	})
	t.Run("brute force lockout answers the generic error", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			code, _ := postForm(t, tokenURL, pw("dave", "wrong"), "webapp", "webapp-secret")
			if code != 401 {
				t.Fatalf("attempt %d: %d", i, code)
			}
		}
		code, body := postForm(t, tokenURL, pw("dave", "dave-pass"), "webapp", "webapp-secret")
		if code != 401 || body["error_description"] != "Invalid user credentials" {
			t.Errorf("locked user with the right password: %d %v", code, body)
		}
	})
}

func TestCrossRealmIsolation(t *testing.T) {
	s := seeded(t)
	ctx := testContext(t)
	a, err := oidc.NewProvider(ctx, s.URL+"/realms/test")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := webappConfig(a).PasswordCredentialsToken(ctx, "alice", "alice-pass")
	if err != nil {
		t.Fatal(err)
	}
	other := s.URL + "/realms/other/protocol/openid-connect"
	// A token of realm test is nothing in realm other, though the client id matches.
	req := mustReq(t, http.MethodGet, other+"/userinfo", "")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if code, _ := do(t, req); code != 401 {
		t.Errorf("userinfo in the other realm: %d", code)
	}
	code, body := postForm(t, other+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "webapp", "other-secret")
	if code != 400 || body["error"] != "invalid_grant" {
		t.Errorf("refresh in the other realm: %d %v", code, body)
	}
	code, body = postForm(t, other+"/token/introspect", url.Values{"token": {tok.AccessToken}}, "webapp", "other-secret")
	if body["active"] != false {
		t.Errorf("introspection in the other realm: %d %v", code, body)
	}
	// Same username, other realm, other password.
	code, _ = postForm(t, other+"/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-pass"}}, "webapp", "other-secret")
	if code != 401 {
		t.Errorf("realm test's password works in realm other: %d", code)
	}
	b, err := oidc.NewProvider(ctx, s.URL+"/realms/other")
	if err != nil {
		t.Fatal(err)
	}
	// Keys differ per realm.
	if _, err := b.Verifier(&oidc.Config{SkipClientIDCheck: true}).Verify(ctx, tok.AccessToken); err == nil {
		t.Error("realm other's keys verify realm test's token")
	}
	_, err = (&oauth2.Config{ClientID: "webapp", ClientSecret: "other-secret", Endpoint: b.Endpoint()}).PasswordCredentialsToken(ctx, "alice", "other-alice-pass")
	if err != nil {
		t.Errorf("realm other's own login: %v", err)
	}
}

func TestExpiredRefreshToken(t *testing.T) {
	s := seeded(t)
	// Realm other's SSO idle timeout is two seconds: refresh_expires_in says
	// so, and a refresh after it fails.
	tokenURL := s.URL + "/realms/other/protocol/openid-connect/token"
	code, body := postForm(t, tokenURL, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"other-alice-pass"}}, "webapp", "other-secret")
	if code != 200 || body["refresh_expires_in"] != 2.0 {
		t.Fatalf("login: %d %v", code, body)
	}
	time.Sleep(3 * time.Second)
	code, body = postForm(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}}, "webapp", "other-secret")
	if code != 400 || body["error"] != "invalid_grant" || body["error_description"] != "Token is not active" {
		t.Errorf("expired refresh token: %d %v", code, body)
	}
}

func TestBootstrapAdminAndRestart(t *testing.T) {
	db := t.TempDir() + "/kg.db"
	env := []string{"KC_BOOTSTRAP_ADMIN_USERNAME=admin", "KC_BOOTSTRAP_ADMIN_PASSWORD=first-admin-pw"}
	s := startServer(t, db, env)
	ctx := testContext(t)
	tokenURL := s.URL + "/realms/master/protocol/openid-connect/token"
	code, body := postForm(t, tokenURL, url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"}, "username": {"admin"}, "password": {"first-admin-pw"}})
	if code != 200 {
		t.Fatalf("admin-cli password grant: %d %v", code, body)
	}
	if c := claimsOf(t, body["access_token"].(string)); c["preferred_username"] != "admin" || c["azp"] != "admin-cli" {
		t.Errorf("admin token claims %v", c)
	}
	kid := headerOf(t, body["access_token"].(string))["kid"]
	st := openDB(t, db)
	admin := lookupUser(t, st, "master", "admin")
	roles, err := st.ListUserRoles(ctx, admin.RealmID, admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range roles {
		names = append(names, r.Name)
	}
	if !slices.Contains(names, "admin") {
		t.Errorf("bootstrap admin holds %v, not the master role admin", names)
	}
	s.stop(t)

	// A restart keeps the key (kid stable) and does not re-create the admin.
	s2 := startServer(t, db, []string{"KC_BOOTSTRAP_ADMIN_USERNAME=admin", "KC_BOOTSTRAP_ADMIN_PASSWORD=changed"})
	code, body = postForm(t, s2.URL+"/realms/master/protocol/openid-connect/token", url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"}, "username": {"admin"}, "password": {"first-admin-pw"}})
	if code != 200 {
		t.Fatalf("after restart: %d %v", code, body)
	}
	if got := headerOf(t, body["access_token"].(string))["kid"]; got != kid {
		t.Errorf("kid changed across restart: %v -> %v", kid, got)
	}
	p, err := oidc.NewProvider(ctx, s2.URL+"/realms/master")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Verifier(&oidc.Config{SkipClientIDCheck: true}).Verify(ctx, body["access_token"].(string)); err != nil {
		t.Errorf("go-oidc: %v", err)
	}
}

// TestConcurrentRefresh sends one refresh token twenty times at once.
//
// With the realm's revokeRefreshToken off (Keycloak's default) every one
// succeeds, and every refresh token they return works: what oauth2-proxy's
// concurrent refreshes need.
//
// With it on, exactly one request may rotate it (the others must not fork
// a second token family from the same token). A loser that read the token
// after the winner spent it is a reuse, which revokes the family, winner
// included; losers that raced the rotation itself ("Stale token") leave
// the winner's token alive.
func TestConcurrentRefresh(t *testing.T) {
	s := seeded(t)
	tokenURL := s.URL + "/realms/test/protocol/openid-connect/token"
	const n = 20
	burst := func(t *testing.T) ([]int, []map[string]any) {
		code, body := postForm(t, tokenURL, url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"carol-pass"}}, "webapp", "webapp-secret")
		if code != 200 {
			t.Fatalf("login: %d %v", code, body)
		}
		rt := body["refresh_token"].(string)
		var (
			wg     sync.WaitGroup
			start  = make(chan struct{})
			codes  = make([]int, n)
			bodies = make([]map[string]any, n)
		)
		for i := range n {
			wg.Go(func() {
				<-start
				codes[i], bodies[i] = postForm(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "webapp", "webapp-secret")
			})
		}
		close(start)
		wg.Wait()
		t.Logf("answers: %v", codes)
		return codes, bodies
	}

	codes, bodies := burst(t)
	for i := range n {
		if codes[i] != 200 {
			t.Errorf("reusable refresh token, concurrent refresh %d: %d %v", i, codes[i], bodies[i])
			continue
		}
		if code, body := postForm(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {bodies[i]["refresh_token"].(string)}}, "webapp", "webapp-secret"); code != 200 {
			t.Errorf("refresh token %d of the burst: %d %v", i, code, body)
		}
	}

	if code, out := s.adminAPI(t, "PUT", "/test", map[string]any{"revokeRefreshToken": true}); code != 204 {
		t.Fatalf("revokeRefreshToken on: %d %s", code, out)
	}
	codes, bodies = burst(t)
	var winners []string
	reused := false
	for i := range n {
		switch {
		case codes[i] == 200:
			winners = append(winners, bodies[i]["refresh_token"].(string))
		case codes[i] == 400 && bodies[i]["error"] == "invalid_grant" && bodies[i]["error_description"] == "Stale token":
		case codes[i] == 400 && bodies[i]["error"] == "invalid_grant" &&
			(bodies[i]["error_description"] == "Token is not active" || bodies[i]["error_description"] == "Invalid refresh token"):
			reused = true // read after the winner spent it (or after a reuse deleted it)
		default:
			t.Errorf("refresh %d: %d %v", i, codes[i], bodies[i])
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d of %d concurrent refreshes with one token succeeded; want exactly 1", len(winners), n)
	}
	code, body := postForm(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {winners[0]}}, "webapp", "webapp-secret")
	if want := map[bool]int{false: 200, true: 400}[reused]; code != want {
		t.Errorf("the winner's refresh token (reuse detected: %v): %d %v, want %d", reused, code, body, want)
	}
}

// TestAccessTokenEndsWithItsSubject: access tokens are not stored, so what
// ends one before its exp is checked where it is used. A disabled user, a
// disabled client and a logged-out session each make introspection say
// inactive and userinfo refuse the token.
func TestAccessTokenEndsWithItsSubject(t *testing.T) {
	s := seeded(t)
	base := s.URL + "/realms/test/protocol/openid-connect"
	code, body := postForm(t, s.URL+"/realms/master/protocol/openid-connect/token", url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"}, "username": {"admin"}, "password": {"admin-secret-pw"}})
	if code != 200 {
		t.Fatalf("admin token: %d %v", code, body)
	}
	adminToken := body["access_token"].(string)
	admin := func(method, path string, rep any) {
		t.Helper()
		b, _ := json.Marshal(rep)
		req := mustReq(t, method, s.URL+"/admin/realms/test"+path, string(b))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		if code, body := do(t, req); code/100 != 2 {
			t.Fatalf("%s %s: %d %v", method, path, code, body)
		}
	}
	login := func(user, pw string) map[string]any {
		t.Helper()
		code, body := postForm(t, base+"/token", url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}, "scope": {"openid"}}, "webapp", "webapp-secret")
		if code != 200 {
			t.Fatalf("login %s: %d %v", user, code, body)
		}
		return body
	}
	live := func(tok map[string]any) (active bool, userinfo int) {
		t.Helper()
		_, body := postForm(t, base+"/token/introspect", url.Values{"token": {tok["access_token"].(string)}}, "webapp2", "webapp2-secret")
		req := mustReq(t, "GET", base+"/userinfo", "")
		req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
		code, _ := do(t, req)
		return body["active"] == true, code
	}
	uid := func(username string) string {
		t.Helper()
		req := mustReq(t, "GET", s.URL+"/admin/realms/test/users?exact=true&username="+username, "")
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var users []map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&users); err != nil || len(users) != 1 {
			t.Fatalf("find %s: %v %v", username, users, err)
		}
		return users[0]["id"].(string)
	}

	carol := login("carol", "carol-pass")
	if a, ui := live(carol); !a || ui != 200 {
		t.Fatalf("fresh token: active %v, userinfo %d", a, ui)
	}
	// Logout (ends the SSO session): the access token dies with it.
	if code, body := postForm(t, base+"/logout", url.Values{"refresh_token": {carol["refresh_token"].(string)}}, "webapp", "webapp-secret"); code/100 != 2 {
		t.Fatalf("logout: %d %v", code, body)
	}
	if a, ui := live(carol); a || ui != 401 {
		t.Errorf("after logout: active %v, userinfo %d", a, ui)
	}

	carol = login("carol", "carol-pass")
	refreshLive := func() bool {
		t.Helper()
		_, body := postForm(t, base+"/token/introspect", url.Values{"token": {carol["refresh_token"].(string)}}, "webapp", "webapp-secret")
		return body["active"] == true
	}
	id := uid("carol")
	admin("PUT", "/users/"+id, map[string]any{"enabled": false})
	if a, ui := live(carol); a || ui != 401 {
		t.Errorf("user disabled: active %v, userinfo %d", a, ui)
	}
	if refreshLive() {
		t.Error("user disabled: the refresh token introspects as active")
	}
	admin("PUT", "/users/"+id, map[string]any{"enabled": true})
	if a, ui := live(carol); !a || ui != 200 {
		t.Errorf("user enabled again: active %v, userinfo %d", a, ui)
	}
	if !refreshLive() {
		t.Error("user enabled again: the refresh token introspects as inactive")
	}

	// A disabled client's tokens die with it (the model cache holds clients
	// for up to 5 s on other replicas; this process invalidates at once).
	req := mustReq(t, "GET", s.URL+"/admin/realms/test/clients?clientId=webapp", "")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var clients []map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&clients)
	resp.Body.Close()
	if len(clients) != 1 {
		t.Fatalf("client webapp: %v", clients)
	}
	admin("PUT", "/clients/"+clients[0]["id"].(string), map[string]any{"enabled": false})
	if a, ui := live(carol); a || ui != 401 {
		t.Errorf("client disabled: active %v, userinfo %d", a, ui)
	}
}

// TestES256Realm: a realm whose defaultSignatureAlgorithm is ES256 (a
// Keycloak realm setting) signs access and ID tokens with a P-256 key that
// its JWKS publishes beside the RSA key; go-oidc verifies them, and
// introspection, userinfo and refresh accept them. RS256 realms are
// untouched.
func TestES256Realm(t *testing.T) {
	realm := filepath.Join(t.TempDir(), "ec.json")
	if err := os.WriteFile(realm, []byte(`{"realm":"ec","enabled":true,"defaultSignatureAlgorithm":"ES256",
		"clients":[{"clientId":"app","secret":"app-secret","directAccessGrantsEnabled":true,"serviceAccountsEnabled":true}],
		"users":[{"username":"eve","enabled":true,"email":"eve@example.com","emailVerified":true,
		"credentials":[{"type":"password","value":"eve-password"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", nil, "--import-realm", realm, "--import-realm", "testdata/realm-test.json")
	ctx := testContext(t)
	issuer := s.URL + "/realms/ec"
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: "app", ClientSecret: "app-secret", Endpoint: provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID}}
	tok, err := conf.PasswordCredentialsToken(ctx, "eve", "eve-password")
	if err != nil {
		t.Fatal(err)
	}
	idt, _ := tok.Extra("id_token").(string)
	for name, jwt := range map[string]string{"access": tok.AccessToken, "id": idt} {
		if h := headerOf(t, jwt); h["alg"] != "ES256" {
			t.Errorf("%s token header %v", name, h)
		}
	}
	if _, err := provider.Verifier(&oidc.Config{ClientID: "app"}).Verify(ctx, idt); err != nil {
		t.Errorf("go-oidc on the ES256 ID token: %v", err)
	}
	if _, err := provider.Verifier(&oidc.Config{SkipClientIDCheck: true}).Verify(ctx, tok.AccessToken); err != nil {
		t.Errorf("go-oidc on the ES256 access token: %v", err)
	}
	code, body := postForm(t, issuer+"/protocol/openid-connect/token/introspect", url.Values{"token": {tok.AccessToken}}, "app", "app-secret")
	if code != 200 || body["active"] != true || body["username"] != "eve" {
		t.Errorf("introspect: %d %v", code, body)
	}
	if ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil || ui.Email != "eve@example.com" {
		t.Errorf("userinfo: %+v %v", ui, err)
	}
	next, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
	if err != nil || headerOf(t, next.AccessToken)["alg"] != "ES256" {
		t.Errorf("refresh: %v", err)
	}
	var jwks struct{ Keys []map[string]any }
	resp, err := http.Get(issuer + "/protocol/openid-connect/certs")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&jwks)
	resp.Body.Close()
	if len(jwks.Keys) != 2 || jwks.Keys[0]["alg"] != "RS256" || jwks.Keys[1]["kty"] != "EC" || jwks.Keys[1]["crv"] != "P-256" ||
		jwks.Keys[1]["kid"] != headerOf(t, tok.AccessToken)["kid"] {
		t.Errorf("jwks %v", jwks.Keys)
	}
	// The RS256 realm next door is unchanged.
	code, body = postForm(t, s.URL+"/realms/test/protocol/openid-connect/token", url.Values{"grant_type": {"client_credentials"}}, "webapp", "webapp-secret")
	if code != 200 || headerOf(t, body["access_token"].(string))["alg"] != "RS256" {
		t.Errorf("RS256 realm: %d %v", code, body)
	}
}

// TestOfflineSession: an offline_access refresh token (typ Offline) outlives
// the SSO session it began in, as Keycloak's offline sessions do, while an
// ordinary refresh token dies with it; a logout with the offline token ends
// the offline session and its access tokens, and so does an admin's logout
// of the user (its notBefore).
func TestOfflineSession(t *testing.T) {
	s := seeded(t)
	base := s.URL + "/realms/test/protocol/openid-connect"
	login := func(scope string) map[string]any {
		t.Helper()
		code, body := postForm(t, base+"/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-pass"}, "scope": {scope}}, "webapp", "webapp-secret")
		if code != 200 {
			t.Fatalf("login (%s): %d %v", scope, code, body)
		}
		return body
	}
	refresh := func(rt string) (int, map[string]any) {
		return postForm(t, base+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "webapp", "webapp-secret")
	}
	active := func(token string) bool {
		t.Helper()
		_, body := postForm(t, base+"/token/introspect", url.Values{"token": {token}}, "webapp", "webapp-secret")
		return body["active"] == true
	}
	off := login("openid offline_access")
	if c := claimsOf(t, off["refresh_token"].(string)); c["typ"] != "Offline" || off["refresh_expires_in"] != 0.0 {
		t.Fatalf("offline token typ %v, refresh_expires_in %v", c["typ"], off["refresh_expires_in"])
	}
	online := login("openid")
	// carol lacks the offline_access role (no default roles in the file).
	if code, body := postForm(t, base+"/token", url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"carol-pass"}, "scope": {"openid offline_access"}}, "webapp", "webapp-secret"); code != 400 || body["error"] != "not_allowed" {
		t.Errorf("offline token for a user without offline_access: %d %v", code, body)
	}

	// End both logins' SSO sessions (RP-initiated logout with their ID
	// tokens). An admin's logout of the user would end the offline token
	// too: it sets the user's notBefore, as Keycloak's does.
	for _, tok := range []map[string]any{online, off} {
		resp, err := http.Get(base + "/logout?" + url.Values{"id_token_hint": {tok["id_token"].(string)}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
	}

	if code, body := refresh(online["refresh_token"].(string)); code != 400 {
		t.Errorf("an ordinary refresh token outlived its SSO session: %d %v", code, body)
	}
	if active(online["access_token"].(string)) {
		t.Error("an ordinary access token outlived its SSO session")
	}
	code, next := refresh(off["refresh_token"].(string))
	if code != 200 {
		t.Fatalf("offline refresh after the SSO session ended: %d %v", code, next)
	}
	if c := claimsOf(t, next["refresh_token"].(string)); c["typ"] != "Offline" || c["sid"] != claimsOf(t, off["refresh_token"].(string))["sid"] {
		t.Errorf("rotated offline token %v", c)
	}
	if !active(next["access_token"].(string)) {
		t.Error("the offline session's new access token is inactive")
	}
	uireq := mustReq(t, "GET", base+"/userinfo", "")
	uireq.Header.Set("Authorization", "Bearer "+next["access_token"].(string))
	if code, body := do(t, uireq); code != 200 || body["preferred_username"] != "alice" {
		t.Errorf("userinfo with the offline session's token: %d %v", code, body)
	}

	// A logout with the offline token ends the offline session.
	if code, body := postForm(t, base+"/logout", url.Values{"refresh_token": {next["refresh_token"].(string)}}, "webapp", "webapp-secret"); code != 204 {
		t.Fatalf("logout with the offline token: %d %v", code, body)
	}
	if code, body := refresh(next["refresh_token"].(string)); code != 400 {
		t.Errorf("offline token after its logout: %d %v", code, body)
	}
	if active(next["access_token"].(string)) {
		t.Error("the offline session's access token survived its logout")
	}

	// An admin's logout of the user ends a new offline token as well.
	off = login("openid offline_access")
	time.Sleep(1100 * time.Millisecond) // notBefore counts whole seconds
	code, body := postForm(t, s.URL+"/realms/master/protocol/openid-connect/token", url.Values{"grant_type": {"password"},
		"client_id": {"admin-cli"}, "username": {"admin"}, "password": {"admin-secret-pw"}})
	if code != 200 {
		t.Fatalf("admin token: %d %v", code, body)
	}
	req := mustReq(t, "POST", s.URL+"/admin/realms/test/users/a11ce000-0000-4000-8000-000000000001/logout", "")
	req.Header.Set("Authorization", "Bearer "+body["access_token"].(string))
	if code, body := do(t, req); code != 204 {
		t.Fatalf("user logout: %d %v", code, body)
	}
	if code, body := refresh(off["refresh_token"].(string)); code != 400 {
		t.Errorf("offline token after the admin's logout of the user: %d %v", code, body)
	}
	if active(off["access_token"].(string)) {
		t.Error("an offline access token survived the admin's logout of the user")
	}
}
