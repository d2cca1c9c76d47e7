package authn

import (
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/store"
)

// TestRegisterLoginNamesDoNotCross: with loginWithEmailAllowed (the
// default), self-registration refuses a username that is another user's
// email and an email that is another's username (store.LoginNameTaken):
// the registrant would otherwise receive the other user's logins by that
// name. Without loginWithEmailAllowed they do not cross.
func TestRegisterLoginNamesDoNotCross(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		realmID, s := newRealm(t, st, "acme")
		alice := newUser(t, st, realmID, "alice", "Alice-pw-1", nil)
		alice.Email = "alice@example.com"
		if err := st.UpdateUser(ctx, alice); err != nil {
			t.Fatal(err)
		}
		newUser(t, st, realmID, "carol@example.com", "Carol-pw-1", nil)
		auth := New(st, password.NewLimiter(0, 0), nil)
		reg := func(username, email string) error {
			_, err := auth.Register(ctx, s, Registration{Password: "Mallory-pw-1", User: store.User{ID: "u-" + username,
				RealmID: realmID, Username: username, Email: email, FirstName: "M", LastName: "Allory", Created: time.Now()}})
			return err
		}
		if err := reg("alice@example.com", "mallory@evil.example"); !errors.Is(err, ErrUsernameExists) {
			t.Errorf("registering another's email as username: %v, want ErrUsernameExists", err)
		}
		if err := reg("mallory", "carol@example.com"); !errors.Is(err, ErrEmailExists) {
			t.Errorf("registering another's username as email: %v, want ErrEmailExists", err)
		}
		s.LoginWithEmailAllowed = false
		if err := reg("alice@example.com", "mallory@evil.example"); err != nil {
			t.Errorf("without loginWithEmailAllowed: %v", err)
		}
	})
}
