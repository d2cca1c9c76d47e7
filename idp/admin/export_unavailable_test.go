package admin_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
	"github.com/keygate/keygate/store/sqlstore"
)

// keysDown is a store whose realm keys cannot be read while down is set.
type keysDown struct {
	*sqlstore.Store
	down atomic.Bool
}

func (k *keysDown) ListKeys(ctx context.Context, realmID string) ([]store.Key, error) {
	if k.down.Load() {
		return nil, (&downable{}).err("list keys")
	}
	return k.Store.ListKeys(ctx, realmID)
}

// TestIdentityProviderExportUnavailable: a SAML provider's SP metadata
// while the realm's key cannot be read is 503 with Retry-After, not 404
// "Could not export public broker configuration".
func TestIdentityProviderExportUnavailable(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ks := &keysDown{Store: st}
	srv, err := idp.NewServer(ks, idp.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.Bootstrap(ctx, ks, srv.Limiter(), "admin", "admin-secret-pw"); err != nil {
		t.Fatal(err)
	}
	srv.SetReady()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	e := &env{t: t, url: ts.URL, st: ks}
	e.admin = e.login("master", "admin", "admin-secret-pw")
	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "acme", "enabled": true})
	e.must(201, "POST", idps, e.admin, samlProvider("corp", nil))

	ks.down.Store(true) // acme's keys were never read: nothing cached
	r := e.do("GET", idps+"/corp/export", e.admin, nil)
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Errorf("export while the key cannot be read: %d (Retry-After %q) %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	ks.down.Store(false)
	e.must(200, "GET", idps+"/corp/export", e.admin, nil)
}
