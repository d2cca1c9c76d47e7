package test

import (
	"bytes"
	"context"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// TestDBKey: with KEYGATE_DB_KEY the realm signing keys are sealed in the
// database; a restart with the same key keeps them (tokens of the first run
// still verify), while a start without it or with another one stops at once
// with a clear error instead of failing logins later.
func TestDBKey(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keygate.db")
	env := func(key string) []string {
		return []string{"KC_BOOTSTRAP_ADMIN_USERNAME=admin", "KC_BOOTSTRAP_ADMIN_PASSWORD=admin-secret-pw", "KEYGATE_DB_KEY=" + key}
	}
	const key = "a database key of some length"
	s := startServer(t, db, env(key), "--import-realm", "testdata/realm-test.json")
	code, tok := postForm(t, s.URL+"/realms/test/protocol/openid-connect/token", url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"carol-pass"}}, "webapp", "webapp-secret")
	if code != 200 {
		t.Fatalf("login: %d %v", code, tok)
	}
	s.stop(t)

	rows := openDB(t, db)
	realm, err := rows.GetRealmByName(t.Context(), "test")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := rows.ListKeys(t.Context(), realm.ID)
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys: %v %v", keys, err)
	}
	for _, k := range keys {
		if !bytes.HasPrefix(k.Private, []byte("KGS1")) {
			t.Errorf("%s key stored in the clear", k.Algorithm)
		}
	}

	for _, c := range []struct{ key, want string }{
		{"", "encrypted in the database"},
		{"another key of some length", "do not decrypt with this --db-key"},
		{"short", "at least 16 characters"},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		cmd := exec.CommandContext(ctx, binary, "serve", "--http-addr", "127.0.0.1:0", "--db", "sqlite:"+db)
		cmd.Env = append(cmd.Environ(), "KEYGATE_DB_KEY="+c.key)
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("start with db key %q: %v, output %q, want it to stop saying %q", c.key, err, out, c.want)
		}
		if strings.Contains(string(out), key) || (c.key != "" && strings.Contains(string(out), c.key)) {
			t.Errorf("the log shows the database key: %q", out)
		}
	}

	s = startServer(t, db, env(key))
	ctx := testContext(t)
	provider, err := oidc.NewProvider(ctx, s.URL+"/realms/test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.Verifier(&oidc.Config{SkipClientIDCheck: true, SkipIssuerCheck: true}).Verify(ctx, tok["access_token"].(string)); err != nil {
		t.Errorf("a token of the first run after a restart with the same key (and port, so issuer, changed): %v", err)
	}
}

// TestDBKeySealsExistingKeys: keys stored before --db-key was set are not a
// silent way around it. A start with the key refuses them, naming the realm
// and key; `keygate keys seal` seals them in place (in one transaction);
// then the server starts with the key and tokens of the first run verify.
func TestDBKeySealsExistingKeys(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keygate.db")
	const key = "a database key of some length"
	s := startServer(t, db, nil, "--import-realm", "testdata/realm-test.json")
	code, tok := postForm(t, s.URL+"/realms/test/protocol/openid-connect/token", url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"carol-pass"}}, "webapp", "webapp-secret")
	if code != 200 {
		t.Fatalf("login: %d %v", code, tok)
	}
	if !strings.Contains(s.logs.String(), "--db-key is not set") {
		t.Errorf("no warning about a missing --db-key:\n%s", s.logs.String())
	}
	s.stop(t)

	run := func(env string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, binary, args...)
		cmd.Env = append(cmd.Environ(), env)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("KEYGATE_DB_KEY="+key, "serve", "--http-addr", "127.0.0.1:0", "--db", "sqlite:"+db)
	if err == nil || !strings.Contains(out, `realm "`) || !strings.Contains(out, "keygate keys seal") {
		t.Fatalf("start with --db-key over unsealed keys: %v, output %q; want it to stop naming the realm and `keygate keys seal`", err, out)
	}
	if strings.Contains(out, key) {
		t.Errorf("the log shows the database key: %q", out)
	}

	if out, err := run("KEYGATE_DB_KEY=", "keys", "seal", "--db", "sqlite:"+db); err == nil {
		t.Errorf("keys seal without a key: %q", out)
	}
	out, err = run("KEYGATE_DB_KEY="+key, "keys", "seal", "--db", "sqlite:"+db)
	if err != nil || !strings.Contains(out, "sealed 4 keys") { // master and test: RS256 and HS512 each
		t.Fatalf("keys seal: %v, output %q", err, out)
	}
	rows := openDB(t, db)
	realms, err := rows.ListRealms(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range realms {
		keys, err := rows.ListKeys(t.Context(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if !bytes.HasPrefix(k.Private, []byte("KGS1")) {
				t.Errorf("realm %s: %s key still stored in the clear", r.Name, k.Algorithm)
			}
		}
	}
	if out, err := run("KEYGATE_DB_KEY="+key, "keys", "seal", "--db", "sqlite:"+db); err != nil || !strings.Contains(out, "sealed 0 keys") {
		t.Errorf("keys seal again: %v, output %q", err, out)
	}
	if out, _ := run("", "--help"); !strings.Contains(out, "keys seal") {
		t.Errorf("keygate --help does not list keys seal:\n%s", out)
	}

	s = startServer(t, db, []string{"KEYGATE_DB_KEY=" + key})
	if strings.Contains(s.logs.String(), "--db-key is not set") {
		t.Errorf("warned about a missing --db-key while one is set")
	}
	ctx := testContext(t)
	provider, err := oidc.NewProvider(ctx, s.URL+"/realms/test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.Verifier(&oidc.Config{SkipClientIDCheck: true, SkipIssuerCheck: true}).Verify(ctx, tok["access_token"].(string)); err != nil {
		t.Errorf("a token signed before sealing, after it: %v", err)
	}
}
