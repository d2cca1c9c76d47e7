package test

import (
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/otp"
	"github.com/keygate/keygate/store"
)

// otpRealm is a shortened `kc.sh export` with users holding Keycloak otp
// credentials as Keycloak stores them: TOTP (the secret's text is the
// HMAC key) and HOTP at 8 digits with SHA-256.
const otpRealm = `{
  "realm": "acme-otp", "enabled": true,
  "bruteForceProtected": true, "failureFactor": 30, "quickLoginCheckMilliSeconds": 1,
  "otpPolicyType": "totp", "otpPolicyAlgorithm": "HmacSHA1", "otpPolicyDigits": 6, "otpPolicyPeriod": 30,
  "otpPolicyLookAheadWindow": 1, "otpPolicyCodeReusable": false,
  "clients": [ { "clientId": "cli", "publicClient": true, "directAccessGrantsEnabled": true } ],
  "users": [
    { "id": "7d3c9a52-0f4b-4c3e-9a1d-2b6e8f0c1a01", "username": "alice", "enabled": true,
      "credentials": [
        { "type": "password", "value": "alice-pw" },
        { "id": "b1c2d3e4-0000-4000-8000-00000000a001", "type": "otp", "userLabel": "phone", "createdDate": 1700000000000,
          "secretData": "{\"value\":\"Kz8mQ2pL9vXw4RtY7nBc\"}",
          "credentialData": "{\"subType\":\"totp\",\"digits\":6,\"counter\":0,\"period\":30,\"algorithm\":\"HmacSHA1\"}" } ] },
    { "id": "7d3c9a52-0f4b-4c3e-9a1d-2b6e8f0c1a02", "username": "hank", "enabled": true,
      "credentials": [
        { "type": "password", "value": "hank-pw" },
        { "type": "otp", "userLabel": "token",
          "secretData": "{\"value\":\"hotp-secret-0123456789\"}",
          "credentialData": "{\"subType\":\"hotp\",\"digits\":8,\"counter\":4,\"period\":0,\"algorithm\":\"HmacSHA256\"}" } ] },
    { "username": "paula", "enabled": true, "credentials": [ { "type": "password", "value": "paula-pw" } ] }
  ]
}`

// otpCode is the code of a Keycloak otp credential (TOTP now, HOTP at
// counter).
func otpCode(t *testing.T, secretData, credentialData string, at time.Time, counter uint64) string {
	t.Helper()
	c, err := otp.Parse(store.Credential{Type: "otp", SecretData: secretData, CredentialData: credentialData}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Data.SubType == otp.HOTP {
		return c.CodeAt(counter)
	}
	return c.Code(at)
}

// TestOTPFromKeycloakExport imports a Keycloak export with otp credentials
// (sealed with --db-key), then: the password grant needs `totp` (Keycloak's
// direct-grant conditional OTP) and refuses a missing, wrong or replayed
// one as a wrong password; HOTP counters advance; the admin API lists the
// devices without secrets and deletes one; realm export gives Keycloak's
// secretData back only with the key; users import brings devices along.
func TestOTPFromKeycloakExport(t *testing.T) {
	const dbKey = "otp-test-database-key-0123"
	file := filepath.Join(t.TempDir(), "acme-otp.json")
	if err := os.WriteFile(file, []byte(otpRealm), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", []string{"KC_BOOTSTRAP_ADMIN_USERNAME=admin", "KC_BOOTSTRAP_ADMIN_PASSWORD=admin-secret-pw",
		"KEYGATE_DB_KEY=" + dbKey}, "--import-realm", file)
	tokenURL := s.URL + "/realms/acme-otp/protocol/openid-connect/token"
	grant := func(user, pw, totp string) (int, map[string]any) {
		f := url.Values{"grant_type": {"password"}, "client_id": {"cli"}, "username": {user}, "password": {pw}, "scope": {"openid"}}
		if totp != "" {
			f.Set("totp", totp)
		}
		return postForm(t, tokenURL, f)
	}
	const aliceSD = `{"value":"Kz8mQ2pL9vXw4RtY7nBc"}`
	const aliceCD = `{"subType":"totp","digits":6,"counter":0,"period":30,"algorithm":"HmacSHA1"}`
	invalid := func(name string, status int, body map[string]any) {
		t.Helper()
		if status != http.StatusUnauthorized && status != http.StatusBadRequest || body["error"] != "invalid_grant" ||
			body["error_description"] != "Invalid user credentials" {
			t.Errorf("%s: %d %v, want invalid_grant \"Invalid user credentials\"", name, status, body)
		}
	}
	st1, b1 := grant("alice", "alice-pw", "")
	invalid("no totp", st1, b1)
	st2, b2 := grant("alice", "alice-pw", "000000")
	invalid("wrong totp", st2, b2)
	code := otpCode(t, aliceSD, aliceCD, time.Now(), 0)
	st3, b3 := grant("alice", "wrong-pw", code)
	invalid("wrong password, right totp", st3, b3)
	if st1 != st3 || b1["error_description"] != b3["error_description"] {
		t.Errorf("a missing code and a wrong password answer differently: %d %v / %d %v", st1, b1, st3, b3)
	}
	if st, b := grant("alice", "alice-pw", code); st != http.StatusOK {
		t.Fatalf("password and totp: %d %v", st, b)
	} else if claims := claimsOf(t, b["access_token"].(string)); claims["preferred_username"] != "alice" {
		t.Fatalf("token for %v", claims["preferred_username"])
	}
	st4, b4 := grant("alice", "alice-pw", code)
	invalid("the same code again", st4, b4)
	if st, b := grant("paula", "paula-pw", ""); st != http.StatusOK {
		t.Fatalf("a user without OTP: %d %v", st, b)
	}

	const hankSD = `{"value":"hotp-secret-0123456789"}`
	const hankCD = `{"subType":"hotp","digits":8,"counter":4,"period":0,"algorithm":"HmacSHA256"}`
	if st, b := grant("hank", "hank-pw", otpCode(t, hankSD, hankCD, time.Time{}, 4)); st != http.StatusOK {
		t.Fatalf("HOTP at the stored counter: %d %v", st, b)
	}
	stH, bH := grant("hank", "hank-pw", otpCode(t, hankSD, hankCD, time.Time{}, 4))
	invalid("HOTP code again", stH, bH)
	if st, b := grant("hank", "hank-pw", otpCode(t, hankSD, hankCD, time.Time{}, 6)); st != http.StatusOK {
		t.Fatalf("HOTP within the look-ahead: %d %v", st, b)
	}

	// The secrets are sealed in the database.
	if raw, err := os.ReadFile(s.DB); err == nil && strings.Contains(string(raw), "Kz8mQ2pL9vXw4RtY7nBc") {
		t.Error("the OTP secret is stored in the clear although --db-key is set")
	}

	// Admin API: Keycloak's credential list, no secretData; DELETE.
	_, tok := postForm(t, s.URL+"/realms/master/protocol/openid-connect/token", url.Values{"grant_type": {"password"},
		"client_id": {"admin-cli"}, "username": {"admin"}, "password": {"admin-secret-pw"}})
	admin := tok["access_token"].(string)
	adminGet := func(path string, out any) {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/admin/realms/acme-otp"+path, nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	var creds []map[string]any
	adminGet("/users/7d3c9a52-0f4b-4c3e-9a1d-2b6e8f0c1a01/credentials", &creds)
	var otpCred map[string]any
	for _, c := range creds {
		if _, leaked := c["secretData"]; leaked {
			t.Errorf("credential list shows secretData: %v", c)
		}
		if c["type"] == "otp" {
			otpCred = c
		}
	}
	if otpCred == nil || otpCred["userLabel"] != "phone" || otpCred["id"] != "b1c2d3e4-0000-4000-8000-00000000a001" ||
		otpCred["createdDate"] != float64(1700000000000) || !strings.Contains(otpCred["credentialData"].(string), `"subType":"totp"`) {
		t.Fatalf("otp credential as the admin API lists it: %v", otpCred)
	}

	var user map[string]any
	adminGet("/users/7d3c9a52-0f4b-4c3e-9a1d-2b6e8f0c1a01", &user)
	if user["totp"] != true || len(user["disableableCredentialTypes"].([]any)) != 1 {
		t.Errorf("a user with an OTP device: totp %v, disableableCredentialTypes %v", user["totp"], user["disableableCredentialTypes"])
	}

	// realm export --users: Keycloak's secretData with the key, refused without.
	export := func(args ...string) (string, error) {
		cmd := exec.Command(binary, append([]string{"realm", "export", "acme-otp", "--users", "--db", "sqlite:" + s.DB}, args...)...)
		cmd.Env = append(os.Environ(), "KEYGATE_DB_KEY=")
		out, err := cmd.Output()
		return string(out), err
	}
	if _, err := export(); err == nil {
		t.Error("realm export --users without the --db-key printed sealed OTP secrets")
	}
	out, err := export("--db-key", dbKey)
	if err != nil {
		t.Fatalf("realm export: %v", err)
	}
	var exported struct {
		Users []struct {
			Username    string
			Totp        bool
			Credentials []struct{ Type, SecretData, CredentialData, UserLabel string }
		}
	}
	if err := json.Unmarshal([]byte(out), &exported); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, u := range exported.Users {
		for _, c := range u.Credentials {
			if u.Username == "alice" && c.Type == "otp" {
				found = c.SecretData == aliceSD && c.CredentialData == aliceCD && c.UserLabel == "phone" && u.Totp
			}
		}
	}
	if !found {
		t.Fatalf("alice's otp credential does not export as Keycloak's: %s", out)
	}

	// DELETE removes the device: the password alone signs in again.
	req, _ := http.NewRequest(http.MethodDelete, s.URL+"/admin/realms/acme-otp/users/7d3c9a52-0f4b-4c3e-9a1d-2b6e8f0c1a01/credentials/b1c2d3e4-0000-4000-8000-00000000a001", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE credential: %v %v", resp, err)
	}
	if st, b := grant("alice", "alice-pw", ""); st != http.StatusOK {
		t.Fatalf("after deleting the device: %d %v", st, b)
	}

	// hank's device: a new label, first in line, then disabled by type.
	const hank = "/users/7d3c9a52-0f4b-4c3e-9a1d-2b6e8f0c1a02"
	adminDo := func(method, path, ctype, body string) int {
		req, _ := http.NewRequest(method, s.URL+"/admin/realms/acme-otp"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var hankCreds []map[string]any
	adminGet(hank+"/credentials", &hankCreds)
	hankOTP := ""
	for _, c := range hankCreds {
		if c["type"] == "otp" {
			hankOTP = c["id"].(string)
		}
	}
	if st := adminDo(http.MethodPut, hank+"/credentials/"+hankOTP+"/userLabel", "text/plain", "yubikey 5"); st != http.StatusNoContent {
		t.Fatalf("PUT userLabel: %d", st)
	}
	if st := adminDo(http.MethodPost, hank+"/credentials/"+hankOTP+"/moveToFirst", "application/json", ""); st != http.StatusNoContent {
		t.Fatalf("moveToFirst: %d", st)
	}
	adminGet(hank+"/credentials", &hankCreds)
	if hankCreds[0]["id"] != hankOTP || hankCreds[0]["userLabel"] != "yubikey 5" {
		t.Fatalf("after userLabel and moveToFirst: %v", hankCreds)
	}
	if st := adminDo(http.MethodPut, hank+"/disable-credential-types", "application/json", `["password"]`); st != http.StatusBadRequest {
		t.Errorf("disabling passwords: %d, want 400", st)
	}
	if st := adminDo(http.MethodPut, hank+"/disable-credential-types", "application/json", `["otp"]`); st != http.StatusNoContent {
		t.Fatalf("disable-credential-types otp: %d", st)
	}
	if st, b := grant("hank", "hank-pw", ""); st != http.StatusOK {
		t.Fatalf("after disabling otp: %d %v", st, b)
	}

	// users import with a Keycloak users file: the device comes along,
	// sealed, and is asked for.
	users := filepath.Join(t.TempDir(), "acme-otp-users-0.json")
	const ursula = `{"realm":"acme-otp","users":[{"username":"ursula","enabled":true,"credentials":[
	  {"type":"password","secretData":"{\"value\":\"kfud5+2J5GLJmElP7LSm58/ubK789Sjv4of+hu4dlaugjOJ4cc++wHRWVkxQuf3N3W8CHms6z1/9zJYiKFIHMg==\",\"salt\":\"w1uhDXr9v/ywkKLTFq/0TA==\",\"additionalParameters\":{}}",
	   "credentialData":"{\"hashIterations\":210000,\"algorithm\":\"pbkdf2-sha512\",\"additionalParameters\":{}}"},
	  {"type":"otp","userLabel":"yubikey","secretData":"{\"value\":\"JBSWY3DPEHPK3PXP\"}",
	   "credentialData":"{\"subType\":\"totp\",\"digits\":6,\"counter\":0,\"period\":30,\"algorithm\":\"HmacSHA1\",\"secretEncoding\":\"BASE32\"}"}]}]}`
	if err := os.WriteFile(users, []byte(ursula), 0o600); err != nil {
		t.Fatal(err)
	}
	if outU, errU, code := usersImport(t, "--db", "sqlite:"+s.DB, "--realm", "acme-otp", "--db-key", dbKey, users); code != 0 {
		t.Fatalf("users import: %s %s", outU, errU)
	}
	stU, bU := grant("ursula", "alice-kc-pw", "")
	invalid("imported user without totp", stU, bU)
	uc := otpCode(t, `{"value":"JBSWY3DPEHPK3PXP"}`, `{"subType":"totp","digits":6,"counter":0,"period":30,"algorithm":"HmacSHA1","secretEncoding":"BASE32"}`, time.Now(), 0)
	if st, b := grant("ursula", "alice-kc-pw", uc); st != http.StatusOK {
		t.Fatalf("imported user with totp: %d %v", st, b)
	}
	if strings.Contains(s.logs.String(), code) || strings.Contains(s.logs.String(), "Kz8mQ2pL9vXw4RtY7nBc") {
		t.Error("the server log holds an OTP code or secret")
	}
}

// browserSession is a cookie jar and what its last page was.
type browserSession struct {
	t    *testing.T
	c    *http.Client
	page string
	url  string
}

func newBrowserSession(t *testing.T) *browserSession {
	jar, _ := cookiejar.New(nil)
	return &browserSession{t: t, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// follow GETs u and follows redirects within keygate; it stops at a
// redirect elsewhere (the client's) and returns that location.
func (b *browserSession) follow(resp *http.Response, base string) string {
	b.t.Helper()
	for i := 0; i < 10; i++ {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 300 || resp.StatusCode >= 400 {
			b.page, b.url = string(body), resp.Request.URL.String()
			return ""
		}
		loc, err := resp.Location()
		if err != nil {
			b.t.Fatal(err)
		}
		if !strings.HasPrefix(loc.String(), base) {
			return loc.String()
		}
		if resp, err = b.c.Get(loc.String()); err != nil {
			b.t.Fatal(err)
		}
	}
	b.t.Fatal("too many redirects")
	return ""
}

var (
	formActionRE = regexp.MustCompile(`<form id="([^"]+)"[^>]*action="([^"]+)"`)
	csrfRE       = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

// post submits the page's form id with fields.
func (b *browserSession) post(base, formID string, fields url.Values) string {
	b.t.Helper()
	action := ""
	for _, m := range formActionRE.FindAllStringSubmatch(b.page, -1) {
		if m[1] == formID {
			action = html.UnescapeString(m[2])
		}
	}
	csrf := csrfRE.FindStringSubmatch(b.page)
	if action == "" || csrf == nil {
		b.t.Fatalf("no form %s on %s:\n%s", formID, b.url, b.page)
	}
	if strings.HasPrefix(action, "/") {
		action = base + action
	}
	fields.Set("csrf_token", csrf[1])
	resp, err := b.c.PostForm(action, fields)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.follow(resp, base)
}

// TestOTPBrowserPolicy runs CONFIGURE_TOTP and the OTP form over HTTP under
// a realm policy other than the defaults (HmacSHA256, 8 digits, 60 s): the
// page shows the policy, the device is stored with it, a code is spent
// once across browsers.
func TestOTPBrowserPolicy(t *testing.T) {
	realm := `{"realm":"pol","enabled":true,"bruteForceProtected":true,"failureFactor":30,
	  "otpPolicyType":"totp","otpPolicyAlgorithm":"HmacSHA256","otpPolicyDigits":8,"otpPolicyPeriod":60,"otpPolicyLookAheadWindow":1,
	  "clients":[{"clientId":"web","publicClient":true,"redirectUris":["http://127.0.0.1:9/cb"],"attributes":{"pkce.code.challenge.method":""}}],
	  "users":[{"username":"pia","enabled":true,"requiredActions":["CONFIGURE_TOTP"],"credentials":[{"type":"password","value":"pia-pw"}]}]}`
	file := filepath.Join(t.TempDir(), "pol.json")
	if err := os.WriteFile(file, []byte(realm), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", nil, "--import-realm", file)
	auth := s.URL + "/realms/pol/protocol/openid-connect/auth?" + url.Values{"client_id": {"web"},
		"redirect_uri": {"http://127.0.0.1:9/cb"}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s1"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}.Encode()
	login := func(b *browserSession) {
		resp, err := b.c.Get(auth)
		if err != nil {
			t.Fatal(err)
		}
		b.follow(resp, s.URL)
		if loc := b.post(s.URL, "kc-form-login", url.Values{"username": {"pia"}, "password": {"pia-pw"}}); loc != "" {
			t.Fatalf("the password alone left keygate: %s", loc)
		}
	}
	b := newBrowserSession(t)
	login(b)
	for _, want := range []string{`id="kc-totp-algorithm">SHA256<`, `id="kc-totp-digits">8<`,
		`id="kc-totp-period">60<`, `src="data:image/png;base64,`} {
		if !strings.Contains(b.page, want) {
			t.Fatalf("setup page lacks %s:\n%s", want, b.page)
		}
	}
	key := regexp.MustCompile(`id="kc-totp-secret-key"[^>]*>([A-Z2-7 ]+)<`).FindStringSubmatch(b.page)
	if key == nil {
		t.Fatal("no key on the setup page")
	}
	sd, _ := json.Marshal(map[string]string{"value": strings.ReplaceAll(key[1], " ", "")})
	const cd = `{"subType":"totp","digits":8,"counter":0,"period":60,"algorithm":"HmacSHA256","secretEncoding":"BASE32"}`
	code := func(at time.Time) string { return otpCode(t, string(sd), cd, at, 0) }
	if loc := b.post(s.URL, "kc-totp-settings-form", url.Values{"totp": {"12345678"}, "userLabel": {"laptop"}}); loc != "" ||
		!strings.Contains(b.page, "Invalid authenticator code") {
		t.Fatalf("a wrong first code: %s", loc)
	}
	if loc := b.post(s.URL, "kc-totp-settings-form", url.Values{"totp": {code(time.Now())}, "userLabel": {"laptop"}}); !strings.Contains(loc, "code=") {
		t.Fatalf("setup did not end at the client: %q\n%s", loc, b.page)
	}

	next := code(time.Now().Add(60 * time.Second))
	b2 := newBrowserSession(t)
	login(b2)
	if !strings.Contains(b2.page, `id="kc-otp-login-form"`) {
		t.Fatalf("no OTP form after the password:\n%s", b2.page)
	}
	if loc := b2.post(s.URL, "kc-otp-login-form", url.Values{"otp": {code(time.Now())}}); loc != "" {
		t.Fatalf("the setup's code signed in again: %s", loc)
	}
	if loc := b2.post(s.URL, "kc-otp-login-form", url.Values{"otp": {next}}); !strings.Contains(loc, "code=") {
		t.Fatalf("the next step's code: %q", loc)
	}
	b3 := newBrowserSession(t)
	login(b3)
	if loc := b3.post(s.URL, "kc-otp-login-form", url.Values{"otp": {next}}); loc != "" || !strings.Contains(b3.page, "Invalid authenticator code") {
		t.Fatalf("a code used in another browser was accepted: %s", loc)
	}
}

// TestOTPReplicas: two keygate processes on one PostgreSQL schema. A code
// spent at one is refused at the other, and of grants racing with one
// fresh code across both, exactly one gets tokens.
func TestOTPReplicas(t *testing.T) {
	dsn := os.Getenv("KEYGATE_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("PostgreSQL replica test is off: set KEYGATE_TEST_POSTGRES (see README)")
	}
	schema := "keygate_otp_" + strings.ToLower(rand.Text()[:10])
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
	file := filepath.Join(t.TempDir(), "acme-otp.json")
	if err := os.WriteFile(file, []byte(otpRealm), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"KEYGATE_DB_KEY=otp-replicas-database-key-01"}
	a := startServer(t, u.String(), env, "--import-realm", file)
	b := startServer(t, u.String(), env, "--import-realm", file)
	grant := func(s *server, totp string) int {
		st, _ := postForm(t, s.URL+"/realms/acme-otp/protocol/openid-connect/token", url.Values{"grant_type": {"password"},
			"client_id": {"cli"}, "username": {"alice"}, "password": {"alice-pw"}, "totp": {totp}})
		return st
	}
	const sd = `{"value":"Kz8mQ2pL9vXw4RtY7nBc"}`
	const cd = `{"subType":"totp","digits":6,"counter":0,"period":30,"algorithm":"HmacSHA1"}`
	now := time.Now()
	if st := grant(a, otpCode(t, sd, cd, now, 0)); st != http.StatusOK {
		t.Fatalf("first use at A: %d", st)
	}
	if st := grant(b, otpCode(t, sd, cd, now, 0)); st == http.StatusOK {
		t.Fatal("the code spent at A was accepted at B")
	}
	fresh := otpCode(t, sd, cd, now.Add(30*time.Second), 0)
	var wg sync.WaitGroup
	var wins atomic.Int32
	for i := range 6 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			if grant(s, fresh) == http.StatusOK {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d of 6 racing grants with one code got tokens, want 1", wins.Load())
	}
}
