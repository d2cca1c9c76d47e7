package authn

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/store"
)

// TestLegacyMD5WrongPasswordCostsLikeUnknownUser: a user imported with an
// unsalted md5 hash answered a wrong password faster than anyone else
// (no PBKDF2 to run), which tells an attacker which accounts are legacy (and unknown from
// known). The failed cheap verify is padded to the policy's cost. Same
// method as TestUnknownUserCostsLikeWrongPassword.
func TestLegacyMD5WrongPasswordCostsLikeUnknownUser(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	ctx := t.Context()
	st := openSQLite(t)
	realmID, s := newRealm(t, st, "t")
	s.BruteForce.Protected = false // every wrong password really verifies

	md5, err := password.FromMD5Hex("5f4dcc3b5aa765d61d8327deb882cf99") // md5("password")
	if err != nil {
		t.Fatal(err)
	}
	newUser(t, st, realmID, "legacy", "", &md5)
	a := New(st, password.NewLimiter(0, 0), nil)
	try := func(username string) time.Duration {
		start := time.Now()
		_, err := a.Authenticate(ctx, realmID, s, username, "guess", "127.0.0.1")
		d := time.Since(start)
		if !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("%s: got %v, want ErrInvalidCredentials", username, err)
		}
		return d
	}
	try("warm-up")
	try("legacy")
	costsAlike(t, "md5 user with a wrong password", try, func() time.Duration { return try("legacy") })
	// The success path stays fast and upgrades the hash.
	if _, err := a.Authenticate(ctx, realmID, s, "legacy", "password", "127.0.0.1"); err != nil {
		t.Fatalf("md5 user with the right password: %v", err)
	}
}

// TestAbsurdlyLongPasswordRefusedBeforeHashing: a password longer than any
// keygate accepts as new (password.MaxPasswordBytes) is refused with the
// generic error before the user is even looked up: no hashing, no
// brute-force bookkeeping, the same answer for every username.
func TestAbsurdlyLongPasswordRefusedBeforeHashing(t *testing.T) {
	ctx := t.Context()
	st := openSQLite(t)
	cs := &countingStore{Store: st}
	realmID, s := newRealm(t, st, "t")
	u := newUser(t, st, realmID, "alice", "alice-password", nil)
	a := New(cs, password.NewLimiter(0, 0), nil)
	long := strings.Repeat("x", 1<<20)
	for _, username := range []string{"alice", "nobody"} {
		start := time.Now()
		_, err := a.Authenticate(ctx, realmID, s, username, long, "127.0.0.1")
		d := time.Since(start)
		if !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("%s with a 1 MiB password: %v, want ErrInvalidCredentials", username, err)
		}
		t.Logf("%s with a 1 MiB password: refused in %s", username, d)
	}
	if n := cs.credReads.Load(); n != 0 {
		t.Errorf("a 1 MiB password was checked against a stored hash (%d credential reads)", n)
	}
	if _, err := st.GetLoginFailure(ctx, realmID, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a 1 MiB password counted as a login failure: %v", err)
	}
	// The longest password keygate accepts as new still logs in.
	ok := strings.Repeat("y", 1024)
	newUser(t, st, realmID, "max", ok, nil)
	if _, err := a.Authenticate(ctx, realmID, s, "max", ok, "127.0.0.1"); err != nil {
		t.Errorf("1024-byte password: %v", err)
	}
}
