package sqlstore

import (
	"context"
	"errors"

	"github.com/keygate/keygate/store"
)

const loginFailureCols = `realm_id, user_id, num_failures, num_temp_lockouts, last_failure, last_ip_failure, failed_login_not_before`

func scanLoginFailure(r scanner) (f store.LoginFailure, err error) {
	err = r.Scan(&f.RealmID, &f.UserID, &f.NumFailures, &f.NumTempLockouts, msTime{&f.LastFailure}, &f.LastIPFailure,
		msTime{&f.FailedLoginNotBefore})
	return f, err
}

// GetLoginFailure returns the counters; store.ErrNotFound when there are none.
func (s *Store) GetLoginFailure(ctx context.Context, realmID, userID string) (store.LoginFailure, error) {
	f, err := get(ctx, s, scanLoginFailure, `SELECT `+loginFailureCols+` FROM login_failures WHERE realm_id = ? AND user_id = ?`,
		realmID, userID)
	return f, wrap(err, "get login failures of user %s", userID)
}

// errRace reports that a concurrent transaction inserted the row first.
var errRace = errors.New("sqlstore: concurrent insert")

// UpdateLoginFailure locks the row (see UpdateCredential) and gives fn a zero
// row when there is none. A missing row cannot be locked, so two first
// failures may both see zero: the loser's INSERT ... ON CONFLICT DO NOTHING
// inserts nothing and fn runs again on the winner's row. (Under REPEATABLE
// READ the winner's row stays invisible; after three rounds the race error
// is returned.)
func (s *Store) UpdateLoginFailure(ctx context.Context, realmID, userID string, fn func(old store.LoginFailure) (store.LoginFailure, error)) error {
	for attempt := 1; ; attempt++ {
		var fnErr error
		err := s.Tx(ctx, func(ctx context.Context) error {
			old, err := get(ctx, s, scanLoginFailure, `SELECT `+loginFailureCols+` FROM login_failures
				WHERE realm_id = ? AND user_id = ? FOR UPDATE`, realmID, userID)
			exists := err == nil
			if errors.Is(err, store.ErrNotFound) {
				old, err = store.LoginFailure{RealmID: realmID, UserID: userID}, nil
			}
			if err != nil {
				return err
			}
			f, err := fn(old)
			if err != nil {
				fnErr = err
				return err
			}
			args := []any{f.NumFailures, f.NumTempLockouts, ms(f.LastFailure), f.LastIPFailure, ms(f.FailedLoginNotBefore), realmID, userID}
			if exists {
				return s.execOne(ctx, `UPDATE login_failures SET num_failures = ?, num_temp_lockouts = ?, last_failure = ?,
					last_ip_failure = ?, failed_login_not_before = ? WHERE realm_id = ? AND user_id = ?`, args...)
			}
			n, err := s.exec(ctx, `INSERT INTO login_failures (num_failures, num_temp_lockouts, last_failure, last_ip_failure,
				failed_login_not_before, realm_id, user_id) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, args...)
			if err == nil && n == 0 {
				err = errRace
			}
			return err
		})
		if errors.Is(err, errRace) && attempt < 3 {
			continue // the row exists now; this round wrote nothing
		}
		return updateResult(err, fnErr, "update login failures of user %s", userID)
	}
}

// DeleteLoginFailure resets the user's counters; deleting none is not an error.
func (s *Store) DeleteLoginFailure(ctx context.Context, realmID, userID string) error {
	_, err := s.exec(ctx, `DELETE FROM login_failures WHERE realm_id = ? AND user_id = ?`, realmID, userID)
	return wrap(err, "delete login failures of user %s", userID)
}

func (s *Store) DeleteLoginFailures(ctx context.Context, realmID string) error {
	_, err := s.exec(ctx, `DELETE FROM login_failures WHERE realm_id = ?`, realmID)
	return wrap(err, "delete login failures")
}
