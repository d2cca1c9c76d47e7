package admin

import (
	"errors"
	"slices"
	"strings"

	"github.com/keygate/keygate/federation/ldap"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// No escalation. A caller may give away only the admin rights it holds
// itself, whatever the path: user and group role mappings, composites,
// group membership, scope mappings, the mappers of identity providers and
// user federation. Every such write passes mayGrant, which compares the
// effective closure of what is granted (composites expanded; a group's
// roles with its parents') with what the caller effectively holds, by role
// id. And a caller may not take over an account (or a client's service
// account) that holds admin rights it lacks: every write to a user or a
// client passes mayManageUser (guardTarget applies it centrally).

// realmClientSuffix names the master realm's per-realm admin clients.
const realmClientSuffix = rep.RealmClientSuffix

// adminClient reports whether clientID is an admin client of realm (see
// rep.AdminClient).
func adminClient(realm, clientID string) bool { return rep.AdminClient(realm, clientID) }

// privilegedClient reports whether only a server admin may change client
// clientID of realm (see rep.PrivilegedClient).
func privilegedClient(realm, clientID string) bool { return rep.PrivilegedClient(realm, clientID) }

// adminRole reports whether r is an admin role: master's realm roles admin
// and create-realm, or a role of an admin client (clientID is its client's
// clientId).
func adminRole(realm string, r store.Role, clientID string) bool {
	if r.ClientID == "" {
		return realm == masterRealm && (r.Name == "admin" || r.Name == "create-realm")
	}
	return adminClient(realm, clientID)
}

// holds reports whether the caller holds admin role id of realm (g is that
// realm's graph): by id in its own realm; from master, through the
// "<realm>-realm" role of the same name.
func (c *caller) holds(realm store.Realm, g *oidc.RoleGraph, id string) bool {
	if c.serverAdmin {
		return true
	}
	if realm.ID == c.realmID {
		return c.held[id]
	}
	r, ok := g.Role(id)
	return ok && g.ClientID(r.ClientID) == mgmtClient && c.mgmt[realm.Name][r.Name]
}

// covers fails unless the caller holds every admin role among ids.
func (a *API) covers(c *call, g *oidc.RoleGraph, ids map[string]bool) error {
	for id := range ids {
		r, ok := g.Role(id)
		if ok && adminRole(c.realm.Name, r, g.ClientID(r.ClientID)) && !c.caller.holds(c.realm, g, id) {
			return errForbidden
		}
	}
	return nil
}

// mayGrant is the one check for every write that gives someone roles:
// roleIDs with their composites, and membership of groupIDs with the roles
// of those groups and their parents. It reads the realm's roles afresh, so
// a composite added a moment ago on another replica counts.
func (a *API) mayGrant(c *call, roleIDs, groupIDs []string) error {
	if c.caller.serverAdmin || (len(roleIDs) == 0 && len(groupIDs) == 0) {
		return nil
	}
	g, err := a.p.RoleGraph(c.ctx, c.realm.ID, true)
	if err != nil {
		return err
	}
	granted := g.Expand(roleIDs)
	if len(groupIDs) > 0 {
		gr, err := g.GroupRoles(c.ctx, groupIDs)
		if err != nil {
			return err
		}
		for id := range gr {
			granted[id] = true
		}
	}
	return a.covers(c, g, granted)
}

// mayManageUser fails unless the caller holds every admin role user
// userID holds: changing an account (its password, roles, groups,
// sessions, lockout) or its client would otherwise take its rights.
func (a *API) mayManageUser(c *call, userID string) error {
	if c.caller.serverAdmin {
		return nil
	}
	g, err := a.p.RoleGraph(c.ctx, c.realm.ID, true)
	if err != nil {
		return err
	}
	held, err := g.UserRoles(c.ctx, userID)
	if err != nil {
		return err
	}
	return a.covers(c, g, held)
}

// mayChangeClient fails unless the caller may change client row: only a
// server admin changes a privileged client, and only someone who outranks
// a client's service account changes that client (its secret, redirects
// or flows would hand over the account's rights).
func (a *API) mayChangeClient(c *call, row store.Client) error {
	if c.caller.serverAdmin {
		return nil
	}
	if privilegedClient(c.realm.Name, row.ClientID) {
		return errForbidden
	}
	sa, err := a.st.GetServiceAccountUser(c.ctx, c.realm.ID, row.ID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	return a.mayManageUser(c, sa.ID)
}

// mayChangeRole fails unless the caller may rename, delete or change the
// composites of role r: the built-in admin roles change only by a server
// admin.
func (a *API) mayChangeRole(c *call, r store.Role) error {
	if c.caller.serverAdmin {
		return nil
	}
	clientID := ""
	if r.ClientID != "" {
		cl, err := a.st.GetClient(c.ctx, c.realm.ID, r.ClientID)
		if err != nil {
			return err
		}
		clientID = cl.ClientID
	}
	if adminRole(c.realm.Name, r, clientID) {
		return errForbidden
	}
	return nil
}

// guardTarget applies, to every write, the checks that follow from what
// it writes to rather than from the route's permission: a user (the
// routes under /users/{id}, brute-force unlock included) must not
// outrank the caller, nor a client's service account; privileged clients
// change only by a server admin. Reading a client's secret counts as a
// write, since the secret is the service account's password.
func (a *API) guardTarget(c *call) error {
	if c.caller.serverAdmin || c.realm.ID == "" {
		return nil
	}
	p := c.r.Pattern
	write := c.r.Method != "GET" || strings.HasSuffix(p, "/client-secret")
	if !write {
		return nil
	}
	_, p, _ = strings.Cut(p, "/admin/realms/{realm}")
	if strings.HasPrefix(p, "/users/{id}") || strings.HasPrefix(p, "/attack-detection/brute-force/users/{id}") {
		u, err := a.user(c)
		if err != nil {
			return err
		}
		if err := a.mayManageUser(c, u.ID); err != nil {
			return err
		}
	}
	if strings.HasPrefix(p, "/clients/{client}") {
		row, err := a.client(c)
		if err != nil {
			return err
		}
		return a.mayChangeClient(c, row)
	}
	return nil
}

// mayMapperGrant checks what a user-federation or identity-provider mapper
// would give the users it maps, with mayGrant: the role named by "role"
// (Keycloak's role string, "role" or "clientId.role"), the group at path
// "group", every role an LDAP role mapper may map into (its client's, or
// the realm roles), and every group under an LDAP group mapper's path.
// A role or group that does not exist is a 400: one created later under
// that name would be granted unchecked.
func (a *API) mayMapperGrant(c *call, providerID string, config map[string][]string) error {
	g, err := a.p.RoleGraph(c.ctx, c.realm.ID, true)
	if err != nil {
		return err
	}
	var roles, groups []string
	for _, s := range config["role"] {
		if s == "" {
			continue
		}
		ids := roleStringIDs(g, s)
		if len(ids) == 0 {
			return badRequest("Role " + s + " not found")
		}
		roles = append(roles, ids...)
	}
	if paths := slices.DeleteFunc(slices.Clone(config["group"]), func(p string) bool { return p == "" }); len(paths) > 0 {
		ids, err := a.groupIDsByPath(c.ctx, c.realm.ID, paths)
		if err != nil {
			return err
		}
		groups = append(groups, ids...)
	}
	switch providerID {
	case "role-ldap-mapper":
		container := ""
		if clientID, realm := ldap.RoleMapperClient(config); !realm {
			cl, ok := g.Client(clientID)
			if !ok {
				return badRequest("Client " + clientID + " not found")
			}
			// The mapper creates the directory's roles its client lacks:
			// in an admin client, admin roles no check has seen, which
			// only a server admin adds (mayChangeClient).
			if adminClient(c.realm.Name, clientID) && !c.caller.serverAdmin {
				return errForbidden
			}
			container = cl.Row.ID
		}
		g.Roles(func(r store.Role) {
			if r.ClientID == container {
				roles = append(roles, r.ID)
			}
		})
	case "group-ldap-mapper":
		t, err := a.tree(c.ctx, c.realm.ID)
		if err != nil {
			return err
		}
		root := ldap.GroupsPath(config)
		for id, p := range t.paths {
			if root == "" || p == root || strings.HasPrefix(p, root+"/") {
				groups = append(groups, id)
			}
		}
	}
	return a.mayGrant(c, roles, groups)
}

// roleStringIDs resolves a Keycloak role string as KeycloakModelUtils
// does, every way it can be read: a realm role named s, or for each dot,
// the client role after it of the client before it.
func roleStringIDs(g *oidc.RoleGraph, s string) []string {
	var ids []string
	if id := g.RoleID("", s); id != "" {
		ids = append(ids, id)
	}
	for i := range len(s) {
		if s[i] == '.' {
			if id := g.RoleID(s[:i], s[i+1:]); id != "" {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
