package sqlstore

import (
	"context"
	"slices"

	"github.com/keygate/keygate/store"
)

const consentCols = `realm_id, user_id, client_id, scopes, created, updated`

func scanConsent(r scanner) (c store.Consent, err error) {
	err = r.Scan(&c.RealmID, &c.UserID, &c.ClientID, jsonCol{&c.Scopes}, msTime{&c.Created}, msTime{&c.Updated})
	return c, err
}

func (s *Store) GetConsent(ctx context.Context, realmID, userID, clientID string) (store.Consent, error) {
	c, err := get(ctx, s, scanConsent, `SELECT `+consentCols+` FROM user_consents
		WHERE realm_id = ? AND user_id = ? AND client_id = ?`, realmID, userID, clientID)
	return c, wrap(err, "get consent of user %s", userID)
}

// PutConsent implements store.Store: one upsert, which writes nothing
// unless both the user and the client are the realm's.
func (s *Store) PutConsent(ctx context.Context, c store.Consent) error {
	scopes := slices.Clone(c.Scopes)
	slices.Sort(scopes)
	n, err := s.exec(ctx, `INSERT INTO user_consents (`+consentCols+`)
		SELECT u.realm_id, u.id, c.id, ?, ?, ? FROM users u, clients c
		WHERE u.realm_id = ? AND u.id = ? AND c.realm_id = u.realm_id AND c.id = ?
		ON CONFLICT (realm_id, user_id, client_id) DO UPDATE SET scopes = excluded.scopes, updated = excluded.updated`,
		jsonText(scopes), ms(c.Created), ms(c.Updated), c.RealmID, c.UserID, c.ClientID)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return wrap(err, "put consent of user %s", c.UserID)
}

func (s *Store) ListUserConsents(ctx context.Context, realmID, userID string) ([]store.Consent, error) {
	xs, err := list(ctx, s, scanConsent, `SELECT `+consentCols+` FROM user_consents
		WHERE realm_id = ? AND user_id = ? ORDER BY created, client_id`, realmID, userID)
	return xs, wrap(err, "list consents of user %s", userID)
}

func (s *Store) DeleteConsent(ctx context.Context, realmID, userID, clientID string) error {
	err := s.execOne(ctx, `DELETE FROM user_consents WHERE realm_id = ? AND user_id = ? AND client_id = ?`,
		realmID, userID, clientID)
	return wrap(err, "delete consent of user %s", userID)
}
