package admin

import (
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/idp/registration"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// ---- client initial access tokens

func iatRep(t store.InitialAccessToken) map[string]any {
	return map[string]any{"id": t.ID, "timestamp": t.Created.Unix(), "expiration": t.Expiration,
		"count": t.Count, "remainingCount": t.RemainingCount}
}

// createInitialAccess issues a token good for count registrations (default
// 1) within expiration seconds (0 = never). The token is shown only here.
func (a *API) createInitialAccess(c *call) error {
	var in struct {
		Expiration *int `json:"expiration"`
		Count      *int `json:"count"`
	}
	if err := c.body(&in, maxBody); err != nil {
		return err
	}
	t := store.InitialAccessToken{ID: uuid.NewString(), RealmID: c.realm.ID, Created: time.Now().UTC(), Count: 1}
	if in.Expiration != nil {
		t.Expiration = *in.Expiration
	}
	if in.Count != nil {
		t.Count = *in.Count
	}
	if t.Expiration < 0 || t.Count < 0 {
		return badRequest("Invalid value for expiration or count")
	}
	t.RemainingCount = t.Count
	token, hash, err := registration.NewToken()
	if err != nil {
		return err
	}
	t.TokenHash = hash
	if err := a.st.CreateInitialAccessToken(c.ctx, t); err != nil {
		return err
	}
	out := iatRep(t)
	out["token"] = token
	c.w.Header().Set("Location", c.a.p.BaseURL(c.r)+c.r.URL.EscapedPath()+"/"+t.ID)
	writeJSON(c.w, 201, out)
	return nil
}

func (a *API) listInitialAccess(c *call) error {
	ts, err := a.st.ListInitialAccessTokens(c.ctx, c.realm.ID)
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for _, t := range ts {
		out = append(out, iatRep(t))
	}
	return c.ok(out)
}

func (a *API) deleteInitialAccess(c *call) error {
	id, err := c.id("id", "Initial access token")
	if err != nil {
		return err
	}
	if err := a.st.DeleteInitialAccessToken(c.ctx, c.realm.ID, id); errors.Is(err, store.ErrNotFound) {
		return notFound("Initial access token not found")
	} else if err != nil {
		return err
	}
	return c.noContent()
}

// ---- components (LDAP federation, its mappers, registration policies)

// secretMask is what Keycloak shows instead of a stored secret; a PUT that
// sends it back keeps the stored value.
const secretMask = rep.SecretMask

// maskComponent hides the component's secrets (rep.IsSecretConfigKey).
func maskComponent(c rep.Component) rep.Component {
	c.Config = rep.MaskSecrets(c.Config)
	return c
}

func (a *API) listComponents(c *call) error {
	q := c.r.URL.Query()
	rows, err := a.st.ListComponents(c.ctx, c.realm.ID, q.Get("parent"), q.Get("type"))
	if err != nil {
		return err
	}
	out := []rep.Component{}
	for _, row := range rows {
		if n := q.Get("name"); n != "" && row.Name != n {
			continue
		}
		out = append(out, maskComponent(rep.ComponentFromStore(row)))
	}
	return c.ok(out)
}

func (a *API) component(c *call) (store.Component, error) {
	id, err := c.id("id", "Could not find component")
	if err != nil {
		return store.Component{}, err
	}
	row, err := a.st.GetComponent(c.ctx, c.realm.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return row, notFound("Could not find component")
	}
	return row, err
}

// createComponent stores a component; user federation ones are validated
// as Keycloak validates them, and a new LDAP provider gets Keycloak's
// default mappers (federation.go).
func (a *API) createComponent(c *call) error {
	var in rep.Component
	if err := c.body(&in, maxBody); err != nil {
		return err
	}
	if in.ProviderID == "" {
		return fieldError("providerId", "providerId is missing")
	}
	if in.ParentID == "" {
		in.ParentID = c.realm.ID
	}
	in.ID = uuid.NewString()
	if err := a.checkComponent(c, &in); err != nil {
		return err
	}
	if err := a.mayMapperGrant(c, in.ProviderID, in.Config); err != nil {
		return err
	}
	row := rep.ComponentToStore(c.realm.ID, in)
	if isFederation(in.ProviderType) {
		if err := a.createFederated(c, row); err != nil {
			return err
		}
	} else if err := a.sealSecrets(&row); err != nil {
		return err
	} else if err := a.st.CreateComponent(c.ctx, row); err != nil {
		return err
	}
	return c.created(in.ID)
}

func (a *API) getComponent(c *call) error {
	row, err := a.component(c)
	if err != nil {
		return err
	}
	return c.ok(maskComponent(rep.ComponentFromStore(row)))
}

func (a *API) updateComponent(c *call) error {
	row, err := a.component(c)
	if err != nil {
		return err
	}
	in := rep.ComponentFromStore(row)
	if err := c.body(&in, maxBody); err != nil {
		return err
	}
	for k, v := range in.Config {
		if rep.IsSecretConfigKey(k) && rep.IsMasked(v) {
			// The stored secret stays with the server it was given for, as
			// in ldapTestConfig: whoever may edit the provider, without
			// seeing the secret, could otherwise have keygate send it to a
			// server of theirs.
			if strings.TrimSpace(first(in.Config["connectionUrl"])) != strings.TrimSpace(first(row.Config["connectionUrl"])) {
				return fieldError("config."+k, "config."+k+": enter the "+k+" again when connectionUrl changes")
			}
			in.Config[k] = row.Config[k]
		}
	}
	in.ID = row.ID
	if in.ParentID == "" {
		in.ParentID = c.realm.ID
	}
	if err := a.checkComponent(c, &in); err != nil {
		return err
	}
	if err := a.mayMapperGrant(c, in.ProviderID, in.Config); err != nil {
		return err
	}
	next := rep.ComponentToStore(c.realm.ID, in)
	if err := a.sealSecrets(&next); err != nil {
		return err
	}
	if err := a.st.UpdateComponent(c.ctx, next); err != nil {
		return err
	}
	return c.noContent()
}

func (a *API) deleteComponent(c *call) error {
	row, err := a.component(c)
	if err != nil {
		return err
	}
	if isFederation(row.ProviderType) {
		if err := a.deleteFederated(c, row); err != nil {
			return err
		}
	} else if err := a.st.DeleteComponent(c.ctx, c.realm.ID, row.ID); err != nil {
		return err
	}
	return c.noContent()
}

// ---- identity providers (SAML and OIDC brokering) and their mappers;
// validation, mapper types, import-config and export are in idps.go

func maskIDP(p rep.IdentityProvider) rep.IdentityProvider {
	if v := p.Config["clientSecret"]; v != "" {
		cfg := make(map[string]string, len(p.Config))
		for k, v := range p.Config {
			cfg[k] = v
		}
		cfg["clientSecret"] = secretMask
		p.Config = cfg
	}
	return p
}

// sealIDPSecret seals an identity provider's clientSecret with --db-key
// (kept as it is without one), as LDAP bind credentials are.
func (a *API) sealIDPSecret(p *rep.IdentityProvider) error {
	v := p.Config["clientSecret"]
	if v == "" || v == secretMask {
		delete(p.Config, "clientSecret")
		return nil
	}
	sealed, err := a.p.Keyring().Secrets().Seal(v)
	if err != nil {
		return err
	}
	p.Config["clientSecret"] = sealed
	return nil
}

func (a *API) listIDPs(c *call) error {
	rows, err := a.st.ListIdentityProviders(c.ctx, c.realm.ID)
	if err != nil {
		return err
	}
	out := []rep.IdentityProvider{}
	for _, row := range rows {
		p, err := rep.IdentityProviderFromStore(row)
		if err != nil {
			return err
		}
		out = append(out, maskIDP(p))
	}
	return c.ok(out)
}

func (a *API) idp(c *call) (store.IdentityProvider, error) {
	row, err := a.st.GetIdentityProvider(c.ctx, c.realm.ID, c.r.PathValue("alias"))
	if errors.Is(err, store.ErrNotFound) {
		return row, notFound("Could not find identity provider")
	}
	return row, err
}

// createIDP stores a new identity provider after Keycloak's
// normalisation and keygate's validation (idps.go): an alias that is safe
// in a URL path, a known providerId's config as its broker reads it.
// Other providerIds are stored with a warning.
func (a *API) createIDP(c *call) error {
	var in rep.IdentityProvider
	if err := c.body(&in, maxBody); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(in.Alias) == "":
		return fieldError("alias", "Identity provider alias is missing")
	case in.ProviderID == "":
		return fieldError("providerId", "Identity provider providerId is missing")
	}
	if _, err := a.st.GetIdentityProvider(c.ctx, c.realm.ID, in.Alias); err == nil {
		return conflict("Identity Provider " + in.Alias + " already exists")
	}
	if in.Config["clientSecret"] == secretMask { // nothing stored to keep
		delete(in.Config, "clientSecret")
	}
	if err := a.checkIDP(c, &in); err != nil {
		return err
	}
	if err := a.mayAutoLink(c, in); err != nil {
		return err
	}
	if err := a.mayReadTokenGrant(c, in); err != nil {
		return err
	}
	in.InternalID = uuid.NewString()
	if err := a.sealIDPSecret(&in); err != nil {
		return err
	}
	row, err := rep.IdentityProviderToStore(c.realm.ID, in)
	if err != nil {
		return err
	}
	if err := a.st.CreateIdentityProvider(c.ctx, row); errors.Is(err, store.ErrConflict) {
		return conflict("Identity Provider " + in.Alias + " already exists")
	} else if err != nil {
		return err
	}
	return c.created(in.Alias)
}

func (a *API) getIDP(c *call) error {
	row, err := a.idp(c)
	if err != nil {
		return err
	}
	p, err := rep.IdentityProviderFromStore(row)
	if err != nil {
		return err
	}
	return c.ok(maskIDP(p))
}

// updateIDP replaces the provider's representation with the body (fields
// it lacks keep their values), validated as on create. The alias cannot
// change; the mask keeps the stored clientSecret (keepMaskedSecret).
func (a *API) updateIDP(c *call) error {
	row, err := a.idp(c)
	if err != nil {
		return err
	}
	p, err := rep.IdentityProviderFromStore(row)
	if err != nil {
		return err
	}
	stored := cloneConfig(p.Config)
	if err := c.body(&p, maxBody); err != nil {
		return err
	}
	if p.Alias != row.Alias {
		return fieldError("alias", "Identity Provider alias cannot be changed")
	}
	p.InternalID = row.InternalID
	if p.Config == nil {
		p.Config = map[string]string{}
	}
	if err := keepMaskedSecret(&p, stored); err != nil {
		return err
	}
	if err := a.checkIDP(c, &p); err != nil {
		return err
	}
	if err := a.mayAutoLink(c, p); err != nil {
		return err
	}
	if err := a.mayReadTokenGrant(c, p); err != nil {
		return err
	}
	if err := a.sealIDPSecret(&p); err != nil {
		return err
	}
	next, err := rep.IdentityProviderToStore(c.realm.ID, p)
	if err != nil {
		return err
	}
	if err := a.st.UpdateIdentityProvider(c.ctx, next); err != nil {
		return err
	}
	return c.noContent()
}

func (a *API) deleteIDP(c *call) error {
	row, err := a.idp(c)
	if err != nil {
		return err
	}
	if err := a.st.DeleteIdentityProvider(c.ctx, c.realm.ID, row.Alias); err != nil {
		return err
	}
	return c.noContent()
}

func (a *API) listIDPMappers(c *call) error {
	row, err := a.idp(c)
	if err != nil {
		return err
	}
	ms, err := a.st.ListIdentityProviderMappers(c.ctx, c.realm.ID, row.Alias)
	if err != nil {
		return err
	}
	out := []rep.IdentityProviderMapper{}
	for _, m := range ms {
		out = append(out, rep.IdentityProviderMapperFromStore(m))
	}
	return c.ok(out)
}

func (a *API) idpMapper(c *call) (store.IdentityProviderMapper, error) {
	row, err := a.idp(c)
	if err != nil {
		return store.IdentityProviderMapper{}, err
	}
	id, err := c.id("id", "Model not found")
	if err != nil {
		return store.IdentityProviderMapper{}, err
	}
	ms, err := a.st.ListIdentityProviderMappers(c.ctx, c.realm.ID, row.Alias)
	if err != nil {
		return store.IdentityProviderMapper{}, err
	}
	for _, m := range ms {
		if m.ID == id {
			return m, nil
		}
	}
	return store.IdentityProviderMapper{}, notFound("Model not found")
}

// createIDPMapper stores a mapper of the provider the path names, after
// its validation (idps.go) and the no-escalation check of the role or
// group it grants (mayMapperGrant).
func (a *API) createIDPMapper(c *call) error {
	row, err := a.idp(c)
	if err != nil {
		return err
	}
	var in rep.IdentityProviderMapper
	if err := c.body(&in, maxBody); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(in.Name) == "":
		return fieldError("name", "Mapper name is missing")
	case in.IdentityProviderMapper == "":
		return fieldError("identityProviderMapper", "identityProviderMapper is missing")
	}
	if err := a.checkIDPMapper(c, row, &in); err != nil {
		return err
	}
	in.ID = uuid.NewString()
	if err := a.mayMapperGrant(c, in.IdentityProviderMapper, listConfig(in.Config)); err != nil {
		return err
	}
	if err := a.st.CreateIdentityProviderMapper(c.ctx, rep.IdentityProviderMapperToStore(c.realm.ID, in)); err != nil {
		return err
	}
	return c.created(in.ID)
}

func (a *API) getIDPMapper(c *call) error {
	m, err := a.idpMapper(c)
	if err != nil {
		return err
	}
	return c.ok(rep.IdentityProviderMapperFromStore(m))
}

func (a *API) updateIDPMapper(c *call) error {
	row, err := a.idp(c)
	if err != nil {
		return err
	}
	m, err := a.idpMapper(c)
	if err != nil {
		return err
	}
	in := rep.IdentityProviderMapperFromStore(m)
	if err := c.body(&in, maxBody); err != nil {
		return err
	}
	in.ID = m.ID
	if err := a.checkIDPMapper(c, row, &in); err != nil {
		return err
	}
	if err := a.mayMapperGrant(c, in.IdentityProviderMapper, listConfig(in.Config)); err != nil {
		return err
	}
	if err := a.st.UpdateIdentityProviderMapper(c.ctx, rep.IdentityProviderMapperToStore(c.realm.ID, in)); err != nil {
		return err
	}
	return c.noContent()
}

func (a *API) deleteIDPMapper(c *call) error {
	m, err := a.idpMapper(c)
	if err != nil {
		return err
	}
	if err := a.st.DeleteIdentityProviderMapper(c.ctx, c.realm.ID, m.ID); err != nil {
		return err
	}
	return c.noContent()
}

// realmKeys answers GET /keys with Keycloak's KeysMetadataRepresentation:
// each key's public part and certificate (what SAML service providers and
// some JWT libraries are configured with), never the private part.
func (a *API) realmKeys(c *call) error {
	keys, err := a.p.Keyring().Keys(c.ctx, c.realm.ID)
	if err != nil {
		return err
	}
	type keyMetadata struct {
		ProviderID       string `json:"providerId"`
		ProviderPriority int    `json:"providerPriority"`
		KID              string `json:"kid"`
		Status           string `json:"status"`
		Type             string `json:"type"`
		Algorithm        string `json:"algorithm"`
		PublicKey        string `json:"publicKey,omitempty"`
		Certificate      string `json:"certificate,omitempty"`
		Use              string `json:"use"`
		ValidTo          int64  `json:"validTo,omitempty"`
	}
	out := struct {
		Active map[string]string `json:"active"`
		Keys   []keyMetadata     `json:"keys"`
	}{Active: map[string]string{}, Keys: []keyMetadata{}}
	for _, k := range keys {
		m := keyMetadata{ProviderID: "hmac-generated", ProviderPriority: 100, KID: k.KID, Status: "PASSIVE",
			Type: k.Type, Algorithm: k.Algorithm, Use: "SIG"}
		switch k.Type {
		case "RSA":
			m.ProviderID = "rsa-generated"
		case "EC":
			m.ProviderID = "ecdsa-generated"
		}
		if k.Public != nil {
			m.PublicKey = base64.StdEncoding.EncodeToString(k.Public)
			m.Certificate = base64.StdEncoding.EncodeToString(k.Certificate)
			m.ValidTo = k.ValidTo.UnixMilli()
		}
		if k.Active {
			m.Status = "ACTIVE"
			out.Active[k.Algorithm] = k.KID
		}
		out.Keys = append(out.Keys, m)
	}
	return c.ok(out)
}

// listConfig is an identity-provider mapper's config in a component's shape.
func listConfig(m map[string]string) map[string][]string {
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = []string{v}
	}
	return out
}
