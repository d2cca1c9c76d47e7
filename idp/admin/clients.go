package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

func (a *API) client(c *call) (store.Client, error) { return a.clientAt(c, "client") }

// clientAt is the client whose internal id is the path parameter param.
func (a *API) clientAt(c *call, param string) (store.Client, error) {
	id, err := c.id(param, "Could not find client")
	if err != nil {
		return store.Client{}, err
	}
	cl, err := a.st.GetClient(c.ctx, c.realm.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return cl, notFound("Could not find client")
	}
	return cl, err
}

// clientRep shows a client; the registration access token is never shown.
func clientRep(row store.Client) (rep.Client, error) {
	r, err := rep.ClientFromStore(row)
	r.RegistrationAccessToken = ""
	r.Access = map[string]bool{"view": true, "configure": true, "manage": true}
	return r, err
}

// listClients: ?clientId= matches exactly, or as a case-insensitive
// substring with ?search=true.
func (a *API) listClients(c *call) error {
	rows, err := a.st.ListClients(c.ctx, c.realm.ID)
	if err != nil {
		return err
	}
	want, search := c.r.URL.Query().Get("clientId"), c.flag("search", false)
	var match []store.Client
	for _, row := range rows {
		switch {
		case want == "":
		case search && !strings.Contains(strings.ToLower(row.ClientID), strings.ToLower(want)):
			continue
		case !search && row.ClientID != want:
			continue
		}
		match = append(match, row)
	}
	first, max, err := c.page(0)
	if err != nil {
		return err
	}
	out := []rep.Client{}
	for _, row := range window(match, first, max) {
		r, err := a.clientRepFor(c, row)
		if err != nil {
			return err
		}
		out = append(out, r)
	}
	return c.ok(out)
}

func clientConflict(clientID string) error { return conflict("Client " + clientID + " already exists") }

func (a *API) createClient(c *call) error {
	var in rep.Client
	if err := c.body(&in, maxBody); err != nil {
		return err
	}
	if strings.TrimSpace(in.ClientID) == "" {
		return fieldError("clientId", "Client id is missing")
	}
	if in.ID != "" && len(in.ID) > 255 {
		return fieldError("id", "Client id is too long")
	}
	if privilegedClient(c.realm.Name, in.ClientID) && !c.caller.serverAdmin {
		return errForbidden
	}
	if err := oidc.ValidateClient(&in); err != nil {
		return err
	}
	if _, err := a.st.GetClientByClientID(c.ctx, c.realm.ID, in.ClientID); err == nil {
		return clientConflict(in.ClientID)
	}
	in.RegistrationAccessToken = ""
	row, _, err := rep.CreateClient(c.ctx, a.st, c.realm, &in)
	if errors.Is(err, store.ErrConflict) {
		return clientConflict(in.ClientID)
	}
	if err != nil {
		return err
	}
	return c.created(row.ID)
}

func (a *API) getClient(c *call) error {
	row, err := a.client(c)
	if err != nil {
		return err
	}
	r, err := a.clientRepFor(c, row)
	if err != nil {
		return err
	}
	return c.ok(r)
}

// clientRepFor shows a client to the caller, its secret masked when the
// caller may not change the client: the secret is its service account's
// password.
func (a *API) clientRepFor(c *call, row store.Client) (rep.Client, error) {
	r, err := clientRep(row)
	if err != nil || r.Secret == "" || c.caller.serverAdmin {
		return r, err
	}
	if err := a.mayChangeClient(c, row); errors.Is(err, errForbidden) {
		r.Secret = secretMask
	} else if err != nil {
		return r, err
	}
	return r, nil
}

// updateClient applies the fields the body has (Keycloak's partial update);
// turning service accounts on creates the service-account user.
func (a *API) updateClient(c *call) error {
	row, err := a.client(c)
	if err != nil {
		return err
	}
	r, err := rep.ClientFromStore(row)
	if err != nil {
		return err
	}
	if err := c.body(&r, maxBody); err != nil {
		return err
	}
	if strings.TrimSpace(r.ClientID) == "" {
		return fieldError("clientId", "Client id is missing")
	}
	if privilegedClient(c.realm.Name, r.ClientID) && !c.caller.serverAdmin {
		return errForbidden // guardTarget let the old clientId through
	}
	if err := oidc.ValidateClient(&r); err != nil {
		return err
	}
	r.ID = row.ID
	rep.AssignMapperIDs(r.ProtocolMappers)
	if r.Secret == "" && !boolVal(r.PublicClient) && !boolVal(r.BearerOnly) {
		r.Secret = row.Secret // keep the secret unless one is given
	}
	if r.Secret == "" && !boolVal(r.PublicClient) && !boolVal(r.BearerOnly) {
		if r.Secret, err = rep.NewClientSecret(); err != nil {
			return err
		}
	}
	next, err := rep.ClientToStore(c.realm.ID, r)
	if err != nil {
		return err
	}
	next.Created, next.RegistrationTokenHash = row.Created, row.RegistrationTokenHash
	if next.ClientID != row.ClientID {
		// Mappers and scope mappings name client roles as clientId.role:
		// taking over a clientId hands out what its roles include.
		roles, err := a.st.ListRoles(c.ctx, c.realm.ID, row.ID)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(roles))
		for _, r := range roles {
			ids = append(ids, r.ID)
		}
		if err := a.mayGrant(c, ids, nil); err != nil {
			return err
		}
	}
	err = a.st.Tx(c.ctx, func(ctx context.Context) error {
		if next.ClientID != row.ClientID {
			if _, err := a.st.GetClientByClientID(ctx, c.realm.ID, next.ClientID); err == nil {
				return clientConflict(next.ClientID)
			}
		}
		if err := a.st.UpdateClient(ctx, next); err != nil {
			return err
		}
		return rep.EnsureServiceAccount(ctx, a.st, c.realm, next)
	})
	if err != nil {
		return err
	}
	return c.noContent()
}

func boolVal(p *bool) bool { return p != nil && *p }

func (a *API) deleteClient(c *call) error {
	row, err := a.client(c)
	if err != nil {
		return err
	}
	if err := a.st.DeleteClient(c.ctx, c.realm.ID, row.ID); err != nil {
		return err
	}
	return c.noContent()
}

func (a *API) getSecret(c *call) error {
	row, err := a.client(c)
	if err != nil {
		return err
	}
	return c.ok(secretRep(row))
}

func secretRep(row store.Client) map[string]any {
	out := map[string]any{"type": "secret"}
	if row.Secret != "" {
		out["value"] = row.Secret
	}
	return out
}

// regenerateSecret gives a confidential client a new secret.
func (a *API) regenerateSecret(c *call) error {
	row, err := a.client(c)
	if err != nil {
		return err
	}
	_, s, err := rep.DecodeClient(row)
	if err != nil {
		return err
	}
	if s.PublicClient || s.BearerOnly {
		return badRequest("Client " + row.ClientID + " is not confidential")
	}
	if row.Secret, err = rep.NewClientSecret(); err != nil {
		return err
	}
	if err := a.st.UpdateClient(c.ctx, row); err != nil {
		return err
	}
	return c.ok(secretRep(row))
}

func (a *API) serviceAccountUser(c *call) error {
	row, err := a.client(c)
	if err != nil {
		return err
	}
	u, err := a.st.GetServiceAccountUser(c.ctx, c.realm.ID, row.ID)
	if errors.Is(err, store.ErrNotFound) {
		return &apiError{status: http.StatusBadRequest, body: map[string]any{"error": "Service account not enabled for the client '" + row.ClientID + "'"}}
	}
	if err != nil {
		return err
	}
	return c.ok(userRep(u, false))
}
