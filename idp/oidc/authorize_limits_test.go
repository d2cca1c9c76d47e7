package oidc_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/keygate/keygate/idp/rep"
)

// Every authorization request that reaches the login form becomes a login
// attempt, before anyone has signed in (in a cookie, or stored when too
// large for one): an outsized one is refused first, so that
// unauthenticated requests cannot each write a whole header's or form's
// worth of padding to the database.
func TestAuthorizeRequestSizeBounded(t *testing.T) {
	ctx := t.Context()
	st, srv, master := bootstrapped(t)
	yes := true
	c := rep.Client{ClientID: "app", PublicClient: &yes, StandardFlowEnabled: &yes, RedirectURIs: []string{"https://app.example.com/*"}}
	if _, _, err := rep.CreateClient(ctx, st, master, &c); err != nil {
		t.Fatal(err)
	}
	srv.SetReady()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	oc := ts.URL + "/realms/master/protocol/openid-connect"
	query := func(pad int) url.Values {
		return url.Values{"client_id": {"app"}, "redirect_uri": {"https://app.example.com/cb"}, "response_type": {"code"},
			"scope": {"openid"}, "state": {strings.Repeat("s", pad)},
			"code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"}}
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method string, pad int) (int, bool) {
		t.Helper()
		var resp *http.Response
		var err error
		if method == http.MethodGet {
			resp, err = noFollow.Get(oc + "/auth?" + query(pad).Encode())
		} else {
			resp, err = noFollow.PostForm(oc+"/auth", query(pad))
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		attempt := false
		for _, ck := range resp.Cookies() {
			attempt = attempt || ck.Name == "AUTH_SESSION_ID"
		}
		return resp.StatusCode, attempt
	}
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		// A long state (a proxy's return URL) is still a login.
		if status, attempt := do(m, 6<<10); status != http.StatusOK || !attempt {
			t.Errorf("%s with a 6 KiB state: %d, attempt stored %v", m, status, attempt)
		}
		if status, attempt := do(m, 40<<10); status != http.StatusBadRequest || attempt {
			t.Errorf("%s with a 40 KiB state: %d, attempt stored %v", m, status, attempt)
		}
	}
}
