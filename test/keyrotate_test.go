package test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// TestKeysRotate: `keygate keys rotate` on the database a server runs on
// gives the realm a new signing key that the running server signs with
// within its cache's poll interval, without a restart; the old key stays in the JWKS, so a
// token it signed before still verifies (go-oidc against the JWKS), and a
// wrong --db-key rotates nothing.
func TestKeysRotate(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keygate.db")
	const dbKey = "a database key of some length"
	s := startServer(t, db, []string{"KEYGATE_DB_KEY=" + dbKey}, "--import-realm", "testdata/realm-test.json")
	issuer := s.URL + "/realms/test"
	token := func() string {
		t.Helper()
		code, tok := postForm(t, issuer+"/protocol/openid-connect/token", url.Values{"grant_type": {"password"},
			"username": {"carol"}, "password": {"carol-pass"}, "scope": {"openid"}}, "webapp", "webapp-secret")
		if code != 200 {
			t.Fatalf("token: %d %v", code, tok)
		}
		return tok["id_token"].(string)
	}
	kid := func(jwt string) string {
		t.Helper()
		h, _ := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
		var v struct {
			Kid string `json:"kid"`
		}
		if err := json.Unmarshal(h, &v); err != nil {
			t.Fatal(err)
		}
		return v.Kid
	}
	before := token()

	if out, err := runKeygate(t, "keys", "rotate", "--db", "sqlite:"+db, "--realm", "test", "--db-key", "not the database key at all"); err == nil {
		t.Fatalf("rotate with a wrong --db-key: %s", out)
	}
	if out, err := runKeygate(t, "keys", "rotate", "--db", "sqlite:"+db, "--realm", "nosuch", "--db-key", dbKey); err == nil || !strings.Contains(out, `realm "nosuch" does not exist`) {
		t.Fatalf("rotate of a missing realm: %v %s", err, out)
	}
	if kid(token()) != kid(before) {
		t.Fatal("a refused rotation changed the signing key")
	}
	out, err := runKeygate(t, "keys", "rotate", "--db", "sqlite:"+db, "--realm", "test", "--db-key", dbKey)
	if err != nil || !strings.Contains(out, "new active RS256 key") {
		t.Fatalf("rotate: %v %s", err, out)
	}
	// Other processes see a write through the change counters, polled
	// every 250 ms (store/cache.PollInterval).
	after := token()
	for deadline := time.Now().Add(3 * time.Second); kid(after) == kid(before) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		after = token()
	}
	if kid(after) == kid(before) || !strings.Contains(out, kid(after)) {
		t.Fatalf("the running server signs with %s after the rotation to (%s), before %s", kid(after), strings.TrimSpace(out), kid(before))
	}
	// Both tokens verify against the realm's JWKS, as a relying party
	// checks them.
	ctx := context.Background()
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	v := p.Verifier(&oidc.Config{ClientID: "webapp"})
	for name, tok := range map[string]string{"before": before, "after": after} {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Errorf("the ID token from %s the rotation: %v", name, err)
		}
	}
	// The server restarts on the rotated keys with the same --db-key.
	s.stop(t)
	s = startServer(t, db, []string{"KEYGATE_DB_KEY=" + dbKey})
	issuer = s.URL + "/realms/test"
	if kid(token()) != kid(after) {
		t.Error("after a restart the server signs with another key than the rotated one")
	}
}
