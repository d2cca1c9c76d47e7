package sqlstore

import (
	"context"

	"github.com/keygate/keygate/store"
)

const roleCols = `r.id, r.realm_id, r.client_id, r.name, r.description, r.attributes`

func scanRole(r scanner) (x store.Role, err error) {
	err = r.Scan(&x.ID, &x.RealmID, &x.ClientID, &x.Name, &x.Description, jsonCol{&x.Attributes})
	return x, err
}

func (s *Store) CreateRole(ctx context.Context, r store.Role) error {
	_, err := s.exec(ctx, `INSERT INTO roles (id, realm_id, client_id, name, description, attributes) VALUES (?, ?, ?, ?, ?, ?)`,
		r.ID, r.RealmID, r.ClientID, r.Name, r.Description, jsonText(r.Attributes))
	return wrap(err, "create role %q", r.Name)
}

func (s *Store) GetRole(ctx context.Context, realmID, id string) (store.Role, error) {
	r, err := get(ctx, s, scanRole, `SELECT `+roleCols+` FROM roles r WHERE r.realm_id = ? AND r.id = ?`, realmID, id)
	return r, wrap(err, "get role %s", id)
}

func (s *Store) GetRoleByName(ctx context.Context, realmID, clientID, name string) (store.Role, error) {
	r, err := get(ctx, s, scanRole, `SELECT `+roleCols+` FROM roles r WHERE r.realm_id = ? AND r.client_id = ? AND r.name = ?`,
		realmID, clientID, name)
	return r, wrap(err, "get role %q", name)
}

func (s *Store) ListRoles(ctx context.Context, realmID, clientID string) ([]store.Role, error) {
	rs, err := list(ctx, s, scanRole, `SELECT `+roleCols+` FROM roles r WHERE r.realm_id = ? AND r.client_id = ? ORDER BY r.name`,
		realmID, clientID)
	return rs, wrap(err, "list roles")
}

func (s *Store) ListAllRoles(ctx context.Context, realmID string) ([]store.Role, error) {
	rs, err := list(ctx, s, scanRole, `SELECT `+roleCols+` FROM roles r WHERE r.realm_id = ? ORDER BY r.client_id, r.name`, realmID)
	return rs, wrap(err, "list all roles")
}

// UpdateRole updates name, description and attributes; a role cannot move
// between realm and clients.
func (s *Store) UpdateRole(ctx context.Context, r store.Role) error {
	err := s.execOne(ctx, `UPDATE roles SET name = ?, description = ?, attributes = ? WHERE realm_id = ? AND id = ?`,
		r.Name, r.Description, jsonText(r.Attributes), r.RealmID, r.ID)
	return wrap(err, "update role %s", r.ID)
}

func (s *Store) DeleteRole(ctx context.Context, realmID, id string) error {
	err := s.execOne(ctx, `DELETE FROM roles WHERE realm_id = ? AND id = ?`, realmID, id)
	return wrap(err, "delete role %s", id)
}

// AddRoleComposites is idempotent; store.ErrNotFound when a role is not in
// the realm.
func (s *Store) AddRoleComposites(ctx context.Context, realmID, parentID string, childIDs []string) error {
	err := s.link(ctx, `INSERT INTO role_composites (realm_id, parent_id, child_id)
		SELECT p.realm_id, p.id, c.id FROM roles p, roles c
		WHERE p.realm_id = ? AND p.id = ? AND c.id = ? AND c.realm_id = p.realm_id
		ON CONFLICT DO NOTHING`,
		`SELECT 1 FROM role_composites WHERE realm_id = ? AND parent_id = ? AND child_id = ?`, realmID, parentID, childIDs)
	return wrap(err, "add composites to role %s", parentID)
}

func (s *Store) RemoveRoleComposites(ctx context.Context, realmID, parentID string, childIDs []string) error {
	err := s.unlink(ctx, `DELETE FROM role_composites WHERE realm_id = ? AND parent_id = ? AND child_id = ?`,
		realmID, parentID, childIDs)
	return wrap(err, "remove composites from role %s", parentID)
}

func (s *Store) ListRoleComposites(ctx context.Context, realmID, parentID string) ([]store.Role, error) {
	rs, err := list(ctx, s, scanRole, `SELECT `+roleCols+` FROM role_composites m JOIN roles r ON r.id = m.child_id
		WHERE m.realm_id = ? AND m.parent_id = ? ORDER BY r.client_id, r.name`, realmID, parentID)
	return rs, wrap(err, "list composites of role %s", parentID)
}

func (s *Store) ListRoleMembers(ctx context.Context, realmID, roleID string, first, max int) ([]store.User, error) {
	us, err := list(ctx, s, scanUser, `SELECT `+userCols+` FROM user_roles m JOIN users u ON u.id = m.user_id
		WHERE m.realm_id = ? AND m.role_id = ? ORDER BY u.username LIMIT ? OFFSET ?`,
		realmID, roleID, limit(max), offset(first))
	return us, wrap(err, "list members of role %s", roleID)
}

func (s *Store) ListAllRoleComposites(ctx context.Context, realmID string) ([][2]string, error) {
	ps, err := list(ctx, s, func(r scanner) (p [2]string, err error) {
		err = r.Scan(&p[0], &p[1])
		return p, err
	}, `SELECT parent_id, child_id FROM role_composites WHERE realm_id = ? ORDER BY parent_id, child_id`, realmID)
	return ps, wrap(err, "list role composites")
}
