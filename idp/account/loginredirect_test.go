package account_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keygate/keygate/idp/account"
	"github.com/keygate/keygate/idp/login"
)

// The console's way back from the login redeems its code at the token
// endpoint: that endpoint's 503 (the database could not answer) is a 503
// page with Retry-After, not "the code has expired", and the reload
// after it may still finish; a refused code is still "expired".
func TestConsoleLoginRedirectTokenUnavailableIs503(t *testing.T) {
	st, srv, log := bootstrapped(t)
	var tokenStatus atomic.Int32
	tokenStatus.Store(http.StatusServiceUnavailable)
	token := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if tokenStatus.Load() == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"error":"temporarily_unavailable"}`)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"invalid_grant"}`)
	})
	mux := http.NewServeMux()
	account.New(st, srv.Provider(), login.New(st, srv.Provider(), nil, log), nil, srv.Limiter(), token, log).Register(mux)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)

	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) (*http.Response, string) {
		t.Helper()
		resp, err := b.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body)
	}
	// No SSO session: the console sends the browser to the login.
	resp, body := get(ts.URL + "/realms/master/account/")
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusFound || err != nil || loc.Query().Get("state") == "" {
		t.Fatalf("console without a session: %d %v %.300s", resp.StatusCode, err, body)
	}
	back := ts.URL + "/realms/master/account/login-redirect?" +
		url.Values{"state": {loc.Query().Get("state")}, "code": {"some-code"}}.Encode()

	resp, body = get(back)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(body, "temporarily unavailable") {
		t.Fatalf("token endpoint unavailable: %d, Retry-After %q: %.500s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	// The reload reaches the token endpoint again (the state cookie
	// stayed); a refused code is the expired-code page.
	tokenStatus.Store(http.StatusBadRequest)
	resp, body = get(back)
	if resp.StatusCode != http.StatusBadRequest || strings.Contains(body, "temporarily unavailable") {
		t.Fatalf("refused code: %d: %.500s", resp.StatusCode, body)
	}
}
