package sqlstore

import (
	"context"

	"github.com/keygate/keygate/store"
)

const clientCols = `id, realm_id, client_id, secret, registration_token_hash, config, created`

func scanClient(r scanner) (c store.Client, err error) {
	err = r.Scan(&c.ID, &c.RealmID, &c.ClientID, &c.Secret, &c.RegistrationTokenHash, rawCol{&c.Config}, msTime{&c.Created})
	return c, err
}

func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	_, err := s.exec(ctx, `INSERT INTO clients (`+clientCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.RealmID, c.ClientID, c.Secret, c.RegistrationTokenHash, string(c.Config), ms(c.Created))
	return wrap(err, "create client %q", c.ClientID)
}

func (s *Store) GetClient(ctx context.Context, realmID, id string) (store.Client, error) {
	c, err := get(ctx, s, scanClient, `SELECT `+clientCols+` FROM clients WHERE realm_id = ? AND id = ?`, realmID, id)
	return c, wrap(err, "get client %s", id)
}

func (s *Store) GetClientByClientID(ctx context.Context, realmID, clientID string) (store.Client, error) {
	c, err := get(ctx, s, scanClient, `SELECT `+clientCols+` FROM clients WHERE realm_id = ? AND client_id = ?`, realmID, clientID)
	return c, wrap(err, "get client %q", clientID)
}

func (s *Store) ListClients(ctx context.Context, realmID string) ([]store.Client, error) {
	cs, err := list(ctx, s, scanClient, `SELECT `+clientCols+` FROM clients WHERE realm_id = ? ORDER BY client_id`, realmID)
	return cs, wrap(err, "list clients")
}

func (s *Store) UpdateClient(ctx context.Context, c store.Client) error {
	err := s.execOne(ctx, `UPDATE clients SET client_id = ?, secret = ?, registration_token_hash = ?, config = ?
		WHERE realm_id = ? AND id = ?`,
		c.ClientID, c.Secret, c.RegistrationTokenHash, string(c.Config), c.RealmID, c.ID)
	return wrap(err, "update client %s", c.ID)
}

// UpdateClientFromToken implements store.Store: the hash compared in the
// UPDATE itself, so two updates with one token cannot both pass.
func (s *Store) UpdateClientFromToken(ctx context.Context, c store.Client, prevHash string) error {
	if prevHash == "" {
		return wrap(store.ErrNotFound, "update client %s", c.ID)
	}
	err := s.execOne(ctx, `UPDATE clients SET client_id = ?, secret = ?, registration_token_hash = ?, config = ?
		WHERE realm_id = ? AND id = ? AND registration_token_hash = ?`,
		c.ClientID, c.Secret, c.RegistrationTokenHash, string(c.Config), c.RealmID, c.ID, prevHash)
	return wrap(err, "update client %s", c.ID)
}

// DeleteClient deletes the client, its roles (their mappings cascade) and
// its service-account user. Client roles reference the client by id without
// a foreign key, since realm roles carry an empty client_id.
func (s *Store) DeleteClient(ctx context.Context, realmID, id string) error {
	return wrap(s.Tx(ctx, func(ctx context.Context) error {
		if err := s.execOne(ctx, `DELETE FROM clients WHERE realm_id = ? AND id = ?`, realmID, id); err != nil {
			return err
		}
		if _, err := s.exec(ctx, `DELETE FROM roles WHERE realm_id = ? AND client_id = ?`, realmID, id); err != nil {
			return err
		}
		_, err := s.exec(ctx, `DELETE FROM users WHERE realm_id = ? AND service_account = ?`, realmID, id)
		return err
	}), "delete client %s", id)
}

// ---------------------------------------------------------------------------
// Client scopes

const scopeCols = `id, realm_id, name, config`

func scanScope(r scanner) (c store.ClientScope, err error) {
	err = r.Scan(&c.ID, &c.RealmID, &c.Name, rawCol{&c.Config})
	return c, err
}

func (s *Store) CreateClientScope(ctx context.Context, c store.ClientScope) error {
	_, err := s.exec(ctx, `INSERT INTO client_scopes (`+scopeCols+`) VALUES (?, ?, ?, ?)`,
		c.ID, c.RealmID, c.Name, string(c.Config))
	return wrap(err, "create client scope %q", c.Name)
}

func (s *Store) GetClientScope(ctx context.Context, realmID, id string) (store.ClientScope, error) {
	c, err := get(ctx, s, scanScope, `SELECT `+scopeCols+` FROM client_scopes WHERE realm_id = ? AND id = ?`, realmID, id)
	return c, wrap(err, "get client scope %s", id)
}

func (s *Store) ListClientScopes(ctx context.Context, realmID string) ([]store.ClientScope, error) {
	cs, err := list(ctx, s, scanScope, `SELECT `+scopeCols+` FROM client_scopes WHERE realm_id = ? ORDER BY name`, realmID)
	return cs, wrap(err, "list client scopes")
}

func (s *Store) UpdateClientScope(ctx context.Context, c store.ClientScope) error {
	err := s.execOne(ctx, `UPDATE client_scopes SET name = ?, config = ? WHERE realm_id = ? AND id = ?`,
		c.Name, string(c.Config), c.RealmID, c.ID)
	return wrap(err, "update client scope %s", c.ID)
}

func (s *Store) DeleteClientScope(ctx context.Context, realmID, id string) error {
	err := s.execOne(ctx, `DELETE FROM client_scopes WHERE realm_id = ? AND id = ?`, realmID, id)
	return wrap(err, "delete client scope %s", id)
}
