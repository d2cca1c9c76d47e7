package sqlstore

import (
	"context"
	"time"

	"github.com/keygate/keygate/store"
)

const sessionCols = `id, realm_id, user_id, created, last_seen, auth_time, remember_me, ip_address, data`

func scanSession(r scanner) (x store.Session, err error) {
	err = r.Scan(&x.ID, &x.RealmID, &x.UserID, msTime{&x.Created}, msTime{&x.LastSeen}, msTime{&x.AuthTime},
		&x.RememberMe, &x.IPAddress, rawCol{&x.Data})
	return x, err
}

func (s *Store) CreateSession(ctx context.Context, x store.Session) error {
	_, err := s.exec(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		x.ID, x.RealmID, x.UserID, ms(x.Created), ms(x.LastSeen), ms(x.AuthTime), x.RememberMe, x.IPAddress, string(x.Data))
	return wrap(err, "create session %s", x.ID)
}

func (s *Store) GetSession(ctx context.Context, realmID, id string) (store.Session, error) {
	x, err := get(ctx, s, scanSession, `SELECT `+sessionCols+` FROM sessions WHERE realm_id = ? AND id = ?`, realmID, id)
	return x, wrap(err, "get session %s", id)
}

// TouchSession moves LastSeen forward in one statement; the CASE keeps a
// late, older touch from moving it back.
func (s *Store) TouchSession(ctx context.Context, realmID, id string, at time.Time) error {
	t := ms(at)
	err := s.execOne(ctx, `UPDATE sessions SET last_seen = CASE WHEN last_seen < ? THEN ? ELSE last_seen END
		WHERE realm_id = ? AND id = ?`, t, t, realmID, id)
	return wrap(err, "touch session %s", id)
}

func (s *Store) ListUserSessions(ctx context.Context, realmID, userID string) ([]store.Session, error) {
	xs, err := list(ctx, s, scanSession, `SELECT `+sessionCols+` FROM sessions WHERE realm_id = ? AND user_id = ?
		ORDER BY created, id`, realmID, userID)
	return xs, wrap(err, "list sessions of user %s", userID)
}

// DeleteSession deletes the session and every token issued under it but
// the offline session's (store.KindOffline), which outlive it.
func (s *Store) DeleteSession(ctx context.Context, realmID, id string) error {
	return wrap(s.Tx(ctx, func(ctx context.Context) error {
		if err := s.execOne(ctx, `DELETE FROM sessions WHERE realm_id = ? AND id = ?`, realmID, id); err != nil {
			return err
		}
		_, err := s.exec(ctx, `DELETE FROM tokens WHERE kind <> 'offline' AND session_id <> '' AND session_id = ?`, id)
		return err
	}), "delete session %s", id)
}

// DeleteUserSessions deletes the user's sessions and their tokens (offline
// ones stay, as with DeleteSession).
func (s *Store) DeleteUserSessions(ctx context.Context, realmID, userID string) error {
	return wrap(s.Tx(ctx, func(ctx context.Context) error {
		return s.deleteUserSessions(ctx, realmID, userID)
	}), "delete sessions of user %s", userID)
}

func (s *Store) deleteUserSessions(ctx context.Context, realmID, userID string) error {
	if _, err := s.exec(ctx, `DELETE FROM tokens WHERE kind <> 'offline' AND session_id <> '' AND session_id IN
		(SELECT id FROM sessions WHERE realm_id = ? AND user_id = ?)`, realmID, userID); err != nil {
		return err
	}
	_, err := s.exec(ctx, `DELETE FROM sessions WHERE realm_id = ? AND user_id = ?`, realmID, userID)
	return err
}

// DeleteExpiredSessions deletes the sessions of realmID ("" for every realm)
// last seen before idleBefore or created before createdBefore (a zero time
// disables that test), with their tokens, and returns how many sessions went.
func (s *Store) DeleteExpiredSessions(ctx context.Context, realmID string, idleBefore, createdBefore time.Time) (int, error) {
	expired := `(last_seen < ? OR created < ?)`
	args := []any{ms(idleBefore), ms(createdBefore)}
	if realmID != "" {
		expired += ` AND realm_id = ?`
		args = append(args, realmID)
	}
	var n int64
	err := s.Tx(ctx, func(ctx context.Context) (err error) {
		if _, err = s.exec(ctx, `DELETE FROM tokens WHERE kind <> 'offline' AND session_id <> '' AND session_id IN
			(SELECT id FROM sessions WHERE `+expired+`)`, args...); err != nil {
			return err
		}
		n, err = s.exec(ctx, `DELETE FROM sessions WHERE `+expired, args...)
		return err
	})
	return int(n), wrap(err, "delete expired sessions")
}
