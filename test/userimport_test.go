package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/store"
)

// userImportRealm is a realm whose public client allows the password grant.
const userImportRealm = `{"realm":"ss","enabled":true,"clients":[{"clientId":"cli","publicClient":true,"directAccessGrantsEnabled":true}]}`

const stackStateConf = "../idp/userimport/testdata/application_stackstate.conf"

// startImportServer runs a server with realm ss (and the bootstrap admin
// admin / admin-secret-pw) and returns it with its --db flag.
func startImportServer(t *testing.T) (*server, string) {
	t.Helper()
	realm := filepath.Join(t.TempDir(), "ss.json")
	if err := os.WriteFile(realm, []byte(userImportRealm), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", []string{"KC_BOOTSTRAP_ADMIN_USERNAME=admin", "KC_BOOTSTRAP_ADMIN_PASSWORD=admin-secret-pw"}, "--import-realm", realm)
	return s, "sqlite:" + s.DB
}

// usersImport runs `keygate users import` and returns its stdout, stderr and
// exit code.
func usersImport(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"users", "import"}, args...)...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func passwordGrant(t *testing.T, s *server, username, pw string) (int, map[string]any) {
	return postForm(t, s.URL+"/realms/ss/protocol/openid-connect/token",
		url.Values{"grant_type": {"password"}, "client_id": {"cli"}, "username": {username}, "password": {pw}})
}

// onePolicyCredential checks that the user has exactly one credential and
// that it is pbkdf2-sha256 / 20000 with a fresh 16-byte salt.
func onePolicyCredential(t *testing.T, creds []store.Credential) {
	t.Helper()
	if len(creds) != 1 {
		t.Fatalf("%d credentials, want 1: %+v", len(creds), creds)
	}
	pc, err := password.FromKeycloak(creds[0].SecretData, creds[0].CredentialData)
	if err != nil || pc.Algorithm != "pbkdf2-sha256" || pc.Iterations != 20000 || len(pc.Salt) != 16 || len(pc.Value) != 32 {
		t.Fatalf("credential after login: %+v (%v)", pc, err)
	}
	if strings.Contains(creds[0].SecretData, "5f4dcc3b5aa765d61d8327deb882cf99") || strings.Contains(creds[0].CredentialData, "md5") {
		t.Errorf("the md5 value is still stored: %+v", creds[0])
	}
}

// TestUsersImportStackStateLogin imports StackState's HOCON logins into a
// running server, logs in with the old password and finds the md5 hash
// replaced by pbkdf2-sha256/20000, through the store and the admin API.
func TestUsersImportStackStateLogin(t *testing.T) {
	s, db := startImportServer(t)
	// A request first, so the server caches the realm's roles before the
	// import (another process) creates stackstate-admin: the login below,
	// well within the cache's lifetime, must still carry it.
	if code, _ := passwordGrant(t, s, "nobody", "x"); code != http.StatusUnauthorized {
		t.Fatalf("warm-up: %d", code)
	}
	out, errOut, code := usersImport(t, "--db", db, "--realm", "ss", stackStateConf)
	if code != 0 || !strings.Contains(out, "created 4, updated 0, skipped 0, invalid 0") {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	if errOut != "" {
		t.Errorf("stderr is not a terminal, yet the import wrote to it: %q", errOut)
	}
	before := readCredentials(t, s.DB, "ss", "admin")
	if len(before) != 1 || !strings.Contains(before[0].CredentialData, `"md5"`) {
		t.Fatalf("imported credential: %+v", before)
	}

	if code, body := passwordGrant(t, s, "admin", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d %v", code, body)
	}
	code, body := passwordGrant(t, s, "admin", "password")
	if code != http.StatusOK {
		t.Fatalf("login with the StackState password: %d %v", code, body)
	}
	if roles := strs(claimsOf(t, body["access_token"].(string))["realm_access"].(map[string]any)["roles"]); !contains(roles, "stackstate-admin") {
		t.Errorf("token roles %v lack stackstate-admin", roles)
	}
	after := readCredentials(t, s.DB, "ss", "admin")
	onePolicyCredential(t, after)
	if after[0].ID != before[0].ID {
		t.Errorf("re-hash replaced the credential row (id %s -> %s) instead of updating it", before[0].ID, after[0].ID)
	}
	if code, _ := passwordGrant(t, s, "admin", "password"); code != http.StatusOK {
		t.Errorf("second login: %d", code)
	}

	// The admin API reports the same.
	_, tok := postForm(t, s.URL+"/realms/master/protocol/openid-connect/token",
		url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"}, "username": {"admin"}, "password": {"admin-secret-pw"}})
	u := lookupUser(t, openDB(t, s.DB), "ss", "admin")
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/admin/realms/ss/users/"+u.ID+"/credentials", nil)
	req.Header.Set("Authorization", "Bearer "+fmt.Sprint(tok["access_token"]))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []struct {
		Type, CredentialData string
		SecretData           *string
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET credentials: %d %v", resp.StatusCode, err)
	}
	if len(list) != 1 || list[0].Type != "password" || !strings.Contains(list[0].CredentialData, `"algorithm":"pbkdf2-sha256"`) ||
		!strings.Contains(list[0].CredentialData, `"hashIterations":20000`) || (list[0].SecretData != nil && *list[0].SecretData != "") {
		t.Errorf("admin API credentials: %+v", list)
	}

	// Re-running the file changes nothing, not even admin's newer password.
	out, _, code = usersImport(t, "--db", db, "--realm", "ss", "--on-conflict", "update", stackStateConf)
	if code != 0 || !strings.Contains(out, "created 0, updated 0, skipped 4, invalid 0") {
		t.Errorf("re-run: exit %d %s", code, out)
	}
	if again := readCredentials(t, s.DB, "ss", "admin"); again[0].SecretData != after[0].SecretData {
		t.Error("re-running the import replaced the re-hashed password")
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// TestUsersImportConcurrentFirstLogin: twenty first logins of one legacy md5
// user at once all succeed and leave exactly one policy credential.
func TestUsersImportConcurrentFirstLogin(t *testing.T) {
	s, db := startImportServer(t)
	csv := filepath.Join(t.TempDir(), "legacy.csv")
	if err := os.WriteFile(csv, []byte("username,password_hash\nlegacy,5f4dcc3b5aa765d61d8327deb882cf99\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := usersImport(t, "--db", db, "--realm", "ss", csv); code != 0 {
		t.Fatalf("import: %d %s %s", code, out, errOut)
	}
	const n = 20
	codes := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			codes[i], _ = passwordGrant(t, s, "legacy", "password")
		})
	}
	close(start)
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("login %d: status %d", i, c)
		}
	}
	onePolicyCredential(t, readCredentials(t, s.DB, "ss", "legacy"))
}

// TestUsersImportCLI: a bad record fails the whole run with its file and
// line named and nothing written; --dry-run and --skip-invalid; usage errors.
func TestUsersImportCLI(t *testing.T) {
	s, db := startImportServer(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("username,email,password_hash,roles\nann,ann@x.org,5f4dcc3b5aa765d61d8327deb882cf99,viewer\nbob,bob@x.org,5f4dcc3b5aa765d61d8327deb882cf,viewer\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := usersImport(t, "--db", db, "--realm", "ss", bad)
	if code == 0 || !strings.Contains(errOut, "invalid: "+bad+":3: password_hash: md5") || !strings.Contains(errOut, "nothing was written") ||
		strings.Contains(out, "created") {
		t.Errorf("bad file: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	st := openDB(t, s.DB)
	r, _ := st.GetRealmByName(context.Background(), "ss")
	count := func() int {
		n, err := st.CountUsers(context.Background(), r.ID, store.UserQuery{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("a failed import left %d users", n)
	}
	out, _, code = usersImport(t, "--db", db, "--realm", "ss", "--dry-run", "--skip-invalid", bad)
	if code != 0 || !strings.Contains(out, "dry run, nothing written: created 1, updated 0, skipped 0, invalid 1") || count() != 0 {
		t.Errorf("dry run: exit %d %s, %d users", code, out, count())
	}
	out, _, code = usersImport(t, "--db", db, "--realm", "ss", "--skip-invalid", bad)
	if code != 0 || !strings.Contains(out, "created 1, updated 0, skipped 0, invalid 1") || count() != 1 {
		t.Errorf("skip invalid: exit %d %s, %d users", code, out, count())
	}
	for _, args := range [][]string{
		{"--db", db, bad},             // no realm
		{"--db", db, "--realm", "ss"}, // no file
		{"--db", db, "--realm", "ss", "--on-conflict", "merge", bad},
	} {
		if _, errOut, code := usersImport(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage): %s", args, code, errOut)
		}
	}
	if _, errOut, code := usersImport(t, "--db", db, "--realm", "ss", "--password", "x", bad); code == 0 || !strings.Contains(errOut, "unknown flag --password") {
		t.Errorf("--password: exit %d %s (there is no password flag)", code, errOut)
	}
	if _, errOut, code := usersImport(t, "--db", db, "--realm", "nope", bad); code != 1 || !strings.Contains(errOut, `realm "nope" does not exist`) {
		t.Errorf("unknown realm: exit %d %s", code, errOut)
	}
}

// TestUsersImportCrash kills the import with SIGKILL while it writes a large
// file: the store then holds none of it, and the next run imports it all.
func TestUsersImportCrash(t *testing.T) {
	const n = 200_000
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "k.db")
	db := "sqlite:" + dbPath
	realm := filepath.Join(dir, "ss.json")
	if err := os.WriteFile(realm, []byte(userImportRealm), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(binary, "realm", "import", "--db", db, realm).CombinedOutput(); err != nil {
		t.Fatalf("realm import: %v %s", err, out)
	}
	csv := filepath.Join(dir, "big.csv")
	var b strings.Builder
	b.WriteString("username,email,password_hash,roles\n")
	for i := range n {
		fmt.Fprintf(&b, "user%07d,user%07d@example.com,%032x,stackstate-guest\n", i, i, i)
	}
	if err := os.WriteFile(csv, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(binary, "users", "import", "--db", db, "--realm", "ss", csv)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once the transaction has spilled well into the WAL: mid-write.
	deadline := time.Now().Add(30 * time.Second)
	killedAt := int64(0)
	for time.Now().Before(deadline) {
		if fi, err := os.Stat(dbPath + "-wal"); err == nil && fi.Size() > 8<<20 {
			killedAt = fi.Size()
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	state, _ := cmd.Process.Wait()
	if killedAt == 0 || state.Success() {
		t.Fatalf("the import was not caught writing (WAL never passed 8 MiB, or it finished: %v)", state)
	}
	t.Logf("killed with a %d MiB WAL", killedAt>>20)

	st := openDB(t, dbPath)
	r, err := st.GetRealmByName(context.Background(), "ss")
	if err != nil {
		t.Fatal(err)
	}
	users, err := st.CountUsers(context.Background(), r.ID, store.UserQuery{})
	if err != nil || users != 0 {
		t.Fatalf("after SIGKILL mid-import: %d users (%v), want 0", users, err)
	}
	out, errOut, code := usersImport(t, "--db", db, "--realm", "ss", csv)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("created %d,", n)) {
		t.Fatalf("re-run after the crash: exit %d %s %s", code, out, errOut)
	}
	if users, _ = st.CountUsers(context.Background(), r.ID, store.UserQuery{}); users != n {
		t.Errorf("%d users after the re-run, want %d", users, n)
	}
}
