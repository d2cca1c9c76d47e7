package account_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestConsoleRunsPendingRequiredActions: a session whose user has been
// given a required action since it signed in (an administrator's
// temporary password after a suspected compromise, new terms) does not
// keep using the console as if nothing were owed: its pages go through the
// realm's login, which runs the actions first, as Keycloak's console (a
// client of the realm) only gets tokens once they are done; its forms
// change nothing. Found by setting UPDATE_PASSWORD on a signed-in user:
// the console still showed and saved the profile.
func TestConsoleRunsPendingRequiredActions(t *testing.T) {
	st, srv, _ := bootstrapped(t)
	live := httptest.NewServer(srv.Handler())
	t.Cleanup(live.Close)
	b := consoleSignIn(t, live.URL)
	page := live.URL + "/realms/master/account/"
	csrf := consoleCSRF(t, b, page)
	ctx := t.Context()
	realm, err := st.GetRealmByName(ctx, "master")
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.GetUserByUsername(ctx, realm.ID, "admin")
	if err != nil {
		t.Fatal(err)
	}
	u.RequiredActions = []string{"UPDATE_PASSWORD"}
	if err := st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := b.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.Contains(loc, "/protocol/openid-connect/auth?") {
		t.Errorf("console page with UPDATE_PASSWORD pending: %d %q, want the realm's login", resp.StatusCode, loc)
	}
	resp, err = b.PostForm(page, url.Values{"csrf_token": {csrf}, "firstName": {"Eve"}, "lastName": {"Evil"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, err := st.GetUser(ctx, realm.ID, u.ID); err != nil || got.FirstName == "Eve" {
		t.Errorf("profile form with UPDATE_PASSWORD pending: %d, stored %+v %v", resp.StatusCode, got, err)
	}
	// The login runs the action, then the console opens again.
	b.CheckRedirect = nil
	resp, err = b.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.Contains(resp.Request.URL.String(), "execution=UPDATE_PASSWORD") {
		t.Errorf("console with UPDATE_PASSWORD pending ends at %s, not the action's page", resp.Request.URL)
	}
}
