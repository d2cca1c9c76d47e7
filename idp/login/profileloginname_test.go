package login_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

// TestUpdateProfileLoginNamesDoNotCross: UPDATE_PROFILE refuses a new
// username that is another user's email and a new email that is another's
// username while the login takes either (loginWithEmailAllowed, the
// default): the name would then sign in to the wrong account.
func TestUpdateProfileLoginNamesDoNotCross(t *testing.T) {
	e := newRegEnv(t, map[string]any{"editUsernameAllowed": true})
	ctx := t.Context()
	if err := e.st.CreateUser(ctx, store.User{ID: "carol-id", RealmID: e.realm.ID, Username: "carol@example.com", Enabled: true, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateUser(ctx, store.User{ID: "dave-id", RealmID: e.realm.ID, Username: "dave", Email: "dave@example.com", Enabled: true, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	if codeOf(t, b.loginAs("alice", "alice-pass-1")) == "" {
		t.Fatal("alice's login")
	}
	for _, c := range []struct {
		change map[string]string
		want   string
	}{
		{map[string]string{"username": "dave@example.com", "email": "alice@example.com", "firstName": "Alice", "lastName": "Liddell"}, "Username already exists"},
		{map[string]string{"username": "alice", "email": "carol@example.com", "firstName": "Alice", "lastName": "Liddell"}, "Email already exists"},
	} {
		p := b.authorize(map[string][]string{"kc_action": {"UPDATE_PROFILE"}})
		p = b.submit(b.do("GET", p.resp.Header.Get("Location"), nil), "kc-update-profile-form", c.change)
		if codeOf(t, p) != "" {
			t.Errorf("change %v: the action completed", c.change)
			continue
		}
		if p.status == 303 { // the form again, after a redirect
			p = b.do("GET", p.resp.Header.Get("Location"), nil)
		}
		if !strings.Contains(p.errorText(), c.want) {
			t.Errorf("change %v: %d %q, want the form again with %q", c.change, p.status, p.errorText(), c.want)
		}
		got, err := e.st.GetUserByUsername(ctx, e.realm.ID, "alice")
		if err != nil || got.Email != "alice@example.com" {
			t.Fatalf("after change %v: %+v %v", c.change, got, err)
		}
	}
}
