package authn

import (
	"context"
	"errors"
	"time"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// errLocked aborts a reservation: the user is locked out.
var errLocked = errors.New("authn: locked out")

// reserve counts this attempt as a failed login before its password is
// checked, in one compare-and-swap on the user's counter row (a row lock in
// one transaction, so concurrent attempts and other replicas see each
// other's reservations). It reports allowed=false, writing nothing, when
// the user is locked out already; the attempt that reaches a lockout is
// still checked, as in Keycloak, where the lockout follows the
// failureFactor-th failure. disableOnFailure says this attempt reached the
// permanent-lockout limit: the user is disabled if its password is wrong.
//
// Counting follows Keycloak's brute-force protector: failures older than
// maxDeltaTime are forgotten; every failureFactor failures add
// waitIncrement to the lockout (capped at maxFailureWait); two failures
// closer than quickLoginCheck lock for minimumQuickLoginWait.
func (a *Authenticator) reserve(ctx context.Context, realmID, userID, ip string, s rep.BruteForceSettings) (allowed, disableOnFailure bool, err error) {
	r, err := a.reserveRows(ctx, realmID, userID, ip, s)
	return r.allowed, r.disable, err
}

// reservation is reserve's outcome, with the counter row as it was before
// and as this attempt wrote it, so that release can take it back.
type reservation struct {
	allowed, disable bool
	before, after    store.LoginFailure
}

// reserveRows is reserve, keeping the rows.
func (a *Authenticator) reserveRows(ctx context.Context, realmID, userID, ip string, s rep.BruteForceSettings) (res reservation, err error) {
	var disableOnFailure bool
	err = a.st.UpdateLoginFailure(ctx, realmID, userID, func(f store.LoginFailure) (store.LoginFailure, error) {
		res.before = f
		t := a.now()
		if t.Before(f.FailedLoginNotBefore) {
			return f, errLocked
		}
		var delta time.Duration
		if !f.LastFailure.IsZero() {
			delta = t.Sub(f.LastFailure)
			if delta > s.MaxDeltaTime {
				f.NumFailures = 0
			}
		}
		f.RealmID, f.UserID = realmID, userID
		f.LastFailure, f.LastIPFailure = t, ip
		f.NumFailures++
		factor := max(s.FailureFactor, 1)
		var wait time.Duration
		if f.NumFailures >= factor {
			steps := f.NumFailures / factor
			if s.Strategy == "LINEAR" || steps <= 1 {
				wait = s.WaitIncrement * time.Duration(steps)
			} else {
				// MULTIPLE (Keycloak 25+ default): lockouts happen on each
				// multiple of failureFactor, each as long as the count says.
				if f.NumFailures%factor == 0 {
					wait = s.WaitIncrement * time.Duration(steps)
				}
			}
			if f.NumFailures%factor == 0 {
				f.NumTempLockouts++
			}
		}
		if wait == 0 && delta > 0 && delta < s.QuickLoginCheck {
			wait = s.MinimumQuickLoginWait
		}
		if wait > s.MaxFailureWait {
			wait = s.MaxFailureWait
		}
		if wait > 0 {
			f.FailedLoginNotBefore = t.Add(wait)
		}
		// fn may run again on a newer row: decide from this run only.
		disableOnFailure = s.PermanentLockout && f.NumFailures >= factor &&
			(s.MaxTemporaryLockouts == 0 || f.NumTempLockouts > s.MaxTemporaryLockouts)
		res.after = f
		return f, nil
	})
	if errors.Is(err, errLocked) {
		return reservation{}, nil
	}
	if err != nil {
		return reservation{}, err
	}
	res.allowed, res.disable = true, disableOnFailure
	return res, nil
}

// release takes back a reservation whose password proved right but whose
// login is not over (a one-time password follows): the counters return to
// what they were, or, when another attempt counted since, lose this one.
// The step that finishes the login reserves again.
func (a *Authenticator) release(ctx context.Context, realmID, userID string, r reservation) error {
	if !r.allowed {
		return nil
	}
	return a.st.UpdateLoginFailure(ctx, realmID, userID, func(f store.LoginFailure) (store.LoginFailure, error) {
		if f.NumFailures == r.after.NumFailures && f.LastFailure.UnixMilli() == r.after.LastFailure.UnixMilli() {
			b := r.before
			b.RealmID, b.UserID = realmID, userID
			return b, nil
		}
		if f.NumFailures == 0 {
			return f, store.ErrAbort
		}
		f.NumFailures--
		return f, nil
	})
}

// disable applies Keycloak's permanent lockout to the user.
func (a *Authenticator) disable(ctx context.Context, realmID, userID string) error {
	u, err := a.st.GetUser(ctx, realmID, userID)
	if err != nil {
		return err
	}
	u.Enabled = false
	if u.Attributes == nil {
		u.Attributes = map[string][]string{}
	}
	u.Attributes["disabledReason"] = []string{"permanentLockout"}
	return a.st.UpdateUser(ctx, u)
}
