package account_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keygate/keygate/store"
)

// The console's personal-info form refuses an email that is another
// user's username where the login takes either (loginWithEmailAllowed,
// the default): "other@example.com" would keep signing in to that other
// account, and this user's logins by email would go there too.
func TestConsoleEmailIsNotAnothersUsername(t *testing.T) {
	st, b, base, master := consoleBesideOther(t, store.User{Username: "other@example.com"})
	ctx := t.Context()
	resp, err := b.PostForm(base+"/", url.Values{"csrf_token": {consoleCSRF(t, b, base+"/")}, "email": {"Other@example.com"},
		"firstName": {"Ad"}, "lastName": {"Min"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(page), "Email already exists.") {
		t.Fatalf("another's username as email: %d %.500s", resp.StatusCode, page)
	}
	if u, err := st.GetUserByEmail(ctx, master.ID, "other@example.com"); err == nil {
		t.Errorf("stored: %s has the email", u.Username)
	}
}
