package sqlstore

import (
	"context"

	"github.com/keygate/keygate/store"
)

const componentCols = `id, realm_id, parent_id, name, provider_id, provider_type, sub_type, config`

func scanComponent(r scanner) (c store.Component, err error) {
	err = r.Scan(&c.ID, &c.RealmID, &c.ParentID, &c.Name, &c.ProviderID, &c.ProviderType, &c.SubType, jsonCol{&c.Config})
	return c, err
}

func (s *Store) CreateComponent(ctx context.Context, c store.Component) error {
	_, err := s.exec(ctx, `INSERT INTO components (`+componentCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.RealmID, c.ParentID, c.Name, c.ProviderID, c.ProviderType, c.SubType, jsonText(c.Config))
	return wrap(err, "create component %q", c.Name)
}

func (s *Store) GetComponent(ctx context.Context, realmID, id string) (store.Component, error) {
	c, err := get(ctx, s, scanComponent, `SELECT `+componentCols+` FROM components WHERE realm_id = ? AND id = ?`, realmID, id)
	return c, wrap(err, "get component %s", id)
}

func (s *Store) ListComponents(ctx context.Context, realmID, parentID, providerType string) ([]store.Component, error) {
	cs, err := list(ctx, s, scanComponent, `SELECT `+componentCols+` FROM components WHERE realm_id = ?
		AND (? = '' OR parent_id = ?) AND (? = '' OR provider_type = ?) ORDER BY name, id`,
		realmID, parentID, parentID, providerType, providerType)
	return cs, wrap(err, "list components")
}

func (s *Store) UpdateComponent(ctx context.Context, c store.Component) error {
	err := s.execOne(ctx, `UPDATE components SET parent_id = ?, name = ?, provider_id = ?, provider_type = ?, sub_type = ?,
		config = ? WHERE realm_id = ? AND id = ?`,
		c.ParentID, c.Name, c.ProviderID, c.ProviderType, c.SubType, jsonText(c.Config), c.RealmID, c.ID)
	return wrap(err, "update component %s", c.ID)
}

// DeleteComponent deletes the component and its subtree (an LDAP provider
// and its mappers) in one statement.
func (s *Store) DeleteComponent(ctx context.Context, realmID, id string) error {
	err := s.execOne(ctx, `WITH RECURSIVE sub (id) AS (
			SELECT id FROM components WHERE realm_id = ? AND id = ?
			UNION
			SELECT c.id FROM components c JOIN sub ON c.parent_id = sub.id WHERE c.realm_id = ?
		)
		DELETE FROM components WHERE id IN (SELECT id FROM sub)`, realmID, id, realmID)
	return wrap(err, "delete component %s", id)
}

// ---------------------------------------------------------------------------
// Identity providers

const idpCols = `internal_id, realm_id, alias, provider_id, enabled, config`

func scanIDP(r scanner) (p store.IdentityProvider, err error) {
	err = r.Scan(&p.InternalID, &p.RealmID, &p.Alias, &p.ProviderID, &p.Enabled, rawCol{&p.Config})
	return p, err
}

func (s *Store) CreateIdentityProvider(ctx context.Context, p store.IdentityProvider) error {
	_, err := s.exec(ctx, `INSERT INTO identity_providers (`+idpCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		p.InternalID, p.RealmID, p.Alias, p.ProviderID, p.Enabled, string(p.Config))
	return wrap(err, "create identity provider %q", p.Alias)
}

func (s *Store) GetIdentityProvider(ctx context.Context, realmID, alias string) (store.IdentityProvider, error) {
	p, err := get(ctx, s, scanIDP, `SELECT `+idpCols+` FROM identity_providers WHERE realm_id = ? AND alias = ?`, realmID, alias)
	return p, wrap(err, "get identity provider %q", alias)
}

func (s *Store) ListIdentityProviders(ctx context.Context, realmID string) ([]store.IdentityProvider, error) {
	ps, err := list(ctx, s, scanIDP, `SELECT `+idpCols+` FROM identity_providers WHERE realm_id = ? ORDER BY alias`, realmID)
	return ps, wrap(err, "list identity providers")
}

// UpdateIdentityProvider updates the provider with p's alias.
func (s *Store) UpdateIdentityProvider(ctx context.Context, p store.IdentityProvider) error {
	err := s.execOne(ctx, `UPDATE identity_providers SET provider_id = ?, enabled = ?, config = ? WHERE realm_id = ? AND alias = ?`,
		p.ProviderID, p.Enabled, string(p.Config), p.RealmID, p.Alias)
	return wrap(err, "update identity provider %q", p.Alias)
}

// DeleteIdentityProvider deletes the provider; its mappers cascade.
func (s *Store) DeleteIdentityProvider(ctx context.Context, realmID, alias string) error {
	err := s.execOne(ctx, `DELETE FROM identity_providers WHERE realm_id = ? AND alias = ?`, realmID, alias)
	return wrap(err, "delete identity provider %q", alias)
}

const idpMapperCols = `id, realm_id, alias, name, mapper, config`

func scanIDPMapper(r scanner) (m store.IdentityProviderMapper, err error) {
	err = r.Scan(&m.ID, &m.RealmID, &m.Alias, &m.Name, &m.Mapper, jsonCol{&m.Config})
	return m, err
}

// CreateIdentityProviderMapper stores m; store.ErrNotFound when its provider
// does not exist.
func (s *Store) CreateIdentityProviderMapper(ctx context.Context, m store.IdentityProviderMapper) error {
	_, err := s.exec(ctx, `INSERT INTO identity_provider_mappers (`+idpMapperCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		m.ID, m.RealmID, m.Alias, m.Name, m.Mapper, jsonText(m.Config))
	return wrap(err, "create identity provider mapper %q", m.Name)
}

func (s *Store) ListIdentityProviderMappers(ctx context.Context, realmID, alias string) ([]store.IdentityProviderMapper, error) {
	xs, err := list(ctx, s, scanIDPMapper, `SELECT `+idpMapperCols+` FROM identity_provider_mappers
		WHERE realm_id = ? AND alias = ? ORDER BY name, id`, realmID, alias)
	return xs, wrap(err, "list mappers of identity provider %q", alias)
}

func (s *Store) UpdateIdentityProviderMapper(ctx context.Context, m store.IdentityProviderMapper) error {
	err := s.execOne(ctx, `UPDATE identity_provider_mappers SET alias = ?, name = ?, mapper = ?, config = ?
		WHERE realm_id = ? AND id = ?`, m.Alias, m.Name, m.Mapper, jsonText(m.Config), m.RealmID, m.ID)
	return wrap(err, "update identity provider mapper %s", m.ID)
}

func (s *Store) DeleteIdentityProviderMapper(ctx context.Context, realmID, id string) error {
	err := s.execOne(ctx, `DELETE FROM identity_provider_mappers WHERE realm_id = ? AND id = ?`, realmID, id)
	return wrap(err, "delete identity provider mapper %s", id)
}
