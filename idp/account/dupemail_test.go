package account_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// The console's personal-info form refuses an email another user has,
// unless the realm allows duplicate emails: then the change is stored and
// the two users share it.
func TestConsoleEmailChangeDuplicateEmails(t *testing.T) {
	st, b, base, master := consoleBesideOther(t, store.User{Username: "other", Email: "taken@example.com"})
	ctx := t.Context()
	post := func() (int, string) {
		t.Helper()
		resp, err := b.PostForm(base+"/", url.Values{"csrf_token": {consoleCSRF(t, b, base+"/")}, "email": {"TAKEN@example.com"},
			"firstName": {"Ad"}, "lastName": {"Min"}})
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Request.URL.String() + "\n" + string(page)
	}
	if code, page := post(); code != http.StatusBadRequest || !strings.Contains(page, "Email already exists.") {
		t.Fatalf("taken email in a realm refusing duplicates: %d %.500s", code, page)
	}
	if _, err := st.GetUserByEmail(ctx, master.ID, "taken@example.com"); err != nil {
		t.Fatalf("the email's one user: %v", err)
	}

	r, _, err := rep.DecodeRealm(master)
	if err != nil {
		t.Fatal(err)
	}
	allow := true
	r.DuplicateEmailsAllowed = &allow
	row, err := rep.RealmToStore(r)
	if err != nil {
		t.Fatal(err)
	}
	row.Created = master.Created
	if err := st.UpdateRealm(ctx, row); err != nil {
		t.Fatal(err)
	}
	if code, page := post(); code != http.StatusOK || !strings.Contains(page, "notice=accountUpdatedMessage") {
		t.Fatalf("taken email in a realm allowing duplicates: %d %.500s", code, page)
	}
	if _, err := st.GetUserByEmail(ctx, master.ID, "taken@example.com"); !errors.Is(err, store.ErrAmbiguous) {
		t.Errorf("after the change, lookup by the shared email: %v, want ErrAmbiguous", err)
	}
}

// consoleBesideOther signs a browser in to master's account console (base
// is its URL) after creating another master user, other (ID "other").
func consoleBesideOther(t *testing.T, other store.User) (store.Store, *http.Client, string, store.Realm) {
	t.Helper()
	st, srv, _, _ := signedIn(t)
	live := httptest.NewServer(srv.Handler())
	t.Cleanup(live.Close)
	b := consoleSignIn(t, live.URL)
	master, err := st.GetRealmByName(t.Context(), "master")
	if err != nil {
		t.Fatal(err)
	}
	other.ID, other.RealmID, other.Enabled, other.Created = "other", master.ID, true, time.Now()
	if err := st.CreateUser(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	return st, b, live.URL + "/realms/master/account", master
}
