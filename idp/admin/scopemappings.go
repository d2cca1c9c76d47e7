package admin

import (
	"slices"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// Scope mappings limit the roles a client with fullScopeAllowed=false (or
// any client that applies a client scope) may carry in its tokens. They
// live in the realm representation, as Keycloak exports them: scopeMappings
// for realm roles, clientScopeMappings[clientId] for that client's roles,
// each entry naming the client or client scope it is for.

// scopeHolder is the client ({client}) or client scope ({scope}) whose
// scope mappings a route is about.
type scopeHolder struct{ client, clientScope string }

func (h scopeHolder) is(sm rep.ScopeMapping) bool {
	return (h.client != "" && sm.Client == h.client) || (h.clientScope != "" && sm.ClientScope == h.clientScope)
}

func (a *API) scopeHolder(c *call) (scopeHolder, error) {
	if c.r.PathValue("client") != "" {
		cl, err := a.client(c)
		return scopeHolder{client: cl.ClientID}, err
	}
	s, err := a.clientScope(c)
	return scopeHolder{clientScope: s.Name}, err
}

// names are the role names h is mapped to among entries.
func (h scopeHolder) names(entries []rep.ScopeMapping) []string {
	var out []string
	for _, sm := range entries {
		if h.is(sm) {
			out = append(out, sm.Roles...)
		}
	}
	return out
}

// withRoles returns entries with h's roles changed: names added or removed,
// h's entries merged into one, empty entries dropped.
func (h scopeHolder) withRoles(entries []rep.ScopeMapping, names []string, add bool) []rep.ScopeMapping {
	held := h.names(entries)
	entries = slices.DeleteFunc(slices.Clone(entries), h.is)
	for _, n := range names {
		switch i := slices.Index(held, n); {
		case add && i < 0:
			held = append(held, n)
		case !add && i >= 0:
			held = slices.Delete(held, i, i+1)
		}
	}
	if len(held) == 0 {
		return entries
	}
	slices.Sort(held)
	return append(entries, rep.ScopeMapping{Client: h.client, ClientScope: h.clientScope, Roles: slices.Compact(held)})
}

// scopeContainer is the role container a scope-mappings route names: the
// realm, or the client {ofclient}.
func (a *API) scopeContainer(c *call) (store.Client, error) {
	if c.r.PathValue("ofclient") == "" {
		return store.Client{}, nil
	}
	return a.clientAt(c, "ofclient")
}

// listScopeMappings serves GET .../scope-mappings/realm and
// .../scope-mappings/clients/{ofclient}: direct, effective (composite) or
// available (the container's roles not effectively mapped).
func (a *API) listScopeMappings(view mappingView) handler {
	return func(c *call) error {
		h, err := a.scopeHolder(c)
		if err != nil {
			return err
		}
		ct, err := a.scopeContainer(c)
		if err != nil {
			return err
		}
		r, _, err := rep.DecodeRealm(c.realm)
		if err != nil {
			return err
		}
		names := h.names(r.ScopeMappings)
		if ct.ID != "" {
			names = h.names(r.ClientScopeMappings[ct.ClientID])
		}
		roles, err := a.st.ListRoles(c.ctx, c.realm.ID, ct.ID)
		if err != nil {
			return err
		}
		out := slices.DeleteFunc(slices.Clone(roles), func(r store.Role) bool { return !slices.Contains(names, r.Name) })
		if view != direct {
			// Effective: every mapped role of any container, composites
			// expanded, seen from this container (a realm role may
			// include this client's roles).
			all, err := a.mappedRoles(c, h, r)
			if err != nil {
				return err
			}
			expanded, err := a.expand(c.ctx, c.realm.ID, all)
			if err != nil {
				return err
			}
			out = slices.DeleteFunc(slices.Clone(roles), func(r store.Role) bool {
				held := slices.ContainsFunc(expanded, func(x store.Role) bool { return x.ID == r.ID })
				return held == (view == available)
			})
		}
		reps, err := a.roleReps(c.ctx, c.realm.ID, out)
		if err != nil {
			return err
		}
		return c.ok(reps)
	}
}

// mappedRoles are the roles h is scope-mapped to, realm and client ones.
func (a *API) mappedRoles(c *call, h scopeHolder, r rep.Realm) ([]store.Role, error) {
	all, err := a.st.ListAllRoles(c.ctx, c.realm.ID)
	if err != nil {
		return nil, err
	}
	clients, err := a.st.ListClients(c.ctx, c.realm.ID)
	if err != nil {
		return nil, err
	}
	byID := map[string]string{} // internal id -> clientId
	for _, cl := range clients {
		byID[cl.ID] = cl.ClientID
	}
	return slices.DeleteFunc(all, func(x store.Role) bool {
		if x.ClientID == "" {
			return !slices.Contains(h.names(r.ScopeMappings), x.Name)
		}
		return !slices.Contains(h.names(r.ClientScopeMappings[byID[x.ClientID]]), x.Name)
	}), nil
}

// allScopeMappings serves GET .../scope-mappings.
func (a *API) allScopeMappings(c *call) error {
	h, err := a.scopeHolder(c)
	if err != nil {
		return err
	}
	r, _, err := rep.DecodeRealm(c.realm)
	if err != nil {
		return err
	}
	mapped, err := a.mappedRoles(c, h, r)
	if err != nil {
		return err
	}
	return a.mappingsRep(c, mapped)
}

// changeScopeMappings serves POST and DELETE .../scope-mappings/realm and
// .../scope-mappings/clients/{ofclient}: the body lists roles by id or name.
func (a *API) changeScopeMappings(add bool) handler {
	return func(c *call) error {
		h, err := a.scopeHolder(c)
		if err != nil {
			return err
		}
		ct, err := a.scopeContainer(c)
		if err != nil {
			return err
		}
		roles, err := a.bodyRoles(c, ct.ID)
		if err != nil {
			return err
		}
		var names, ids []string
		for _, role := range roles {
			names, ids = append(names, role.Name), append(ids, role.ID)
		}
		if add {
			if err := a.mayGrant(c, ids, nil); err != nil {
				return err
			}
		}
		r, _, err := rep.DecodeRealm(c.realm)
		if err != nil {
			return err
		}
		if ct.ID == "" {
			r.ScopeMappings = h.withRoles(r.ScopeMappings, names, add)
		} else {
			if r.ClientScopeMappings == nil {
				r.ClientScopeMappings = map[string][]rep.ScopeMapping{}
			}
			r.ClientScopeMappings[ct.ClientID] = h.withRoles(r.ClientScopeMappings[ct.ClientID], names, add)
			if len(r.ClientScopeMappings[ct.ClientID]) == 0 {
				delete(r.ClientScopeMappings, ct.ClientID)
			}
		}
		if err := a.saveRealm(c, r); err != nil {
			return err
		}
		return c.noContent()
	}
}
