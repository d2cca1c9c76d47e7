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
	st, srv, _, _ := signedIn(t)
	live := httptest.NewServer(srv.Handler())
	t.Cleanup(live.Close)
	b := consoleSignIn(t, live.URL)
	base := live.URL + "/realms/master/account"
	ctx := t.Context()
	master, err := st.GetRealmByName(ctx, "master")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, store.User{ID: "other", RealmID: master.ID, Username: "other",
		Email: "taken@example.com", Enabled: true, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
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
