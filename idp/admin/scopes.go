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

// ---- client scopes

func (a *API) clientScope(c *call) (store.ClientScope, error) {
	id, err := c.id("scope", "Could not find client scope")
	if err != nil {
		return store.ClientScope{}, err
	}
	s, err := a.st.GetClientScope(c.ctx, c.realm.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return s, notFound("Could not find client scope")
	}
	return s, err
}

func scopeConflict(name string) error {
	return conflict("Client Scope " + name + " already exists")
}

func (a *API) listClientScopes(c *call) error {
	rows, err := a.st.ListClientScopes(c.ctx, c.realm.ID)
	if err != nil {
		return err
	}
	out := make([]rep.ClientScope, 0, len(rows))
	for _, row := range rows {
		s, err := rep.ClientScopeFromStore(row)
		if err != nil {
			return err
		}
		out = append(out, s)
	}
	return c.ok(out)
}

func (a *API) getClientScope(c *call) error {
	row, err := a.clientScope(c)
	if err != nil {
		return err
	}
	s, err := rep.ClientScopeFromStore(row)
	if err != nil {
		return err
	}
	return c.ok(s)
}

// validScopeName: the name is what clients list and what the scope
// parameter carries, so no spaces.
func validScopeName(name string) error {
	if strings.TrimSpace(name) == "" {
		return fieldError("name", "Client scope name is missing")
	}
	if strings.ContainsAny(name, " \t\n") {
		return fieldError("name", "Unexpected name \""+name+"\" for ClientScope. No spaces allowed")
	}
	return nil
}

func (a *API) createClientScope(c *call) error {
	var in rep.ClientScope
	if err := c.body(&in, maxBody); err != nil {
		return err
	}
	if err := validScopeName(in.Name); err != nil {
		return err
	}
	if in.Protocol == "" {
		in.Protocol = "openid-connect"
	}
	in.ID = uuid.NewString()
	rep.AssignMapperIDs(in.ProtocolMappers)
	row, err := rep.ClientScopeToStore(c.realm.ID, in)
	if err != nil {
		return err
	}
	if err := a.st.CreateClientScope(c.ctx, row); errors.Is(err, store.ErrConflict) {
		return scopeConflict(in.Name)
	} else if err != nil {
		return err
	}
	return c.created(in.ID)
}

func (a *API) updateClientScope(c *call) error {
	row, err := a.clientScope(c)
	if err != nil {
		return err
	}
	s, err := rep.ClientScopeFromStore(row)
	if err != nil {
		return err
	}
	if err := c.body(&s, maxBody); err != nil {
		return err
	}
	if err := validScopeName(s.Name); err != nil {
		return err
	}
	s.ID = row.ID
	rep.AssignMapperIDs(s.ProtocolMappers)
	next, err := rep.ClientScopeToStore(c.realm.ID, s)
	if err != nil {
		return err
	}
	if err := a.st.UpdateClientScope(c.ctx, next); errors.Is(err, store.ErrConflict) {
		return scopeConflict(s.Name)
	} else if err != nil {
		return err
	}
	return c.noContent()
}

func (a *API) deleteClientScope(c *call) error {
	row, err := a.clientScope(c)
	if err != nil {
		return err
	}
	if err := a.st.DeleteClientScope(c.ctx, c.realm.ID, row.ID); err != nil {
		return err
	}
	return c.noContent()
}

// ---- a client's default and optional client scopes

// clientScopeList serves GET /clients/{client}/default-client-scopes (or
// optional-): the scopes the client names that exist, as {id, name}.
func (a *API) clientScopeList(optional bool) handler {
	return func(c *call) error {
		row, err := a.client(c)
		if err != nil {
			return err
		}
		cl, err := rep.ClientFromStore(row)
		if err != nil {
			return err
		}
		names := cl.DefaultClientScopes
		if optional {
			names = cl.OptionalClientScopes
		}
		return a.scopeRefs(c, names)
	}
}

// scopeRefs answers the client scopes named in names that exist, as
// Keycloak lists a client's or the realm's default scopes: {id, name}.
func (a *API) scopeRefs(c *call, names []string) error {
	scopes, err := a.st.ListClientScopes(c.ctx, c.realm.ID)
	if err != nil {
		return err
	}
	out := []map[string]string{}
	for _, s := range scopes {
		if slices.Contains(names, s.Name) {
			out = append(out, map[string]string{"id": s.ID, "name": s.Name})
		}
	}
	return c.ok(out)
}

// placeScope puts name in exactly one of the default and optional lists,
// or in neither when !add.
func placeScope(defaults, optionals []string, name string, optional, add bool) ([]string, []string) {
	drop := func(names []string) []string {
		return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == name })
	}
	defaults, optionals = drop(defaults), drop(optionals)
	switch {
	case add && optional:
		optionals = append(optionals, name)
	case add:
		defaults = append(defaults, name)
	}
	return defaults, optionals
}

// changeClientScope serves PUT and DELETE /clients/{client}/default-client-
// scopes/{scope} (or optional-): a scope is default or optional, not both.
func (a *API) changeClientScope(optional, add bool) handler {
	return func(c *call) error {
		row, err := a.client(c)
		if err != nil {
			return err
		}
		s, err := a.clientScope(c)
		if err != nil {
			return err
		}
		cl, err := rep.ClientFromStore(row)
		if err != nil {
			return err
		}
		cl.DefaultClientScopes, cl.OptionalClientScopes = placeScope(cl.DefaultClientScopes, cl.OptionalClientScopes, s.Name, optional, add)
		if err := a.storeClient(c.ctx, c.realm.ID, row, cl); err != nil {
			return err
		}
		return c.noContent()
	}
}

// storeClient writes cl back over row, keeping what the representation does
// not carry (the secret travels in cl).
func (a *API) storeClient(ctx context.Context, realmID string, row store.Client, cl rep.Client) error {
	next, err := rep.ClientToStore(realmID, cl)
	if err != nil {
		return err
	}
	next.Created, next.RegistrationTokenHash = row.Created, row.RegistrationTokenHash
	return a.st.UpdateClient(ctx, next)
}

// ---- protocol mappers of a client or a client scope

// mappers is the protocol-mapper list of the client ({client}) or client
// scope ({scope}) a route names, and how to store it back.
type mappers struct {
	list []rep.ProtocolMapper
	save func(ctx context.Context, list []rep.ProtocolMapper) error
}

func (a *API) mappersOf(c *call) (*mappers, error) {
	if c.r.PathValue("client") != "" {
		row, err := a.client(c)
		if err != nil {
			return nil, err
		}
		cl, err := rep.ClientFromStore(row)
		if err != nil {
			return nil, err
		}
		return &mappers{list: cl.ProtocolMappers, save: func(ctx context.Context, list []rep.ProtocolMapper) error {
			cl.ProtocolMappers = list
			return a.storeClient(ctx, c.realm.ID, row, cl)
		}}, nil
	}
	row, err := a.clientScope(c)
	if err != nil {
		return nil, err
	}
	s, err := rep.ClientScopeFromStore(row)
	if err != nil {
		return nil, err
	}
	return &mappers{list: s.ProtocolMappers, save: func(ctx context.Context, list []rep.ProtocolMapper) error {
		s.ProtocolMappers = list
		next, err := rep.ClientScopeToStore(c.realm.ID, s)
		if err != nil {
			return err
		}
		return a.st.UpdateClientScope(ctx, next)
	}}, nil
}

func (m *mappers) index(id string) int {
	return slices.IndexFunc(m.list, func(p rep.ProtocolMapper) bool { return p.ID == id })
}

func validMapper(p rep.ProtocolMapper) error {
	if strings.TrimSpace(p.Name) == "" {
		return fieldError("name", "Protocol mapper name is missing")
	}
	if strings.TrimSpace(p.ProtocolMapper) == "" {
		return fieldError("protocolMapper", "Protocol mapper type is missing")
	}
	return nil
}

// listMappers serves GET .../protocol-mappers/models and, with {protocol},
// .../protocol-mappers/protocol/{protocol}.
func (a *API) listMappers(c *call) error {
	m, err := a.mappersOf(c)
	if err != nil {
		return err
	}
	out := []rep.ProtocolMapper{}
	for _, p := range m.list {
		if proto := c.r.PathValue("protocol"); proto == "" || p.Protocol == proto || (p.Protocol == "" && proto == "openid-connect") {
			out = append(out, p)
		}
	}
	return c.ok(out)
}

func (a *API) getMapper(c *call) error {
	m, err := a.mappersOf(c)
	if err != nil {
		return err
	}
	i := m.index(c.r.PathValue("mapper"))
	if i < 0 {
		return notFound("Model not found")
	}
	return c.ok(m.list[i])
}

// addMappers serves POST .../models (one mapper, 201 + Location) and
// .../add-models (a list, 204). Names are unique per client or scope.
func (a *API) addMappers(many bool) handler {
	return func(c *call) error {
		m, err := a.mappersOf(c)
		if err != nil {
			return err
		}
		var in []rep.ProtocolMapper
		if many {
			err = c.body(&in, maxBody)
		} else {
			var one rep.ProtocolMapper
			err = c.body(&one, maxBody)
			in = []rep.ProtocolMapper{one}
		}
		if err != nil {
			return err
		}
		for i := range in {
			if err := validMapper(in[i]); err != nil {
				return err
			}
			if slices.ContainsFunc(m.list, func(p rep.ProtocolMapper) bool { return p.Name == in[i].Name }) {
				return conflict("Protocol mapper exists with same name")
			}
			if in[i].Protocol == "" {
				in[i].Protocol = "openid-connect"
			}
			in[i].ID = uuid.NewString()
			m.list = append(m.list, in[i])
		}
		if err := m.save(c.ctx, m.list); err != nil {
			return err
		}
		if many {
			return c.noContent()
		}
		return c.created(in[0].ID)
	}
}

func (a *API) updateMapper(c *call) error {
	m, err := a.mappersOf(c)
	if err != nil {
		return err
	}
	id := c.r.PathValue("mapper")
	i := m.index(id)
	if i < 0 {
		return notFound("Model not found")
	}
	p := m.list[i]
	if err := c.body(&p, maxBody); err != nil {
		return err
	}
	if err := validMapper(p); err != nil {
		return err
	}
	p.ID = id
	if slices.ContainsFunc(m.list, func(q rep.ProtocolMapper) bool { return q.Name == p.Name && q.ID != id }) {
		return conflict("Protocol mapper exists with same name")
	}
	m.list[i] = p
	if err := m.save(c.ctx, m.list); err != nil {
		return err
	}
	return c.noContent()
}

func (a *API) deleteMapper(c *call) error {
	m, err := a.mappersOf(c)
	if err != nil {
		return err
	}
	i := m.index(c.r.PathValue("mapper"))
	if i < 0 {
		return notFound("Model not found")
	}
	if err := m.save(c.ctx, slices.Delete(m.list, i, i+1)); err != nil {
		return err
	}
	return c.noContent()
}

// ---- the realm's default client scopes (what new clients get)

// realmScopeList serves GET /default-default-client-scopes (or
// default-optional-): the scopes the realm gives new clients, as {id, name}.
func (a *API) realmScopeList(optional bool) handler {
	return func(c *call) error {
		r, _, err := rep.DecodeRealm(c.realm)
		if err != nil {
			return err
		}
		names := r.DefaultDefaultClientScopes
		if optional {
			names = r.DefaultOptionalClientScopes
		}
		return a.scopeRefs(c, names)
	}
}

// changeRealmScope serves PUT and DELETE /default-default-client-scopes/{scope}
// (or default-optional-).
func (a *API) changeRealmScope(optional, add bool) handler {
	return func(c *call) error {
		s, err := a.clientScope(c)
		if err != nil {
			return err
		}
		r, _, err := rep.DecodeRealm(c.realm)
		if err != nil {
			return err
		}
		r.DefaultDefaultClientScopes, r.DefaultOptionalClientScopes = placeScope(r.DefaultDefaultClientScopes, r.DefaultOptionalClientScopes, s.Name, optional, add)
		if err := a.saveRealm(c, r); err != nil {
			return err
		}
		return c.noContent()
	}
}

// saveRealm stores r over the call's realm and drops the cached copies.
func (a *API) saveRealm(c *call, r rep.Realm) error {
	row, err := rep.RealmToStore(r)
	if err != nil {
		return err
	}
	row.ID, row.Created = c.realm.ID, c.realm.Created
	if err := a.st.UpdateRealm(c.ctx, row); err != nil {
		return err
	}
	c.realm = row
	return nil
}
