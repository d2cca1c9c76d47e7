package federation_test

import (
	"errors"
	"testing"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/storetest/backends"
)

// TestDirectoryUsernameThatIsAnothersEmail: where the login form takes a
// username or an email, an entry whose username is a local user's email
// is not imported, by a login or a sync: a login looks the name up as a
// username first, so the local user's logins by email would go to the
// directory's account. Where the realm does not log in by email, the
// name harms nobody and is imported.
func TestDirectoryUsernameThatIsAnothersEmail(t *testing.T) {
	e := newEnv(t, backends.SQLite(t))
	e.d.EmailLogin = true // Keycloak's default: loginWithEmailAllowed, emails unique
	must(t, e.st.CreateUser(e.ctx, store.User{ID: "bob", RealmID: realmID, Username: "bob", Email: "ceo@example.com", Enabled: true}))
	f := e.provider("ldap1", "0", nil)
	f.Add(federation.Identity{ExternalID: "ext-ceo", DN: "uid=ceo", Username: "CEO@example.com"}, "pw")

	if _, err := e.svc.Resolve(e.ctx, realmID, e.d, nil, "ceo@example.com", false); !errors.Is(err, federation.ErrConflict) {
		t.Fatalf("login as a local user's email: %v", err)
	}
	res, err := e.svc.Sync(e.ctx, realmID, e.d, "ldap1", true, nil)
	must(t, err)
	if res.Added != 0 || res.Failed != 1 {
		t.Fatalf("sync %+v", res)
	}
	if u, err := e.st.GetUserByUsername(e.ctx, realmID, "ceo@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the entry was imported as %+v (%v)", u, err)
	}

	// A renamed entry cannot take the name either.
	f.Add(federation.Identity{ExternalID: "ext-ann", DN: "uid=ann", Username: "ann"}, "pw")
	if _, err := e.svc.Resolve(e.ctx, realmID, e.d, nil, "ann", false); err != nil {
		t.Fatal(err)
	}
	f.Add(federation.Identity{ExternalID: "ext-ann", DN: "uid=ann", Username: "ceo@example.com"}, "pw")
	ann, err := e.st.GetUserByUsername(e.ctx, realmID, "ann")
	must(t, err)
	if _, err := e.svc.Resolve(e.ctx, realmID, e.d, &ann, "ann", false); !errors.Is(err, federation.ErrConflict) {
		t.Fatalf("rename to a local user's email: %v", err)
	}

	// The owner's own email as its username is fine.
	f.Add(federation.Identity{ExternalID: "ext-dee", DN: "uid=dee", Username: "dee@example.com", Email: "dee@example.com"}, "pw")
	if _, err := e.svc.Resolve(e.ctx, realmID, e.d, nil, "dee@example.com", false); err != nil {
		t.Fatalf("username equal to its own email: %v", err)
	}

	// Without email login, nobody logs in by email: imported.
	f.Remove("ext-ann")
	e.d.EmailLogin = false
	if _, err := e.svc.Resolve(e.ctx, realmID, e.d, nil, "ceo@example.com", false); err != nil {
		t.Fatalf("login without email login: %v", err)
	}
}

// TestRevalidateByFederationID: a linked user revalidates against the
// entry its indexed federation id names (what sync and import look users
// up by), not whatever its LDAP_ID attribute says: an attribute changed
// by any other path cannot hand the user, with its roles, to another
// entry's owner.
func TestRevalidateByFederationID(t *testing.T) {
	e := newEnv(t, backends.SQLite(t))
	f := e.provider("ldap1", "0", nil)
	f.Add(federation.Identity{ExternalID: "ext-ann", DN: "uid=ann", Username: "ann"}, "ann-pw")
	f.Add(federation.Identity{ExternalID: "ext-eve", DN: "uid=eve", Username: "eve"}, "eve-pw")
	ann, err := e.login(nil, "ann", "ann-pw")
	must(t, err)
	ann.Attributes["LDAP_ID"] = []string{"ext-eve"}
	must(t, e.st.UpdateUser(e.ctx, ann))
	ann, err = e.st.GetUser(e.ctx, realmID, ann.ID)
	must(t, err)
	if _, err := e.login(&ann, "ann", "eve-pw"); err == nil {
		t.Fatal("eve's password signs in ann's account")
	}
	got, err := e.login(&ann, "ann", "ann-pw")
	if err != nil || got.ID != ann.ID || got.Username != "ann" || got.Attributes["LDAP_ID"][0] != "ext-ann" {
		t.Fatalf("ann's login: %+v %v", got, err)
	}
}
