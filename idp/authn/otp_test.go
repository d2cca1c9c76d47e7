package authn

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/otp"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// otpUser gives a new user of realmID a TOTP device and returns it.
func otpUser(t *testing.T, st store.Store, realmID, name string) (store.User, otp.Credential) {
	t.Helper()
	u := newUser(t, st, realmID, name, name+"-password", nil)
	c, err := otp.New(rep.OTPPolicy{Type: otp.TOTP, Algorithm: rep.OTPHmacSHA1, Digits: 6, Period: 30}, u.ID, u.ID+"-otp", "phone", otp.NewSecret(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateCredential(t.Context(), c.Row); err != nil {
		t.Fatal(err)
	}
	return u, c
}

func failures(t *testing.T, st store.Store, realmID, userID string) store.LoginFailure {
	t.Helper()
	f, err := st.GetLoginFailure(t.Context(), realmID, userID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return f
}

// The browser's two steps: a right password answers ErrOTPRequired with
// the user and leaves the counters as they were; a wrong code counts as a
// failed login, failureFactor of them lock the account (the right code
// then fails too), and a right code clears the counters.
func TestOTPBrowserStepsCountTowardBruteForce(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		realmID, s := newRealm(t, st, "otp-bf")
		s.BruteForce.Protected, s.BruteForce.FailureFactor, s.BruteForce.QuickLoginCheck = true, 3, 0
		s.OTP.CodeReusable = false
		u, c := otpUser(t, st, realmID, "olga")
		plain := newUser(t, st, realmID, "paul", "paul-password", nil)
		a := New(st, password.NewLimiter(0, 16), nil)
		a.SetOTP(otp.NewVerifier(st, nil))

		if got, err := a.Authenticate(ctx, realmID, s, "paul", "paul-password", "192.0.2.1"); err != nil || got.ID != plain.ID {
			t.Fatalf("a user without OTP: %v", err)
		}
		// One wrong password first: the right one must leave that count.
		if _, err := a.Authenticate(ctx, realmID, s, "olga", "wrong", "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatal(err)
		}
		got, err := a.Authenticate(ctx, realmID, s, "olga", "olga-password", "192.0.2.1")
		if !errors.Is(err, ErrOTPRequired) || got.ID != u.ID {
			t.Fatalf("right password of an OTP user: %v (user %q), want ErrOTPRequired with the user", err, got.ID)
		}
		if f := failures(t, st, realmID, u.ID); f.NumFailures != 1 {
			t.Fatalf("after a wrong and a right password: %d failures, want 1", f.NumFailures)
		}
		if _, err := a.VerifyOTP(ctx, realmID, s, u, "", "000000", "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("wrong code: %v", err)
		}
		if f := failures(t, st, realmID, u.ID); f.NumFailures != 2 {
			t.Fatalf("a wrong code: %d failures, want 2", f.NumFailures)
		}
		if _, err := a.VerifyOTP(ctx, realmID, s, u, "", "111111", "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatal(err)
		}
		if f := failures(t, st, realmID, u.ID); !f.FailedLoginNotBefore.After(time.Now()) {
			t.Fatalf("three failures (failureFactor 3) did not lock: %+v", f)
		}
		if _, err := a.VerifyOTP(ctx, realmID, s, u, "", c.Code(time.Now()), "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("right code while locked out: %v, want ErrInvalidCredentials", err)
		}
		if err := st.DeleteLoginFailure(ctx, realmID, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := a.VerifyOTP(ctx, realmID, s, u, "", "222222", "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatal(err)
		}
		if got, err := a.VerifyOTP(ctx, realmID, s, u, "", c.Code(time.Now()), "192.0.2.1"); err != nil || got.ID != u.ID {
			t.Fatalf("right code: %v", err)
		}
		if f := failures(t, st, realmID, u.ID); f.NumFailures != 0 {
			t.Fatalf("a right code left %d failures", f.NumFailures)
		}
		// A permanent lockout reached by a wrong code disables the user.
		s.BruteForce.PermanentLockout, s.BruteForce.FailureFactor = true, 1
		if _, err := a.VerifyOTP(ctx, realmID, s, u, "", "333333", "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatal(err)
		}
		if got, _ := st.GetUser(ctx, realmID, u.ID); got.Enabled {
			t.Fatal("permanent lockout by wrong codes left the user enabled")
		}
	})
}

// The password grant (WithDirectGrantOTP): password and code in one
// counted attempt; without or with a wrong code, the same error as a
// wrong password.
func TestOTPDirectGrant(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		realmID, s := newRealm(t, st, "otp-grant")
		s.BruteForce.Protected, s.BruteForce.FailureFactor, s.BruteForce.QuickLoginCheck = true, 30, 0
		u, c := otpUser(t, st, realmID, "gina")
		a := New(st, password.NewLimiter(0, 16), nil)
		a.SetOTP(otp.NewVerifier(st, nil))
		grant := func(pw, code string) (store.User, error) {
			return a.Authenticate(WithDirectGrantOTP(t.Context(), code), realmID, s, "gina", pw, "192.0.2.2")
		}
		for _, tc := range []struct{ name, pw, code string }{
			{"no totp", "gina-password", ""},
			{"wrong totp", "gina-password", "123456"},
			{"wrong password, right totp", "wrong", c.Code(time.Now())},
		} {
			if _, err := grant(tc.pw, tc.code); !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("%s: %v, want ErrInvalidCredentials", tc.name, err)
			}
		}
		if f := failures(t, st, realmID, u.ID); f.NumFailures != 3 {
			t.Errorf("three failed grants: %d failures, want 3", f.NumFailures)
		}
		code := c.Code(time.Now())
		if got, err := grant("gina-password", code); err != nil || got.ID != u.ID {
			t.Fatalf("password and totp: %v", err)
		}
		if f := failures(t, st, realmID, u.ID); f.NumFailures != 0 {
			t.Errorf("a good grant left %d failures", f.NumFailures)
		}
		if _, err := grant("gina-password", code); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("the same code again: %v, want ErrInvalidCredentials", err)
		}
		// Without a verifier (no OTP support wired) nothing changes.
		plain := New(st, password.NewLimiter(0, 16), nil)
		if _, err := plain.Authenticate(context.Background(), realmID, s, "gina", "gina-password", ""); err != nil {
			t.Fatalf("no verifier: %v", err)
		}
	})
}
