package test

import (
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
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

	_ "github.com/jackc/pgx/v5/stdlib"
)

// TestReplicas runs two keygate processes on one PostgreSQL schema, as
// behind a load balancer. They start at the same moment (migrations,
// realm import and key creation race), then every step of a session moves
// between them: the same JWKS, a token from A refreshed and introspected
// at B, SSO from A's cookie at B, a logout at B ending the session at A,
// and brute-force counters shared.
func TestReplicas(t *testing.T) {
	dsn := os.Getenv("KEYGATE_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("PostgreSQL replica test is off: set KEYGATE_TEST_POSTGRES (see README)")
	}
	schema := "keygate_replicas_" + strings.ToLower(rand.Text()[:10])
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("schema", schema)
	u.RawQuery = q.Encode()
	t.Cleanup(func() {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer db.Close()
		if _, err := db.Exec(`DROP SCHEMA IF EXISTS "` + schema + `" CASCADE`); err != nil {
			t.Error(err)
		}
	})

	// Single-use refresh tokens (revokeRefreshToken on), so that a reuse
	// detected at one replica is seen to end the family at the other.
	var rep map[string]any
	if raw, err := os.ReadFile("testdata/realm-test.json"); err != nil || json.Unmarshal(raw, &rep) != nil {
		t.Fatalf("realm-test.json: %v", err)
	}
	rep["revokeRefreshToken"] = true
	realmFile := filepath.Join(t.TempDir(), "realm-test.json")
	if raw, err := json.Marshal(rep); err != nil || os.WriteFile(realmFile, raw, 0o600) != nil {
		t.Fatalf("writing %s: %v", realmFile, err)
	}
	var a, b *server
	var wg sync.WaitGroup
	env := []string{"KC_BOOTSTRAP_ADMIN_USERNAME=admin", "KC_BOOTSTRAP_ADMIN_PASSWORD=admin-secret-pw"}
	wg.Go(func() { a = startServer(t, u.String(), env, "--import-realm", realmFile) })
	wg.Go(func() { b = startServer(t, u.String(), env, "--import-realm", realmFile) })
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	get := func(u string) string {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	certs := "/realms/test/protocol/openid-connect/certs"
	if ja, jb := get(a.URL+certs), get(b.URL+certs); ja != jb || !strings.Contains(ja, `"kid"`) {
		t.Fatalf("the replicas publish different keys:\n%s\n%s", ja, jb)
	}

	tokenAt := func(s *server) string { return s.URL + "/realms/test/protocol/openid-connect/token" }
	code, tok := postForm(t, tokenAt(a), url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"carol-pass"}, "scope": {"openid"}}, "webapp", "webapp-secret")
	if code != 200 {
		t.Fatalf("login at A: %d %v", code, tok)
	}
	code, next := postForm(t, tokenAt(b), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, "webapp", "webapp-secret")
	if code != 200 {
		t.Fatalf("refresh at B of A's token: %d %v", code, next)
	}
	if code, body := postForm(t, tokenAt(a), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, "webapp", "webapp-secret"); code != 400 {
		t.Errorf("A accepted the refresh token B had rotated: %d %v", code, body)
	}
	introspect := func(s *server, token string) bool {
		t.Helper()
		code, body := postForm(t, tokenAt(s)+"/introspect", url.Values{"token": {token}}, "webapp", "webapp-secret")
		if code != 200 {
			t.Fatalf("introspect: %d %v", code, body)
		}
		return body["active"] == true
	}
	// A's reuse detection revoked the family at B's database too.
	if introspect(b, next["access_token"].(string)) {
		t.Error("after reuse was detected at A, B still finds the family's access token active")
	}

	// SSO across replicas: log in through A's form, authorize at B with the
	// same browser (the cookie is per host, not per replica: both listen on
	// 127.0.0.1, so the cookie jar offers it to B as a browser behind one
	// load balancer would).
	br := newBrowser(t)
	const cb = "http://127.0.0.1:9999/cb"
	action, csrf := loginForm(t, a.URL, br.get(authURL(a.URL, "test", codeQuery("webapp", cb, "s", "n", ""))))
	if p := br.post(action, url.Values{"username": {"alice"}, "password": {"alice-pass"}, "csrf_token": {csrf}}); !isRedirect(p.status) {
		t.Fatalf("login at A: %d %.300s", p.status, p.body)
	}
	p := br.get(authURL(b.URL, "test", codeQuery("webapp", cb, "s2", "n2", "")))
	if !isRedirect(p.status) || !strings.HasPrefix(p.location, cb+"?") {
		t.Fatalf("SSO at B with A's session: %d %q", p.status, p.location)
	}
	redirect, _ := url.Parse(p.location)
	code, alice := postForm(t, tokenAt(a), url.Values{"grant_type": {"authorization_code"}, "code": {redirect.Query().Get("code")}, "redirect_uri": {cb}}, "webapp", "webapp-secret")
	if code != 200 {
		t.Fatalf("B's code redeemed at A: %d %v", code, alice)
	}
	// Logout at B ends the session everywhere.
	if code, body := postForm(t, b.URL+"/realms/test/protocol/openid-connect/logout", url.Values{"refresh_token": {alice["refresh_token"].(string)}}, "webapp", "webapp-secret"); code/100 != 2 {
		t.Fatalf("logout at B: %d %v", code, body)
	}
	if introspect(a, alice["access_token"].(string)) {
		t.Error("A still accepts an access token whose session B ended")
	}

	// Brute-force counters live in the database: the realm locks a user
	// after 5 failures; 3 at A and 2 at B lock dave, so the right password
	// then fails at B too (each replica alone saw fewer than 5).
	for i := range 5 {
		s := []*server{a, b}[i%2]
		if code, _ := postForm(t, tokenAt(s), url.Values{"grant_type": {"password"}, "username": {"dave"}, "password": {"wrong"}}, "webapp", "webapp-secret"); code != 401 {
			t.Fatalf("failure %d: %d", i, code)
		}
	}
	if code, _ := postForm(t, tokenAt(b), url.Values{"grant_type": {"password"}, "username": {"dave"}, "password": {"dave-pass"}}, "webapp", "webapp-secret"); code != 401 {
		t.Errorf("dave after 5 failures spread over two replicas: %d, want locked out (401)", code)
	}

	replicasSeeAdminWrites(t, a, b)
}

// replicasSeeAdminWrites: what the admin API changes at A shows in tokens
// that B issues within a second, with B's caches warm and no call on B
// but token requests. A composite added to a role the user holds reaches
// tokens only through B's cached role model; a role granted to a user
// also needs the new role in it.
func replicasSeeAdminWrites(t *testing.T, a, b *server) {
	code, adm := postForm(t, a.URL+"/realms/master/protocol/openid-connect/token", url.Values{"grant_type": {"password"},
		"client_id": {"admin-cli"}, "username": {"admin"}, "password": {"admin-secret-pw"}})
	if code != 200 {
		t.Fatalf("admin login at A: %d %v", code, adm)
	}
	admin := adm["access_token"].(string)
	api := a.URL + "/admin/realms/test"
	call := func(method, path, body string, want int) answer {
		t.Helper()
		r := sendJSON(t, method, api+path, admin, body)
		if r.status != want {
			t.Fatalf("%s %s at A: %s, want %d", method, path, r, want)
		}
		return r
	}
	roleRep := func(name string) string {
		t.Helper()
		m := call("GET", "/roles/"+name, "", 200).json(t)
		return fmt.Sprintf(`[{"id":%q,"name":%q}]`, m["id"], name)
	}
	tokenAtB := func(user, pw string) []string {
		t.Helper()
		code, tok := postForm(t, b.URL+"/realms/test/protocol/openid-connect/token",
			url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}}, "webapp", "webapp-secret")
		if code != 200 {
			t.Fatalf("password grant for %s at B: %d %v", user, code, tok)
		}
		ra, _ := claimsOf(t, tok["access_token"].(string))["realm_access"].(map[string]any)
		return strs(ra["roles"])
	}
	// seen polls B's tokens for user until they carry role, and reports
	// how long after the write's answer that took. Within 1 s: no token
	// asked for more than 1 s after the write lacks it (when the request
	// started, not when its answer came: a password grant's hashing on a
	// loaded machine can take most of a second).
	seen := func(what, user, pw, role string, since time.Time) {
		t.Helper()
		for {
			asked := time.Since(since)
			roles := tokenAtB(user, pw)
			if slices.Contains(roles, role) {
				t.Logf("%s: in B's tokens %s after A answered (asked for %s after)", what,
					time.Since(since).Round(time.Millisecond), asked.Round(time.Millisecond))
				return
			}
			if asked > time.Second {
				t.Errorf("%s: a token B issued to a request made %s after A answered lacks it, want within 1 s: %v", what, asked.Round(time.Millisecond), roles)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Warm B: carol's and alice's tokens, and their roles before.
	if slices.Contains(tokenAtB("carol", "carol-pass"), "auditor") || slices.Contains(tokenAtB("alice", "alice-pass"), "operator") {
		t.Fatal("roles present before they were created")
	}

	call("POST", "/roles", `{"name":"auditor"}`, 201)
	call("POST", "/roles/stackstate-admin/composites", roleRep("auditor"), 204)
	seen("composite added at A", "carol", "carol-pass", "auditor", time.Now())

	tokenAtB("alice", "alice-pass") // B's model is current again
	call("POST", "/roles", `{"name":"operator"}`, 201)
	users := call("GET", "/users?username=alice&exact=true", "", 200)
	var found []map[string]any
	if err := json.Unmarshal(users.body, &found); err != nil || len(found) != 1 {
		t.Fatalf("alice at A: %s", users)
	}
	call("POST", "/users/"+found[0]["id"].(string)+"/role-mappings/realm", roleRep("operator"), 204)
	seen("role granted at A", "alice", "alice-pass", "operator", time.Now())
}
