package authn

import (
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/store"
)

// passwordHistory(3): a new password differs from the current one and the
// two before it; the history keeps two entries, newest first.
func TestSetPasswordHistory(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		realmID, s := newRealm(t, st, "hist")
		s.PasswordPolicy = "hashIterations(1000) and passwordHistory(3) and length(6)"
		u := newUser(t, st, realmID, "hana", "pass-0", nil)
		a := New(st, password.NewLimiter(0, 16), nil)
		clock := time.Now()
		a.now = func() time.Time { clock = clock.Add(time.Second); return clock }
		set := func(pw string) error { return a.SetPassword(ctx, realmID, s, u, pw) }
		if err := set("short"); !isRule(err, "invalidPasswordMinLengthMessage") {
			t.Fatalf("short: %v", err)
		}
		for _, pw := range []string{"pass-1", "pass-2", "pass-3"} {
			if err := set(pw); err != nil {
				t.Fatalf("%s: %v", pw, err)
			}
		}
		// Current pass-3, history pass-2 and pass-1; pass-0 has left it.
		for _, pw := range []string{"pass-3", "pass-2", "pass-1"} {
			if err := set(pw); !isRule(err, "invalidPasswordHistoryMessage") {
				t.Fatalf("reuse %s: %v", pw, err)
			}
		}
		creds, err := st.ListCredentials(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, c := range creds {
			n[c.Type]++
		}
		if n["password"] != 1 || n[CredentialHistory] != 2 {
			t.Fatalf("credentials %v", n)
		}
		if err := set("pass-0"); err != nil {
			t.Fatalf("pass-0 is out of the history: %v", err)
		}
		if _, err := a.Authenticate(ctx, realmID, s, "hana", "pass-0", ""); err != nil {
			t.Fatalf("login with the new password: %v", err)
		}
		// Without the rule, a reused password is fine and the history stays.
		s.PasswordPolicy = "hashIterations(1000)"
		if err := set("pass-0"); err != nil {
			t.Fatal(err)
		}
	})
}

func isRule(err error, key string) bool {
	var pe *password.PolicyError
	return errors.As(err, &pe) && pe.Key == key
}
