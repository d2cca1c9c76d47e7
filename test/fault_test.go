package test

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keygate/keygate/store/storetest/tcpproxy"
	"github.com/keygate/keygate/store/storetest/tmpfs"
)

// answer is one HTTP answer, whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("status %d, non-JSON body %q", a.status, a.body)
	}
	return m
}

func (a answer) String() string { return fmt.Sprintf("%d %s", a.status, a.body) }

var faultClient = &http.Client{Timeout: 10 * time.Second}

func send(t *testing.T, method, u, bearer string, form url.Values, basic ...string) answer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	resp, err := faultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

func sendJSON(t *testing.T, method, u, bearer, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := faultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

// unavailable checks a's 503 with Retry-After and, when code is set, the
// RFC 6749 error code in its JSON.
func unavailable(t *testing.T, what string, a answer, code string) {
	t.Helper()
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Errorf("%s: %s (Retry-After %q), want 503 with Retry-After", what, a, a.header.Get("Retry-After"))
		return
	}
	if code != "" {
		if got := a.json(t)["error"]; got != code {
			t.Errorf("%s: error %v, want %s", what, got, code)
		}
	}
}

// waitFor polls cond every 50ms until it holds or limit passes, and
// returns how long that took.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

func readyStatus(u string) int {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(u + "/health/ready")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

var bootstrapEnv = []string{"KC_BOOTSTRAP_ADMIN_USERNAME=admin", "KC_BOOTSTRAP_ADMIN_PASSWORD=admin-secret-pw"}

// TestPostgresCut runs keygate on PostgreSQL through a TCP proxy, cuts the
// proxy and restores it. While cut: grants, userinfo, introspection and
// the admin API answer 503 with Retry-After (temporarily_unavailable on
// the OAuth endpoints), never an answer that blames credentials or
// tokens; discovery, JWKS and realm info keep their last good answer past
// every cache's lifetime; readiness is DOWN and liveness UP. Once restored
// everything works again without a restart, and the refresh token tried
// while cut is still good.
func TestPostgresCut(t *testing.T) {
	dsn := os.Getenv("KEYGATE_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("PostgreSQL fault test is off: set KEYGATE_TEST_POSTGRES (see README)")
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Skip("the PostgreSQL fault test needs KEYGATE_TEST_POSTGRES as a postgres:// URL")
	}
	schema := "keygate_fault_" + strings.ToLower(rand.Text()[:10])
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
	p := tcpproxy.Start(t, u.Host)
	u.Host = p.Addr()
	q := u.Query()
	q.Set("schema", schema)
	u.RawQuery = q.Encode()
	s := startServer(t, u.String(), bootstrapEnv, "--import-realm", "testdata/realm-test.json")

	realm := s.URL + "/realms/test"
	oc := realm + "/protocol/openid-connect"
	carol := url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"carol-pass"}, "scope": {"openid"}}
	client := []string{"webapp", "webapp-secret"}
	adminLogin := url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"}, "username": {"admin"}, "password": {"admin-secret-pw"}}

	// Warm: every cache holds a good value.
	public := map[string]answer{}
	for _, path := range []string{realm, realm + "/.well-known/openid-configuration", oc + "/certs"} {
		a := send(t, "GET", path, "", nil)
		if a.status != 200 {
			t.Fatalf("GET %s: %s", path, a)
		}
		public[path] = a
	}
	a := send(t, "POST", oc+"/token", "", carol, client...)
	if a.status != 200 {
		t.Fatalf("password grant: %s", a)
	}
	tok := a.json(t)
	access, refresh := tok["access_token"].(string), tok["refresh_token"].(string)
	a = send(t, "POST", s.URL+"/realms/master/protocol/openid-connect/token", "", adminLogin)
	if a.status != 200 {
		t.Fatalf("admin login: %s", a)
	}
	adminTok := a.json(t)["access_token"].(string)
	users := s.URL + "/admin/realms/test/users"
	if a := send(t, "GET", users, adminTok, nil); a.status != 200 {
		t.Fatalf("admin API: %s", a)
	}
	if a := send(t, "GET", oc+"/userinfo", access, nil); a.status != 200 {
		t.Fatalf("userinfo: %s", a)
	}
	// A browser signed in to the realm (its SSO session in a cookie).
	authorize := oc + "/auth?" + url.Values{"client_id": {"webapp"}, "response_type": {"code"},
		"redirect_uri": {"http://127.0.0.1:9999/cb"}, "scope": {"openid"}, "state": {"st-1"}}.Encode()
	browser := faultBrowserLogin(t, s.URL, authorize, "carol", "carol-pass")
	// client_credentials reads nothing once warm (its service account is
	// cached): the cache must still stop vouching for it while cut.
	for range 2 {
		if a := send(t, "POST", oc+"/token", "", url.Values{"grant_type": {"client_credentials"}}, client...); a.status != 200 {
			t.Fatalf("client_credentials: %s", a)
		}
	}

	p.Cut()
	cutAt := time.Now()
	down := waitFor(t, "readiness DOWN after the cut", 5*time.Second, func() bool { return readyStatus(s.URL) == 503 })
	t.Logf("readiness DOWN %s after the cut", down.Round(time.Millisecond))
	// Past the realm and model caches' 5 s and the admin authorization
	// cache's 1 s: what answers now comes from the last good values.
	time.Sleep(time.Until(cutAt.Add(6 * time.Second)))

	unavailable(t, "password grant while cut", send(t, "POST", oc+"/token", "", carol, client...), "temporarily_unavailable")
	unavailable(t, "client_credentials while cut", send(t, "POST", oc+"/token", "", url.Values{"grant_type": {"client_credentials"}}, client...), "temporarily_unavailable")
	unavailable(t, "refresh while cut", send(t, "POST", oc+"/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, client...), "temporarily_unavailable")
	unavailable(t, "wrong password while cut", send(t, "POST", oc+"/token", "", url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"wrong"}}, client...), "temporarily_unavailable")
	unavailable(t, "userinfo while cut", send(t, "GET", oc+"/userinfo", access, nil), "temporarily_unavailable")
	unavailable(t, "introspection while cut", send(t, "POST", oc+"/token/introspect", "", url.Values{"token": {access}}, client...), "temporarily_unavailable")
	unavailable(t, "admin API while cut", send(t, "GET", users, adminTok, nil), "temporarily_unavailable")
	unavailable(t, "client registration while cut", sendJSON(t, "POST", realm+"/clients-registrations/openid-connect", access,
		`{"redirect_uris":["https://app.example/cb"]}`), "temporarily_unavailable")
	unavailable(t, "admin login while cut", send(t, "POST", s.URL+"/realms/master/protocol/openid-connect/token", "", adminLogin), "temporarily_unavailable")
	// An adapter's logout with its refresh token (Keycloak's backchannel
	// logout): the session is not ended, so the client must retry, not
	// be told its credentials are wrong (401 before) or 500.
	unavailable(t, "adapter logout while cut", send(t, "POST", oc+"/logout", "", url.Values{"refresh_token": {refresh}}, client...), "temporarily_unavailable")
	// The login page: its identity providers cannot be listed, and a form
	// without their buttons (200 before) would be no answer either.
	unavailable(t, "login page while cut", send(t, "GET", authorize, "", nil), "")
	// A browser's logout: its session cannot be read, so it cannot be
	// ended (a confirmation page and then "logged out" before, the
	// session alive).
	unavailable(t, "browser logout while cut", faultGet(t, browser, oc+"/logout"), "")
	for path, want := range public {
		a := send(t, "GET", path, "", nil)
		if a.status != 200 || string(a.body) != string(want.body) {
			t.Errorf("GET %s while cut: %s, want the last good answer", path, a)
		}
	}
	if a := send(t, "GET", s.URL+"/health/live", "", nil); a.status != 200 {
		t.Errorf("liveness while cut: %s", a)
	}
	if a := send(t, "GET", s.URL+"/health/ready", "", nil); a.status != 503 || !strings.Contains(string(a.body), `"DOWN"`) {
		t.Errorf("readiness while cut: %s", a)
	}

	p.Restore()
	restoredAt := time.Now()
	var recovered, ready time.Duration
	var wg sync.WaitGroup
	wg.Go(func() {
		for time.Since(restoredAt) < 15*time.Second {
			if a := send(t, "POST", oc+"/token", "", carol, client...); a.status == 200 {
				recovered = time.Since(restoredAt)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	wg.Go(func() {
		for time.Since(restoredAt) < 15*time.Second {
			if readyStatus(s.URL) == 200 {
				ready = time.Since(restoredAt)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	wg.Wait()
	if recovered == 0 || ready == 0 {
		t.Fatalf("after restore: password grant back after %s, readiness UP after %s (0 = never, within 15 s)", recovered, ready)
	}
	t.Logf("after restore, without a restart: first good password grant %s, readiness UP %s",
		recovered.Round(time.Millisecond), ready.Round(time.Millisecond))
	if a := send(t, "POST", oc+"/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, client...); a.status != 200 {
		t.Errorf("refresh after restore with the token tried while cut: %s", a)
	}
	if a := send(t, "GET", users, adminTok, nil); a.status != 200 {
		t.Errorf("admin API after restore: %s", a)
	}
	if a := send(t, "GET", oc+"/userinfo", access, nil); a.status != 200 {
		t.Errorf("userinfo after restore: %s", a)
	}
	// The browser's session outlived the refused logout: it signs in.
	if a := faultGet(t, browser, authorize); a.status/100 != 3 || !strings.Contains(a.header.Get("Location"), "code=") {
		t.Errorf("browser login after restore: %s", a)
	}
	// The logout refused while cut, now carried out: the session ends.
	if a := send(t, "POST", oc+"/logout", "", url.Values{"refresh_token": {refresh}}, client...); a.status != 204 {
		t.Errorf("adapter logout after restore: %s", a)
	}
	if a := send(t, "POST", oc+"/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, client...); a.status != 400 {
		t.Errorf("refresh after the adapter logout: %s, want 400", a)
	}
	for _, secret := range []string{"carol-pass", "admin-secret-pw", "webapp-secret", refresh, access} {
		if strings.Contains(s.logs.String(), secret) {
			t.Errorf("the log holds a secret (%.12s...)", secret)
		}
	}
}

// faultBrowserLogin signs a cookie-keeping client (that follows no
// redirect) in through the login form of the authorization request
// authorize.
func faultBrowserLogin(t *testing.T, base, authorize, user, pw string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second, Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	a := faultGet(t, c, authorize)
	action := regexp.MustCompile(`id="kc-form-login"[^>]*action="([^"]+)"`).FindSubmatch(a.body)
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]*)"`).FindSubmatch(a.body)
	if a.status != 200 || action == nil || csrf == nil {
		t.Fatalf("login page: %s", a)
	}
	resp, err := c.PostForm(base+html.UnescapeString(string(action[1])), url.Values{"csrf_token": {html.UnescapeString(string(csrf[1]))},
		"username": {user}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 3 || !strings.Contains(resp.Header.Get("Location"), "code=") {
		t.Fatalf("login: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return c
}

// faultGet is a GET by c.
func faultGet(t *testing.T, c *http.Client, u string) answer {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

// TestSQLiteDiskFull runs keygate on a small tmpfs and fills it: writes
// answer 503 with Retry-After (never 500, never a credentials error),
// readiness turns DOWN while reads go on, and both come back once space
// is freed. A start on the full disk then fails with the reason in words.
func TestSQLiteDiskFull(t *testing.T) {
	dir := tmpfs.Mount(t, 16<<20)
	db := filepath.Join(dir, "keygate.db")
	s := startServer(t, db, bootstrapEnv, "--import-realm", "testdata/realm-test.json")
	oc := s.URL + "/realms/test/protocol/openid-connect"
	client := []string{"webapp", "webapp-secret"}
	carol := url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"carol-pass"}}
	a := send(t, "POST", s.URL+"/realms/master/protocol/openid-connect/token", "", url.Values{"grant_type": {"password"},
		"client_id": {"admin-cli"}, "username": {"admin"}, "password": {"admin-secret-pw"}})
	if a.status != 200 {
		t.Fatalf("admin login: %s", a)
	}
	adminTok := a.json(t)["access_token"].(string)
	users := s.URL + "/admin/realms/test/users"
	create := func(i int) answer {
		t.Helper()
		return sendJSON(t, "POST", users, adminTok,
			fmt.Sprintf(`{"username":"filler-%d","enabled":true,"attributes":{"note":[%q]}}`, i, strings.Repeat("n", 2000)))
	}
	if a := create(0); a.status != 201 {
		t.Fatalf("create user: %s", a)
	}
	// The realm's keys are made on its first token, a write: before the fill.
	if a := send(t, "POST", oc+"/token", "", carol, client...); a.status != 200 {
		t.Fatalf("password grant: %s", a)
	}

	free := tmpfs.Fill(t, dir)
	down := waitFor(t, "readiness DOWN on a full disk", 8*time.Second, func() bool { return readyStatus(s.URL) == 503 })
	t.Logf("readiness DOWN %s after the disk filled", down.Round(time.Millisecond))
	refused := 0
	for i := 1; i <= 50 && refused == 0; i++ {
		switch a := create(i); a.status {
		case 201:
		case 503:
			refused++
			unavailable(t, "create user on a full disk", a, "temporarily_unavailable")
		default:
			t.Fatalf("create user on a full disk: %s, want 201 or 503", a)
		}
	}
	if refused == 0 {
		t.Fatal("50 users with 2 kB attributes each fitted on a full disk")
	}
	for range 5 {
		a := send(t, "POST", oc+"/token", "", carol, client...)
		if a.status != 200 {
			unavailable(t, "password grant on a full disk", a, "temporarily_unavailable")
		}
	}
	if a := send(t, "GET", s.URL+"/realms/test/.well-known/openid-configuration", "", nil); a.status != 200 {
		t.Errorf("discovery on a full disk: %s", a)
	}

	free()
	up := waitFor(t, "readiness UP once space is freed", 8*time.Second, func() bool { return readyStatus(s.URL) == 200 })
	t.Logf("readiness UP %s after space was freed", up.Round(time.Millisecond))
	if a := create(1000); a.status != 201 {
		t.Errorf("create user after space was freed: %s", a)
	}
	if a := send(t, "POST", oc+"/token", "", carol, client...); a.status != 200 {
		t.Errorf("password grant after space was freed: %s", a)
	}

	// A start on the full disk stops with the reason in words.
	s.stop(t)
	tmpfs.Fill(t, dir)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "serve", "--http-addr", "127.0.0.1:0", "--db", "sqlite:"+db).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("start on a full disk: %v, want a failed start; output:\n%s", err, out)
	}
	if msg := string(out); !strings.Contains(msg, "the disk holding "+db+" is full") || !strings.Contains(msg, "free some space") {
		t.Errorf("start on a full disk says:\n%s\nwant the disk called full, in words", msg)
	}
	t.Logf("start on a full disk: %s", strings.TrimSpace(string(out[max(0, strings.LastIndex(string(out), "keygate:")):])))
}

// TestReadinessDuringLoginFlood floods a SQLite server with password and
// refresh grants at concurrency 200 and probes /health/ready every 200 ms:
// the probe has its own connections and never waits behind the single
// writer, so none fails. A probe fails on any answer but 200 or none
// within 2 s (the old check's own timeout); the figures, probes over
// Kubernetes' default 1 s included, go to the test log.
func TestReadinessDuringLoginFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("flood test skipped in -short mode")
	}
	// The test realm without brute-force protection, which would lock
	// carol out under concurrent attempts: every login succeeds and writes.
	raw, err := os.ReadFile("testdata/realm-test.json")
	if err != nil {
		t.Fatal(err)
	}
	var rm map[string]any
	if err := json.Unmarshal(raw, &rm); err != nil {
		t.Fatal(err)
	}
	rm["bruteForceProtected"] = false
	raw, _ = json.Marshal(rm)
	realmFile := filepath.Join(t.TempDir(), "realm.json")
	if err := os.WriteFile(realmFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", nil, "--import-realm", realmFile)
	tokenURL := s.URL + "/realms/test/protocol/openid-connect/token"
	form := url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"carol-pass"}}.Encode()
	const workers, floodFor = 200, 10 * time.Second
	ctx, cancel := context.WithTimeout(t.Context(), floodFor)
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	fc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var ok atomic.Int64
	var mu sync.Mutex
	other := map[int]int{} // status -> count
	var wg sync.WaitGroup
	var refreshed atomic.Int64
	for i := range workers {
		wg.Go(func() {
			// Even workers sign in again and again; odd ones sign in once
			// and then refresh (each refresh holds the writer through its
			// transaction), as a busy deployment mixes them.
			refresh := ""
			for ctx.Err() == nil {
				body := form
				if refresh != "" {
					body = url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}.Encode()
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", tokenURL, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth("webapp", "webapp-secret")
				resp, err := fc.Do(req)
				if err != nil {
					continue
				}
				var tok struct {
					Refresh string `json:"refresh_token"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&tok)
				resp.Body.Close()
				switch {
				case resp.StatusCode == 200 && refresh != "":
					refreshed.Add(1)
				case resp.StatusCode == 200:
					ok.Add(1)
				default:
					mu.Lock()
					other[resp.StatusCode]++
					mu.Unlock()
				}
				if i%2 == 1 {
					refresh = tok.Refresh
				}
			}
		})
	}
	probe := &http.Client{Timeout: 2 * time.Second}
	var lat []time.Duration
	failed, over1s := 0, 0
	time.Sleep(500 * time.Millisecond) // the flood is on
	for ctx.Err() == nil {
		start := time.Now()
		resp, err := probe.Get(s.URL + "/health/ready")
		lat = append(lat, time.Since(start))
		if lat[len(lat)-1] > time.Second {
			over1s++
		}
		if err != nil {
			failed++
			t.Logf("probe: %v", err)
		} else {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				failed++
				t.Logf("probe: %d", resp.StatusCode)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	wg.Wait()
	slices.Sort(lat)
	p := func(q float64) time.Duration {
		return lat[min(len(lat)-1, int(q*float64(len(lat))))].Round(time.Millisecond)
	}
	t.Logf("flood: %d workers for %s, %d logins (%.0f/s) and %d refreshes (%.0f/s), other answers by status %v; readiness: %d of %d probes failed, %d over 1 s, p50 %s, p99 %s, max %s",
		workers, floodFor, ok.Load(), float64(ok.Load())/floodFor.Seconds(), refreshed.Load(), float64(refreshed.Load())/floodFor.Seconds(),
		other, failed, len(lat), over1s, p(.5), p(.99), lat[len(lat)-1].Round(time.Millisecond))
	if ok.Load() == 0 {
		t.Fatal("no login succeeded: no flood")
	}
	if failed > 0 {
		t.Errorf("%d of %d readiness probes failed during the flood", failed, len(lat))
	}
}

var mgmtRE = regexp.MustCompile(`msg="management listener" addr=(\S+)`)

// TestShutdownDrain sends SIGTERM while a request is in flight: readiness
// turns DOWN at once (on the management listener, which closes last),
// the request in flight completes, and the process exits 0. A request
// that outlives --shutdown-timeout is cut and the exit is still 0.
func TestShutdownDrain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout string
		finish  bool // the request in flight sends the rest of its body
	}{{"completes", "10s", true}, {"timeout", "1s", false}} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, "", nil, "--import-realm", "testdata/realm-test.json", "--metrics-addr", "127.0.0.1:0",
				"--shutdown-timeout", tc.timeout)
			m := mgmtRE.FindStringSubmatch(s.logs.String())
			if m == nil {
				t.Fatalf("no management listener in the log:\n%s", s.logs.String())
			}
			mgmt := "http://" + m[1]
			if st := readyStatus(mgmt); st != 200 {
				t.Fatalf("management readiness before shutdown: %d", st)
			}

			// A password grant whose body arrives in two parts: in flight
			// from its first byte until the second part.
			body := url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"carol-pass"}}.Encode()
			c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /realms/test/protocol/openid-connect/token HTTP/1.1\r\nHost: x\r\nAuthorization: Basic d2ViYXBwOndlYmFwcC1zZWNyZXQ=\r\n"+
				"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])
			time.Sleep(200 * time.Millisecond) // the server is reading the body

			exited := make(chan error, 1)
			if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			sigAt := time.Now()
			go func() { exited <- s.cmd.Wait() }()
			down := waitFor(t, "readiness DOWN after SIGTERM", 2*time.Second, func() bool { return readyStatus(mgmt) == 503 })
			t.Logf("readiness DOWN %s after SIGTERM", down.Round(time.Millisecond))
			// The listener closes right after readiness goes DOWN (both in
			// shutdown, one goroutine apart): within a second, with nothing
			// in flight finished.
			closed := waitFor(t, "the public listener refusing connections while draining", time.Second, func() bool {
				c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.URL, "http://"), 100*time.Millisecond)
				if err == nil {
					c.Close()
				}
				return err != nil
			})
			t.Logf("public listener closed %s after readiness DOWN", closed.Round(time.Millisecond))
			select {
			case err := <-exited:
				t.Fatalf("exited (%v) with a request in flight", err)
			case <-time.After(300 * time.Millisecond):
			}

			if tc.finish {
				if _, err := io.WriteString(c, body[10:]); err != nil {
					t.Fatal(err)
				}
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatalf("the request in flight got no answer: %v", err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(b), "access_token") {
					t.Errorf("the request in flight: %d %s", resp.StatusCode, b)
				}
			}
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("exit: %v, want 0; log:\n%s", err, s.logs.String())
				}
			case <-time.After(15 * time.Second):
				t.Fatal("no exit within 15 s")
			}
			took := time.Since(sigAt)
			if !tc.finish && took < time.Second {
				t.Errorf("exited %s after SIGTERM, before --shutdown-timeout %s", took, tc.timeout)
			}
			t.Logf("exit 0 %s after SIGTERM", took.Round(time.Millisecond))
			logs := s.logs.String()
			if i, j := strings.Index(logs, "readiness DOWN, draining"), strings.Index(logs, `msg=stopped`); i < 0 || j < i {
				t.Errorf("log lacks the drain, or in the wrong order:\n%s", lastLines(logs, 10))
			}
		})
	}
}
