package admin

import (
	"errors"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// Identity brokering in the admin API: a user's links to identity-provider
// accounts (Keycloak's federated identities). A link lets whoever holds
// that account sign in as the user, so adding one is a write to the user
// (guardTarget: the caller must outrank the user).

// federatedIdentities serves GET /users/{id}/federated-identity.
func (a *API) federatedIdentities(c *call) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	links, err := a.st.ListFederatedIdentities(c.ctx, c.realm.ID, u.ID)
	if err != nil {
		return err
	}
	out := []rep.FederatedIdentity{}
	for _, f := range links {
		out = append(out, rep.FederatedIdentity{IdentityProvider: f.Alias, UserID: f.ExternalID, UserName: f.ExternalName})
	}
	return c.ok(out)
}

// addFederatedIdentity serves POST /users/{id}/federated-identity/{alias}.
func (a *API) addFederatedIdentity(c *call) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	alias := c.r.PathValue("alias")
	if _, err := a.st.GetIdentityProvider(c.ctx, c.realm.ID, alias); errors.Is(err, store.ErrNotFound) {
		return notFound("Could not find identity provider")
	} else if err != nil {
		return err
	}
	var in rep.FederatedIdentity
	if err := c.body(&in, maxBody); err != nil {
		return err
	}
	if in.UserID == "" {
		return fieldError("userId", "userId is missing")
	}
	err = a.st.AddFederatedIdentity(c.ctx, store.FederatedIdentity{RealmID: c.realm.ID, UserID: u.ID, Alias: alias,
		ExternalID: in.UserID, ExternalName: in.UserName})
	if errors.Is(err, store.ErrConflict) {
		return conflict("User is already linked with provider")
	} else if err != nil {
		return err
	}
	return c.noContent()
}

// removeFederatedIdentity serves DELETE /users/{id}/federated-identity/{alias}.
func (a *API) removeFederatedIdentity(c *call) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	err = a.st.RemoveFederatedIdentity(c.ctx, c.realm.ID, u.ID, c.r.PathValue("alias"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("Link not found")
	} else if err != nil {
		return err
	}
	return c.noContent()
}
