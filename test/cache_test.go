package test

import (
	"context"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
)

// TestCacheSeesOtherProcess runs keygate on SQLite and changes the realm's
// roles from another process (this test's own store on the same file, as
// `keygate users import` or any tool would): no admin API, no flag, no
// call on the server. A composite added to a role the user holds reaches
// tokens only through the server's cached role model, which must learn
// of the write within a second.
func TestCacheSeesOtherProcess(t *testing.T) {
	s := startServer(t, "", bootstrapEnv, "--import-realm", "testdata/realm-test.json")
	tokenURL := s.URL + "/realms/test/protocol/openid-connect/token"
	carol := url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"carol-pass"}}
	roles := func() []string {
		t.Helper()
		code, tok := postForm(t, tokenURL, carol, "webapp", "webapp-secret")
		if code != 200 {
			t.Fatalf("password grant: %d %v", code, tok)
		}
		ra, _ := claimsOf(t, tok["access_token"].(string))["realm_access"].(map[string]any)
		return strs(ra["roles"])
	}
	if slices.Contains(roles(), "auditor") { // warms the server's caches
		t.Fatal("auditor before it exists")
	}

	ctx := t.Context()
	st, err := sqlite.Open(ctx, s.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.GetRealmByName(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	parent, err := st.GetRoleByName(ctx, r.ID, "", "stackstate-admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Tx(ctx, func(ctx context.Context) error {
		if err := st.CreateRole(ctx, store.Role{ID: "auditor-role", RealmID: r.ID, Name: "auditor"}); err != nil {
			return err
		}
		return st.AddRoleComposites(ctx, r.ID, parent.ID, []string{"auditor-role"})
	}); err != nil {
		t.Fatal(err)
	}
	// Within 1 s: no token asked for more than 1 s after the write lacks
	// it (when the request started, not when its answer came: a password
	// grant's hashing on a loaded machine can take most of a second).
	wrote := time.Now()
	for {
		asked := time.Since(wrote)
		if slices.Contains(roles(), "auditor") {
			break
		}
		if asked > time.Second {
			t.Fatalf("a token asked for %s after the write lacks the composite, want within 1 s", asked.Round(time.Millisecond))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("composite added by another process: in the server's tokens after %s", time.Since(wrote).Round(time.Millisecond))
}
