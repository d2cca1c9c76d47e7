package account_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/account"
	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/idp/login"
	"github.com/keygate/keygate/idp/otp"
	"github.com/keygate/keygate/store"
)

// staleAuthStore reports every SSO session as signed in ten minutes
// earlier than it was.
type staleAuthStore struct{ store.Store }

func (s staleAuthStore) GetSession(ctx context.Context, realmID, id string) (store.Session, error) {
	ss, err := s.Store.GetSession(ctx, realmID, id)
	ss.AuthTime = ss.AuthTime.Add(-10 * time.Minute)
	return ss, err
}

// TestConsoleSignInChangesNeedRecentLogin: setting up an authenticator
// app or removing one from the console needs a sign-in of the last five
// minutes, as Keycloak's console runs them as application-initiated
// actions with maxAuthAge: an older session is sent through the realm's
// login again (prompt=login) and back to the signing-in page. Found by
// posting the console's forms from a session signed in long before: a
// browser left signed in let anyone remove the second factor or enrol
// their own device without the password.
func TestConsoleSignInChangesNeedRecentLogin(t *testing.T) {
	st, srv, b, log := signedIn(t)
	b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	serve := func(s store.Store) string {
		mux := http.NewServeMux()
		a := authn.New(s, srv.Limiter(), log)
		a.SetOTP(otp.NewVerifier(s, srv.Provider().Keyring().Secrets()))
		account.New(s, srv.Provider(), login.New(s, srv.Provider(), a, log), a, srv.Limiter(), nil, log).Register(mux)
		ts := httptest.NewServer(mux)
		t.Cleanup(ts.Close)
		return ts.URL + "/realms/master/account"
	}
	post := func(base, path string) *http.Response {
		t.Helper()
		csrf := consoleCSRF(t, b, base+"/account-security/signing-in")
		resp, err := b.PostForm(base+path, url.Values{"csrf_token": {csrf}})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp
	}
	stale := serve(staleAuthStore{st})
	for _, path := range []string{"/account-security/signing-in/otp/set-up", "/account-security/signing-in/otp/some-id/delete"} {
		resp := post(stale, path)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode/100 != 3 || loc == nil || !strings.HasSuffix(loc.Path, "/protocol/openid-connect/auth") ||
			loc.Query().Get("prompt") != "login" || loc.Query().Get("client_id") != "account-console" {
			t.Errorf("%s with a sign-in 10 minutes old: %d %q, want the login again (prompt=login)", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// A recent sign-in goes straight on.
	fresh := serve(st)
	if resp := post(fresh, "/account-security/signing-in/otp/set-up"); resp.StatusCode != http.StatusSeeOther ||
		!strings.Contains(resp.Header.Get("Location"), "execution=CONFIGURE_TOTP") {
		t.Errorf("set-up with a recent sign-in: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := post(fresh, "/account-security/signing-in/otp/some-id/delete"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("removing an unknown device with a recent sign-in: %d, want 404", resp.StatusCode)
	}
}
