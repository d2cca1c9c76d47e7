package oidc

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/keygate/keygate/idp/cachemetrics"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/cache"
)

// realmModel is the slowly-changing part of a realm that every token needs:
// roles and their composites, client ids, client scopes. It is cached per
// realm until the realm's configuration changes (store/cache: a write in
// this process is seen at once, another replica's within the poll
// interval).
type realmModel struct {
	realmID    string
	roles      map[string]store.Role // by id
	byName     map[roleKey]string    // (clientId or "", name) -> role id
	composites map[string][]string   // parent id -> child ids
	clientIDs  map[string]string     // client internal id -> clientId
	clients    map[string]*Client    // clientId -> decoded client
	scopes     map[string]*rep.ClientScope
	groups     map[string]store.Group // by id
	docs       discoveryDocs          // encoded discovery documents, by issuer
	origins    preflightOrigins       // origins the clients admit, by issuer
}

type modelCache struct {
	st store.Store
	c  *cache.Cache[string, *realmModel] // by realm id
}

func newModelCache(st store.Store, v *cache.Versions) *modelCache {
	return &modelCache{st: st, c: cache.New(v, cache.Options[string, *realmModel]{
		Kinds:   cache.Config,
		Observe: cachemetrics.Observer("model"),
	})}
}

// get returns the realm's model; while the store is unavailable, the last
// one loaded (see realmCache).
func (c *modelCache) get(ctx context.Context, realmID string) (*realmModel, error) {
	return c.c.Get(ctx, realmID, func(ctx context.Context) (*realmModel, error) {
		return loadModel(ctx, c.st, realmID)
	})
}

// current returns m, or a freshly loaded model when the user's role or
// group mappings name a role or group m does not know: those were created
// since the counters were last read, by another process (`keygate users
// import`) or replica, and tokens would lack them until the next read.
func (c *modelCache) current(ctx context.Context, realmID string, m *realmModel, direct []store.Role, groups []store.Group) (*realmModel, error) {
	stale := false
	for _, r := range direct {
		if _, ok := m.roles[r.ID]; !ok {
			stale = true
		}
	}
	for _, g := range groups {
		if _, ok := m.groups[g.ID]; !ok {
			stale = true
		}
	}
	if !stale {
		return m, nil
	}
	c.c.Invalidate(realmID)
	return c.get(ctx, realmID)
}

func loadModel(ctx context.Context, st store.Store, realmID string) (*realmModel, error) {
	m := &realmModel{
		realmID: realmID,
		roles:   map[string]store.Role{}, byName: map[roleKey]string{}, composites: map[string][]string{},
		clientIDs: map[string]string{}, clients: map[string]*Client{}, scopes: map[string]*rep.ClientScope{},
		groups: map[string]store.Group{},
	}
	roles, err := st.ListAllRoles(ctx, realmID)
	if err != nil {
		return nil, err
	}
	for _, r := range roles {
		m.roles[r.ID] = r
	}
	pairs, err := st.ListAllRoleComposites(ctx, realmID)
	if err != nil {
		return nil, err
	}
	for _, p := range pairs {
		m.composites[p[0]] = append(m.composites[p[0]], p[1])
	}
	clients, err := st.ListClients(ctx, realmID)
	if err != nil {
		return nil, err
	}
	for _, c := range clients {
		m.clientIDs[c.ID] = c.ClientID
		cr, cs, err := rep.DecodeClient(c)
		if err != nil {
			return nil, fmt.Errorf("client %s: %w", c.ClientID, err)
		}
		m.clients[c.ClientID] = &Client{Row: c, Rep: cr, Settings: cs}
	}
	for id, r := range m.roles {
		m.byName[roleKey{m.clientIDs[r.ClientID], r.Name}] = id
	}
	scopes, err := st.ListClientScopes(ctx, realmID)
	if err != nil {
		return nil, err
	}
	for _, s := range scopes {
		var cs rep.ClientScope
		if err := json.Unmarshal(s.Config, &cs); err != nil {
			return nil, err
		}
		cs.ID, cs.Name = s.ID, s.Name
		m.scopes[s.Name] = &cs
	}
	groups, err := st.ListGroups(ctx, realmID)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		m.groups[g.ID] = g
	}
	return m, nil
}

// expand returns ids plus every role they include, transitively.
func (m *realmModel) expand(ids []string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		for _, c := range m.composites[id] {
			walk(c)
		}
	}
	for _, id := range ids {
		walk(id)
	}
	return seen
}

// groupPath is the group's full path, "/parent/child".
func (m *realmModel) groupPath(id string) string {
	g, ok := m.groups[id]
	if !ok {
		return ""
	}
	if g.ParentID == "" {
		return "/" + g.Name
	}
	return m.groupPath(g.ParentID) + "/" + g.Name
}

// ancestors returns the group and its parents (group roles are inherited).
func (m *realmModel) ancestors(id string) []string {
	var out []string
	for id != "" {
		g, ok := m.groups[id]
		if !ok || len(out) > 64 {
			break
		}
		out = append(out, id)
		id = g.ParentID
	}
	return out
}

// userRoles are a user's effective roles: direct mappings and the roles of
// their groups (and those groups' parents), composites expanded.
type userRoles struct {
	realm  []string            // sorted realm role names
	client map[string][]string // clientId -> sorted role names
}

func (m *realmModel) effectiveRoles(ctx context.Context, st store.Store, realmID string, direct []store.Role, groups []store.Group) (userRoles, error) {
	ids, err := m.effectiveRoleIDs(ctx, st, realmID, direct, groups)
	if err != nil {
		return userRoles{}, err
	}
	out := userRoles{client: map[string][]string{}}
	for id := range ids {
		r, ok := m.roles[id]
		if !ok {
			continue
		}
		if r.ClientID == "" {
			out.realm = append(out.realm, r.Name)
		} else if cid := m.clientIDs[r.ClientID]; cid != "" {
			out.client[cid] = append(out.client[cid], r.Name)
		}
	}
	sort.Strings(out.realm)
	for k := range out.client {
		sort.Strings(out.client[k])
	}
	return out, nil
}

// effectiveRoleIDs is the set of role ids behind effectiveRoles.
func (m *realmModel) effectiveRoleIDs(ctx context.Context, st store.Store, realmID string, direct []store.Role, groups []store.Group) (map[string]bool, error) {
	ids := make([]string, 0, len(direct))
	for _, r := range direct {
		ids = append(ids, r.ID)
	}
	groupIDs := make([]string, 0, len(groups))
	for _, g := range groups {
		groupIDs = append(groupIDs, g.ID)
	}
	gr, err := m.groupRoleIDs(ctx, st, realmID, groupIDs)
	if err != nil {
		return nil, err
	}
	return m.expand(append(ids, gr...)), nil
}

// groupRoleIDs are the roles mapped to the groups or any of their parents
// (members inherit them), composites not expanded.
func (m *realmModel) groupRoleIDs(ctx context.Context, st store.Store, realmID string, groupIDs []string) ([]string, error) {
	var ids []string
	seen := map[string]bool{}
	for _, g := range groupIDs {
		for _, gid := range m.ancestors(g) {
			if seen[gid] {
				continue
			}
			seen[gid] = true
			gr, err := st.ListGroupRoles(ctx, realmID, gid)
			if err != nil {
				return nil, err
			}
			for _, r := range gr {
				ids = append(ids, r.ID)
			}
		}
	}
	return ids, nil
}

// limitToScope applies a client's fullScopeAllowed=false as Keycloak does:
// the token keeps only the user's roles that the client may carry — its own
// client roles, plus roles scope-mapped to the client or to one of its
// applied client scopes (composites expanded on both sides).
func (m *realmModel) limitToScope(ur userRoles, s rep.RealmSettings, c *Client, scopes []*rep.ClientScope) userRoles {
	ok := m.scopeOf(s, c, scopes)
	keep := func(clientID, name string) bool { return ok[m.roleID(clientID, name)] }
	out := userRoles{client: map[string][]string{}}
	for _, n := range ur.realm {
		if keep("", n) {
			out.realm = append(out.realm, n)
		}
	}
	for cid, names := range ur.client {
		for _, n := range names {
			if keep(cid, n) {
				out.client[cid] = append(out.client[cid], n)
			}
		}
	}
	return out
}

// scopeOf is the set of roles client c may carry when it does not have
// full scope: its own roles and those scope-mapped to it or to one of the
// client scopes, composites expanded.
func (m *realmModel) scopeOf(s rep.RealmSettings, c *Client, scopes []*rep.ClientScope) map[string]bool {
	scopeNames := map[string]bool{}
	for _, cs := range scopes {
		scopeNames[cs.Name] = true
	}
	mapped := func(sm rep.ScopeMapping) bool {
		return (sm.Client != "" && sm.Client == c.Row.ClientID) || (sm.ClientScope != "" && scopeNames[sm.ClientScope])
	}
	var allowed []string
	for id, r := range m.roles {
		if r.ClientID == c.Row.ID {
			allowed = append(allowed, id)
		}
	}
	for _, sm := range s.ScopeMappings {
		if mapped(sm) {
			for _, name := range sm.Roles {
				if id := m.roleID("", name); id != "" {
					allowed = append(allowed, id)
				}
			}
		}
	}
	for owner, list := range s.ClientScopeMappings {
		for _, sm := range list {
			if mapped(sm) {
				for _, name := range sm.Roles {
					if id := m.roleID(owner, name); id != "" {
						allowed = append(allowed, id)
					}
				}
			}
		}
	}
	return m.expand(allowed)
}

// roleID finds a realm role (clientID "") or a client role by clientId and name.
func (m *realmModel) roleID(clientID, name string) string {
	return m.byName[roleKey{clientID, name}]
}

type roleKey struct{ clientID, name string }
