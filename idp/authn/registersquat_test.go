package authn

import (
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

// TestRegisterRefusesDirectoryNames: self-registration must not take the
// username or the email of a directory user who has not signed in yet
// (so has no local copy). Found by registering "carol" in a realm whose
// READ_ONLY directory holds carol: the local account got the name, every
// token then said preferred_username carol, and the real carol's login
// checked her password against the squatter's local credential. Keycloak's
// uniqueness checks ask the user storage providers too (and import what
// they find).
func TestRegisterRefusesDirectoryNames(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		realmID, s := newRealm(t, st, "acme")
		a, fake := withDirectory(t, st, realmID)
		reg := func(username, email string) error {
			_, err := a.Register(ctx, s, Registration{Password: "Squatter-pw-1", User: store.User{ID: "u-" + username,
				RealmID: realmID, Username: username, Email: email, FirstName: "M", LastName: "Allory", Created: time.Now()}})
			return err
		}
		if err := reg("carol", "mallory@evil.example"); !errors.Is(err, ErrUsernameExists) {
			t.Fatalf("registering the directory's username: %v, want ErrUsernameExists", err)
		}
		if err := reg("mallory", "carol@example.com"); !errors.Is(err, ErrEmailExists) {
			t.Fatalf("registering the directory user's email: %v, want ErrEmailExists", err)
		}
		// The real carol still signs in with her directory password.
		if u, err := a.Authenticate(ctx, realmID, s, "carol", "carol-pw", ""); err != nil || u.FederationLink != "dir" {
			t.Fatalf("carol's login: %+v %v", u, err)
		}
		// Names the directory does not have are free; a directory that
		// cannot answer does not let a name through.
		if err := reg("dave", "dave@example.com"); err != nil {
			t.Fatalf("a free name: %v", err)
		}
		fake.Lock()
		fake.Down = true
		fake.Unlock()
		if err := reg("erin", "erin@example.com"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("directory down: %v, want ErrUnavailable", err)
		}
	})
}
