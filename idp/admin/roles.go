package admin

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// container is the owner of the roles a route is about: the realm, or the
// client named by {client}.
type container struct {
	clientID string       // internal id, "" for realm roles
	client   store.Client // when clientID != ""
}

func (a *API) container(c *call) (container, error) {
	if c.r.PathValue("client") == "" {
		return container{}, nil
	}
	cl, err := a.client(c)
	return container{clientID: cl.ID, client: cl}, err
}

// roleReps shows roles with their composite flag.
func (a *API) roleReps(ctx context.Context, realmID string, roles []store.Role) ([]rep.Role, error) {
	pairs, err := a.st.ListAllRoleComposites(ctx, realmID)
	if err != nil {
		return nil, err
	}
	parents := map[string]bool{}
	for _, p := range pairs {
		parents[p[0]] = true
	}
	out := make([]rep.Role, 0, len(roles))
	for _, r := range roles {
		rr := rep.RoleFromStore(r, realmID)
		rr.Composite = parents[r.ID]
		out = append(out, rr)
	}
	return out, nil
}

func (a *API) listRoles(c *call) error {
	ct, err := a.container(c)
	if err != nil {
		return err
	}
	roles, err := a.st.ListRoles(c.ctx, c.realm.ID, ct.clientID)
	if err != nil {
		return err
	}
	if s := strings.ToLower(c.r.URL.Query().Get("search")); s != "" {
		roles = slices.DeleteFunc(roles, func(r store.Role) bool { return !strings.Contains(strings.ToLower(r.Name), s) })
	}
	first, max, err := c.page(0)
	if err != nil {
		return err
	}
	out, err := a.roleReps(c.ctx, c.realm.ID, window(roles, first, max))
	if err != nil {
		return err
	}
	if c.flag("briefRepresentation", true) {
		for i := range out {
			out[i].Attributes = nil
		}
	}
	return c.ok(out)
}

// targetRole is the role a route names: /roles/{role}, a client's
// /roles/{role}, or /roles-by-id/{roleid}. The by-id routes only require
// some admin role; a write through them needs manage-realm for a realm
// role and manage-clients for a client role, checked here.
func (a *API) targetRole(c *call, write bool) (store.Role, error) {
	r, err := a.findTargetRole(c, write)
	if err == nil && write {
		err = a.mayChangeRole(c, r)
	}
	return r, err
}

func (a *API) findTargetRole(c *call, write bool) (store.Role, error) {
	if c.r.PathValue("roleid") == "" {
		ct, err := a.container(c)
		if err != nil {
			return store.Role{}, err
		}
		r, err := a.st.GetRoleByName(c.ctx, c.realm.ID, ct.clientID, c.r.PathValue("role"))
		if errors.Is(err, store.ErrNotFound) {
			return r, notFound("Could not find role")
		}
		return r, err
	}
	id, err := c.id("roleid", "Could not find role with id")
	if err != nil {
		return store.Role{}, err
	}
	r, err := a.st.GetRole(c.ctx, c.realm.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return r, notFound("Could not find role with id")
	} else if err != nil {
		return r, err
	}
	need := manageRealm
	if r.ClientID != "" {
		need = manageClients
		if cl, err := a.st.GetClient(c.ctx, c.realm.ID, r.ClientID); err != nil {
			return r, err
		} else if write {
			if err := a.mayChangeClient(c, cl); err != nil {
				return r, err
			}
		}
	}
	if write && !c.caller.may(need, c.realm.Name) {
		return r, errForbidden
	}
	return r, nil // any admin may read roles, as GET /roles allows
}

func (a *API) getRole(c *call) error {
	r, err := a.targetRole(c, false)
	if err != nil {
		return err
	}
	out, err := a.roleReps(c.ctx, c.realm.ID, []store.Role{r})
	if err != nil {
		return err
	}
	return c.ok(out[0])
}

func roleConflict(name string) error { return conflict("Role with name " + name + " already exists") }

func (a *API) createRole(c *call) error {
	ct, err := a.container(c)
	if err != nil {
		return err
	}
	var in rep.Role
	if err := c.body(&in, maxBody); err != nil {
		return err
	}
	if strings.TrimSpace(in.Name) == "" {
		return fieldError("name", "Role name is missing")
	}
	r := rep.RoleToStore(c.realm.ID, ct.clientID, in)
	r.ID = uuid.NewString()
	if err := a.st.CreateRole(c.ctx, r); errors.Is(err, store.ErrConflict) {
		return roleConflict(r.Name)
	} else if err != nil {
		return err
	}
	return c.created(r.Name)
}

func (a *API) updateRole(c *call) error {
	r, err := a.targetRole(c, true)
	if err != nil {
		return err
	}
	in := rep.RoleFromStore(r, c.realm.ID)
	if err := c.body(&in, maxBody); err != nil {
		return err
	}
	if strings.TrimSpace(in.Name) == "" {
		return fieldError("name", "Role name is missing")
	}
	if in.Name != r.Name {
		// The default role, scope mappings and mappers name roles: taking
		// over a name hands out what the role includes.
		if err := a.mayGrant(c, []string{r.ID}, nil); err != nil {
			return err
		}
	}
	r.Name, r.Description, r.Attributes = in.Name, in.Description, in.Attributes
	if err := a.st.UpdateRole(c.ctx, r); errors.Is(err, store.ErrConflict) {
		return roleConflict(r.Name)
	} else if err != nil {
		return err
	}
	return c.noContent()
}

func (a *API) deleteRole(c *call) error {
	r, err := a.targetRole(c, true)
	if err != nil {
		return err
	}
	if _, s, err := rep.DecodeRealm(c.realm); err != nil {
		return err
	} else if r.ClientID == "" && r.Name == s.DefaultRole {
		return badRequest("You cannot delete a default role")
	}
	if err := a.st.DeleteRole(c.ctx, c.realm.ID, r.ID); err != nil {
		return err
	}
	return c.noContent()
}

// ---- composite roles

type compositeView int

const (
	allComposites compositeView = iota
	realmComposites
	clientComposites // of the client {ofclient}
)

// listComposites serves a role's composites: all, the realm roles, or one
// client's roles among them.
func (a *API) listComposites(view compositeView) handler {
	return func(c *call) error {
		parent, err := a.targetRole(c, false)
		if err != nil {
			return err
		}
		kids, err := a.st.ListRoleComposites(c.ctx, c.realm.ID, parent.ID)
		if err != nil {
			return err
		}
		switch view {
		case realmComposites:
			kids = slices.DeleteFunc(kids, func(r store.Role) bool { return r.ClientID != "" })
		case clientComposites:
			of, err := a.clientAt(c, "ofclient")
			if err != nil {
				return err
			}
			kids = slices.DeleteFunc(kids, func(r store.Role) bool { return r.ClientID != of.ID })
		}
		out, err := a.roleReps(c.ctx, c.realm.ID, kids)
		if err != nil {
			return err
		}
		return c.ok(out)
	}
}

// changeComposites adds or removes the roles the body lists (by id; or a
// realm role by name, or a client role by name with containerId).
func (a *API) changeComposites(add bool) handler {
	return func(c *call) error {
		parent, err := a.targetRole(c, true)
		if err != nil {
			return err
		}
		var in []rep.Role
		if err := c.body(&in, maxBody); err != nil {
			return err
		}
		ids := make([]string, 0, len(in))
		for _, r := range in {
			var child store.Role
			switch {
			case r.ID != "":
				child, err = a.st.GetRole(c.ctx, c.realm.ID, r.ID)
			case r.ClientRole:
				child, err = a.st.GetRoleByName(c.ctx, c.realm.ID, r.ContainerID, r.Name)
			default:
				child, err = a.st.GetRoleByName(c.ctx, c.realm.ID, "", r.Name)
			}
			if errors.Is(err, store.ErrNotFound) {
				return notFound("Could not find composite role")
			} else if err != nil {
				return err
			}
			if add && child.ID == parent.ID {
				return badRequest("A role cannot be its own composite")
			}
			ids = append(ids, child.ID)
		}
		if add {
			// Whoever holds parent (users, groups, the default role, other
			// composites) gains the children.
			if err := a.mayGrant(c, ids, nil); err != nil {
				return err
			}
			err = a.st.AddRoleComposites(c.ctx, c.realm.ID, parent.ID, ids)
		} else {
			err = a.st.RemoveRoleComposites(c.ctx, c.realm.ID, parent.ID, ids)
		}
		if err != nil && !(errors.Is(err, store.ErrNotFound) && !add) {
			return err
		}
		return c.noContent()
	}
}

// roleMembers is GET .../roles/{role}/users: the users the role is mapped
// to directly.
func (a *API) roleMembers(c *call) error {
	r, err := a.targetRole(c, false)
	if err != nil {
		return err
	}
	first, max, err := c.page(defaultMax)
	if err != nil {
		return err
	}
	users, err := a.st.ListRoleMembers(c.ctx, c.realm.ID, r.ID, first, max)
	if err != nil {
		return err
	}
	return c.users(users)
}

// ---- role mappings of users and groups

// owner is who holds role mappings: a user ({id}) or a group ({group}).
type owner struct {
	direct    func(ctx context.Context) ([]store.Role, error)
	grant     func(ctx context.Context, roleIDs []string) error
	revoke    func(ctx context.Context, roleIDs []string) error
	effective func(ctx context.Context) (realm []string, client map[string][]string, err error)
}

func (a *API) owner(c *call) (owner, error) {
	realmID := c.realm.ID
	if c.r.PathValue("id") != "" {
		u, err := a.user(c)
		return owner{
			direct: func(ctx context.Context) ([]store.Role, error) { return a.st.ListUserRoles(ctx, realmID, u.ID) },
			grant:  func(ctx context.Context, ids []string) error { return a.st.GrantUserRoles(ctx, realmID, u.ID, ids) },
			revoke: func(ctx context.Context, ids []string) error { return a.st.RevokeUserRoles(ctx, realmID, u.ID, ids) },
			effective: func(ctx context.Context) ([]string, map[string][]string, error) {
				return a.p.UserRoles(ctx, realmID, u.ID)
			},
		}, err
	}
	g, err := a.group(c)
	direct := func(ctx context.Context) ([]store.Role, error) { return a.st.ListGroupRoles(ctx, realmID, g.ID) }
	return owner{
		direct: direct,
		grant:  func(ctx context.Context, ids []string) error { return a.st.GrantGroupRoles(ctx, realmID, g.ID, ids) },
		revoke: func(ctx context.Context, ids []string) error { return a.st.RevokeGroupRoles(ctx, realmID, g.ID, ids) },
		// As Keycloak's GroupModel.hasRole: a group holds what its parents
		// hold, as its members do.
		effective: func(ctx context.Context) ([]string, map[string][]string, error) {
			roles, err := a.lineageRoles(ctx, realmID, g)
			if err != nil {
				return nil, nil, err
			}
			expanded, err := a.expand(ctx, realmID, roles)
			if err != nil {
				return nil, nil, err
			}
			return a.roleNames(ctx, realmID, expanded)
		},
	}, err
}

// lineageRoles are the roles mapped directly to g and to each of its
// ancestors.
func (a *API) lineageRoles(ctx context.Context, realmID string, g store.Group) ([]store.Role, error) {
	var out []store.Role
	seen := map[string]bool{}
	for depth := 0; depth < 64 && !seen[g.ID]; depth++ { // bounded against a corrupt cycle
		seen[g.ID] = true
		roles, err := a.st.ListGroupRoles(ctx, realmID, g.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, roles...)
		if g.ParentID == "" {
			break
		}
		if g, err = a.st.GetGroup(ctx, realmID, g.ParentID); errors.Is(err, store.ErrNotFound) {
			break // a parent deleted meanwhile takes its roles with it
		} else if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// expand adds every role roles include through composites.
func (a *API) expand(ctx context.Context, realmID string, roles []store.Role) ([]store.Role, error) {
	all, err := a.st.ListAllRoles(ctx, realmID)
	if err != nil {
		return nil, err
	}
	pairs, err := a.st.ListAllRoleComposites(ctx, realmID)
	if err != nil {
		return nil, err
	}
	kids := map[string][]string{}
	for _, p := range pairs {
		kids[p[0]] = append(kids[p[0]], p[1])
	}
	seen := map[string]bool{}
	var walk func(id string)
	walk = func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		for _, k := range kids[id] {
			walk(k)
		}
	}
	for _, r := range roles {
		walk(r.ID)
	}
	return slices.DeleteFunc(all, func(r store.Role) bool { return !seen[r.ID] }), nil
}

type mappingView int

const (
	direct mappingView = iota
	effective
	available
)

// listMappings serves the realm or client role mappings of a user or group:
// direct, effective (composites and groups expanded) or available (the
// container's roles not effectively held).
func (a *API) listMappings(view mappingView) handler {
	return func(c *call) error {
		o, err := a.owner(c)
		if err != nil {
			return err
		}
		ct, err := a.container(c)
		if err != nil {
			return err
		}
		var roles []store.Role
		if view == direct {
			if roles, err = o.direct(c.ctx); err != nil {
				return err
			}
			roles = slices.DeleteFunc(roles, func(r store.Role) bool { return r.ClientID != ct.clientID })
		} else {
			realmNames, clientNames, err := o.effective(c.ctx)
			if err != nil {
				return err
			}
			held := realmNames
			if ct.clientID != "" {
				held = clientNames[ct.client.ClientID]
			}
			if roles, err = a.st.ListRoles(c.ctx, c.realm.ID, ct.clientID); err != nil {
				return err
			}
			roles = slices.DeleteFunc(roles, func(r store.Role) bool { return slices.Contains(held, r.Name) == (view == available) })
		}
		out, err := a.roleReps(c.ctx, c.realm.ID, roles)
		if err != nil {
			return err
		}
		return c.ok(out)
	}
}

// allMappings is GET /users/{id}/role-mappings and
// /groups/{group}/role-mappings: the direct mappings.
func (a *API) allMappings(c *call) error {
	o, err := a.owner(c)
	if err != nil {
		return err
	}
	roles, err := o.direct(c.ctx)
	if err != nil {
		return err
	}
	return a.mappingsRep(c, roles)
}

// mappingsRep answers roles as Keycloak's MappingsRepresentation:
// realmMappings, and clientMappings keyed by clientId (each omitted when
// empty), as user, group and scope role mappings show them.
func (a *API) mappingsRep(c *call, roles []store.Role) error {
	reps, err := a.roleReps(c.ctx, c.realm.ID, roles)
	if err != nil {
		return err
	}
	out := map[string]any{}
	realm := []rep.Role{}
	clients := map[string]map[string]any{}
	for i, r := range roles {
		if r.ClientID == "" {
			realm = append(realm, reps[i])
			continue
		}
		cl, err := a.st.GetClient(c.ctx, c.realm.ID, r.ClientID)
		if err != nil {
			return err
		}
		m := clients[cl.ClientID]
		if m == nil {
			m = map[string]any{"id": cl.ID, "client": cl.ClientID, "mappings": []rep.Role{}}
			clients[cl.ClientID] = m
		}
		m["mappings"] = append(m["mappings"].([]rep.Role), reps[i])
	}
	if len(realm) > 0 {
		out["realmMappings"] = realm
	}
	if len(clients) > 0 {
		out["clientMappings"] = clients
	}
	return c.ok(out)
}

// bodyRoles resolves the request body's role list (each by id, or by name)
// among the roles of clientID ("" for realm roles).
func (a *API) bodyRoles(c *call, clientID string) ([]store.Role, error) {
	var in []rep.Role
	if err := c.body(&in, maxBody); err != nil {
		return nil, err
	}
	out := make([]store.Role, 0, len(in))
	for _, r := range in {
		var role store.Role
		var err error
		if r.ID != "" {
			role, err = a.st.GetRole(c.ctx, c.realm.ID, r.ID)
			if err == nil && role.ClientID != clientID {
				err = store.ErrNotFound
			}
		} else {
			role, err = a.st.GetRoleByName(c.ctx, c.realm.ID, clientID, r.Name)
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("Role not found")
		} else if err != nil {
			return nil, err
		}
		out = append(out, role)
	}
	return out, nil
}

// changeMappings adds or removes the roles the body lists (by id, or by
// name within the container).
func (a *API) changeMappings(add bool) handler {
	return func(c *call) error {
		o, err := a.owner(c)
		if err != nil {
			return err
		}
		ct, err := a.container(c)
		if err != nil {
			return err
		}
		roles, err := a.bodyRoles(c, ct.clientID)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(roles))
		for _, role := range roles {
			ids = append(ids, role.ID)
		}
		if add {
			if err := a.mayGrant(c, ids, nil); err != nil {
				return err
			}
			err = o.grant(c.ctx, ids)
		} else {
			err = o.revoke(c.ctx, ids)
		}
		if err != nil && !(errors.Is(err, store.ErrNotFound) && !add) {
			return err
		}
		return c.noContent()
	}
}
