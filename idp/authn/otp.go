package authn

import (
	"context"
	"errors"
	"fmt"

	"github.com/keygate/keygate/idp/otp"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// ErrOTPRequired: the password was right and the user has a one-time
// password device, so the login goes on to the OTP form (VerifyOTP).
// Authenticate returns the user with it. A caller that does not know it
// fails the login, as it does any other error.
var ErrOTPRequired = errors.New("one-time password required")

// SetOTP makes logins of users with an `otp` credential need its code
// (v checks and spends codes).
func (a *Authenticator) SetOTP(v *otp.Verifier) { a.otp = v }

type directOTPKey struct{}

// WithDirectGrantOTP marks ctx as a password grant's, carrying the `totp`
// form field ("" when absent): Authenticate then checks the code of a user
// with an OTP device in the same counted attempt as the password, as
// Keycloak's direct grant flow (conditional OTP) does, instead of
// answering ErrOTPRequired. A missing or wrong code is
// ErrInvalidCredentials, like a wrong password.
func WithDirectGrantOTP(ctx context.Context, code string) context.Context {
	return context.WithValue(ctx, directOTPKey{}, code)
}

// secondFactor runs after a right password of an enabled user, inside the
// attempt that counted it (res, zero without brute-force protection);
// creds are the user's credentials when the password check read them
// (one read per login), nil to read them here.
func (a *Authenticator) secondFactor(ctx context.Context, realmID string, s rep.RealmSettings, u store.User, res reservation, creds []store.Credential) error {
	var err error
	if creds == nil { // the password check did not read them (a directory's user)
		if creds, err = a.st.ListCredentials(ctx, u.ID); err != nil {
			return err
		}
	}
	otps := otp.Of(creds)
	if len(otps) == 0 {
		return nil
	}
	code, direct := ctx.Value(directOTPKey{}).(string)
	if !direct {
		// The password alone does not count as a success: its reservation
		// is taken back and the OTP step counts on its own.
		if err := a.release(ctx, realmID, u.ID, res); err != nil {
			return err
		}
		return ErrOTPRequired
	}
	ok := false
	if code != "" {
		if ok, err = a.checkCode(ctx, realmID, s, otps, "", code); err != nil {
			return err
		}
	}
	if !ok {
		// This attempt's reservation stays as its failure.
		if res.disable {
			if err := a.disable(ctx, realmID, u.ID); err != nil {
				return err
			}
		}
		return ErrInvalidCredentials
	}
	return nil
}

// checkCode verifies code; a credential that cannot be used (malformed,
// sealed under another key) fails the login and is logged, never the code.
// Any other error is ours (the store's), not a wrong code: it is returned.
func (a *Authenticator) checkCode(ctx context.Context, realmID string, s rep.RealmSettings, creds []store.Credential, credID, code string) (bool, error) {
	ok, err := a.otp.Verify(ctx, realmID, s.OTP, creds, credID, code)
	if errors.Is(err, otp.ErrMalformed) || errors.Is(err, otp.ErrSealed) {
		a.log.WarnContext(ctx, "stored OTP credential cannot be verified", "err", err)
		return false, nil
	}
	return ok, err
}

// VerifyOTP is the browser's OTP step for user, whose password was right
// (Authenticate answered ErrOTPRequired): code for the credential credID
// (the user's default device when ""). It counts as a login attempt of
// its own (reserved before the check, cleared on success, a permanent
// lockout applied as for passwords), and returns the user as stored now:
// ErrUserDisabled if an administrator or a lockout disabled them
// meanwhile, ErrInvalidCredentials for a wrong, replayed or missing code
// or a locked-out user, ErrUnavailable when the database cannot answer.
func (a *Authenticator) VerifyOTP(ctx context.Context, realmID string, s rep.RealmSettings, user store.User, credID, code, ip string) (store.User, error) {
	u, err := a.verifyOTP(ctx, realmID, s, user, credID, code, ip)
	if errors.Is(err, store.ErrUnavailable) {
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return u, err
}

func (a *Authenticator) verifyOTP(ctx context.Context, realmID string, s rep.RealmSettings, user store.User, credID, code, ip string) (store.User, error) {
	if a.otp == nil {
		return store.User{}, ErrInvalidCredentials
	}
	var res reservation
	if s.BruteForce.Protected {
		var err error
		if res, err = a.reserveRows(ctx, realmID, user.ID, ip, s.BruteForce); err != nil {
			return store.User{}, err
		}
		if !res.allowed {
			return store.User{}, ErrInvalidCredentials
		}
	}
	creds, err := a.st.ListCredentials(ctx, user.ID)
	if err != nil {
		return store.User{}, err
	}
	ok, err := a.checkCode(ctx, realmID, s, creds, credID, code)
	if err != nil {
		return store.User{}, err
	}
	if !ok {
		if res.disable {
			if err := a.disable(ctx, realmID, user.ID); err != nil {
				return store.User{}, err
			}
		}
		return store.User{}, ErrInvalidCredentials
	}
	u, err := a.st.GetUser(ctx, realmID, user.ID)
	if err != nil {
		return store.User{}, err
	}
	if !u.Enabled {
		if s.BruteForce.Protected && permanentlyLockedOut(u) {
			return store.User{}, ErrInvalidCredentials // as attempt answers it
		}
		return store.User{}, ErrUserDisabled
	}
	if s.BruteForce.Protected {
		if err := a.st.DeleteLoginFailure(ctx, realmID, u.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.User{}, err
		}
	}
	return u, nil
}

// OTP is the verifier SetOTP gave (nil: none), for the pages that set up
// devices.
func (a *Authenticator) OTP() *otp.Verifier { return a.otp }
