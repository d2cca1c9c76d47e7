package sqlstore

import (
	"context"

	"github.com/keygate/keygate/store"
)

const groupCols = `g.id, g.realm_id, g.parent_id, g.name, g.attributes`

func scanGroup(r scanner) (g store.Group, err error) {
	err = r.Scan(&g.ID, &g.RealmID, &g.ParentID, &g.Name, jsonCol{&g.Attributes})
	return g, err
}

func (s *Store) CreateGroup(ctx context.Context, g store.Group) error {
	_, err := s.exec(ctx, `INSERT INTO groups (id, realm_id, parent_id, name, attributes) VALUES (?, ?, ?, ?, ?)`,
		g.ID, g.RealmID, g.ParentID, g.Name, jsonText(g.Attributes))
	return wrap(err, "create group %q", g.Name)
}

func (s *Store) GetGroup(ctx context.Context, realmID, id string) (store.Group, error) {
	g, err := get(ctx, s, scanGroup, `SELECT `+groupCols+` FROM groups g WHERE g.realm_id = ? AND g.id = ?`, realmID, id)
	return g, wrap(err, "get group %s", id)
}

func (s *Store) ListGroups(ctx context.Context, realmID string) ([]store.Group, error) {
	gs, err := list(ctx, s, scanGroup, `SELECT `+groupCols+` FROM groups g WHERE g.realm_id = ? ORDER BY g.parent_id, g.name`, realmID)
	return gs, wrap(err, "list groups")
}

// UpdateGroup updates name, parent and attributes. It does not check that a
// move keeps the tree acyclic; callers do.
func (s *Store) UpdateGroup(ctx context.Context, g store.Group) error {
	err := s.execOne(ctx, `UPDATE groups SET parent_id = ?, name = ?, attributes = ? WHERE realm_id = ? AND id = ?`,
		g.ParentID, g.Name, jsonText(g.Attributes), g.RealmID, g.ID)
	return wrap(err, "update group %s", g.ID)
}

// DeleteGroup deletes the group and its subtree in one statement; role
// mappings and memberships cascade. UNION (not UNION ALL) ends the recursion
// even if a bad move made a cycle.
func (s *Store) DeleteGroup(ctx context.Context, realmID, id string) error {
	err := s.execOne(ctx, `WITH RECURSIVE sub (id) AS (
			SELECT id FROM groups WHERE realm_id = ? AND id = ?
			UNION
			SELECT g.id FROM groups g JOIN sub ON g.parent_id = sub.id WHERE g.realm_id = ?
		)
		DELETE FROM groups WHERE id IN (SELECT id FROM sub)`, realmID, id, realmID)
	return wrap(err, "delete group %s", id)
}

func (s *Store) GrantGroupRoles(ctx context.Context, realmID, groupID string, roleIDs []string) error {
	err := s.link(ctx, `INSERT INTO group_roles (realm_id, group_id, role_id)
		SELECT g.realm_id, g.id, r.id FROM groups g, roles r
		WHERE g.realm_id = ? AND g.id = ? AND r.id = ? AND r.realm_id = g.realm_id
		ON CONFLICT DO NOTHING`,
		`SELECT 1 FROM group_roles WHERE realm_id = ? AND group_id = ? AND role_id = ?`, realmID, groupID, roleIDs)
	return wrap(err, "grant roles to group %s", groupID)
}

func (s *Store) RevokeGroupRoles(ctx context.Context, realmID, groupID string, roleIDs []string) error {
	err := s.unlink(ctx, `DELETE FROM group_roles WHERE realm_id = ? AND group_id = ? AND role_id = ?`, realmID, groupID, roleIDs)
	return wrap(err, "revoke roles from group %s", groupID)
}

func (s *Store) ListGroupRoles(ctx context.Context, realmID, groupID string) ([]store.Role, error) {
	rs, err := list(ctx, s, scanRole, `SELECT `+roleCols+` FROM group_roles m JOIN roles r ON r.id = m.role_id
		WHERE m.realm_id = ? AND m.group_id = ? ORDER BY r.client_id, r.name`, realmID, groupID)
	return rs, wrap(err, "list roles of group %s", groupID)
}

// ListGroupMembers lists direct members by username; max 0 means no limit.
func (s *Store) ListGroupMembers(ctx context.Context, realmID, groupID string, first, max int) ([]store.User, error) {
	us, err := list(ctx, s, scanUser, `SELECT `+userCols+` FROM user_groups m JOIN users u ON u.id = m.user_id
		WHERE m.realm_id = ? AND m.group_id = ? ORDER BY u.username LIMIT ? OFFSET ?`,
		realmID, groupID, limit(max), offset(first))
	return us, wrap(err, "list members of group %s", groupID)
}
