package rep

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// NewRealm returns the realm keygate creates for name: what Keycloak 26
// creates for a new realm (roles offline_access, uma_authorization and
// default-roles-<realm>; clients account, account-console, admin-cli,
// broker, realm-management and security-admin-console with their roles;
// the built-in client scopes with their protocol mappers; Keycloak's
// lifetimes), every id assigned. Unlike Keycloak, every realm, master
// included, gets realm-management; the master realm also gets the roles
// create-realm and admin (composite of create-realm and realm-management's
// realm-admin), which is what makes a master admin.
//
// Product decision: realms created by keygate have brute-force protection on
// with failureFactor 10; imported realms keep the file's setting (Keycloak's
// default is off).
func NewRealm(name string) Realm {
	r := Realm{Realm: name, Enabled: ptr(true), BruteForceProtected: ptr(true), FailureFactor: ptr(10)}
	if _, err := prepareRealm(&r); err != nil {
		// Built-ins only reference built-ins; failing here is a bug in this file.
		panic(fmt.Sprintf("rep: NewRealm(%q): %v", name, err))
	}
	return r
}

// fillRealmDefaults makes Keycloak's new-realm defaults explicit where r
// leaves them unset, as Keycloak stores a realm.
func fillRealmDefaults(r *Realm) {
	setDefault(&r.Enabled, true)
	if r.SSLRequired == "" {
		r.SSLRequired = "external"
	}
	for p, v := range map[**bool]bool{
		&r.RegistrationAllowed: false, &r.RegistrationEmailAsUsername: false, &r.LoginWithEmailAllowed: true,
		&r.DuplicateEmailsAllowed: false, &r.ResetPasswordAllowed: false, &r.EditUsernameAllowed: false,
		&r.RememberMe: false, &r.VerifyEmail: false, &r.RevokeRefreshToken: false,
		&r.OfflineSessionMaxLifespanEnabled: false, &r.BruteForceProtected: false, &r.PermanentLockout: false,
		&r.InternationalizationEnabled: false, &r.EventsEnabled: false, &r.AdminEventsEnabled: false,
		&r.AdminEventsDetailsEnabled: false,
	} {
		setDefault(p, v)
	}
	for p, v := range map[**int]int{
		&r.AccessTokenLifespan: 300, &r.AccessTokenLifespanForImplicitFlow: 900,
		&r.SSOSessionIdleTimeout: 1800, &r.SSOSessionMaxLifespan: 36000,
		&r.SSOSessionIdleTimeoutRememberMe: 0, &r.SSOSessionMaxLifespanRememberMe: 0,
		&r.OfflineSessionIdleTimeout: 2592000, &r.OfflineSessionMaxLifespan: 5184000,
		&r.ClientSessionIdleTimeout: 0, &r.ClientSessionMaxLifespan: 0,
		&r.ClientOfflineSessionIdleTimeout: 0, &r.ClientOfflineSessionMaxLifespan: 0,
		&r.AccessCodeLifespan: 60, &r.AccessCodeLifespanUserAction: 300, &r.AccessCodeLifespanLogin: 1800,
		&r.ActionTokenGeneratedByAdminLifespan: 43200, &r.ActionTokenGeneratedByUserLifespan: 300,
		&r.OAuth2DeviceCodeLifespan: 600, &r.OAuth2DevicePollingInterval: 5,
		&r.RefreshTokenMaxReuse: 0, &r.NotBefore: 0,
		&r.MaxTemporaryLockouts: 0, &r.FailureFactor: 30, &r.WaitIncrementSeconds: 60,
		&r.MaxFailureWaitSeconds: 900, &r.MinimumQuickLoginWaitSeconds: 60, &r.MaxDeltaTimeSeconds: 43200,
	} {
		setDefault(p, v)
	}
	setDefault(&r.QuickLoginCheckMilliSeconds, 1000)
	fillOTPDefaults(r)
	if r.BruteForceStrategy == "" {
		r.BruteForceStrategy = "MULTIPLE"
	}
	if r.DefaultSignatureAlgorithm == "" {
		r.DefaultSignatureAlgorithm = "RS256"
	}
	if r.RequiredCredentials == nil {
		r.RequiredCredentials = []string{"password"}
	}
	if r.EventsListeners == nil {
		r.EventsListeners = []string{"jboss-logging"}
	}
}

func setDefault[T any](p **T, v T) {
	if *p == nil {
		*p = &v
	}
}

// Scopes Keycloak's own migrations add to imports from versions that lacked
// them (acr: KC 18, basic: KC 25), as realm and client defaults. Without
// `basic` a token has no `sub`, so an old export must not lose it here.
var migratedDefaultScopes = []string{"acr", "basic"}

// prepareRealm completes r the way Keycloak completes a realm it creates or
// imports: explicit defaults, missing built-in roles, clients, client scopes
// and scope mappings, the default role, each client's defaults (scopes from
// the realm's, a secret for confidential clients), and ids for everything
// without one. It returns warnings about what it dropped. Errors are
// representation errors named by JSON path.
func prepareRealm(r *Realm) (warnings []string, err error) {
	fillRealmDefaults(r)
	name := r.Realm
	if r.Roles == nil {
		r.Roles = &RealmRoles{}
	}
	if r.Roles.Client == nil {
		r.Roles.Client = map[string][]Role{}
	}

	// Client scopes.
	had := map[string]bool{}
	for _, s := range r.ClientScopes {
		had[s.Name] = true
	}
	for _, s := range builtinClientScopes() {
		if !had[s.Name] {
			r.ClientScopes = append(r.ClientScopes, s)
		}
	}
	if !had["offline_access"] && !slices.ContainsFunc(r.ScopeMappings, func(m ScopeMapping) bool { return m.ClientScope == "offline_access" }) {
		// Keycloak maps the offline_access role to its scope so that clients
		// with fullScopeAllowed=false can still ask for offline tokens.
		r.ScopeMappings = append(r.ScopeMappings, ScopeMapping{ClientScope: "offline_access", Roles: []string{"offline_access"}})
	}
	var migrated []string
	for _, s := range migratedDefaultScopes {
		if !had[s] {
			migrated = append(migrated, s)
		}
	}
	if r.DefaultDefaultClientScopes == nil {
		r.DefaultDefaultClientScopes = slices.Clone(defaultDefaultClientScopes)
	} else {
		r.DefaultDefaultClientScopes = appendMissing(r.DefaultDefaultClientScopes, migrated...)
	}
	if r.DefaultOptionalClientScopes == nil {
		r.DefaultOptionalClientScopes = slices.Clone(defaultOptionalClientScopes)
	}
	scopeProtocol := map[string]string{}
	for _, s := range r.ClientScopes {
		scopeProtocol[s.Name] = strOr(s.Protocol, "openid-connect")
	}
	r.DefaultDefaultClientScopes, warnings = knownScopes(r.DefaultDefaultClientScopes, scopeProtocol, "defaultDefaultClientScopes", warnings)
	r.DefaultOptionalClientScopes, warnings = knownScopes(r.DefaultOptionalClientScopes, scopeProtocol, "defaultOptionalClientScopes", warnings)

	// Clients and their roles.
	hasClient := map[string]bool{}
	for i := range r.Clients {
		c := &r.Clients[i]
		hasClient[c.ClientID] = true
		if c.DefaultClientScopes != nil && strOr(c.Protocol, "openid-connect") == "openid-connect" {
			c.DefaultClientScopes = appendMissing(c.DefaultClientScopes, migrated...)
			if !had["service_account"] && boolOr(c.ServiceAccountsEnabled, false) {
				c.DefaultClientScopes = appendMissing(c.DefaultClientScopes, "service_account")
			}
		}
	}
	for _, c := range builtinClients(name) {
		if !hasClient[c.ClientID] {
			r.Clients = append(r.Clients, c)
			if c.ClientID == "account-console" {
				// Lets the account console (fullScopeAllowed=false) see these roles.
				r.ClientScopeMappings = addScopeMapping(r.ClientScopeMappings, "account",
					ScopeMapping{Client: "account-console", Roles: []string{"manage-account", "view-groups"}})
			}
		}
	}
	for clientID, roles := range builtinClientRoles() {
		r.Roles.Client[clientID] = appendMissingRoles(r.Roles.Client[clientID], roles...)
	}

	// Realm roles and the default role.
	realmRoles := []Role{realmRole("offline_access", "${role_offline-access}"), realmRole("uma_authorization", "${role_uma_authorization}")}
	if name == "master" {
		admin := realmRole("admin", "${role_admin}")
		admin.Composites = &RoleComposites{Realm: []string{"create-realm"}, Client: map[string][]string{"realm-management": {"realm-admin"}}}
		realmRoles = append(realmRoles, realmRole("create-realm", "${role_create-realm}"), admin)
	}
	r.Roles.Realm = appendMissingRoles(r.Roles.Realm, realmRoles...)
	defaultRole := "default-roles-" + strings.ToLower(name)
	if r.DefaultRole != nil && r.DefaultRole.Name != "" {
		defaultRole = r.DefaultRole.Name
	}
	if !slices.ContainsFunc(r.Roles.Realm, func(x Role) bool { return x.Name == defaultRole }) {
		dr := realmRole(defaultRole, "${role_default-roles}")
		dr.Composites = &RoleComposites{Realm: []string{"offline_access", "uma_authorization"},
			Client: map[string][]string{"account": {"view-profile", "manage-account"}}}
		if r.DefaultRoles != nil { // a pre-13 export: its default roles become the composite
			dr.Composites = &RoleComposites{Realm: r.DefaultRoles}
			for _, c := range r.Clients {
				if len(c.DefaultRoles) > 0 {
					if dr.Composites.Client == nil {
						dr.Composites.Client = map[string][]string{}
					}
					dr.Composites.Client[c.ClientID] = c.DefaultRoles
				}
			}
		}
		r.Roles.Realm = append(r.Roles.Realm, dr)
	}
	r.DefaultRoles = nil

	for i := range r.Clients {
		if warnings, err = prepareClient(&r.Clients[i], r, scopeProtocol, fmt.Sprintf("clients[%d]", i), warnings); err != nil {
			return warnings, err
		}
	}
	assignIDs(r)
	fix := func(role *Role, client bool) {
		c := role.Composites
		role.Composite, role.ClientRole = c != nil && (len(c.Realm) > 0 || len(c.Client) > 0), client
	}
	for i := range r.Roles.Realm {
		fix(&r.Roles.Realm[i], false)
	}
	for _, roles := range r.Roles.Client {
		for i := range roles {
			fix(&roles[i], true)
		}
	}
	for _, role := range r.Roles.Realm {
		if role.Name == defaultRole {
			r.DefaultRole = &Role{ID: role.ID, Name: role.Name, Description: role.Description, Composite: true, ContainerID: r.ID}
		}
	}
	return warnings, nil
}

// prepareClient fills in c's Keycloak defaults explicitly: flags, scopes
// from the realm's defaults when c names none (by protocol), and a generated
// secret for a confidential OIDC client without one (32 random bytes,
// base64url), as Keycloak does. Unknown scope names are dropped with a
// warning, as Keycloak ignores them.
func prepareClient(c *Client, r *Realm, scopeProtocol map[string]string, path string, warnings []string) ([]string, error) {
	if c.Protocol == "" {
		c.Protocol = "openid-connect"
	}
	for p, v := range map[**bool]bool{
		&c.Enabled: true, &c.SurrogateAuthRequired: false, &c.AlwaysDisplayInConsole: false,
		&c.BearerOnly: false, &c.ConsentRequired: false, &c.StandardFlowEnabled: true,
		&c.ImplicitFlowEnabled: false, &c.DirectAccessGrantsEnabled: false, &c.ServiceAccountsEnabled: false,
		&c.PublicClient: false, &c.FrontchannelLogout: false, &c.FullScopeAllowed: true,
	} {
		setDefault(p, v)
	}
	setDefault(&c.NotBefore, 0)
	if c.ClientAuthenticatorType == "" {
		c.ClientAuthenticatorType = "client-secret"
	}
	if c.RedirectURIs == nil {
		c.RedirectURIs = []string{}
	}
	if c.WebOrigins == nil {
		c.WebOrigins = []string{}
	}
	for i := range c.ProtocolMappers {
		if c.ProtocolMappers[i].Protocol == "" {
			c.ProtocolMappers[i].Protocol = c.Protocol
		}
	}
	ofProtocol := func(names []string) []string {
		out := []string{}
		for _, n := range names {
			if scopeProtocol[n] == c.Protocol {
				out = append(out, n)
			}
		}
		return out
	}
	if c.DefaultClientScopes == nil {
		c.DefaultClientScopes = ofProtocol(r.DefaultDefaultClientScopes)
	}
	if c.OptionalClientScopes == nil {
		c.OptionalClientScopes = ofProtocol(r.DefaultOptionalClientScopes)
	}
	c.DefaultClientScopes, warnings = knownScopes(c.DefaultClientScopes, scopeProtocol, path+".defaultClientScopes", warnings)
	c.OptionalClientScopes, warnings = knownScopes(c.OptionalClientScopes, scopeProtocol, path+".optionalClientScopes", warnings)
	if *c.PublicClient {
		c.Secret = ""
	} else if c.Secret == "" && !*c.BearerOnly && c.Protocol == "openid-connect" &&
		(c.ClientAuthenticatorType == "client-secret" || c.ClientAuthenticatorType == "client-secret-jwt") {
		secret, err := NewClientSecret()
		if err != nil {
			return warnings, err
		}
		c.Secret = secret
	}
	return warnings, nil
}

// NewClientSecret returns a fresh client secret: 32 random bytes, base64url.
func NewClientSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("rep: client secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func knownScopes(names []string, scopeProtocol map[string]string, path string, warnings []string) ([]string, []string) {
	out := []string{}
	for _, n := range names {
		if _, ok := scopeProtocol[n]; ok {
			out = append(out, n)
		} else {
			warnings = append(warnings, fmt.Sprintf("%s: unknown client scope %q ignored", path, n))
		}
	}
	return out, warnings
}

// assignIDs gives a new UUID to everything that has none, so an export of
// what was imported can be imported again unchanged.
func assignIDs(r *Realm) {
	set := func(id *string) {
		if *id == "" {
			*id = uuid.NewString()
		}
	}
	set(&r.ID)
	for i := range r.Roles.Realm {
		set(&r.Roles.Realm[i].ID)
	}
	for _, roles := range r.Roles.Client {
		for i := range roles {
			set(&roles[i].ID)
		}
	}
	for i := range r.Clients {
		set(&r.Clients[i].ID)
		AssignMapperIDs(r.Clients[i].ProtocolMappers)
	}
	for i := range r.ClientScopes {
		set(&r.ClientScopes[i].ID)
		AssignMapperIDs(r.ClientScopes[i].ProtocolMappers)
	}
	var groups func([]Group)
	groups = func(gs []Group) {
		for i := range gs {
			set(&gs[i].ID)
			groups(gs[i].SubGroups)
		}
	}
	groups(r.Groups)
	for i := range r.Users {
		set(&r.Users[i].ID)
		for j := range r.Users[i].Credentials {
			set(&r.Users[i].Credentials[j].ID)
		}
	}
	for i := range r.IdentityProviders {
		set(&r.IdentityProviders[i].InternalID)
	}
	for i := range r.IdentityProviderMappers {
		set(&r.IdentityProviderMappers[i].ID)
	}
	var components func(map[string][]ComponentExport)
	components = func(m map[string][]ComponentExport) {
		for _, cs := range m {
			for i := range cs {
				set(&cs[i].ID)
				components(cs[i].SubComponents)
			}
		}
	}
	components(r.Components)
}

func appendMissing(list []string, names ...string) []string {
	for _, n := range names {
		if !slices.Contains(list, n) {
			list = append(list, n)
		}
	}
	return list
}

func appendMissingRoles(list []Role, roles ...Role) []Role {
	for _, role := range roles {
		if !slices.ContainsFunc(list, func(x Role) bool { return x.Name == role.Name }) {
			list = append(list, role)
		}
	}
	return list
}

func addScopeMapping(m map[string][]ScopeMapping, clientID string, sm ScopeMapping) map[string][]ScopeMapping {
	if m == nil {
		m = map[string][]ScopeMapping{}
	}
	m[clientID] = append(m[clientID], sm)
	return m
}

func realmRole(name, description string) Role {
	return Role{Name: name, Description: description}
}

func clientRole(name string, composites ...string) Role {
	r := Role{Name: name, Description: "${role_" + name + "}", ClientRole: true}
	if len(composites) > 0 {
		r.Composite = true
		// The owning client is filled in by the caller's map key.
		r.Composites = &RoleComposites{Client: map[string][]string{"": composites}}
	}
	return r
}

// builtinClientRoles returns the roles of Keycloak's built-in clients by
// clientId, composites included.
func builtinClientRoles() map[string][]Role {
	mgmt := []string{"create-client", "impersonation", "manage-authorization", "manage-clients", "manage-events",
		"manage-identity-providers", "manage-realm", "manage-users", "query-clients", "query-groups", "query-realms",
		"query-users", "view-authorization", "view-clients", "view-events", "view-identity-providers", "view-realm", "view-users"}
	var rm []Role
	for _, n := range mgmt {
		switch n {
		case "view-users":
			rm = append(rm, clientRole(n, "query-users", "query-groups"))
		case "view-clients":
			rm = append(rm, clientRole(n, "query-clients"))
		default:
			rm = append(rm, clientRole(n))
		}
	}
	rm = append(rm, clientRole("realm-admin", mgmt...))
	out := map[string][]Role{
		"realm-management": rm,
		"account": {
			clientRole("delete-account"), clientRole("manage-account", "manage-account-links"),
			clientRole("manage-account-links"), clientRole("manage-consent", "view-consent"),
			clientRole("view-applications"), clientRole("view-consent"), clientRole("view-groups"),
			clientRole("view-profile"),
		},
		"broker": {clientRole("read-token")},
	}
	for clientID, roles := range out {
		for i := range roles {
			if c := roles[i].Composites; c != nil {
				c.Client = map[string][]string{clientID: c.Client[""]}
			}
		}
	}
	return out
}

// builtinClients returns Keycloak 26's built-in clients of realm name,
// without ids and scopes (prepareClient fills those in).
func builtinClients(name string) []Client {
	account := "/realms/" + name + "/account/"
	console := "/admin/" + name + "/console/"
	client := func(clientID string, public bool, attrs map[string]string) Client {
		return Client{ClientID: clientID, Name: "${client_" + clientID + "}", PublicClient: ptr(public),
			FullScopeAllowed: ptr(false), FrontchannelLogout: ptr(false), Attributes: attrs}
	}
	acc := client("account", true, map[string]string{"post.logout.redirect.uris": "+", "realm_client": "false"})
	acc.RootURL, acc.BaseURL, acc.RedirectURIs = "${authBaseUrl}", account, []string{account + "*"}
	accConsole := client("account-console", true, map[string]string{"post.logout.redirect.uris": "+",
		"pkce.code.challenge.method": "S256", "realm_client": "false"})
	accConsole.RootURL, accConsole.BaseURL, accConsole.RedirectURIs = "${authBaseUrl}", account, []string{account + "*"}
	accConsole.ProtocolMappers = []ProtocolMapper{oidcMapper("audience resolve", "oidc-audience-resolve-mapper", map[string]string{})}
	cli := client("admin-cli", true, map[string]string{"client.use.lightweight.access.token.enabled": "true", "realm_client": "false"})
	cli.StandardFlowEnabled, cli.DirectAccessGrantsEnabled = ptr(false), ptr(true)
	broker := client("broker", false, map[string]string{"realm_client": "true"})
	broker.BearerOnly = ptr(true)
	mgmt := client("realm-management", false, map[string]string{"realm_client": "true"})
	mgmt.BearerOnly = ptr(true)
	sac := client("security-admin-console", true, map[string]string{"post.logout.redirect.uris": "+",
		"pkce.code.challenge.method": "S256", "client.use.lightweight.access.token.enabled": "true", "realm_client": "false"})
	sac.RootURL, sac.BaseURL, sac.RedirectURIs, sac.WebOrigins = "${authAdminUrl}", console, []string{console + "*"}, []string{"+"}
	sac.ProtocolMappers = []ProtocolMapper{attrMapper("locale", "locale", "locale", "String")}
	return []Client{acc, accConsole, cli, broker, mgmt, sac}
}

func oidcMapper(name, mapper string, config map[string]string) ProtocolMapper {
	return ProtocolMapper{Name: name, Protocol: "openid-connect", ProtocolMapper: mapper, Config: config}
}

// claims returns a mapper config putting the claim in the tokens named by
// which ("i"ntrospection, "u"serinfo, "d" ID token, "a"ccess token), plus extra.
func claims(which string, extra ...string) map[string]string {
	m := map[string]string{}
	for c, key := range map[rune]string{'i': "introspection.token.claim", 'u': "userinfo.token.claim",
		'd': "id.token.claim", 'a': "access.token.claim"} {
		if strings.ContainsRune(which, c) {
			m[key] = "true"
		}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

func attrMapper(name, attribute, claim, jsonType string) ProtocolMapper {
	return oidcMapper(name, "oidc-usermodel-attribute-mapper",
		claims("iuda", "user.attribute", attribute, "claim.name", claim, "jsonType.label", jsonType))
}

func noteMapper(name, note, claim, jsonType string) ProtocolMapper {
	return oidcMapper(name, "oidc-usersessionmodel-note-mapper",
		claims("iuda", "user.session.note", note, "claim.name", claim, "jsonType.label", jsonType))
}

// builtinClientScopes returns Keycloak 26's client scopes and mappers
// (organization and saml_organization left out), without ids.
func builtinClientScopes() []ClientScope {
	scope := func(name, desc, protocol string, attrs map[string]string, mappers ...ProtocolMapper) ClientScope {
		return ClientScope{Name: name, Description: desc, Protocol: protocol, Attributes: attrs, ProtocolMappers: mappers}
	}
	attrs := func(inToken, display bool, consent string) map[string]string {
		m := map[string]string{"display.on.consent.screen": fmt.Sprint(display), "include.in.token.scope": fmt.Sprint(inToken)}
		if consent != "" {
			m["consent.screen.text"] = consent
		}
		return m
	}
	const oidc = "openid-connect"
	roleMapper := func(name, mapper, claim string, which string) ProtocolMapper {
		return oidcMapper(name, mapper, claims(which, "user.attribute", "foo", "claim.name", claim,
			"jsonType.label", "String", "multivalued", "true"))
	}
	offline := scope("offline_access", "OpenID Connect built-in scope: offline_access", oidc,
		map[string]string{"consent.screen.text": "${offlineAccessScopeConsentText}", "display.on.consent.screen": "true"})
	roleList := scope("role_list", "SAML role list", "saml",
		map[string]string{"consent.screen.text": "${samlRoleListScopeConsentText}", "display.on.consent.screen": "true"},
		ProtocolMapper{Name: "role list", Protocol: "saml", ProtocolMapper: "saml-role-list-mapper",
			Config: map[string]string{"single": "false", "attribute.nameformat": "Basic", "attribute.name": "Role"}})
	return []ClientScope{
		scope("profile", "OpenID Connect built-in scope: profile", oidc, attrs(true, true, "${profileScopeConsentText}"),
			attrMapper("profile", "profile", "profile", "String"),
			attrMapper("nickname", "nickname", "nickname", "String"),
			attrMapper("locale", "locale", "locale", "String"),
			attrMapper("gender", "gender", "gender", "String"),
			attrMapper("username", "username", "preferred_username", "String"),
			attrMapper("updated at", "updatedAt", "updated_at", "long"),
			attrMapper("website", "website", "website", "String"),
			attrMapper("given name", "firstName", "given_name", "String"),
			attrMapper("zoneinfo", "zoneinfo", "zoneinfo", "String"),
			oidcMapper("full name", "oidc-full-name-mapper", claims("iuda")),
			attrMapper("family name", "lastName", "family_name", "String"),
			attrMapper("picture", "picture", "picture", "String"),
			attrMapper("middle name", "middleName", "middle_name", "String"),
			attrMapper("birthdate", "birthdate", "birthdate", "String")),
		scope("email", "OpenID Connect built-in scope: email", oidc, attrs(true, true, "${emailScopeConsentText}"),
			attrMapper("email", "email", "email", "String"),
			oidcMapper("email verified", "oidc-usermodel-property-mapper",
				claims("iuda", "user.attribute", "emailVerified", "claim.name", "email_verified", "jsonType.label", "boolean"))),
		scope("address", "OpenID Connect built-in scope: address", oidc, attrs(true, true, "${addressScopeConsentText}"),
			oidcMapper("address", "oidc-address-mapper", claims("iuda",
				"user.attribute.formatted", "formatted", "user.attribute.country", "country",
				"user.attribute.postal_code", "postal_code", "user.attribute.street", "street",
				"user.attribute.region", "region", "user.attribute.locality", "locality"))),
		scope("phone", "OpenID Connect built-in scope: phone", oidc, attrs(true, true, "${phoneScopeConsentText}"),
			attrMapper("phone number", "phoneNumber", "phone_number", "String"),
			attrMapper("phone number verified", "phoneNumberVerified", "phone_number_verified", "boolean")),
		offline,
		scope("roles", "OpenID Connect scope for add user roles to the access token", oidc,
			attrs(false, true, "${rolesScopeConsentText}"),
			roleMapper("client roles", "oidc-usermodel-client-role-mapper", "resource_access.${client_id}.roles", "ia"),
			roleMapper("realm roles", "oidc-usermodel-realm-role-mapper", "realm_access.roles", "ia"),
			oidcMapper("audience resolve", "oidc-audience-resolve-mapper", claims("ia"))),
		scope("web-origins", "OpenID Connect scope for add allowed web origins to the access token", oidc,
			map[string]string{"include.in.token.scope": "false", "display.on.consent.screen": "false", "consent.screen.text": ""},
			oidcMapper("allowed web origins", "oidc-allowed-origins-mapper", claims("ia"))),
		scope("microprofile-jwt", "Microprofile - JWT built-in scope", oidc, attrs(true, false, ""),
			attrMapper("upn", "username", "upn", "String"),
			roleMapper("groups", "oidc-usermodel-realm-role-mapper", "groups", "iuda")),
		scope("acr", "OpenID Connect scope for add acr (authentication context class reference) to the token", oidc,
			attrs(false, false, ""), oidcMapper("acr loa level", "oidc-acr-mapper", claims("iuda"))),
		scope("basic", "OpenID Connect scope for add all basic claims to the token", oidc, attrs(false, false, ""),
			noteMapper("auth_time", "AUTH_TIME", "auth_time", "long"),
			oidcMapper("sub", "oidc-sub-mapper", claims("ia"))),
		scope("service_account", "Specific scope for a client enabled for service accounts", oidc, attrs(false, false, ""),
			noteMapper("Client Host", "clientHost", "clientHost", "String"),
			noteMapper("Client ID", "client_id", "client_id", "String"),
			noteMapper("Client IP Address", "clientAddress", "clientAddress", "String")),
		roleList,
	}
}
