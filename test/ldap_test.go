package test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/federation/ldap/ldaptest"
)

// TestUsersSyncCommand: `keygate users sync` syncs a realm's LDAP provider
// (its bind credential sealed with --db-key) while a server runs on the
// same store, and the server's metrics count the syncs it runs itself.
func TestUsersSyncCommand(t *testing.T) {
	dir := ldaptest.Start(t, ldaptest.Options{Users: 30})
	const dbKey = "sync-test-db-key-0123456789"
	realm := map[string]any{"realm": "corp", "enabled": true, "components": map[string]any{
		"org.keycloak.storage.UserStorageProvider": []any{map[string]any{"name": "corp-ldap", "providerId": "ldap",
			"config": map[string][]string{"connectionUrl": {dir.URL()}, "bindDn": {dir.ServiceDN}, "bindCredential": {dir.ServicePassword},
				"usersDn": {dir.PeopleDN}, "editMode": {"READ_ONLY"}, "changedSyncPeriod": {"1"}},
			"subComponents": map[string]any{"org.keycloak.storage.ldap.mappers.LDAPStorageMapper": []any{
				map[string]any{"name": "username", "providerId": "user-attribute-ldap-mapper",
					"config": map[string][]string{"ldap.attribute": {"uid"}, "user.model.attribute": {"username"}}},
			}}}}}}
	data, _ := json.Marshal(realm)
	file := filepath.Join(t.TempDir(), "corp.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", []string{"KEYGATE_DB_KEY=" + dbKey}, "--import-realm", file, "--metrics-addr", "127.0.0.1:0")

	run := func(args ...string) (string, string, error) {
		cmd := exec.Command(binary, append([]string{"users", "sync", "--db", "sqlite:" + s.DB}, args...)...)
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), err
	}
	if _, stderr, err := run("--realm", "corp", "--full"); err == nil || !strings.Contains(stderr, "--db-key") {
		t.Fatalf("a sealed bind credential without --db-key: %v %s", err, stderr)
	}
	out, stderr, err := run("--realm", "corp", "--full", "--db-key", dbKey)
	if err != nil || !strings.Contains(out, `corp-ldap: {"ignored":false,"added":30,`) {
		t.Fatalf("users sync: %v\nstdout %s\nstderr %s", err, out, stderr)
	}
	if _, _, err := run("--realm", "corp", "--provider", "nope", "--db-key", dbKey); err == nil {
		t.Fatal("an unknown provider name was accepted")
	}
	if strings.Contains(s.logs.String(), dir.ServicePassword) {
		t.Error("the server log contains the bind password")
	}

	// The server runs the changed-users sync itself (changedSyncPeriod 1 s)
	// within its 10 s tick; its metrics count it.
	m := regexp.MustCompile(`msg="management listener" addr=(\S+)`).FindStringSubmatch(s.logs.String())
	if m == nil {
		t.Fatalf("no management listener in the log:\n%s", s.logs.String())
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + m[1] + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), `keygate_federation_syncs_total{kind="changed",outcome="ok",provider="corp-ldap"}`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no periodic sync in the metrics after 30 s:\n%s", grepLines(string(body), "keygate_federation"))
		}
		time.Sleep(time.Second)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
