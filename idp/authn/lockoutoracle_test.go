package authn

import (
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/otp"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/store"
)

// A user disabled by brute-force protection's permanent lockout answers a
// right password as it does a wrong one (Keycloak's
// getDisabledByBruteForceEventError: "Invalid user credentials"), in the
// browser and on the password grant, with or without an OTP device:
// otherwise guessing goes on past the lockout, uncounted in effect, and
// "Account disabled" names the password (and, for a user whose wrong OTP
// codes locked them, confirms it without the code).
func TestPermanentLockoutIsNoPasswordOracle(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		realmID, s := newRealm(t, st, "lockout-oracle")
		s.BruteForce.Protected, s.BruteForce.PermanentLockout = true, true
		s.BruteForce.FailureFactor, s.BruteForce.QuickLoginCheck = 2, 0
		a := New(st, password.NewLimiter(0, 16), nil)
		a.SetOTP(otp.NewVerifier(st, nil))

		// Wrong codes on the password grant lock the OTP user.
		u, oc := otpUser(t, st, realmID, "olga")
		for range 2 {
			if _, err := a.Authenticate(WithDirectGrantOTP(ctx, "000000"), realmID, s, "olga", "olga-password", "192.0.2.9"); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatal(err)
			}
		}
		if got, _ := st.GetUser(ctx, realmID, u.ID); got.Enabled {
			t.Fatal("not locked")
		}
		for _, direct := range []bool{true, false} {
			c := ctx
			if direct {
				c = WithDirectGrantOTP(ctx, "")
			}
			if _, err := a.Authenticate(c, realmID, s, "olga", "olga-password", "192.0.2.9"); !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("locked OTP user, right password (direct %v): %v, want ErrInvalidCredentials", direct, err)
			}
		}

		// The browser's OTP step: its right code says nothing either.
		if _, err := a.VerifyOTP(ctx, realmID, s, u, "", oc.Code(time.Now()), "192.0.2.9"); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("locked OTP user, right code: %v, want ErrInvalidCredentials", err)
		}

		// Wrong passwords lock a user; the right one then says nothing.
		p := newUser(t, st, realmID, "pavel", "pavel-password", nil)
		for range 2 {
			_, _ = a.Authenticate(ctx, realmID, s, "pavel", "guess", "192.0.2.9")
		}
		if got, _ := st.GetUser(ctx, realmID, p.ID); got.Enabled {
			t.Fatal("not locked")
		}
		if _, err := a.Authenticate(ctx, realmID, s, "pavel", "pavel-password", "192.0.2.9"); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("locked user, right password: %v, want ErrInvalidCredentials", err)
		}

		// An administrator's disabling still says "Account disabled".
		d := newUser(t, st, realmID, "dora", "dora-password", nil)
		d.Enabled = false
		if err := st.UpdateUser(ctx, d); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, realmID, s, "dora", "dora-password", "192.0.2.9"); !errors.Is(err, ErrUserDisabled) {
			t.Errorf("disabled by an administrator: %v, want ErrUserDisabled", err)
		}
	})
}
