package login_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/login"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
)

// downSessions is a store whose sessions cannot be written: the database
// is gone.
type downSessions struct{ store.Store }

func (downSessions) CreateSession(context.Context, store.Session) error {
	return fmt.Errorf("sqlstore: create session: %w", store.ErrUnavailable)
}

// A database that cannot answer is 503 with Retry-After on the login
// pages, never a 500 or a page that blames the person.
func TestLoginStoreUnavailableIs503(t *testing.T) {
	e := newCompleteEnvWith(t, func(st store.Store) login.Store { return downSessions{st} })
	e.complete = func(req *oidc.AuthorizeRequest) (login.Attempt, store.User, login.Details) {
		return login.Attempt{Request: req, Started: time.Now()}, e.admin, login.Details{ACR: "1", AuthTime: time.Now()}
	}
	resp := e.get(t, nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(string(body), "temporarily unavailable") {
		t.Errorf("page: %.300s", body)
	}
}
