package login_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlstore"
	"github.com/keygate/keygate/store/storetest/backends"
)

// attemptsDown is a store whose login attempts can be neither read nor
// written once down is set: the database is gone.
type attemptsDown struct {
	*sqlstore.Store
	down *atomic.Bool
}

func (s attemptsDown) GetToken(ctx context.Context, kind store.TokenKind, sig string) (store.Token, error) {
	if s.down.Load() && kind == store.KindLogin {
		return store.Token{}, fmt.Errorf("sqlstore: get token: %w", store.ErrUnavailable)
	}
	return s.Store.GetToken(ctx, kind, sig)
}

func (s attemptsDown) CreateToken(ctx context.Context, t store.Token) error {
	if s.down.Load() && t.Kind == store.KindLogin {
		return fmt.Errorf("sqlstore: create token: %w", store.ErrUnavailable)
	}
	return s.Store.CreateToken(ctx, t)
}

// TestAttemptStoreUnavailableIs503: a login attempt that rides in its
// cookie is stored when the browser comes back with it; a database that
// cannot take it (or say whether it has it) is a 503 with Retry-After on
// every page that comes back with an attempt, not the "page has expired"
// that blames the person, and the same post signs in once it is back.
func TestAttemptStoreUnavailableIs503(t *testing.T) {
	st := backends.SQLite(t)
	down := new(atomic.Bool)
	e := serveRealm(t, attemptsDown{st, down}, st, map[string]any{
		"realm": "reg", "enabled": true, "sslRequired": "none", "registrationAllowed": true, "resetPasswordAllowed": true,
		"clients": []any{map[string]any{"clientId": "app", "publicClient": true, "redirectUris": []string{regRedirect},
			"standardFlowEnabled": true}},
		"users": []any{map[string]any{"username": "alice", "enabled": true,
			"credentials": []any{map[string]any{"type": "password", "value": "alice-pass-1"}}}},
	}, nil)
	b := e.browser()
	login := b.authorize(nil)
	f := login.byID("kc-form-login")
	if f == nil {
		t.Fatalf("no login form: %d %.600s", login.status, login.body)
	}
	action, err := url.Parse(getAttr(f, "action"))
	if err != nil {
		t.Fatal(err)
	}
	realmPath := action.Path[:strings.Index(action.Path, "login-actions/")]
	code := url.Values{"session_code": {action.Query().Get("session_code")}, "client_id": {"app"}}.Encode()

	down.Store(true)
	if p := b.submit(login, "kc-form-login", map[string]string{"username": "alice", "password": "alice-pass-1"}); !is503(p) {
		t.Errorf("login form post with the database down: %d, Retry-After %q\n%.600s", p.status, p.resp.Header.Get("Retry-After"), p.body)
	}
	for _, link := range []string{
		realmPath + "broker/corp/login?" + code,
		realmPath + "login-actions/registration?" + code,
		realmPath + "login-actions/reset-credentials?" + code,
	} {
		if p := b.do(http.MethodGet, link, nil); !is503(p) {
			t.Errorf("GET %s with the database down: %d, Retry-After %q\n%.600s", link, p.status, p.resp.Header.Get("Retry-After"), p.body)
		}
	}

	down.Store(false)
	if p := b.submit(login, "kc-form-login", map[string]string{"username": "alice", "password": "alice-pass-1"}); codeOf(t, p) == "" {
		t.Fatalf("the same post once the database is back: %d %q", p.status, p.errorText())
	}
}
