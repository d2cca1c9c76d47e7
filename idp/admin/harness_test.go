package admin_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
)

// client keeps enough idle connections for the parallel benchmarks.
var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// env is a real server (idp.NewServer over a fresh SQLite file) with a
// bootstrapped master admin.
type env struct {
	t     testing.TB
	url   string
	st    store.Store
	admin string // master admin's access token
	// dbPath is the SQLite file, for a second process's store.
	dbPath string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := t.Context()
	dbPath := t.TempDir() + "/db"
	st, err := sqlite.Open(ctx, dbPath)
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
	srv.SetReady()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	e := &env{t: t, url: ts.URL, st: st, dbPath: dbPath}
	e.admin = e.login("master", "admin", "admin-secret-pw")
	return e
}

// login runs a password grant with admin-cli in realm and returns the
// access token.
func (e *env) login(realm, username, pw string) string {
	e.t.Helper()
	resp, err := http.PostForm(e.url+"/realms/"+realm+"/protocol/openid-connect/token", url.Values{
		"grant_type": {"password"}, "client_id": {"admin-cli"}, "username": {username}, "password": {pw}})
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(b, &tok) != nil || tok.AccessToken == "" {
		e.t.Fatalf("login %s/%s: %d %s", realm, username, resp.StatusCode, b)
	}
	return tok.AccessToken
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the reply's body into v.
func (r reply) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// id is the last segment of the Location header.
func (r reply) id() string { return path.Base(r.header.Get("Location")) }

// do sends body (a string is sent as is, anything else as JSON).
func (e *env) do(method, p, token string, body any) reply {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.url+p, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, b}
}

// must sends the request and fails unless the status is want.
func (e *env) must(want int, method, p, token string, body any) reply {
	e.t.Helper()
	r := e.do(method, p, token, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, p, r.status, want, r.body)
	}
	return r
}

// realmWithUser creates realm name and a user there holding the given
// realm-management roles, and returns that user's token.
func (e *env) realmWithUser(name, username string, mgmtRoles ...string) string {
	e.t.Helper()
	if e.do("GET", "/admin/realms/"+name, e.admin, nil).status == 404 {
		e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": name, "enabled": true})
	}
	return e.userWithRoles(name, username, mgmtRoles...)
}

func (e *env) userWithRoles(realm, username string, mgmtRoles ...string) string {
	e.t.Helper()
	base := "/admin/realms/" + realm
	id := e.must(201, "POST", base+"/users", e.admin, map[string]any{"username": username, "enabled": true,
		"credentials": []map[string]any{{"type": "password", "value": "Passw0rd-" + username}}}).id()
	if len(mgmtRoles) > 0 {
		var clients []map[string]any
		e.must(200, "GET", base+"/clients?clientId=realm-management", e.admin, nil).json(e.t, &clients)
		var roles []map[string]any
		for _, r := range mgmtRoles {
			roles = append(roles, map[string]any{"name": r})
		}
		e.must(204, "POST", base+"/users/"+id+"/role-mappings/clients/"+clients[0]["id"].(string), e.admin, roles)
	}
	return e.login(realm, username, "Passw0rd-"+username)
}

// accessClaims runs a token request in realm and decodes the access token's
// claims into v.
func (e *env) accessClaims(realm string, form url.Values, v any) {
	e.t.Helper()
	resp, err := client.PostForm(e.url+"/realms/"+realm+"/protocol/openid-connect/token", form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 {
		e.t.Fatalf("token: %d %v %v", resp.StatusCode, tok, err)
	}
	at, _ := tok["access_token"].(string)
	parts := strings.Split(at, ".")
	if len(parts) != 3 {
		e.t.Fatalf("access token %q", at)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		e.t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		e.t.Fatal(err)
	}
}

// roleNames GETs a role list as the master admin and returns its names, sorted.
func (e *env) roleNames(p string) []string {
	e.t.Helper()
	var rs []rep.Role
	e.must(200, "GET", p, e.admin, nil).json(e.t, &rs)
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out
}
