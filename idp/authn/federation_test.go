package authn

import (
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/federationtest"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/store"
)

// withDirectory gives realm a user storage provider backed by a fake
// directory holding carol (password "carol-pw"), and returns the
// authenticator consulting it.
func withDirectory(t *testing.T, st store.Store, realmID string) (*Authenticator, *federationtest.Fake) {
	t.Helper()
	fake := federationtest.NewFake()
	fake.Add(federation.Identity{ExternalID: "ext-carol", DN: "uid=carol,ou=people", Username: "carol", Email: "carol@example.com"}, "carol-pw")
	if err := st.CreateComponent(t.Context(), store.Component{ID: "dir", RealmID: realmID, ParentID: realmID, Name: "dir",
		ProviderID: "fake", ProviderType: federation.UserStorageType, Config: map[string][]string{"editMode": {"READ_ONLY"}}}); err != nil {
		t.Fatal(err)
	}
	reg := federation.NewRegistry(st, federation.Env{}, map[string]federation.Factory{"fake": federationtest.Factory(map[string]*federationtest.Fake{"dir": fake})})
	a := New(st, password.NewLimiter(0, 0), nil)
	a.SetFederation(federation.NewService(reg, federation.NewLinker(st), nil))
	return a, fake
}

// TestFederatedLogin: a name no local user has is asked of the realm's
// directory, imported, and its password checked there; the outcomes stay
// authn's: a wrong password is ErrInvalidCredentials and counts as a
// failure, a directory that cannot answer is ErrUnavailable.
func TestFederatedLogin(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		realmID, s := newRealm(t, st, "acme")
		s.BruteForce.Protected, s.BruteForce.FailureFactor = true, 3
		a, fake := withDirectory(t, st, realmID)
		newUser(t, st, realmID, "alice", "alice-pw", nil)

		u, err := a.Authenticate(ctx, realmID, s, "carol", "carol-pw", "10.0.0.1")
		if err != nil || u.Username != "carol" || u.FederationLink != "dir" {
			t.Fatalf("directory login: %+v %v", u, err)
		}
		if roles, _ := st.ListUserRoles(ctx, realmID, u.ID); len(roles) != 1 || roles[0].Name != s.DefaultRole {
			t.Fatalf("imported user's roles %v, want the default role", roles)
		}
		// The linked user logs in again (revalidated by id), also by email.
		if _, err := a.Authenticate(ctx, realmID, s, "carol", "carol-pw", "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, realmID, s, "carol@example.com", "carol-pw", "10.0.0.1"); err != nil {
			t.Fatalf("by email: %v", err)
		}
		// A wrong password: generic, and counted.
		if _, err := a.Authenticate(ctx, realmID, s, "carol", "nope", "10.0.0.1"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
		if f, err := st.GetLoginFailure(ctx, realmID, u.ID); err != nil || f.NumFailures != 1 {
			t.Fatalf("failure not counted: %+v %v", f, err)
		}
		// Local users and empty passwords never reach the directory.
		lookups, checks := fake.Lookups.Load(), fake.Checks.Load()
		if _, err := a.Authenticate(ctx, realmID, s, "alice", "alice-pw", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, realmID, s, "carol", "", ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("empty password: %v", err)
		}
		if _, err := a.Authenticate(ctx, realmID, s, "nobody", "", ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("empty password: %v", err)
		}
		if fake.Lookups.Load() != lookups || fake.Checks.Load() != checks {
			t.Fatalf("the directory was asked: lookups %d->%d, checks %d->%d", lookups, fake.Lookups.Load(), checks, fake.Checks.Load())
		}
		if _, err := a.Authenticate(ctx, realmID, s, "nobody", "x", ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("unknown everywhere: %v", err)
		}

		// The directory goes down: its users get ErrUnavailable, never a
		// wrong-password answer or a counted failure; local users log in.
		fake.Lock()
		fake.Down = true
		fake.Unlock()
		for _, name := range []string{"carol", "dave"} {
			if _, err := a.Authenticate(ctx, realmID, s, name, "carol-pw", ""); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("%s, directory down: %v", name, err)
			}
		}
		if f, _ := st.GetLoginFailure(ctx, realmID, u.ID); f.NumFailures != 1 {
			t.Fatalf("an outage counted as failures: %+v", f)
		}
		if _, err := a.Authenticate(ctx, realmID, s, "alice", "alice-pw", ""); err != nil {
			t.Fatalf("local user during the outage: %v", err)
		}
	})
}

// TestFederatedWrongPasswordCostsLikeUnknownUser: the directory answers a
// wrong password in a fraction of a millisecond; the answer must still
// take what a local failure takes, or timing tells directory users apart.
func TestFederatedWrongPasswordCostsLikeUnknownUser(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	st := openSQLite(t)
	realmID, s := newRealm(t, st, "acme")
	s.BruteForce.Protected = false
	a, _ := withDirectory(t, st, realmID)
	try := func(name string) time.Duration {
		start := time.Now()
		if _, err := a.Authenticate(t.Context(), realmID, s, name, "guess", ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("%s: %v", name, err)
		}
		return time.Since(start)
	}
	try("carol")
	try("warm-up")
	costsAlike(t, "directory user with a wrong password", try, func() time.Duration { return try("carol") })
}
