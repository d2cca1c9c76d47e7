package rep

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/keygate/keygate/store"
)

// Conversions between representations and store rows. They copy fields and
// nothing else: no ids are generated, no names resolved (role mappings,
// group paths and service-account links need the realm's other rows; import
// and export do that).

// RealmToStore turns r into a realm row: collections dropped (they have
// their own tables), enabled defaulting to true, duplicateEmailsAllowed
// copied to the column the store enforces it by.
func RealmToStore(r Realm) (store.Realm, error) {
	row := store.Realm{ID: r.ID, Name: r.Realm, Enabled: boolOr(r.Enabled, true),
		DuplicateEmailsAllowed: boolOr(r.DuplicateEmailsAllowed, false)}
	r.Roles, r.Groups, r.Users, r.Clients, r.ClientScopes = nil, nil, nil, nil, nil
	r.IdentityProviders, r.IdentityProviderMappers, r.Components = nil, nil, nil
	r.UserFederationProviders, r.UserFederationMappers = nil, nil
	r.DefaultRoles = nil // folded into DefaultRole on import
	settings, err := json.Marshal(r)
	if err != nil {
		return store.Realm{}, fmt.Errorf("rep: encode realm %q: %w", r.Realm, err)
	}
	row.Settings = settings
	return row, nil
}

// ClientToStore turns c into a client row: id, clientId and secret go to
// columns (a public client's secret is dropped), the rest to Config. The
// registration access token is not kept: the store holds only the hash of a
// token keygate issued itself.
func ClientToStore(realmID string, c Client) (store.Client, error) {
	row := store.Client{ID: c.ID, RealmID: realmID, ClientID: c.ClientID, Secret: c.Secret}
	if boolOr(c.PublicClient, false) {
		row.Secret = ""
	}
	c.ID, c.ClientID, c.Secret, c.RegistrationAccessToken = "", "", "", ""
	c.Access, c.DefaultRoles = nil, nil
	cfg, err := json.Marshal(c)
	if err != nil {
		return store.Client{}, fmt.Errorf("rep: encode client %q: %w", row.ClientID, err)
	}
	row.Config = cfg
	return row, nil
}

// ClientFromStore is the inverse of ClientToStore.
func ClientFromStore(row store.Client) (Client, error) {
	var c Client
	if len(row.Config) > 0 {
		if err := json.Unmarshal(row.Config, &c); err != nil {
			return Client{}, fmt.Errorf("rep: client %q config: %w", row.ClientID, err)
		}
	}
	c.ID, c.ClientID, c.Secret = row.ID, row.ClientID, row.Secret
	return c, nil
}

// ClientScopeToStore turns s into a client scope row.
func ClientScopeToStore(realmID string, s ClientScope) (store.ClientScope, error) {
	row := store.ClientScope{ID: s.ID, RealmID: realmID, Name: s.Name}
	s.ID, s.Name = "", ""
	cfg, err := json.Marshal(s)
	if err != nil {
		return store.ClientScope{}, fmt.Errorf("rep: encode client scope %q: %w", row.Name, err)
	}
	row.Config = cfg
	return row, nil
}

// ClientScopeFromStore is the inverse of ClientScopeToStore.
func ClientScopeFromStore(row store.ClientScope) (ClientScope, error) {
	var s ClientScope
	if len(row.Config) > 0 {
		if err := json.Unmarshal(row.Config, &s); err != nil {
			return ClientScope{}, fmt.Errorf("rep: client scope %q config: %w", row.Name, err)
		}
	}
	s.ID, s.Name = row.ID, row.Name
	return s, nil
}

// RoleToStore turns r into a role row; clientID is the owning client's
// internal id, "" for a realm role. Composites are rows of their own.
func RoleToStore(realmID, clientID string, r Role) store.Role {
	return store.Role{ID: r.ID, RealmID: realmID, ClientID: clientID, Name: r.Name,
		Description: r.Description, Attributes: r.Attributes}
}

// RoleFromStore turns a role row into its representation; containerID is the
// realm's id for realm roles and the client's internal id for client roles,
// as Keycloak reports it. Composites are left for the caller.
func RoleFromStore(r store.Role, realmID string) Role {
	container := realmID
	if r.ClientID != "" {
		container = r.ClientID
	}
	return Role{ID: r.ID, Name: r.Name, Description: r.Description, ClientRole: r.ClientID != "",
		ContainerID: container, Attributes: r.Attributes}
}

// GroupToStore turns g into a group row under parentID ("" at the top).
func GroupToStore(realmID, parentID string, g Group) store.Group {
	return store.Group{ID: g.ID, RealmID: realmID, ParentID: parentID, Name: g.Name, Attributes: g.Attributes}
}

// GroupFromStore turns a group row into its representation with the given
// path (see GroupPath). Sub-groups and role mappings are left for the caller.
func GroupFromStore(g store.Group, path string) Group {
	return Group{ID: g.ID, Name: g.Name, Path: path, ParentID: g.ParentID, Attributes: g.Attributes}
}

// GroupPath appends a group name to its parent's path ("" for the top).
// Keycloak 23+ escapes "/" inside a name as "~/" so paths stay unambiguous.
func GroupPath(parentPath, name string) string {
	return parentPath + "/" + strings.ReplaceAll(name, "/", "~/")
}

// UserToStore turns u into a user row. Username and email are lower-cased
// (Keycloak stores them so); enabled and emailVerified default to false, as
// Keycloak's import does; createdTimestamp 0 leaves Created zero for the
// caller to set. ServiceAccount (a client's internal id) is the caller's to
// resolve from serviceAccountClientId.
func UserToStore(realmID string, u User) store.User {
	row := store.User{
		ID: u.ID, RealmID: realmID,
		Username: strings.ToLower(u.Username), Email: strings.ToLower(u.Email),
		EmailVerified: boolOr(u.EmailVerified, false), Enabled: boolOr(u.Enabled, false),
		FirstName: u.FirstName, LastName: u.LastName, FederationLink: u.FederationLink,
		Attributes: u.Attributes, RequiredActions: u.RequiredActions,
	}
	if u.CreatedTimestamp > 0 {
		row.Created = time.UnixMilli(u.CreatedTimestamp).UTC()
	}
	if u.FederationLink != "" && len(u.Attributes["LDAP_ID"]) > 0 {
		// Keycloak keeps a provider's immutable id as this attribute; the
		// store indexes it to find the user whatever its username becomes.
		row.FederationID = u.Attributes["LDAP_ID"][0]
	}
	if u.NotBefore != nil {
		row.NotBefore = *u.NotBefore
	}
	return row
}

// UserFromStore turns a user row into its representation, without
// credentials, role mappings, groups or serviceAccountClientId.
func UserFromStore(u store.User) User {
	r := User{
		ID: u.ID, Username: u.Username, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		Enabled: ptr(u.Enabled), EmailVerified: ptr(u.EmailVerified), FederationLink: u.FederationLink,
		Attributes: u.Attributes, RequiredActions: u.RequiredActions, NotBefore: ptr(u.NotBefore),
		Totp: ptr(false),
	}
	if !u.Created.IsZero() {
		r.CreatedTimestamp = u.Created.UnixMilli()
	}
	return r
}

// CredentialToStore turns a stored-form credential (secretData and
// credentialData set; see the import for plain values and legacy fields)
// into a row of userID. Type defaults to "password".
func CredentialToStore(userID string, c Credential) store.Credential {
	row := store.Credential{ID: c.ID, UserID: userID, Type: strOr(c.Type, "password"), UserLabel: c.UserLabel,
		SecretData: c.SecretData, CredentialData: c.CredentialData, Priority: c.Priority}
	if c.CreatedDate > 0 {
		row.Created = time.UnixMilli(c.CreatedDate).UTC()
	}
	return row
}

// CredentialFromStore turns a credential row into its representation,
// secretData included (realm exports carry it; the admin API must blank it).
func CredentialFromStore(c store.Credential) Credential {
	r := Credential{ID: c.ID, Type: c.Type, UserLabel: c.UserLabel, SecretData: c.SecretData,
		CredentialData: c.CredentialData, Priority: c.Priority}
	if !c.Created.IsZero() {
		r.CreatedDate = c.Created.UnixMilli()
	}
	return r
}

// IdentityProviderToStore turns p into a row; Config holds the whole
// representation.
func IdentityProviderToStore(realmID string, p IdentityProvider) (store.IdentityProvider, error) {
	cfg, err := json.Marshal(p)
	if err != nil {
		return store.IdentityProvider{}, fmt.Errorf("rep: encode identity provider %q: %w", p.Alias, err)
	}
	return store.IdentityProvider{InternalID: p.InternalID, RealmID: realmID, Alias: p.Alias,
		ProviderID: p.ProviderID, Enabled: boolOr(p.Enabled, true), Config: cfg}, nil
}

// IdentityProviderFromStore is the inverse of IdentityProviderToStore; the
// columns win over Config, and what Keycloak's representation always has
// is filled in (withIdPDefaults).
func IdentityProviderFromStore(row store.IdentityProvider) (IdentityProvider, error) {
	var p IdentityProvider
	if len(row.Config) > 0 {
		if err := json.Unmarshal(row.Config, &p); err != nil {
			return IdentityProvider{}, fmt.Errorf("rep: identity provider %q config: %w", row.Alias, err)
		}
	}
	p.InternalID, p.Alias, p.ProviderID, p.Enabled = row.InternalID, row.Alias, row.ProviderID, ptr(row.Enabled)
	withIdPDefaults(&p)
	return p, nil
}

// IdentityProviderMapperToStore turns m into a row.
func IdentityProviderMapperToStore(realmID string, m IdentityProviderMapper) store.IdentityProviderMapper {
	return store.IdentityProviderMapper{ID: m.ID, RealmID: realmID, Alias: m.IdentityProviderAlias,
		Name: m.Name, Mapper: m.IdentityProviderMapper, Config: m.Config}
}

// IdentityProviderMapperFromStore is the inverse of IdentityProviderMapperToStore.
func IdentityProviderMapperFromStore(m store.IdentityProviderMapper) IdentityProviderMapper {
	cfg := m.Config
	if cfg == nil {
		cfg = map[string]string{}
	}
	return IdentityProviderMapper{ID: m.ID, Name: m.Name, IdentityProviderAlias: m.Alias,
		IdentityProviderMapper: m.Mapper, Config: cfg}
}

// ComponentToStore turns an admin-API component into a row.
func ComponentToStore(realmID string, c Component) store.Component {
	return store.Component{ID: c.ID, RealmID: realmID, ParentID: c.ParentID, Name: c.Name,
		ProviderID: c.ProviderID, ProviderType: c.ProviderType, SubType: c.SubType, Config: c.Config}
}

// ComponentFromStore turns a row into the admin API's representation.
func ComponentFromStore(c store.Component) Component {
	return Component{ID: c.ID, Name: c.Name, ProviderID: c.ProviderID, ProviderType: c.ProviderType,
		ParentID: c.ParentID, SubType: c.SubType, Config: c.Config}
}
