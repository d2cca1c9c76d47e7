package sqlstore

import (
	"context"
	"errors"

	"github.com/keygate/keygate/store"
)

const credentialCols = `id, user_id, type, user_label, created, secret_data, credential_data, priority`

func scanCredential(r scanner) (c store.Credential, err error) {
	err = r.Scan(&c.ID, &c.UserID, &c.Type, &c.UserLabel, msTime{&c.Created}, &c.SecretData, &c.CredentialData, &c.Priority)
	return c, err
}

func (s *Store) ListCredentials(ctx context.Context, userID string) ([]store.Credential, error) {
	cs, err := list(ctx, s, scanCredential, `SELECT `+credentialCols+` FROM credentials WHERE user_id = ?
		ORDER BY priority, created, id`, userID)
	return cs, wrap(err, "list credentials of user %s", userID)
}

// CreateCredential stores c for user c.UserID, copying the user's realm;
// store.ErrNotFound when the user does not exist.
func (s *Store) CreateCredential(ctx context.Context, c store.Credential) error {
	return wrap(s.createCredential(ctx, c), "create credential for user %s", c.UserID)
}

func (s *Store) createCredential(ctx context.Context, c store.Credential) error {
	return s.execOne(ctx, `INSERT INTO credentials (id, realm_id, user_id, type, user_label, created, secret_data, credential_data, priority)
		SELECT ?, realm_id, id, ?, ?, ?, ?, ?, ? FROM users WHERE id = ?`,
		c.ID, c.Type, c.UserLabel, ms(c.Created), c.SecretData, c.CredentialData, c.Priority, c.UserID)
}

func (s *Store) DeleteCredential(ctx context.Context, userID, id string) error {
	err := s.execOne(ctx, `DELETE FROM credentials WHERE user_id = ? AND id = ?`, userID, id)
	return wrap(err, "delete credential %s", id)
}

// SetPassword replaces the user's password credentials with c (its Type is
// forced to "password") in one transaction.
func (s *Store) SetPassword(ctx context.Context, userID string, c store.Credential) error {
	c.UserID, c.Type = userID, "password"
	return wrap(s.Tx(ctx, func(ctx context.Context) error {
		if _, err := s.exec(ctx, `DELETE FROM credentials WHERE user_id = ? AND type = 'password'`, userID); err != nil {
			return err
		}
		return s.createCredential(ctx, c)
	}), "set password of user %s", userID)
}

// UpdateCredential reads the credential under a row lock (SELECT ... FOR
// UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the only write
// lock), so concurrent updates run one after the other and each fn sees the
// previous one's result. fn cannot change the id or the owner.
func (s *Store) UpdateCredential(ctx context.Context, userID, id string, fn func(old store.Credential) (store.Credential, error)) error {
	var fnErr error
	err := s.Tx(ctx, func(ctx context.Context) error {
		old, err := get(ctx, s, scanCredential, `SELECT `+credentialCols+` FROM credentials
			WHERE user_id = ? AND id = ? FOR UPDATE`, userID, id)
		if err != nil {
			return err
		}
		c, err := fn(old)
		if err != nil {
			fnErr = err
			return err
		}
		return s.execOne(ctx, `UPDATE credentials SET type = ?, user_label = ?, created = ?, secret_data = ?,
			credential_data = ?, priority = ? WHERE id = ?`,
			c.Type, c.UserLabel, ms(c.Created), c.SecretData, c.CredentialData, c.Priority, old.ID)
	})
	return updateResult(err, fnErr, "update credential %s", id)
}

// updateResult finishes a compare-and-swap: ErrAbort from fn is success,
// fn's other errors are returned unchanged, store errors get context.
func updateResult(err, fnErr error, format string, a ...any) error {
	switch {
	case errors.Is(fnErr, store.ErrAbort):
		return nil
	case fnErr != nil:
		return fnErr
	}
	return wrap(err, format, a...)
}
