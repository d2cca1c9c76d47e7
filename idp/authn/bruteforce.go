package authn

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// errLocked aborts a reservation: the user is locked out.
var errLocked = errors.New("authn: locked out")

// reservation is reserveRows' outcome, with the counter row as it was
// before and as this attempt wrote it, so that release can take it back.
type reservation struct {
	allowed, disable bool
	before, after    store.LoginFailure
}

// reserveRows counts this attempt as a failed login before its password is
// checked, in one compare-and-swap on the user's counter row (a row lock in
// one transaction, so concurrent attempts and other replicas see each
// other's reservations). It reports allowed=false, writing nothing, when
// the user is locked out already; the attempt that reaches a lockout is
// still checked, as in Keycloak, where the lockout follows the
// failureFactor-th failure. res.disable says this attempt reached the
// permanent-lockout limit: the user is disabled if its password is wrong.
//
// Counting follows Keycloak's brute-force protector: failures older than
// maxDeltaTime are forgotten; from failureFactor failures on, each failure
// locks for waitIncrement times the number of failureFactor multiples
// reached (MULTIPLE) or times the failures past failureFactor plus one
// (LINEAR), capped at maxFailureWait; below that, two failures closer than
// quickLoginCheck lock for minimumQuickLoginWait. With permanentLockout
// the user is disabled after maxTemporaryLockouts temporary lockouts, or
// at failureFactor failures when that is 0.
func (a *Authenticator) reserveRows(ctx context.Context, realmID, userID, ip string, s rep.BruteForceSettings) (res reservation, err error) {
	var disableOnFailure bool
	err = a.st.UpdateLoginFailure(ctx, realmID, userID, func(f store.LoginFailure) (store.LoginFailure, error) {
		res.before = f
		t := a.now()
		if t.Before(f.FailedLoginNotBefore) {
			return f, errLocked
		}
		// Keycloak's DefaultBruteForceProtector.failure, step by step.
		// permanentOnly: permanent lockout with no temporary lockouts
		// first, where failures are never forgotten nor waited out.
		permanentOnly := s.PermanentLockout && s.MaxTemporaryLockouts == 0
		var delta time.Duration
		hadFailure := !f.LastFailure.IsZero()
		if hadFailure {
			delta = t.Sub(f.LastFailure)
			if !permanentOnly && delta > s.MaxDeltaTime {
				f.NumFailures, f.NumTempLockouts = 0, 0
			}
		}
		f.RealmID, f.UserID = realmID, userID
		f.LastFailure, f.LastIPFailure = t, ip
		f.NumFailures++
		var wait time.Duration
		if factor := s.FailureFactor; !permanentOnly && factor > 0 {
			if s.Strategy == "LINEAR" {
				// One increment more for every failure from failureFactor on.
				wait = s.WaitIncrement * time.Duration(1+f.NumFailures-factor)
			} else {
				// MULTIPLE (Keycloak 25+'s default): one increment per
				// failureFactor failures so far.
				wait = s.WaitIncrement * time.Duration(f.NumFailures/factor)
			}
		}
		quick := false
		if wait <= 0 {
			wait = 0
			if hadFailure && delta < s.QuickLoginCheck {
				wait, quick = s.MinimumQuickLoginWait, true
			}
		}
		if wait > 0 {
			if !s.PermanentLockout || s.MaxTemporaryLockouts > 0 {
				wait = min(wait, s.MaxFailureWait)
			}
			if !quick {
				f.NumTempLockouts++
			}
			if quick || !s.PermanentLockout || f.NumTempLockouts <= s.MaxTemporaryLockouts {
				// Keycloak keeps the lockout's end in whole seconds.
				f.FailedLoginNotBefore = t.Truncate(time.Second).Add(wait)
			}
		}
		// fn may run again on a newer row: decide from this run only.
		disableOnFailure = s.PermanentLockout && (f.NumTempLockouts > s.MaxTemporaryLockouts ||
			(s.MaxTemporaryLockouts == 0 && f.NumFailures >= s.FailureFactor))
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

// permanentlyLockedOut says whether u was disabled by a permanent lockout
// (disable), not by an administrator: Keycloak's isPermanentlyLockedOut.
func permanentlyLockedOut(u store.User) bool {
	return !u.Enabled && slices.Contains(u.Attributes["disabledReason"], "permanentLockout")
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
