package authn

import (
	"context"
	"errors"
	"time"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// locked reports whether the user is temporarily locked out.
func (a *Authenticator) locked(ctx context.Context, realmID, userID string) (bool, error) {
	f, err := a.st.GetLoginFailure(ctx, realmID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return a.now().Before(f.FailedLoginNotBefore), nil
}

// recordFailure counts a failed login as Keycloak's brute-force protector
// does: failures older than maxDeltaTime are forgotten; every failureFactor
// failures add waitIncrement to the lockout (capped at maxFailureWait); two
// failures closer than quickLoginCheck lock for minimumQuickLoginWait; with
// permanentLockout the user is disabled once the limit is reached.
func (a *Authenticator) recordFailure(ctx context.Context, realmID, userID, ip string, s rep.BruteForceSettings) error {
	disable := false
	err := a.st.UpdateLoginFailure(ctx, realmID, userID, func(f store.LoginFailure) (store.LoginFailure, error) {
		t := a.now()
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
		if s.PermanentLockout && f.NumFailures >= factor &&
			(s.MaxTemporaryLockouts == 0 || f.NumTempLockouts > s.MaxTemporaryLockouts) {
			disable = true
		}
		return f, nil
	})
	if err != nil || !disable {
		return err
	}
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
