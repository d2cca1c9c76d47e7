package oidc

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
)

// TestRotateSealed: with a database key, the key a rotation makes is
// stored sealed like the first; the old RS256 key turns passive, keeps
// verifying (its kid stays in the JWKS) and no longer signs.
func TestRotateSealed(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateRealm(ctx, store.Realm{ID: "r", Name: "r", Enabled: true, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	k, err := NewKeyring(st, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	before, err := k.reload(ctx, "r", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Rotate(ctx, "r", algRS256); err != nil {
		t.Fatal(err)
	}
	rows, err := st.ListKeys(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if !bytes.HasPrefix(r.Private, sealedMagic) {
			t.Errorf("%s key %s stored unsealed after rotation", r.Algorithm, r.ID)
		}
	}
	after, err := k.reload(ctx, "r", "")
	if err != nil {
		t.Fatal(err)
	}
	old := after.byKIDOrNil(before.active.kid)
	if after.active.kid == before.active.kid || old == nil || old.active {
		t.Fatalf("after rotation: active %s, old %s kept %v", after.active.kid, before.active.kid, old)
	}
	if !bytes.Contains(after.jwks, []byte(before.active.kid)) {
		t.Error("the passive key left the JWKS: tokens it signed no longer verify")
	}
}
