package account_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/idp/account"
	"github.com/keygate/keygate/idp/login"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/storetest/backends"
)

// downStore is a store whose sessions and credentials cannot be read: the
// database is gone.
type downStore struct{ store.Store }

func (downStore) ListUserSessions(context.Context, string, string) ([]store.Session, error) {
	return nil, fmt.Errorf("sqlstore: list sessions: %w", store.ErrUnavailable)
}

func (downStore) ListCredentials(context.Context, string) ([]store.Credential, error) {
	return nil, fmt.Errorf("sqlstore: list credentials: %w", store.ErrUnavailable)
}

var (
	actionRE = regexp.MustCompile(`id="kc-form-login"[^>]*action="([^"]+)"`)
	csrfRE   = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
)

// signedIn is a live server over a fresh store and a browser signed in to
// its master realm's console (account-console, PKCE) as admin.
func signedIn(t *testing.T) (store.Store, *idp.Server, *http.Client, *slog.Logger) {
	t.Helper()
	st, srv, log := bootstrapped(t)
	live := httptest.NewServer(srv.Handler())
	t.Cleanup(live.Close)
	return st, srv, consoleSignIn(t, live.URL), log
}

// bootstrapped is a server over a fresh store whose master realm has the
// admin user (admin / admin-secret-pw).
func bootstrapped(t *testing.T) (store.Store, *idp.Server, *slog.Logger) {
	t.Helper()
	st := backends.SQLite(t)
	log := slog.New(slog.DiscardHandler)
	srv, err := idp.NewServer(st, idp.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := idp.Bootstrap(t.Context(), st, srv.Limiter(), "admin", "admin-secret-pw"); err != nil {
		t.Fatal(err)
	}
	return st, srv, log
}

// consoleCSRF is the CSRF token of the console form at page, as c sees it.
func consoleCSRF(t *testing.T, c *http.Client, page string) string {
	t.Helper()
	resp, err := c.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf token: %d %.300s", resp.StatusCode, body)
	}
	return string(m[1])
}

// consoleSignIn is a new browser signed in to the master realm's console
// at base as admin.
func consoleSignIn(t *testing.T, base string) *http.Client {
	t.Helper()
	// Sign in to the real console (account-console, PKCE) for an SSO cookie.
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar}
	resp, err := b.Get(base + "/realms/master/account/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m, c := actionRE.FindSubmatch(page), csrfRE.FindSubmatch(page)
	if m == nil || c == nil {
		t.Fatalf("no login form: %d %.300s", resp.StatusCode, page)
	}
	action := strings.ReplaceAll(string(m[1]), "&amp;", "&")
	resp, err = b.PostForm(base+action, url.Values{"username": {"admin"}, "password": {"admin-secret-pw"}, "csrf_token": {string(c[1])}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `id="kc-account-form"`) {
		t.Fatalf("console after login: %d %.300s", resp.StatusCode, page)
	}

	return b
}

// A database that cannot answer is 503 with Retry-After on the console's
// pages, never a 500, a login loop or a page that blames the person.
func TestConsoleStoreUnavailableIs503(t *testing.T) {
	st, srv, b, log := signedIn(t)

	// The same realm's console over a store that cannot answer.
	mux := http.NewServeMux()
	lh := login.New(st, srv.Provider(), nil, log)
	account.New(downStore{st}, srv.Provider(), lh, nil, srv.Limiter(), nil, log).Register(mux)
	down := httptest.NewServer(mux)
	t.Cleanup(down.Close)
	for _, path := range []string{"/account-security/device-activity", "/account-security/signing-in", "/account-security/linked-accounts", "/applications"} {
		resp, err := b.Get(down.URL + "/realms/master/account" + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: status %d, Retry-After %q: %.200s", path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
}

// sessionDownStore cannot read SSO sessions: the database is gone.
type sessionDownStore struct{ store.Store }

func (sessionDownStore) GetSession(context.Context, string, string) (store.Session, error) {
	return store.Session{}, fmt.Errorf("sqlstore: get session: %w", store.ErrUnavailable)
}

// A signed-in browser whose SSO session cannot be read is not signed
// out: a page is 503 (not a trip to the login), a form is 503 (not 403
// "session not active").
func TestConsoleSessionUnreadableIs503(t *testing.T) {
	st, srv, b, log := signedIn(t)
	mux := http.NewServeMux()
	down := sessionDownStore{st}
	lh := login.New(down, srv.Provider(), nil, log)
	account.New(down, srv.Provider(), lh, nil, srv.Limiter(), nil, log).Register(mux)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/"},
		{http.MethodGet, "/account-security/device-activity"},
		{http.MethodPost, "/account-security/device-activity/sign-out"},
		{http.MethodPost, "/"},
	} {
		req, _ := http.NewRequest(tc.method, ts.URL+"/realms/master/account"+tc.path, strings.NewReader("csrf_token=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: status %d, Retry-After %q: %.200s", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
}

// A console form's CSRF token is bound to the browser's SSO session: the
// token of another session of the same user is refused, and the page's
// own is taken.
func TestConsoleCSRFBoundToSession(t *testing.T) {
	_, srv, _ := bootstrapped(t)
	live := httptest.NewServer(srv.Handler())
	t.Cleanup(live.Close)
	a, b := consoleSignIn(t, live.URL), consoleSignIn(t, live.URL)
	page := live.URL + "/realms/master/account/"
	token := func(c *http.Client) string { return consoleCSRF(t, c, page) }
	post := func(c *http.Client, tok string) int {
		resp, err := c.PostForm(page, url.Values{"csrf_token": {tok}, "firstName": {"Ada"}, "lastName": {"Admin"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(a, token(b)); code != http.StatusForbidden {
		t.Errorf("another session's token: %d, want 403", code)
	}
	if code := post(a, ""); code != http.StatusForbidden {
		t.Errorf("no token: %d, want 403", code)
	}
	if code := post(a, token(a)); code != http.StatusOK {
		t.Errorf("the session's own token: %d, want 200 (after the redirect)", code)
	}
}
