package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/ldap"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// User federation in the admin API: Keycloak's validation of LDAP
// providers and their mappers on component writes, the default mappers of
// a new provider, sealed bind credentials, testLDAPConnection and
// ldap-server-capabilities, the user-storage actions, and the READ_ONLY
// edit mode's refusals.

// SetFederationEnv sets what testLDAPConnection and ldap-server-capabilities
// connect with (the truststore's roots, the logger); the zero Env uses the
// system roots.
func (a *API) SetFederationEnv(env federation.Env) { a.fedEnv = env }

// Federation is what the admin API runs on user federation
// (federation.Service): a provider's sync, the directory side of a user
// search, and the writes of WRITABLE providers (made before the local
// write, which does not happen when they fail).
type Federation interface {
	Sync(ctx context.Context, realmID string, d federation.RealmDefaults, componentID string, full bool, progress federation.Progress) (federation.SyncResult, error)
	SearchUsers(ctx context.Context, realmID string, d federation.RealmDefaults, query string, max int)
	// Resolve finds (and imports) the directory user of a name no local
	// user has: the uniqueness checks ask it, as Keycloak's do.
	Resolve(ctx context.Context, realmID string, d federation.RealmDefaults, local *store.User, name string, byEmail bool) (federation.Account, error)
	SyncMapper(ctx context.Context, realmID, componentID, mapperID string) (federation.SyncResult, error)

	UpdateUser(ctx context.Context, realmID string, old, next store.User) (federation.Identity, error)
	SetPassword(ctx context.Context, realmID string, u store.User, password string) error
	RegistrationProvider(ctx context.Context, realmID string) (*federation.Provider, error)
	RegisterUser(ctx context.Context, p *federation.Provider, u store.User, password string, commit func(federation.Identity) error) error
	DeleteUser(ctx context.Context, realmID string, u store.User) error
}

// SetFederation lets the admin API run syncs and search directories.
func (a *API) SetFederation(f Federation) { a.fed = f }

// realmDefaults are the call's realm settings that shape imported users.
func (c *call) realmDefaults() (federation.RealmDefaults, error) {
	_, s, err := rep.DecodeRealm(c.realm)
	return s.FederationDefaults(), err
}

// syncUserStorage serves POST /user-storage/{id}/sync?action=
// triggerFullSync|triggerChangedUsersSync with Keycloak's
// SynchronizationResult. The sync runs to its end even if the caller
// hangs up (each page is committed as it goes).
func (a *API) syncUserStorage(c *call) error {
	row, err := a.userStorage(c)
	if err != nil {
		return err
	}
	var full bool
	switch c.r.URL.Query().Get("action") {
	case "triggerFullSync":
		full = true
	case "triggerChangedUsersSync":
	default:
		return notFound("Unknown action: " + c.r.URL.Query().Get("action"))
	}
	if a.fed == nil {
		return badRequest("User federation is not available")
	}
	d, err := c.realmDefaults()
	if err != nil {
		return err
	}
	res, err := a.fed.Sync(context.WithoutCancel(c.ctx), c.realm.ID, d, row.ID, full, nil)
	if err != nil {
		return syncError(c, err, err.Error())
	}
	return c.ok(res)
}

// syncUserStorageMapper serves POST /user-storage/{id}/mappers/{mapper}/sync
// ?direction=fedToKeycloak: the groups or roles a group or role mapper
// finds in the directory are created in the realm. keycloakToFed writes
// to the directory, which keygate does not do yet.
func (a *API) syncUserStorageMapper(c *call) error {
	row, err := a.userStorage(c)
	if err != nil {
		return err
	}
	mapper, err := a.st.GetComponent(c.ctx, c.realm.ID, c.r.PathValue("mapper"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && mapper.ParentID != row.ID) {
		return notFound("Mapper model not found")
	} else if err != nil {
		return err
	}
	switch c.r.URL.Query().Get("direction") {
	case "", "fedToKeycloak":
	case "keycloakToFed":
		return badRequest("keygate does not write groups or roles to the directory")
	default:
		return badRequest("Unknown direction: " + c.r.URL.Query().Get("direction"))
	}
	if a.fed == nil {
		return badRequest("User federation is not available")
	}
	res, err := a.fed.SyncMapper(c.ctx, c.realm.ID, row.ID, mapper.ID)
	if err != nil {
		return syncError(c, err, "Mapper "+mapper.Name+" cannot be synchronized")
	}
	return c.ok(res)
}

// syncError answers a failed sync: 400 (with unsupported) when the
// provider or mapper cannot sync, 503 with Retry-After when the directory
// is unavailable.
func syncError(c *call, err error, unsupported string) error {
	switch {
	case errors.Is(err, federation.ErrSyncUnsupported):
		return badRequest(unsupported)
	case errors.Is(err, federation.ErrUnavailable):
		c.w.Header().Set("Retry-After", "30")
		return errMsg(http.StatusServiceUnavailable, "The user storage provider is unavailable: "+err.Error())
	}
	return err
}

// isFederation reports whether a component of type typ is user federation.
func isFederation(typ string) bool {
	return typ == federation.UserStorageType || typ == federation.LDAPMapperType
}

// validationError is Keycloak's answer to a refused component
// (ComponentResource.localizedErrorResponse): {"errorMessage": text}, with
// the config key keygate names in "field".
func validationError(err error) error {
	var ve *ldap.ValidationError
	if errors.As(err, &ve) {
		return &apiError{status: http.StatusBadRequest, body: map[string]any{"errorMessage": ve.Message, "field": ve.Field}}
	}
	return err
}

// checkComponent validates a component about to be written (old is the
// stored row on an update, nil on a create) as Keycloak does for the
// federation types: an LDAP provider by ldap.ParseConfig, a mapper by its
// factory's rules and its LDAP parent. Other user storage providers are
// refused: keygate cannot use them.
func (a *API) checkComponent(c *call, in *rep.Component) error {
	switch in.ProviderType {
	case federation.UserStorageType:
		if in.ProviderID != "ldap" {
			return &apiError{status: http.StatusBadRequest, body: map[string]any{"error": "invalid_request",
				"error_description": "Invalid provider type or no such provider"}}
		}
		if in.ParentID != c.realm.ID {
			return fieldError("parentId", "A user storage provider belongs to its realm: parentId must be the realm's id")
		}
		return validationError(rep.ValidateLDAPProvider(in.Config))
	case federation.LDAPMapperType:
		parent, err := a.st.GetComponent(c.ctx, c.realm.ID, in.ParentID)
		if errors.Is(err, store.ErrNotFound) || err == nil && (parent.ProviderType != federation.UserStorageType || parent.ProviderID != "ldap") {
			return fieldError("parentId", "An LDAP mapper needs the id of its LDAP provider as parentId")
		} else if err != nil {
			return err
		}
		if !rep.IsLDAPMapperType(in.ProviderID) {
			return &apiError{status: http.StatusBadRequest, body: map[string]any{"error": "invalid_request",
				"error_description": "Invalid provider type or no such provider"}}
		}
		g, err := a.p.RoleGraph(c.ctx, c.realm.ID, true)
		if err != nil {
			return err
		}
		t, err := a.tree(c.ctx, c.realm.ID)
		if err != nil {
			return err
		}
		refs := rep.MapperRefs{
			RoleExists: func(s string) bool { return len(roleStringIDs(g, s)) > 0 },
			GroupExists: func(p string) bool {
				p = "/" + strings.Trim(p, "/")
				for _, have := range t.paths {
					if have == p {
						return true
					}
				}
				return false
			},
		}
		return validationError(rep.ValidateLDAPMapper(in.ProviderID, in.Config, parent.Config, refs))
	}
	return nil
}

// sealSecrets seals the secret config values of a component (an LDAP
// provider's bindCredential, a key provider's privateKey) with the
// server's --db-key (values already sealed stay as they are).
func (a *API) sealSecrets(row *store.Component) error {
	s := a.p.Keyring().Secrets()
	for k, v := range row.Config {
		if !rep.IsSecretConfigKey(k) || len(v) == 0 || v[0] == "" {
			continue
		}
		sealed, err := s.Seal(v[0])
		if err != nil {
			return err
		}
		row.Config[k] = append([]string{sealed}, v[1:]...)
	}
	return nil
}

// createFederated writes a new component and, for an LDAP provider,
// Keycloak's default mappers, in one transaction.
func (a *API) createFederated(c *call, row store.Component) error {
	if err := a.sealSecrets(&row); err != nil {
		return err
	}
	err := a.st.Tx(c.ctx, func(ctx context.Context) error {
		if err := a.st.CreateComponent(ctx, row); err != nil {
			return err
		}
		if row.ProviderType != federation.UserStorageType || row.ProviderID != "ldap" {
			return nil
		}
		for _, m := range rep.DefaultLDAPMappers(c.realm.ID, row.ID, row.Config) {
			if err := a.st.CreateComponent(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}

// deleteFederated deletes a component; a user storage provider takes the
// users it imported with it, in the same transaction (Keycloak's
// preRemove).
func (a *API) deleteFederated(c *call, row store.Component) error {
	err := a.st.Tx(c.ctx, func(ctx context.Context) error {
		if row.ProviderType == federation.UserStorageType {
			if err := a.eachLinkedUser(ctx, c.realm.ID, row.ID, func(u store.User) error {
				return a.st.DeleteUser(ctx, c.realm.ID, u.ID)
			}); err != nil {
				return err
			}
		}
		return a.st.DeleteComponent(ctx, c.realm.ID, row.ID)
	})
	return err
}

// eachLinkedUser calls fn for every user of realmID imported by provider
// id. The users are listed first: fn may delete them.
func (a *API) eachLinkedUser(ctx context.Context, realmID, id string, fn func(store.User) error) error {
	users, err := a.st.ListUsers(ctx, realmID, store.UserQuery{})
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.FederationLink != id {
			continue
		}
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}

// userStorage is the {id} user storage component of the call's realm, as
// UserStorageProviderResource finds it.
func (a *API) userStorage(c *call) (store.Component, error) {
	row, err := a.component(c)
	if err != nil {
		return row, err
	}
	if row.ProviderType != federation.UserStorageType {
		return row, notFound("found, but not a UserStorageProvider")
	}
	return row, nil
}

// userStorageName: GET /user-storage/{id}/name, {"id", "name"} (the
// admin console shows a linked user's provider by it).
func (a *API) userStorageName(c *call) error {
	row, err := a.userStorage(c)
	if err != nil {
		return err
	}
	return c.ok(map[string]string{"id": row.ID, "name": row.Name})
}

// removeImportedUsers: POST /user-storage/{id}/remove-imported-users
// deletes every user the provider imported, in one transaction.
func (a *API) removeImportedUsers(c *call) error {
	row, err := a.userStorage(c)
	if err != nil {
		return err
	}
	err = a.st.Tx(c.ctx, func(ctx context.Context) error {
		return a.eachLinkedUser(ctx, c.realm.ID, row.ID, func(u store.User) error {
			return a.st.DeleteUser(ctx, c.realm.ID, u.ID)
		})
	})
	if err != nil {
		return err
	}
	return c.noContent()
}

// unlinkUsers: POST /user-storage/{id}/unlink-users makes the provider's
// users local ones, as Keycloak's unlinkUsers does: federationLink is
// cleared (with the store's index of the provider's id for the user);
// the LDAP_ID and LDAP_ENTRY_DN attributes stay, as in Keycloak. They keep
// no password: it was the directory's.
func (a *API) unlinkUsers(c *call) error {
	row, err := a.userStorage(c)
	if err != nil {
		return err
	}
	err = a.st.Tx(c.ctx, func(ctx context.Context) error {
		return a.eachLinkedUser(ctx, c.realm.ID, row.ID, func(u store.User) error {
			u.FederationLink, u.FederationID = "", ""
			return a.st.UpdateUser(ctx, u)
		})
	})
	if err != nil {
		return err
	}
	return c.noContent()
}

// ---- testLDAPConnection and ldap-server-capabilities

// testLDAPTimeout bounds a test, as Keycloak's default; the request's
// connectionTimeout shortens it.
const testLDAPTimeout = 30 * time.Second

// ldapTest is Keycloak's TestLdapConnectionRepresentation.
type ldapTest struct {
	Action, ConnectionURL, AuthType, BindDN, BindCredential string
	UseTruststoreSpi, ConnectionTimeout, StartTLS           string
	ComponentID                                             string
}

// readLDAPTest reads the request: JSON, or the deprecated form-encoded
// variant with the same field names. Values may be JSON strings, booleans
// or numbers (the admin console sends "false" and false alike).
func (c *call) readLDAPTest() (ldapTest, error) {
	var t ldapTest
	fields := map[string]*string{"action": &t.Action, "connectionUrl": &t.ConnectionURL, "authType": &t.AuthType,
		"bindDn": &t.BindDN, "bindCredential": &t.BindCredential, "useTruststoreSpi": &t.UseTruststoreSpi,
		"connectionTimeout": &t.ConnectionTimeout, "startTls": &t.StartTLS, "componentId": &t.ComponentID}
	ct, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" {
		c.r.Body = http.MaxBytesReader(c.w, c.r.Body, maxBody)
		if err := c.r.ParseForm(); err != nil {
			return t, badRequest("Invalid form body")
		}
		for k, p := range fields {
			*p = c.r.PostForm.Get(k)
		}
		return t, nil
	}
	data, err := c.read(maxBody)
	if err != nil {
		return t, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return t, badRequest("Invalid JSON body")
	}
	for k, p := range fields {
		v, ok := raw[k]
		if !ok || string(v) == "null" {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			var x any
			if json.Unmarshal(v, &x) != nil {
				return t, fieldError(k, "Invalid value for "+k)
			}
			if _, nested := x.(map[string]any); nested {
				return t, fieldError(k, "Invalid value for "+k)
			}
			if _, nested := x.([]any); nested {
				return t, fieldError(k, "Invalid value for "+k)
			}
			s = strings.TrimSpace(string(v))
		}
		*p = s
	}
	return t, nil
}

// ldapTestConfig turns a test request into a provider configuration. A
// masked bindCredential with componentId is the stored one, revealed, and
// only for that component's own connectionUrl and bindDn: otherwise an
// admin could have keygate send the stored password to a server of their
// choosing.
func (a *API) ldapTestConfig(c *call, t ldapTest) (ldap.Config, error) {
	cred := t.BindCredential
	if cred == rep.SecretMask {
		if t.ComponentID == "" {
			return ldap.Config{}, fieldError("componentId", "A masked bindCredential needs the componentId of the provider it belongs to")
		}
		row, err := a.st.GetComponent(c.ctx, c.realm.ID, t.ComponentID)
		if errors.Is(err, store.ErrNotFound) || err == nil && row.ProviderType != federation.UserStorageType {
			return ldap.Config{}, notFound("Could not find component")
		} else if err != nil {
			return ldap.Config{}, err
		}
		if strings.TrimSpace(t.ConnectionURL) != strings.TrimSpace(first(row.Config["connectionUrl"])) ||
			strings.TrimSpace(t.BindDN) != strings.TrimSpace(first(row.Config["bindDn"])) {
			return ldap.Config{}, badRequest("The stored bind credential is used only with the provider's own connectionUrl and bindDn: enter the password to test other settings")
		}
		if cred, err = a.p.Keyring().Secrets().Reveal(first(row.Config["bindCredential"])); err != nil {
			return ldap.Config{}, err
		}
	}
	authType := t.AuthType
	if t.Action == "testConnection" {
		authType = "none" // connect only, as Keycloak does
	}
	// usersDn and editMode do not matter to a test; ParseConfig wants them.
	cfg := map[string][]string{"connectionUrl": {t.ConnectionURL}, "authType": {authType}, "bindDn": {t.BindDN},
		"bindCredential": {cred}, "useTruststoreSpi": {t.UseTruststoreSpi}, "connectionTimeout": {t.ConnectionTimeout},
		"startTls": {t.StartTLS}, "usersDn": {"dc=test"}, "editMode": {"READ_ONLY"}}
	parsed, err := ldap.ParseConfig(cfg)
	if err != nil {
		var ve *ldap.ValidationError
		if errors.As(err, &ve) {
			return parsed, &apiError{status: http.StatusBadRequest, body: map[string]any{"errorMessage": ve.Message, "field": ve.Field}}
		}
		return parsed, err
	}
	parsed.Name = "testLDAPConnection"
	parsed.ConnectionPooling = false
	return parsed, nil
}

// ldapTestContext bounds a test: 30 s, or the request's connectionTimeout
// when shorter.
func ldapTestContext(ctx context.Context, t ldapTest) (context.Context, context.CancelFunc) {
	d := testLDAPTimeout
	if ms, err := strconv.ParseInt(strings.TrimSpace(t.ConnectionTimeout), 10, 64); err == nil && ms > 0 &&
		time.Duration(ms)*time.Millisecond < d {
		d = time.Duration(ms) * time.Millisecond
	}
	return context.WithTimeout(ctx, d)
}

// testLDAPConnection: POST /testLDAPConnection, actions testConnection
// (connect) and testAuthentication (connect and bind as bindDn). 204, or
// 400 {"errorMessage": the reason the network or the directory gave}.
func (a *API) testLDAPConnection(c *call) error {
	t, err := c.readLDAPTest()
	if err != nil {
		return err
	}
	switch t.Action {
	case "testConnection":
	case "testAuthentication":
		if strings.TrimSpace(t.BindDN) == "" && !strings.EqualFold(t.AuthType, "none") {
			return fieldError("bindDn", "testAuthentication needs a bindDn")
		}
	default:
		return fieldError("action", fmt.Sprintf("Unknown action %q: testConnection or testAuthentication", t.Action))
	}
	cfg, err := a.ldapTestConfig(c, t)
	if err != nil {
		return err
	}
	ctx, cancel := ldapTestContext(c.ctx, t)
	defer cancel()
	cl := ldap.NewClient(cfg, a.fedEnv)
	defer cl.Close()
	if err := cl.Test(ctx, t.Action == "testAuthentication"); err != nil {
		return errMsg(http.StatusBadRequest, testFailure(ctx, err))
	}
	return c.noContent()
}

// testFailure is the reason a test failed, saying so when it ran out of
// time (a connect still pending when the deadline hits reads oddly).
func testFailure(ctx context.Context, err error) string {
	msg := err.Error()
	lower := strings.ToLower(msg)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && !strings.Contains(lower, "timeout") &&
		!strings.Contains(lower, "timed out") && !strings.Contains(lower, "deadline") {
		msg += " (timed out)"
	}
	return msg
}

// ldapServerCapabilities: POST /ldap-server-capabilities, the same body
// (action queryServerCapabilities): the RootDSE's controls, extensions and
// features as [{"oid", "type"}].
func (a *API) ldapServerCapabilities(c *call) error {
	t, err := c.readLDAPTest()
	if err != nil {
		return err
	}
	if t.Action != "" && t.Action != "queryServerCapabilities" {
		return c.ok([]ldap.Capability{}) // Keycloak answers an empty set
	}
	cfg, err := a.ldapTestConfig(c, t)
	if err != nil {
		return err
	}
	ctx, cancel := ldapTestContext(c.ctx, t)
	defer cancel()
	cl := ldap.NewClient(cfg, a.fedEnv)
	defer cl.Close()
	caps, err := cl.Capabilities(ctx)
	if err != nil {
		return errMsg(http.StatusBadRequest, testFailure(ctx, err))
	}
	if caps == nil {
		caps = []ldap.Capability{}
	}
	return c.ok(caps)
}

// ---- edit modes

// readOnlyFields are what an LDAP provider in READ_ONLY edit mode maps
// from the directory onto every user it imports (its default mappers).
var readOnlyFields = []string{"username", "email", "firstName", "lastName"}

// linkAttributes tie an imported user to its entry: no admin changes them,
// whatever the edit mode.
var linkAttributes = []string{federation.AttrExternalID, federation.AttrEntryDN}

// editMode is the edit mode of u's provider ("" for a local user, or one
// whose provider is gone), read from the store.
func (a *API) editMode(ctx context.Context, u store.User) (federation.EditMode, error) {
	row, ok, err := a.userProvider(ctx, u)
	if !ok || err != nil {
		return "", err
	}
	return editModeOf(row), nil
}

// editModeOf is a user storage component's edit mode.
func editModeOf(row store.Component) federation.EditMode {
	return federation.EditMode(strings.ToUpper(strings.TrimSpace(first(row.Config["editMode"]))))
}

// userProvider is the component of u's provider; false for a local user,
// or one whose provider is gone.
func (a *API) userProvider(ctx context.Context, u store.User) (store.Component, bool, error) {
	if u.FederationLink == "" {
		return store.Component{}, false, nil
	}
	row, err := a.st.GetComponent(ctx, u.RealmID, u.FederationLink)
	if errors.Is(err, store.ErrNotFound) {
		return row, false, nil
	}
	return row, err == nil, err
}

// validatesPasswordPolicy: a WRITABLE provider with validatePasswordPolicy
// checks a new password against the realm's policy before the directory
// gets it; without, the directory's own policy is the only one, as in
// Keycloak (LDAPStorageProvider.updateCredential).
func validatesPasswordPolicy(cfg map[string][]string) bool {
	return strings.EqualFold(strings.TrimSpace(first(cfg["validatePasswordPolicy"])), "true")
}

// mappedAttributes are the user attributes u's provider maps from its
// directory (user-attribute mappers onto attributes that are not the
// four user fields).
func (a *API) mappedAttributes(ctx context.Context, u store.User) ([]string, error) {
	mappers, err := a.st.ListComponents(ctx, u.RealmID, u.FederationLink, federation.LDAPMapperType)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range mappers {
		if m.ProviderID != "user-attribute-ldap-mapper" && m.ProviderID != "certificate-ldap-mapper" &&
			m.ProviderID != "hardcoded-attribute-mapper" {
			continue
		}
		if attr := first(m.Config["user.model.attribute"]); attr != "" && !slices.Contains(readOnlyFields, attr) {
			out = append(out, attr)
		}
	}
	return out, nil
}

// checkFederatedUpdate refuses, as Keycloak's user profile does, an admin
// change to what a READ_ONLY provider maps onto its user (username, email,
// names, mapped attributes), and in any mode to the attributes linking
// the user to its entry: 400 {"field", "errorMessage":
// "error-user-attribute-read-only", "params"}. Mapped attributes that the
// body leaves out are kept, not removed (READ_ONLY and WRITABLE). UNSYNCED
// users change locally; what WRITABLE ones may change is their
// provider's to say when the change is written to it
// (writeFederatedUpdate). It returns the edit mode of the user's provider
// ("" for a local user). The link attributes are refused for a local user
// too.
func (a *API) checkFederatedUpdate(ctx context.Context, old store.User, next *store.User) (federation.EditMode, error) {
	locked := func(keys []string, change bool) error {
		for _, k := range keys {
			v, ok := next.Attributes[k]
			if !ok {
				if _, had := old.Attributes[k]; had {
					if next.Attributes == nil {
						next.Attributes = map[string][]string{}
					}
					next.Attributes[k] = old.Attributes[k]
				}
				continue
			}
			if !change && !slices.Equal(old.Attributes[k], v) {
				return fieldError(k, "error-user-attribute-read-only")
			}
		}
		return nil
	}
	// A local user too: its link attributes would tie it to an entry
	// (admin read-only in Keycloak's user profile).
	if err := locked(linkAttributes, false); err != nil || old.FederationLink == "" {
		return "", err
	}
	mode, err := a.editMode(ctx, old)
	if err != nil || (mode != federation.ReadOnly && mode != federation.Writable) {
		return mode, err
	}
	attrs, err := a.mappedAttributes(ctx, old)
	if err != nil {
		return mode, err
	}
	if mode == federation.Writable {
		return mode, locked(attrs, true)
	}
	fields := map[string][2]string{"username": {old.Username, next.Username}, "email": {old.Email, next.Email},
		"firstName": {old.FirstName, next.FirstName}, "lastName": {old.LastName, next.LastName}}
	for _, f := range readOnlyFields {
		if v := fields[f]; v[0] != v[1] {
			return mode, fieldError(f, "error-user-attribute-read-only")
		}
	}
	return mode, locked(attrs, false)
}

// writeFederatedUpdate writes an admin's change of a WRITABLE provider's
// user to the directory before it is stored: renaming needs the realm's
// editUsernameAllowed (Keycloak's UserAttributeLDAPStorageMapper
// checkDuplicateUsername), and a name or email another user has is
// refused before the directory sees it. A renamed entry's new DN goes
// into next's LDAP_ENTRY_DN.
func (a *API) writeFederatedUpdate(c *call, s rep.RealmSettings, old store.User, next *store.User) error {
	if next.Username != old.Username && !s.EditUsernameAllowed &&
		!(s.RegistrationEmailAsUsername && next.Username == next.Email) {
		return badRequest("Cannot change username if the realm is not configured to allow edit the usernames")
	}
	if err := a.checkUnique(c.ctx, c.realm.ID, old, *next, s); err != nil {
		return err
	}
	id, err := a.fed.UpdateUser(c.ctx, c.realm.ID, old, *next)
	if err != nil {
		return fedWriteError(c, err, badRequest("User is read only!"), badRequest)
	}
	if id.DN != "" && id.DN != first(old.Attributes[federation.AttrEntryDN]) {
		if next.Attributes == nil {
			next.Attributes = map[string][]string{}
		}
		next.Attributes[federation.AttrEntryDN] = []string{id.DN}
	}
	return nil
}

// fedWriteError answers a directory write that did not happen: a field
// mapped read-only is the user profile's 400, a provider that takes no
// writes readOnly, a directory that cannot answer 503 with Retry-After, a
// name the directory has 409, an entry gone 400, and the directory's
// refusal 400 in its own words, shaped by refused.
func fedWriteError(c *call, err, readOnly error, refused func(string) error) error {
	var ro *federation.ReadOnlyError
	var re *federation.RefusedError
	switch {
	case errors.As(err, &ro):
		return fieldError(ro.Field, "error-user-attribute-read-only")
	case errors.Is(err, federation.ErrReadOnly):
		return readOnly
	case errors.Is(err, federation.ErrUnavailable):
		c.w.Header().Set("Retry-After", "30")
		return errMsg(http.StatusServiceUnavailable, "The user storage provider is unavailable: "+err.Error())
	case errors.As(err, &re):
		return refused(re.Reason)
	case errors.Is(err, federation.ErrConflict):
		return conflict("User exists with same username")
	case errors.Is(err, federation.ErrNotFound):
		return badRequest("The user's entry is no longer in the directory")
	}
	return err
}

// checkFederatedPassword refuses a password change of a READ_ONLY
// provider's user: the password is the directory's. reset-password gets
// Keycloak's BadRequestException, {"error": "Can't reset password as
// account is read only"}; removing a credential, {"errorMessage": "User
// is read only!"}.
func (a *API) checkFederatedPassword(ctx context.Context, u store.User, reset bool) error {
	mode, err := a.editMode(ctx, u)
	if err != nil || mode != federation.ReadOnly {
		return err
	}
	if reset {
		return resetReadOnly
	}
	return badRequest("User is read only!")
}

// resetReadOnly is Keycloak's answer to a password reset of a read-only
// user (a BadRequestException).
var resetReadOnly = &apiError{status: http.StatusBadRequest, body: map[string]any{"error": "Can't reset password as account is read only"}}
