package authn

import (
	"testing"
	"time"

	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// bfClock drives reserve's arithmetic with an injected clock: each attempt
// is a wrong password reserved at the clock's time.
type bfClock struct {
	t       *testing.T
	a       *Authenticator
	st      store.Store
	realmID string
	userID  string
	now     time.Time
	s       rep.BruteForceSettings
}

func newBFClock(t *testing.T, s rep.BruteForceSettings) *bfClock {
	st := openSQLite(t)
	realmID, _ := newRealm(t, st, "arith")
	u := newUser(t, st, realmID, "alice", "alice-password", nil)
	c := &bfClock{t: t, st: st, realmID: realmID, userID: u.ID, s: s,
		now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	c.a = New(st, password.NewLimiter(0, 16), nil)
	c.a.now = func() time.Time { return c.now }
	return c
}

// fail reserves one failed attempt after advancing the clock by after;
// it reports whether the attempt was let through and what it left.
func (c *bfClock) fail(after time.Duration) (reservation, store.LoginFailure) {
	c.t.Helper()
	c.now = c.now.Add(after)
	r, err := c.a.reserveRows(c.t.Context(), c.realmID, c.userID, "192.0.2.7", c.s)
	if err != nil {
		c.t.Fatal(err)
	}
	f, err := c.st.GetLoginFailure(c.t.Context(), c.realmID, c.userID)
	if err != nil {
		c.t.Fatal(err)
	}
	return r, f
}

// lockedFor is how long the account is locked from the clock's now, in
// Keycloak's whole seconds (0: not locked).
func (c *bfClock) lockedFor(f store.LoginFailure) time.Duration {
	return max(f.FailedLoginNotBefore.Sub(c.now.Truncate(time.Second)), 0)
}

func bfSettings() rep.BruteForceSettings {
	return rep.BruteForceSettings{Protected: true, Strategy: "MULTIPLE", FailureFactor: 3,
		WaitIncrement: time.Minute, MaxFailureWait: 15 * time.Minute, MinimumQuickLoginWait: time.Minute,
		QuickLoginCheck: 0, MaxDeltaTime: 12 * time.Hour}
}

// failureFactor and waitIncrementSeconds with MULTIPLE (Keycloak 25+'s
// default): from failureFactor failures on, each failure locks for
// waitIncrement times the multiples of failureFactor reached, and counts
// a temporary lockout; an attempt while locked is refused unchecked and
// counts nothing.
func TestBruteForceMultipleStrategy(t *testing.T) {
	c := newBFClock(t, bfSettings())
	for i := 1; i <= 2; i++ {
		if r, f := c.fail(10 * time.Second); !r.allowed || f.NumFailures != i || c.lockedFor(f) != 0 {
			t.Fatalf("failure %d: allowed %v, %d failures, locked %v", i, r.allowed, f.NumFailures, c.lockedFor(f))
		}
	}
	r, f := c.fail(10 * time.Second)
	if !r.allowed || f.NumFailures != 3 || c.lockedFor(f) != time.Minute || f.NumTempLockouts != 1 {
		t.Fatalf("third failure: allowed %v, %d failures, locked %v, %d lockouts; want checked, 3, 1m, 1", r.allowed, f.NumFailures, c.lockedFor(f), f.NumTempLockouts)
	}
	if r, f := c.fail(59 * time.Second); r.allowed || f.NumFailures != 3 {
		t.Fatalf("attempt while locked: allowed %v, %d failures; want refused, nothing counted", r.allowed, f.NumFailures)
	}
	// The lock ends on time; each later failure locks again, for one
	// increment until the sixth, which locks for two.
	want := map[int]time.Duration{4: time.Minute, 5: time.Minute, 6: 2 * time.Minute, 7: 2 * time.Minute, 9: 3 * time.Minute}
	wait := time.Second
	for i := 4; i <= 9; i++ {
		r, f := c.fail(wait)
		if w, ok := want[i]; ok && (!r.allowed || c.lockedFor(f) != w || f.NumTempLockouts != i-2) {
			t.Fatalf("failure %d: allowed %v, locked %v, %d lockouts; want %v, %d", i, r.allowed, c.lockedFor(f), f.NumTempLockouts, w, i-2)
		}
		wait = c.lockedFor(f)
	}
}

// LINEAR: from failureFactor on, every failure locks one increment longer.
func TestBruteForceLinearStrategy(t *testing.T) {
	s := bfSettings()
	s.Strategy = "LINEAR"
	c := newBFClock(t, s)
	want := []time.Duration{0, 0, time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute}
	for i, w := range want {
		r, f := c.fail(10 * time.Minute) // past any lock
		if !r.allowed || c.lockedFor(f) != w {
			t.Fatalf("failure %d: allowed %v, locked %v, want %v", i+1, r.allowed, c.lockedFor(f), w)
		}
	}
}

// maxFailureWaitSeconds caps the lock however many failures there were.
func TestBruteForceMaxFailureWait(t *testing.T) {
	s := bfSettings()
	s.WaitIncrement, s.MaxFailureWait = 10*time.Minute, 15*time.Minute
	c := newBFClock(t, s)
	var f store.LoginFailure
	for i := 1; i <= 6; i++ {
		_, f = c.fail(20 * time.Minute)
		if i == 3 && c.lockedFor(f) != 10*time.Minute {
			t.Fatalf("third failure locked %v, want 10m", c.lockedFor(f))
		}
	}
	if c.lockedFor(f) != 15*time.Minute {
		t.Errorf("sixth failure locked %v; 2 x 10m capped by maxFailureWait is 15m", c.lockedFor(f))
	}
}

// quickLoginCheckMilliSeconds and minimumQuickLoginWaitSeconds: below
// failureFactor, a failure sooner than quickLoginCheck after the previous
// one locks for the minimum quick-login wait (not a temporary lockout);
// one exactly quickLoginCheck after does not.
func TestBruteForceQuickLoginCheck(t *testing.T) {
	s := bfSettings()
	s.FailureFactor, s.QuickLoginCheck, s.MinimumQuickLoginWait = 30, time.Second, 45*time.Second
	c := newBFClock(t, s)
	if _, f := c.fail(0); c.lockedFor(f) != 0 {
		t.Fatalf("a first failure locked %v", c.lockedFor(f))
	}
	if r, f := c.fail(1000 * time.Millisecond); !r.allowed || c.lockedFor(f) != 0 {
		t.Fatalf("a failure quickLoginCheck after the last: allowed %v, locked %v; want no lock", r.allowed, c.lockedFor(f))
	}
	if r, f := c.fail(999 * time.Millisecond); !r.allowed || c.lockedFor(f) != 45*time.Second || f.NumTempLockouts != 0 {
		t.Fatalf("a failure 999 ms after the last: allowed %v, locked %v, %d lockouts; want 45s, 0", r.allowed, c.lockedFor(f), f.NumTempLockouts)
	}
	if r, _ := c.fail(44 * time.Second); r.allowed {
		t.Fatal("an attempt within the quick-login wait was checked")
	}
	if r, f := c.fail(2 * time.Second); !r.allowed || c.lockedFor(f) != 0 || f.NumFailures != 4 {
		t.Fatalf("after the wait: allowed %v, locked %v, %d failures", r.allowed, c.lockedFor(f), f.NumFailures)
	}
}

// maxDeltaTimeSeconds: failures older than maxDeltaTime are forgotten,
// so slow guessing never reaches failureFactor; with a permanent lockout
// and no temporary ones, nothing is forgotten.
func TestBruteForceMaxDeltaTime(t *testing.T) {
	s := bfSettings()
	s.MaxDeltaTime = time.Hour
	c := newBFClock(t, s)
	c.fail(0)
	if _, f := c.fail(time.Hour); f.NumFailures != 2 {
		t.Fatalf("a failure exactly maxDeltaTime later: %d failures, want 2 (kept)", f.NumFailures)
	}
	if _, f := c.fail(time.Hour + time.Millisecond); f.NumFailures != 1 || c.lockedFor(f) != 0 {
		t.Fatalf("a failure past maxDeltaTime: %d failures, locked %v; want 1, none", f.NumFailures, c.lockedFor(f))
	}
	for range 10 {
		if r, f := c.fail(time.Hour + time.Second); !r.allowed || f.NumFailures != 1 {
			t.Fatalf("slow guessing: allowed %v, %d failures", r.allowed, f.NumFailures)
		}
	}

	s.PermanentLockout = true
	c = newBFClock(t, s)
	for i := 1; i <= 3; i++ {
		if r, f := c.fail(2 * time.Hour); f.NumFailures != i || r.disable != (i == 3) {
			t.Fatalf("permanent lockout, failure %d hours apart: %d failures, disable %v", i, f.NumFailures, r.disable)
		}
	}
}

// permanentLockout: with maxTemporaryLockouts 0 the failureFactor-th
// failure disables the user (no temporary lock first); with
// maxTemporaryLockouts N, the failure that would be lockout N+1.
func TestBruteForcePermanentLockout(t *testing.T) {
	s := bfSettings()
	s.PermanentLockout = true
	c := newBFClock(t, s)
	for i := 1; i <= 3; i++ {
		r, f := c.fail(10 * time.Second)
		if !r.allowed || r.disable != (i == 3) || c.lockedFor(f) != 0 {
			t.Fatalf("failure %d: allowed %v, disable %v, locked %v; want disable only at failureFactor, no temporary lock", i, r.allowed, r.disable, c.lockedFor(f))
		}
	}

	s.MaxTemporaryLockouts = 1
	c = newBFClock(t, s)
	for i := 1; i <= 4; i++ {
		r, f := c.fail(5 * time.Minute)
		if !r.allowed || r.disable != (i == 4) {
			t.Fatalf("failure %d (%d lockouts): allowed %v, disable %v", i, f.NumTempLockouts, r.allowed, r.disable)
		}
		if i == 3 && c.lockedFor(f) != time.Minute {
			t.Fatalf("the one temporary lockout: locked %v, want 1m", c.lockedFor(f))
		}
		if i == 4 && c.lockedFor(f) != 0 {
			t.Fatalf("the failure past maxTemporaryLockouts locked temporarily (%v) instead of disabling only", c.lockedFor(f))
		}
	}
}
