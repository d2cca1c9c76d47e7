package registration_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/store/sqlite"
)

type env struct {
	t     *testing.T
	url   string
	admin string
}

func newEnv(t *testing.T) *env {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := idp.NewServer(st, idp.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.Bootstrap(ctx, st, srv.Limiter(), "admin", "admin-secret-pw"); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	e := &env{t: t, url: ts.URL}
	var tok map[string]any
	e.form(200, "/realms/master/protocol/openid-connect/token", "", url.Values{"grant_type": {"password"},
		"client_id": {"admin-cli"}, "username": {"admin"}, "password": {"admin-secret-pw"}}, &tok)
	e.admin = tok["access_token"].(string)
	e.call(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "acme"}, nil)
	return e
}

func (e *env) call(want int, method, path, token string, body, out any) http.Header {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		if s, ok := body.(string); ok {
			b = []byte(s)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(want, req, out)
}

func (e *env) form(want int, path, basic string, v url.Values, out any) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.url+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != "" {
		id, secret, _ := strings.Cut(basic, ":")
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	e.send(want, req, out)
}

func (e *env) send(want int, req *http.Request, out any) http.Header {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: %d, want %d: %s", req.Method, req.URL.Path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s: %v", b, err)
		}
	}
	return resp.Header
}

func (e *env) initialAccess(count, expiration int) string {
	var iat map[string]any
	e.call(201, "POST", "/admin/realms/acme/clients-initial-access", e.admin, map[string]any{"count": count, "expiration": expiration}, &iat)
	return iat["token"].(string)
}

const regURL = "/realms/acme/clients-registrations/openid-connect"

func TestDynamicRegistration(t *testing.T) {
	e := newEnv(t)
	iat := e.initialAccess(1, 60)
	md := map[string]any{"client_name": "svc", "redirect_uris": []string{"https://svc.example.com/cb", "http://127.0.0.1:8000/cb"},
		"grant_types": []string{"client_credentials", "authorization_code"}, "token_endpoint_auth_method": "client_secret_basic",
		"post_logout_redirect_uris": []string{"https://svc.example.com/bye"}, "scope": "openid profile",
		"jwks_uri": "https://svc.example.com/jwks", "unknown_metadata": true}
	var reg map[string]any
	h := e.call(201, "POST", regURL, iat, md, &reg)
	clientID, secret, rat := reg["client_id"].(string), reg["client_secret"].(string), reg["registration_access_token"].(string)
	if h.Get("Location") != reg["registration_client_uri"] || !strings.HasSuffix(h.Get("Location"), regURL+"/"+clientID) {
		t.Errorf("Location %q, registration_client_uri %v", h.Get("Location"), reg["registration_client_uri"])
	}
	if reg["client_name"] != "svc" || reg["jwks_uri"] != "https://svc.example.com/jwks" || len(reg["post_logout_redirect_uris"].([]any)) != 1 {
		t.Errorf("registration response: %v", reg)
	}
	// The count was 1: the token is used up.
	e.call(401, "POST", regURL, iat, md, nil)

	// The client works: client_credentials with its secret.
	var tok map[string]any
	e.form(200, "/realms/acme/protocol/openid-connect/token", clientID+":"+secret, url.Values{"grant_type": {"client_credentials"}}, &tok)
	if tok["access_token"] == nil {
		t.Fatalf("token response %v", tok)
	}

	// RFC 7592: read, update (rotates the token), delete.
	e.call(401, "GET", regURL+"/"+clientID, "wrong", nil, nil)
	e.call(401, "GET", regURL+"/"+clientID, iat, nil, nil)
	e.call(200, "GET", regURL+"/"+clientID, rat, nil, &reg)
	md["client_name"] = "svc2"
	md["client_id"] = clientID
	e.call(200, "PUT", regURL+"/"+clientID, rat, md, &reg)
	rat2 := reg["registration_access_token"].(string)
	if reg["client_name"] != "svc2" || rat2 == rat || reg["client_secret"] != secret {
		t.Errorf("after update: %v", reg)
	}
	e.call(401, "GET", regURL+"/"+clientID, rat, nil, nil)
	md["client_id"] = "someone-else"
	e.call(400, "PUT", regURL+"/"+clientID, rat2, md, nil)
	e.call(204, "DELETE", regURL+"/"+clientID, rat2, nil, nil)
	e.call(401, "GET", regURL+"/"+clientID, rat2, nil, nil)
	e.form(401, "/realms/acme/protocol/openid-connect/token", clientID+":"+secret, url.Values{"grant_type": {"client_credentials"}}, nil)
}

func TestRegistrationRefusals(t *testing.T) {
	e := newEnv(t)
	iat := e.initialAccess(10, 0)
	var body map[string]string
	for _, uri := range []string{"http://app.example.com/cb", "https://app.example.com/cb#frag", "/relative", "javascript:alert(1)", "https://*.example.com/cb"} {
		e.call(400, "POST", regURL, iat, map[string]any{"redirect_uris": []string{uri}}, &body)
		if body["error"] != "invalid_redirect_uri" {
			t.Errorf("%s: %v", uri, body)
		}
	}
	e.call(201, "POST", regURL, iat, map[string]any{"redirect_uris": []string{"com.example.app:/cb", "http://localhost:3000/cb", "http://[::1]/cb"}}, nil)
	e.call(400, "POST", regURL, iat, `{"redirect_uris":"https://x.example.com"}`, &body)
	if !strings.Contains(body["error_description"], "redirect_uris") {
		t.Errorf("wrong type: %v", body)
	}
	e.call(400, "POST", regURL, iat, map[string]any{"token_endpoint_auth_method": "none", "grant_types": []string{"client_credentials"}}, nil)
	e.call(413, "POST", regURL, iat, `{"client_name":"`+strings.Repeat("x", 1<<20)+`"}`, nil)

	// No token: anonymous registration is off until a trusted-hosts policy lists the caller.
	e.call(403, "POST", regURL, "", map[string]any{"redirect_uris": []string{"https://a.example.com/cb"}}, nil)
	// Who may register is decided before the body is read: an unauthorized
	// caller's oversized or invalid body is not parsed (it used to get 413
	// and 400, learning what validation says without any right).
	e.call(403, "POST", regURL, "", `{"client_name":"`+strings.Repeat("x", 1<<20)+`"}`, nil)
	e.call(403, "POST", regURL, "", `{"redirect_uris":"not a list"}`, nil)
	e.call(401, "POST", regURL, "not-a-token", `{"redirect_uris":["javascript:alert(1)"]}`, nil)
	e.call(201, "POST", "/admin/realms/acme/components", e.admin, map[string]any{"name": "Trusted Hosts", "providerId": "trusted-hosts",
		"providerType": "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy", "subType": "anonymous",
		"config": map[string][]string{"trusted-hosts": {"127.0.0.0/8"}}}, nil)
	var reg map[string]any
	e.call(201, "POST", "/realms/acme/clients-registrations/default", "", map[string]any{"clientId": "anon-app",
		"redirectUris": []string{"https://a.example.com/cb"}}, &reg)
	if reg["clientId"] != "anon-app" || reg["registrationAccessToken"] == "" || reg["secret"] == "" || reg["fullScopeAllowed"] != false {
		t.Errorf("default provider response: %v", reg)
	}
	// Mappers that could put roles or claims into tokens are refused.
	e.call(403, "POST", "/realms/acme/clients-registrations/default", iat, map[string]any{"clientId": "greedy",
		"protocolMappers": []map[string]any{{"name": "admin", "protocolMapper": "oidc-hardcoded-role-mapper", "config": map[string]string{"role": "admin"}}}}, nil)

	// An unknown token, and a count honoured under concurrency (expiry: storetest).
	e.call(401, "POST", regURL, "not-a-token", map[string]any{}, nil)
	two := e.initialAccess(2, 0)
	var wg sync.WaitGroup
	codes := make(chan int, 6)
	for range 6 {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", e.url+regURL, strings.NewReader(`{"redirect_uris":["https://c.example.com/cb"]}`))
			req.Header.Set("Authorization", "Bearer "+two)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				codes <- resp.StatusCode
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	close(codes)
	created := 0
	for c := range codes {
		if c == 201 {
			created++
		}
	}
	if created != 2 {
		t.Errorf("a count-2 token registered %d clients", created)
	}
}

// TestRegistrationTokenSpentOnce: updates sent at once with one
// registration access token: exactly one passes and rotates it, the others
// get 401. The token was compared before the write, so two of eight passed
// and each answered its own new token.
func TestRegistrationTokenSpentOnce(t *testing.T) {
	e := newEnv(t)
	md := map[string]any{"client_name": "race", "redirect_uris": []string{"https://race.example.com/cb"}}
	var reg map[string]any
	e.call(201, "POST", regURL, e.initialAccess(1, 60), md, &reg)
	clientID, rat := reg["client_id"].(string), reg["registration_access_token"].(string)
	md["client_id"] = clientID
	body, _ := json.Marshal(md)

	const n = 8
	codes := make(chan int, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest("PUT", e.url+regURL+"/"+clientID, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+rat)
			<-start
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	close(start)
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[200] != 1 || count[401] != n-1 {
		t.Errorf("%d updates with one token: %v, want one 200 and %d 401", n, count, n-1)
	}
}
