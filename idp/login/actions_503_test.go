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

// writesDown is a store whose user and password writes fail as a lost
// database once down is set; reads and the login records keep working.
type writesDown struct {
	*sqlstore.Store
	down *atomic.Bool
}

func (s writesDown) UpdateUser(ctx context.Context, u store.User) error {
	if s.down.Load() {
		return fmt.Errorf("sqlstore: update user: %w", store.ErrUnavailable)
	}
	return s.Store.UpdateUser(ctx, u)
}

func (s writesDown) SetPassword(ctx context.Context, userID string, c store.Credential) error {
	if s.down.Load() {
		return fmt.Errorf("sqlstore: set password: %w", store.ErrUnavailable)
	}
	return s.Store.SetPassword(ctx, userID, c)
}

// TestActionStoreUnavailableIs503: a required action whose write the
// database cannot take answers its page again in a 503 with Retry-After
// (not a redirect to a 200 page), saying so, and changes nothing; once
// the database is back the same page's next post completes the action.
func TestActionStoreUnavailableIs503(t *testing.T) {
	for _, c := range []struct {
		action, form string
		values       map[string]string
	}{
		{"UPDATE_PROFILE", "kc-update-profile-form", map[string]string{"username": "alice", "email": "alice2@example.com", "firstName": "Alice", "lastName": "Liddell"}},
		{"UPDATE_PASSWORD", "kc-passwd-update-form", map[string]string{"password-new": "alice-pass-2", "password-confirm": "alice-pass-2"}},
	} {
		t.Run(c.action, func(t *testing.T) {
			st := backends.SQLite(t)
			down := new(atomic.Bool)
			e := serveRealm(t, writesDown{st, down}, st, map[string]any{
				"realm": "reg", "enabled": true, "sslRequired": "none",
				"clients": []any{map[string]any{"clientId": "app", "publicClient": true, "redirectUris": []string{regRedirect},
					"standardFlowEnabled": true}},
				"users": []any{map[string]any{"username": "alice", "email": "alice@example.com", "enabled": true,
					"firstName": "Alice", "lastName": "Liddell",
					"credentials": []any{map[string]any{"type": "password", "value": "alice-pass-1"}}}},
			}, nil)
			b := e.browser()
			if codeOf(t, b.loginAs("alice", "alice-pass-1")) == "" {
				t.Fatal("alice's login")
			}
			p := b.authorize(url.Values{"kc_action": {c.action}})
			if p.status != http.StatusSeeOther {
				t.Fatalf("kc_action=%s: %d", c.action, p.status)
			}
			p = b.do(http.MethodGet, p.resp.Header.Get("Location"), nil)
			down.Store(true)
			p = b.submit(p, c.form, c.values)
			if p.status != http.StatusServiceUnavailable || p.resp.Header.Get("Retry-After") == "" {
				t.Fatalf("post with the database down: %d, Retry-After %q; want 503 with Retry-After\n%.600s", p.status, p.resp.Header.Get("Retry-After"), p.body)
			}
			if !strings.Contains(p.body, "The service is temporarily unavailable") {
				t.Errorf("the 503 page does not say the service is unavailable: %.800s", p.body)
			}
			if p.byID(c.form) == nil {
				t.Fatalf("the 503 answer is not the step's page again: %.800s", p.body)
			}
			u, err := st.GetUserByUsername(t.Context(), e.realm.ID, "alice")
			if err != nil || u.Email != "alice@example.com" {
				t.Fatalf("changed while down: %+v %v", u, err)
			}
			// The database is back: the page the 503 carried goes on.
			down.Store(false)
			if q := b.submit(p, c.form, c.values); codeOf(t, q) == "" {
				t.Fatalf("the page of the 503 did not complete the action once the database was back: %d %s %q", q.status, q.resp.Header.Get("Location"), q.errorText())
			}
		})
	}
}

// consentDown is a store whose consent reads fail as a lost database once
// down is set.
type consentDown struct {
	*sqlstore.Store
	down *atomic.Bool
}

func (s consentDown) GetConsent(ctx context.Context, realmID, userID, clientID string) (store.Consent, error) {
	if s.down.Load() {
		return store.Consent{}, fmt.Errorf("sqlstore: get consent: %w", store.ErrUnavailable)
	}
	return s.Store.GetConsent(ctx, realmID, userID, clientID)
}

// TestConsentPageStoreUnavailableIs503: the consent page, shown again while
// the database cannot say what was already granted, answers 503 with
// Retry-After and offers no form; once the database is back it is the
// consent form again.
func TestConsentPageStoreUnavailableIs503(t *testing.T) {
	st := backends.SQLite(t)
	down := new(atomic.Bool)
	e := serveRealm(t, consentDown{st, down}, st, map[string]any{
		"realm": "reg", "enabled": true, "sslRequired": "none",
		"clients": []any{map[string]any{"clientId": "app", "publicClient": true, "redirectUris": []string{regRedirect},
			"standardFlowEnabled": true, "consentRequired": true}},
		"users": []any{map[string]any{"username": "alice", "email": "alice@example.com", "enabled": true,
			"firstName": "Alice", "lastName": "Liddell",
			"credentials": []any{map[string]any{"type": "password", "value": "alice-pass-1"}}}},
	}, nil)
	b := e.browser()
	p := b.loginAs("alice", "alice-pass-1")
	if p.status != http.StatusSeeOther {
		t.Fatalf("login to a consent client: %d %.300s", p.status, p.body)
	}
	consentURL := p.resp.Header.Get("Location")
	if p = b.do(http.MethodGet, consentURL, nil); p.status != http.StatusOK || p.byID("kc-oauth-form") == nil {
		t.Fatalf("consent page: %d %.600s", p.status, p.body)
	}
	down.Store(true)
	p = b.do(http.MethodGet, consentURL, nil)
	if p.status != http.StatusServiceUnavailable || p.resp.Header.Get("Retry-After") == "" {
		t.Fatalf("consent page with the database down: %d, Retry-After %q; want 503 with Retry-After\n%.600s", p.status, p.resp.Header.Get("Retry-After"), p.body)
	}
	if !strings.Contains(p.body, "The service is temporarily unavailable") || p.byID("kc-oauth-form") != nil {
		t.Errorf("the 503 page does not say so, or offers the form: %.800s", p.body)
	}
	down.Store(false)
	if p = b.do(http.MethodGet, consentURL, nil); p.status != http.StatusOK || p.byID("kc-oauth-form") == nil {
		t.Errorf("consent page once the database is back: %d", p.status)
	}
}
