package sqlstore

import (
	"context"

	"github.com/keygate/keygate/store"
)

const fedCols = `realm_id, user_id, alias, external_id, external_name, token`

func scanFederated(r scanner) (f store.FederatedIdentity, err error) {
	err = r.Scan(&f.RealmID, &f.UserID, &f.Alias, &f.ExternalID, &f.ExternalName, &f.Token)
	return f, err
}

// AddFederatedIdentity inserts the link; the foreign keys say whether the
// user (of this realm) and the provider exist.
func (s *Store) AddFederatedIdentity(ctx context.Context, f store.FederatedIdentity) error {
	return wrap(s.Tx(ctx, func(ctx context.Context) error {
		if _, err := s.GetUser(ctx, f.RealmID, f.UserID); err != nil {
			return err
		}
		_, err := s.exec(ctx, `INSERT INTO federated_identities (`+fedCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
			f.RealmID, f.UserID, f.Alias, f.ExternalID, f.ExternalName, f.Token)
		return err
	}), "link user %s to %s", f.UserID, f.Alias)
}

func (s *Store) UpdateFederatedIdentity(ctx context.Context, f store.FederatedIdentity) error {
	err := s.execOne(ctx, `UPDATE federated_identities SET external_name = ?, token = ?
		WHERE realm_id = ? AND user_id = ? AND alias = ?`, f.ExternalName, f.Token, f.RealmID, f.UserID, f.Alias)
	return wrap(err, "update link of user %s to %s", f.UserID, f.Alias)
}

func (s *Store) GetUserByFederatedIdentity(ctx context.Context, realmID, alias, externalID string) (store.User, error) {
	u, err := get(ctx, s, scanUser, `SELECT `+userCols+` FROM federated_identities f JOIN users u ON u.id = f.user_id
		WHERE f.realm_id = ? AND f.alias = ? AND f.external_id = ?`, realmID, alias, externalID)
	return u, wrap(err, "user of %s account %q", alias, externalID)
}

func (s *Store) ListFederatedIdentities(ctx context.Context, realmID, userID string) ([]store.FederatedIdentity, error) {
	fs, err := list(ctx, s, scanFederated, `SELECT `+fedCols+` FROM federated_identities
		WHERE realm_id = ? AND user_id = ? ORDER BY alias`, realmID, userID)
	return fs, wrap(err, "links of user %s", userID)
}

func (s *Store) RemoveFederatedIdentity(ctx context.Context, realmID, userID, alias string) error {
	err := s.execOne(ctx, `DELETE FROM federated_identities WHERE realm_id = ? AND user_id = ? AND alias = ?`, realmID, userID, alias)
	return wrap(err, "unlink user %s from %s", userID, alias)
}
