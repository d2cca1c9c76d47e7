package admin

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// perm is what a route needs.
type perm int

const (
	anyRole     perm = iota // any admin role in the target realm
	createRealm             // create realms: master admin or master create-realm
	viewRealm
	manageRealm
	viewUsers
	manageUsers
	viewClients
	manageClients
	viewIDPs
	manageIDPs
	viewEvents
	manageEvents
)

// roleGrants maps realm-management client roles to what they allow;
// composites (realm-admin includes the rest) are already expanded by
// Provider.UserRoles, and realm-admin is listed anyway for realms whose
// composite was edited.
var roleGrants = map[string][]perm{
	"realm-admin":               {viewRealm, manageRealm, viewUsers, manageUsers, viewClients, manageClients, viewIDPs, manageIDPs, viewEvents, manageEvents},
	"manage-events":             {viewEvents, manageEvents},
	"view-events":               {viewEvents},
	"manage-realm":              {viewRealm, manageRealm},
	"view-realm":                {viewRealm},
	"manage-users":              {viewUsers, manageUsers},
	"view-users":                {viewUsers},
	"manage-clients":            {viewClients, manageClients},
	"view-clients":              {viewClients},
	"manage-identity-providers": {viewIDPs, manageIDPs},
	"view-identity-providers":   {viewIDPs},
}

const (
	masterRealm = "master"
	mgmtClient  = rep.MgmtClient
)

// caller is the authenticated user behind the bearer token.
type caller struct {
	token       *oidc.TokenInfo
	realmName   string // the realm that issued the token
	realmID     string
	serverAdmin bool // master realm role "admin": everything everywhere
	canCreate   bool // master realm role "create-realm"
	// held are the roles (by id) the caller effectively holds in its own
	// realm, limited to what the token's client has in scope.
	held map[string]bool
	// mgmt maps a realm name to the management role names the caller holds
	// for it: its own realm's realm-management roles and, for a master
	// user, the roles of master's "<realm>-realm" clients. Admin role names
	// are immutable (only a server admin may rename them), so a name here
	// always means the built-in role.
	mgmt map[string]map[string]bool
}

// may reports whether the caller holds p in realm (a realm name).
func (c *caller) may(p perm, realm string) bool {
	switch {
	case c.serverAdmin:
		return true
	case p == createRealm:
		return c.canCreate
	}
	names := c.mgmt[realm]
	if p == anyRole {
		return len(names) > 0
	}
	for n := range names {
		if slices.Contains(roleGrants[n], p) {
			return true
		}
	}
	return false
}

var (
	errUnauthorized = &apiError{status: http.StatusUnauthorized, body: map[string]any{"error": "HTTP 401 Unauthorized"}}
	errForbidden    = &apiError{status: http.StatusForbidden, body: map[string]any{"error": "HTTP 403 Forbidden"}}
)

// authorize authenticates the request's bearer token, loads the target
// realm (from the store: a disabled realm stays manageable from master)
// and checks that the caller may do need there. Like Keycloak it answers
// 401 before 404 before 403; a caller without rights in another realm gets
// 403 whether or not that realm exists.
func (a *API) authorize(c *call, need perm) error {
	who, err := a.authenticate(c.r)
	if err != nil {
		return err
	}
	c.caller = who
	name := c.r.PathValue("realm")
	if name == "" {
		if !who.may(need, "") && need != anyRole {
			return errForbidden
		}
		return nil
	}
	if !who.may(anyRole, name) {
		return errForbidden
	}
	if c.realm, err = a.realmByName(c, name); err != nil {
		return err
	}
	if !who.may(need, name) {
		return errForbidden
	}
	return nil
}

// fullRoleClients are the clients whose tokens stand for all of their
// user's roles in the admin API (rep.FullRoleClients); any other client's
// token counts only the roles the client has in scope.
var fullRoleClients = rep.FullRoleClients

// authenticate verifies the bearer token against the realm that issued it
// (read from its unverified `iss`; the signature check by that realm's keys
// is what makes it trustworthy) and computes the caller's rights from the
// roles the store gives the user now, not from the token's claims (admin-cli
// has fullScopeAllowed=false, so its tokens carry few roles), by role id.
func (a *API) authenticate(r *http.Request) (*caller, error) {
	header := r.Header.Get("Authorization")
	return a.auth.callers.Get(r.Context(), header, func(ctx context.Context) (*caller, error) {
		return a.loadCaller(r, header)
	})
}

// loadCaller is authenticate's work, done once per token and change.
func (a *API) loadCaller(r *http.Request, header string) (*caller, error) {
	realmName := oidc.IssuerRealm(header)
	if realmName == "" {
		return nil, errUnauthorized
	}
	ti, err := a.p.VerifyBearer(r, realmName)
	if errors.Is(err, store.ErrUnavailable) {
		return nil, err // 503: the token may be fine
	} else if err != nil {
		return nil, errUnauthorized
	}
	ctx := r.Context()
	g, err := a.p.RoleGraph(ctx, ti.Realm.Row.ID, false)
	if err != nil {
		return nil, err
	}
	held, err := g.UserRoles(ctx, ti.UserID)
	if err != nil {
		return nil, err
	}
	for id := range held {
		if _, ok := g.Role(id); !ok { // created since the graph was cached
			if g, err = a.p.RoleGraph(ctx, ti.Realm.Row.ID, true); err != nil {
				return nil, err
			}
			break
		}
	}
	if !slices.Contains(fullRoleClients, ti.ClientID) {
		inScope := g.InScope(ti.Realm.Settings, ti.ClientID)
		maps.DeleteFunc(held, func(id string, _ bool) bool { return !inScope(id) })
	}
	c := &caller{token: ti, realmName: ti.Realm.Row.Name, realmID: ti.Realm.Row.ID, held: held,
		mgmt: map[string]map[string]bool{}}
	grant := func(realm, role string) {
		if c.mgmt[realm] == nil {
			c.mgmt[realm] = map[string]bool{}
		}
		c.mgmt[realm][role] = true
	}
	for id := range held {
		role, ok := g.Role(id)
		if !ok {
			continue
		}
		clientID := g.ClientID(role.ClientID)
		switch {
		case c.realmName != masterRealm && clientID == mgmtClient:
			grant(c.realmName, role.Name)
		case c.realmName != masterRealm:
		case role.ClientID == "" && role.Name == "admin":
			c.serverAdmin = true
		case role.ClientID == "" && role.Name == "create-realm":
			c.canCreate = true
		case clientID == mgmtClient:
			grant(masterRealm, role.Name)
		case strings.HasSuffix(clientID, realmClientSuffix):
			grant(strings.TrimSuffix(clientID, realmClientSuffix), role.Name)
		}
	}
	c.canCreate = c.canCreate || c.serverAdmin
	return c, nil
}

// realmByName loads the target realm from the store (disabled ones too),
// through the cache.
func (a *API) realmByName(c *call, name string) (store.Realm, error) {
	r, err := a.auth.realms.Get(c.ctx, name, func(ctx context.Context) (store.Realm, error) {
		return a.st.GetRealmByName(ctx, name)
	})
	if errors.Is(err, store.ErrNotFound) {
		return r, notFound("Realm not found.")
	}
	return r, err
}
