package oidc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/ory/fosite"

	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/cache"
	"github.com/keygate/keygate/store/storetest/backends"
)

var errDBDown = fmt.Errorf("sqlstore: get user: %w (dial tcp: connection refused)", store.ErrUnavailable)

// Whatever fosite made of a store that could not answer (invalid_client
// for a client it could not load, invalid_grant for a password or token
// it could not check, server_error), at every endpoint and grant, the
// client is told 503 temporarily_unavailable: never that its credentials
// or token are bad.
func TestClientErrorUnavailable(t *testing.T) {
	causes := []error{errDBDown, fmt.Errorf("%w: %w", authn.ErrUnavailable, errDBDown)}
	wrappers := []func(error) error{
		func(e error) error { return e },
		func(e error) error { return fosite.ErrInvalidClient.WithWrap(e).WithDebug(e.Error()) },
		func(e error) error { return fosite.ErrInvalidGrant.WithWrap(e).WithHint("Unable to authenticate") },
		func(e error) error { return fosite.ErrServerError.WithWrap(e) },
		func(e error) error { return fosite.ErrInvalidGrant.WithWrap(errSessionNotActive).WithWrap(e) },
		func(e error) error { return fmt.Errorf("%w: %w", fosite.ErrNotFound, e) },
	}
	forms := []url.Values{
		{"grant_type": {"password"}, "username": {"u"}, "password": {"p"}},
		{"grant_type": {"client_credentials"}},
		{"grant_type": {"refresh_token"}, "refresh_token": {"r"}},
		{"grant_type": {"authorization_code"}, "code": {"c"}},
		{"token": {"t"}},
	}
	for _, cause := range causes {
		for i, wrap := range wrappers {
			for _, ep := range []endpoint{atToken, atRevoke, atAuthorize} {
				for _, form := range forms {
					o := clientError(wrap(cause), ep, form)
					if o.status != http.StatusServiceUnavailable || o.code != "temporarily_unavailable" {
						t.Errorf("wrapper %d, endpoint %d, form %v: %d %s %q", i, ep, form, o.status, o.code, o.desc)
					}
				}
			}
		}
	}
}

func TestWriteOAuthErrorRetryAfter(t *testing.T) {
	p := &Provider{log: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		err  error
		want string
	}{{errDBDown, RetryAfterUnavailable}, {fosite.ErrServerError.WithWrap(errDBDown), RetryAfterUnavailable}, {authn.ErrBusy, "1"}} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/token", nil)
		r.PostForm = url.Values{"grant_type": {"password"}}
		p.writeOAuthError(rec, r, atToken, tc.err)
		if rec.Code != 503 || rec.Header().Get("Retry-After") != tc.want {
			t.Errorf("%v: %d Retry-After %q, want 503 and %q", tc.err, rec.Code, rec.Header().Get("Retry-After"), tc.want)
		}
	}
}

// flakyRealms fails GetRealmByName while down.
type flakyRealms struct {
	store.RealmStore
	down  bool
	calls int
}

func (f *flakyRealms) GetRealmByName(_ context.Context, name string) (store.Realm, error) {
	f.calls++
	if f.down {
		return store.Realm{}, errDBDown
	}
	return store.Realm{ID: "id-" + name, Name: name, Enabled: true, Settings: []byte(`{}`)}, nil
}

// The realm cache serves its last good value, however old, while the
// store is unavailable, and no value it never had; other errors are not
// papered over.
func TestRealmCacheServesStaleWhileUnavailable(t *testing.T) {
	f := &flakyRealms{}
	c := newRealmCache(f, cache.For(f))
	ctx := context.Background()
	cr, err := c.get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	c.c.Invalidate("a") // as if the realm had changed
	f.down = true
	got, err := c.get(ctx, "a")
	if err != nil || got != cr {
		t.Fatalf("expired entry while the store is down: %v %v, want the stale entry", got, err)
	}
	if _, err := c.get(ctx, "b"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("never-loaded realm while down: %v, want store.ErrUnavailable", err)
	}
	f.down = false
	calls := f.calls
	c.c.Invalidate("a")
	if _, err := c.get(ctx, "a"); err != nil || f.calls != calls+1 {
		t.Fatalf("after recovery: %v, %d store calls, want a fresh read", err, f.calls-calls)
	}
}

// downKeys fails ListKeys while down.
type downKeys struct {
	store.KeyStore
	down bool
}

func (d *downKeys) ListKeys(ctx context.Context, realmID string) ([]store.Key, error) {
	if d.down {
		return nil, errDBDown
	}
	return d.KeyStore.ListKeys(ctx, realmID)
}

// The keyring serves the last keys it read, past their reload interval,
// while the store is unavailable: JWKS and token verification stay up.
func TestKeyringServesStaleWhileUnavailable(t *testing.T) {
	st := backends.SQLite(t)
	ctx := context.Background()
	if err := st.CreateRealm(ctx, store.Realm{ID: "r", Name: "r", Enabled: true, Settings: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	d := &downKeys{KeyStore: st}
	k, err := NewKeyring(d, "")
	if err != nil {
		t.Fatal(err)
	}
	k.rsaBits = 1024 // a test key
	rk, err := k.get(ctx, "r", "")
	if err != nil {
		t.Fatal(err)
	}
	k.realms.Invalidate("r") // as if the realm had changed
	d.down = true
	got, err := k.get(ctx, "r", "")
	if err != nil || got != rk {
		t.Fatalf("keys while the store is down: %v, want the last ones read", err)
	}
	if _, err := k.get(ctx, "other", ""); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("keys never read while down: %v, want store.ErrUnavailable", err)
	}
}

// A database outage under fosite's wrappers is logged as the store's own
// words, without fosite's stack trace.
func TestStoreCauseUnderFositeWrappers(t *testing.T) {
	for _, err := range []error{
		errDBDown,
		fosite.ErrServerError.WithWrap(errDBDown),
		fosite.ErrInvalidClient.WithWrap(fosite.ErrServerError.WithWrap(errDBDown)),
	} {
		if got := storeCause(err); got != errDBDown.Error() {
			t.Errorf("storeCause(%v) = %q, want %q", err, got, errDBDown.Error())
		}
	}
}
