package oidc

import (
	"context"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// RoleGraph is a read-only view of a realm's roles, composites, clients and
// groups, by id, for authorization decisions in the admin API.
type RoleGraph struct {
	st store.Store
	m  *realmModel
}

// RoleGraph returns realmID's role graph: the cached one (at most a few
// seconds old), or with fresh a graph read from the store now, as checks
// that guard a grant need.
func (p *Provider) RoleGraph(ctx context.Context, realmID string, fresh bool) (*RoleGraph, error) {
	var m *realmModel
	var err error
	if fresh {
		m, err = loadModel(ctx, p.st, realmID)
	} else {
		m, err = p.models.get(ctx, realmID)
	}
	if err != nil {
		return nil, err
	}
	return &RoleGraph{st: p.st, m: m}, nil
}

// Roles calls fn for every role of the realm.
func (g *RoleGraph) Roles(fn func(store.Role)) {
	for _, r := range g.m.roles {
		fn(r)
	}
}

// Role returns the role with this id.
func (g *RoleGraph) Role(id string) (store.Role, bool) {
	r, ok := g.m.roles[id]
	return r, ok
}

// ClientID is the public clientId of the client with internal id; "" for
// realm roles' empty container and unknown clients.
func (g *RoleGraph) ClientID(internalID string) string { return g.m.clientIDs[internalID] }

// Client returns the client with the given public clientId.
func (g *RoleGraph) Client(clientID string) (*Client, bool) {
	c, ok := g.m.clients[clientID]
	return c, ok
}

// RoleID finds a realm role (clientID "") or a client role by its client's
// clientId and its name.
func (g *RoleGraph) RoleID(clientID, name string) string { return g.m.roleID(clientID, name) }

// Expand returns ids and every role they include through composites.
func (g *RoleGraph) Expand(ids []string) map[string]bool { return g.m.expand(ids) }

// GroupRoles is what membership of the groups gives: the roles of the
// groups and of their parents, composites expanded.
func (g *RoleGraph) GroupRoles(ctx context.Context, groupIDs []string) (map[string]bool, error) {
	ids, err := g.m.groupRoleIDs(ctx, g.st, g.m.realmID, groupIDs)
	if err != nil {
		return nil, err
	}
	return g.m.expand(ids), nil
}

// UserRoles is the set of roles a user effectively holds: direct mappings
// and those of their groups and the groups' parents, composites expanded.
func (g *RoleGraph) UserRoles(ctx context.Context, userID string) (map[string]bool, error) {
	realmID := g.m.realmID
	direct, err := g.st.ListUserRoles(ctx, realmID, userID)
	if err != nil {
		return nil, err
	}
	groups, err := g.st.ListUserGroups(ctx, realmID, userID)
	if err != nil {
		return nil, err
	}
	return g.m.effectiveRoleIDs(ctx, g.st, realmID, direct, groups)
}

// InScope reports, as Keycloak's ClientModel.hasScope, which roles client
// clientID may carry: all with fullScopeAllowed, otherwise its own roles
// and the roles scope-mapped to it directly, composites expanded. Client
// scopes do not count, as they do not for Keycloak's admin checks.
func (g *RoleGraph) InScope(s rep.RealmSettings, clientID string) func(roleID string) bool {
	c, ok := g.m.clients[clientID]
	if !ok {
		return func(string) bool { return false }
	}
	if c.Settings.FullScopeAllowed {
		return func(string) bool { return true }
	}
	in := g.m.scopeOf(s, c, nil)
	return func(id string) bool { return in[id] }
}
