package account_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keygate/keygate/idp/account"
	"github.com/keygate/keygate/idp/login"
	"github.com/keygate/keygate/store"
)

// sessionsClientsStore counts the reads of sessions' clients, and fails
// them as a lost database when down is set.
type sessionsClientsStore struct {
	store.Store
	reads atomic.Int32
	down  atomic.Bool
}

func (s *sessionsClientsStore) ListSessionsClients(ctx context.Context, realmID string, ids []string) (map[string][]string, error) {
	s.reads.Add(1)
	if s.down.Load() {
		return nil, fmt.Errorf("sqlstore: list clients of sessions: %w", store.ErrUnavailable)
	}
	return s.Store.ListSessionsClients(ctx, realmID, ids)
}

// The sessions page names each session's clients from one read for all
// sessions (not one per session), through any store.Store; a store that
// cannot answer is a 503, not sessions shown without their clients.
func TestConsoleSessionsClients(t *testing.T) {
	st, srv, log := bootstrapped(t)
	live := httptest.NewServer(srv.Handler())
	t.Cleanup(live.Close)
	b := consoleSignIn(t, live.URL)
	for range 2 { // two more sessions of the same user, each with the console's tokens
		consoleSignIn(t, live.URL)
	}

	ws := &sessionsClientsStore{Store: st}
	mux := http.NewServeMux()
	account.New(ws, srv.Provider(), login.New(ws, srv.Provider(), nil, log), nil, srv.Limiter(), nil, log).Register(mux)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	get := func() (*http.Response, string) {
		t.Helper()
		resp, err := b.Get(ts.URL + "/realms/master/account/account-security/device-activity")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body)
	}
	resp, body := get()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sessions page: %d %.300s", resp.StatusCode, body)
	}
	if n := strings.Count(body, `class="kg-session-clients"`); n != 3 {
		t.Errorf("%d sessions listed with clients, want 3:\n%.2000s", n, body)
	}
	if n := ws.reads.Load(); n != 1 {
		t.Errorf("%d reads of the sessions' clients, want 1", n)
	}

	ws.down.Store(true)
	resp, body = get()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("clients unreadable: %d, Retry-After %q: %.300s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}
