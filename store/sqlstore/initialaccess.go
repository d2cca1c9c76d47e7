package sqlstore

import (
	"context"
	"time"

	"github.com/keygate/keygate/store"
)

const iatCols = `id, realm_id, token_hash, created, expiration, count, remaining_count`

func scanIAT(r scanner) (t store.InitialAccessToken, err error) {
	err = r.Scan(&t.ID, &t.RealmID, &t.TokenHash, msTime{&t.Created}, &t.Expiration, &t.Count, &t.RemainingCount)
	return t, err
}

func (s *Store) CreateInitialAccessToken(ctx context.Context, t store.InitialAccessToken) error {
	_, err := s.exec(ctx, `INSERT INTO initial_access_tokens (`+iatCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.RealmID, t.TokenHash, ms(t.Created), t.Expiration, t.Count, t.RemainingCount)
	return wrap(err, "create initial access token")
}

func (s *Store) ListInitialAccessTokens(ctx context.Context, realmID string) ([]store.InitialAccessToken, error) {
	ts, err := list(ctx, s, scanIAT, `SELECT `+iatCols+` FROM initial_access_tokens WHERE realm_id = ? ORDER BY created, id`, realmID)
	return ts, wrap(err, "list initial access tokens")
}

func (s *Store) GetInitialAccessTokenByHash(ctx context.Context, realmID, hash string) (store.InitialAccessToken, error) {
	t, err := get(ctx, s, scanIAT, `SELECT `+iatCols+` FROM initial_access_tokens WHERE realm_id = ? AND token_hash = ?`, realmID, hash)
	return t, wrap(err, "get initial access token")
}

func (s *Store) DeleteInitialAccessToken(ctx context.Context, realmID, id string) error {
	err := s.execOne(ctx, `DELETE FROM initial_access_tokens WHERE realm_id = ? AND id = ?`, realmID, id)
	return wrap(err, "delete initial access token %s", id)
}

// UseInitialAccessToken decrements remaining_count in one conditional
// UPDATE, so two concurrent registrations can never both take the last use;
// when it changes nothing, the read that follows says why.
func (s *Store) UseInitialAccessToken(ctx context.Context, realmID, hash string) (store.InitialAccessToken, error) {
	var out store.InitialAccessToken
	err := s.Tx(ctx, func(ctx context.Context) error {
		now := ms(time.Now())
		n, err := s.exec(ctx, `UPDATE initial_access_tokens SET remaining_count = remaining_count - 1
			WHERE realm_id = ? AND token_hash = ? AND remaining_count > 0
			AND (expiration = 0 OR created + expiration * 1000 > ?)`, realmID, hash, now)
		if err != nil {
			return err
		}
		out, err = get(ctx, s, scanIAT, `SELECT `+iatCols+` FROM initial_access_tokens WHERE realm_id = ? AND token_hash = ?`, realmID, hash)
		if err == nil && n == 0 {
			err = store.ErrExhausted
		}
		return err
	})
	return out, wrap(err, "use initial access token")
}
