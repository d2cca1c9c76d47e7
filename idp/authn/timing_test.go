package authn

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
)

// TestUnknownUserCostsLikeWrongPassword: a login naming nobody must take as
// long as one naming a real user with a wrong password, or response times
// enumerate usernames. Medians of 30 interleaved tries each must be within
// 25% of each other in one of three rounds (robust on a loaded 2-core
// machine: the work compared is one PBKDF2 run, which dwarfs the rest).
func TestUnknownUserCostsLikeWrongPassword(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := rep.CreateRealm(ctx, st, rep.NewRealm("t"), rep.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	realm, _ := st.GetRealmByName(ctx, "t")
	_, settings, err := rep.DecodeRealm(realm)
	if err != nil {
		t.Fatal(err)
	}
	// Without brute-force protection every wrong password really verifies;
	// with it, alice would soon be locked out and take the dummy path too.
	settings.BruteForce.Protected = false
	lim := password.NewLimiter(0, 0)
	u := store.User{ID: "u1", RealmID: realm.ID, Username: "alice", Enabled: true, Created: time.Now()}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	cred, err := NewPasswordCredential(ctx, lim, password.DefaultPolicy(), u.ID, "alice-password")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetPassword(ctx, u.ID, cred); err != nil {
		t.Fatal(err)
	}
	a := New(st, lim, nil)
	try := func(username, pw string) time.Duration {
		start := time.Now()
		_, err := a.Authenticate(ctx, realm.ID, settings, username, pw, "127.0.0.1")
		d := time.Since(start)
		if !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("%s: got %v, want ErrInvalidCredentials", username, err)
		}
		return d
	}
	try("warm-up", "x")
	try("alice", "x")
	costsAlike(t, "wrong password", func(name string) time.Duration { return try(name, "guess") },
		func() time.Duration { return try("alice", "guess") })
}

// costsAlike checks that a failed login naming nobody (unknown, given a
// fresh name per try) takes what the other failure (known) takes: the
// medians of 30 interleaved tries each within 25%, in one of up to three
// rounds (other work on the machine can skew one round; a real difference
// between the two paths shows in every round, the same way).
func costsAlike(t *testing.T, what string, unknown func(name string) time.Duration, known func() time.Duration) {
	t.Helper()
	var mu, mk time.Duration
	var ratio float64
	slower := map[bool]int{} // rounds apart, by whether the unknown user was the slower
	for round := range 3 {
		var us, ks []time.Duration
		for i := range 30 {
			// Each goes first in half the pairs, so that nothing tied to
			// the order (a burst of other work, a GC) favours one.
			if i%2 == 0 {
				us = append(us, unknown(fmt.Sprintf("nobody-%d-%d", round, i)))
				ks = append(ks, known())
			} else {
				ks = append(ks, known())
				us = append(us, unknown(fmt.Sprintf("nobody-%d-%d", round, i)))
			}
		}
		mu, mk = median(us), median(ks)
		ratio = float64(max(mu, mk)) / float64(min(mu, mk))
		t.Logf("round %d: median unknown user %s, %s %s (ratio %.2f)", round+1, mu, what, mk, ratio)
		if ratio <= 1.25 {
			return
		}
		slower[mu > mk]++
	}
	if slower[true] > 0 && slower[false] > 0 {
		// Apart in every round, but not the same way: the machine's other
		// work, not one path costing more.
		t.Logf("apart in every round, but the slower side changed between rounds: noise")
		return
	}
	t.Errorf("unknown user %s vs %s %s: %.0f%% apart in every round, want within 25%%", mu, what, mk, (ratio-1)*100)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
