// Package rep holds Keycloak's JSON representations (the shapes of realm
// exports and the admin REST API) and converts them to and from store types.
// It is the one representation layer shared by realm import/export, the admin
// API and user import.
//
// What the store keeps (the whole team relies on these):
//
//   - store.Realm.Settings is the JSON of a Realm whose collections (roles,
//     groups, users, clients, clientScopes, identityProviders,
//     identityProviderMappers, components) are empty: they live in their own
//     tables. scopeMappings and clientScopeMappings name roles, clients and
//     scopes by name and stay in Settings, as do defaultRole (by name) and
//     defaultGroups (by path). The columns Name, ID and Enabled are
//     authoritative; DecodeRealm copies them over what Settings says. Realms
//     written here have Keycloak's defaults filled in explicitly.
//   - store.Client.Config is the JSON of a Client with id, clientId, secret
//     and registrationAccessToken emptied (the first three are columns; the
//     registration token is kept only as the hash of a token keygate issued).
//     Public clients have no secret; confidential OIDC clients always have one.
//     defaultClientScopes and optionalClientScopes are explicit lists of scope
//     names (never "absent": the realm's defaults are applied on creation).
//   - store.ClientScope.Config is the JSON of a ClientScope without id and name.
//   - Roles, groups, users and credentials live in their tables; ids from
//     imported files are kept, so `sub` survives a migration, and missing ones
//     are new UUIDs (v4). Usernames and emails are stored lower-cased.
//     Credentials hold Keycloak's secretData/credentialData strings verbatim.
//   - Components of a realm export hang under the realm: a top-level
//     component's ParentID is the realm's id, a sub-component's its parent's.
package rep

// Realm is Keycloak's RealmRepresentation, restricted to what keygate honours
// or carries through. Unknown fields are ignored on input, as Keycloak does.
//
// Pointer fields distinguish "absent" from the zero value: absent means
// Keycloak's default (see RealmSettings). Realms written by keygate (NewRealm,
// ImportRealm) have every default filled in explicitly, as Keycloak stores them.
type Realm struct {
	ID                     string `json:"id,omitempty"`
	Realm                  string `json:"realm"`
	DisplayName            string `json:"displayName,omitempty"`
	DisplayNameHTML        string `json:"displayNameHtml,omitempty"`
	Enabled                *bool  `json:"enabled,omitempty"`
	SSLRequired            string `json:"sslRequired,omitempty"`
	RegistrationAllowed    *bool  `json:"registrationAllowed,omitempty"`
	LoginWithEmailAllowed  *bool  `json:"loginWithEmailAllowed,omitempty"`
	DuplicateEmailsAllowed *bool  `json:"duplicateEmailsAllowed,omitempty"`
	ResetPasswordAllowed   *bool  `json:"resetPasswordAllowed,omitempty"`
	EditUsernameAllowed    *bool  `json:"editUsernameAllowed,omitempty"`
	RememberMe             *bool  `json:"rememberMe,omitempty"`
	VerifyEmail            *bool  `json:"verifyEmail,omitempty"`

	RegistrationEmailAsUsername *bool    `json:"registrationEmailAsUsername,omitempty"`
	RequiredCredentials         []string `json:"requiredCredentials,omitempty"`
	LoginTheme                  string   `json:"loginTheme,omitempty"`
	AccountTheme                string   `json:"accountTheme,omitempty"`
	AdminTheme                  string   `json:"adminTheme,omitempty"`
	EmailTheme                  string   `json:"emailTheme,omitempty"`

	// Token and session lifetimes, seconds.
	AccessTokenLifespan                 *int  `json:"accessTokenLifespan,omitempty"`
	AccessTokenLifespanForImplicitFlow  *int  `json:"accessTokenLifespanForImplicitFlow,omitempty"`
	SSOSessionIdleTimeout               *int  `json:"ssoSessionIdleTimeout,omitempty"`
	SSOSessionMaxLifespan               *int  `json:"ssoSessionMaxLifespan,omitempty"`
	SSOSessionIdleTimeoutRememberMe     *int  `json:"ssoSessionIdleTimeoutRememberMe,omitempty"`
	SSOSessionMaxLifespanRememberMe     *int  `json:"ssoSessionMaxLifespanRememberMe,omitempty"`
	OfflineSessionIdleTimeout           *int  `json:"offlineSessionIdleTimeout,omitempty"`
	OfflineSessionMaxLifespanEnabled    *bool `json:"offlineSessionMaxLifespanEnabled,omitempty"`
	OfflineSessionMaxLifespan           *int  `json:"offlineSessionMaxLifespan,omitempty"`
	ClientSessionIdleTimeout            *int  `json:"clientSessionIdleTimeout,omitempty"`
	ClientSessionMaxLifespan            *int  `json:"clientSessionMaxLifespan,omitempty"`
	ClientOfflineSessionIdleTimeout     *int  `json:"clientOfflineSessionIdleTimeout,omitempty"`
	ClientOfflineSessionMaxLifespan     *int  `json:"clientOfflineSessionMaxLifespan,omitempty"`
	AccessCodeLifespan                  *int  `json:"accessCodeLifespan,omitempty"`
	AccessCodeLifespanUserAction        *int  `json:"accessCodeLifespanUserAction,omitempty"`
	AccessCodeLifespanLogin             *int  `json:"accessCodeLifespanLogin,omitempty"`
	ActionTokenGeneratedByAdminLifespan *int  `json:"actionTokenGeneratedByAdminLifespan,omitempty"`
	ActionTokenGeneratedByUserLifespan  *int  `json:"actionTokenGeneratedByUserLifespan,omitempty"`
	OAuth2DeviceCodeLifespan            *int  `json:"oauth2DeviceCodeLifespan,omitempty"`
	OAuth2DevicePollingInterval         *int  `json:"oauth2DevicePollingInterval,omitempty"`
	RevokeRefreshToken                  *bool `json:"revokeRefreshToken,omitempty"`
	RefreshTokenMaxReuse                *int  `json:"refreshTokenMaxReuse,omitempty"`
	NotBefore                           *int  `json:"notBefore,omitempty"`

	PasswordPolicy string `json:"passwordPolicy,omitempty"`

	// One-time passwords (Keycloak's otpPolicy*; see OTPPolicy).
	OTPPolicyType            string   `json:"otpPolicyType,omitempty"`
	OTPPolicyAlgorithm       string   `json:"otpPolicyAlgorithm,omitempty"`
	OTPPolicyInitialCounter  *int     `json:"otpPolicyInitialCounter,omitempty"`
	OTPPolicyDigits          *int     `json:"otpPolicyDigits,omitempty"`
	OTPPolicyLookAheadWindow *int     `json:"otpPolicyLookAheadWindow,omitempty"`
	OTPPolicyPeriod          *int     `json:"otpPolicyPeriod,omitempty"`
	OTPPolicyCodeReusable    *bool    `json:"otpPolicyCodeReusable,omitempty"`
	OTPSupportedApplications []string `json:"otpSupportedApplications,omitempty"`

	// Brute-force detection (Keycloak's names and meanings).
	BruteForceProtected          *bool  `json:"bruteForceProtected,omitempty"`
	PermanentLockout             *bool  `json:"permanentLockout,omitempty"`
	MaxTemporaryLockouts         *int   `json:"maxTemporaryLockouts,omitempty"`
	BruteForceStrategy           string `json:"bruteForceStrategy,omitempty"`
	FailureFactor                *int   `json:"failureFactor,omitempty"`
	WaitIncrementSeconds         *int   `json:"waitIncrementSeconds,omitempty"`
	MaxFailureWaitSeconds        *int   `json:"maxFailureWaitSeconds,omitempty"`
	MinimumQuickLoginWaitSeconds *int   `json:"minimumQuickLoginWaitSeconds,omitempty"`
	QuickLoginCheckMilliSeconds  *int64 `json:"quickLoginCheckMilliSeconds,omitempty"`
	MaxDeltaTimeSeconds          *int   `json:"maxDeltaTimeSeconds,omitempty"`

	DefaultRole  *Role    `json:"defaultRole,omitempty"`
	DefaultRoles []string `json:"defaultRoles,omitempty"` // pre-KC13 exports; import folds them into DefaultRole
	// DefaultGroups are group paths every new user joins.
	DefaultGroups []string `json:"defaultGroups,omitempty"`
	// The realm's default client scopes, by name. Not omitempty: an explicit
	// empty list (no defaults) differs from an absent one (Keycloak's).
	DefaultDefaultClientScopes  []string          `json:"defaultDefaultClientScopes"`
	DefaultOptionalClientScopes []string          `json:"defaultOptionalClientScopes"`
	DefaultSignatureAlgorithm   string            `json:"defaultSignatureAlgorithm,omitempty"`
	Attributes                  map[string]string `json:"attributes,omitempty"`
	InternationalizationEnabled *bool             `json:"internationalizationEnabled,omitempty"`
	SupportedLocales            []string          `json:"supportedLocales,omitempty"`
	DefaultLocale               string            `json:"defaultLocale,omitempty"`
	EventsEnabled               *bool             `json:"eventsEnabled,omitempty"`
	EventsListeners             []string          `json:"eventsListeners"`
	AdminEventsEnabled          *bool             `json:"adminEventsEnabled,omitempty"`
	AdminEventsDetailsEnabled   *bool             `json:"adminEventsDetailsEnabled,omitempty"`
	EnabledEventTypes           []string          `json:"enabledEventTypes,omitempty"`
	EventsExpiration            *int64            `json:"eventsExpiration,omitempty"` // seconds; 0 or absent: kept forever
	SMTPServer                  map[string]string `json:"smtpServer,omitempty"`
	BrowserSecurityHeaders      map[string]string `json:"browserSecurityHeaders,omitempty"`
	UserManagedAccessAllowed    *bool             `json:"userManagedAccessAllowed,omitempty"`
	OrganizationsEnabled        *bool             `json:"organizationsEnabled,omitempty"`
	BrowserFlow                 string            `json:"browserFlow,omitempty"`
	RegistrationFlow            string            `json:"registrationFlow,omitempty"`
	DirectGrantFlow             string            `json:"directGrantFlow,omitempty"`
	ResetCredentialsFlow        string            `json:"resetCredentialsFlow,omitempty"`
	ClientAuthenticationFlow    string            `json:"clientAuthenticationFlow,omitempty"`
	FirstBrokerLoginFlow        string            `json:"firstBrokerLoginFlow,omitempty"`

	// LocalizationTexts are the realm's own texts by locale and message
	// key; they override the shipped catalogs on the realm's pages.
	LocalizationTexts map[string]map[string]string `json:"localizationTexts,omitempty"`
	// RequiredActions are the realm's registered required actions
	// (absent: Keycloak's defaults, RequiredActionProviders).
	RequiredActions []RequiredActionProvider `json:"requiredActions,omitzero"`

	// Collections: present in exports, stored in their own tables (scope
	// mappings are by name and stay in the realm's settings).
	Roles                   *RealmRoles                  `json:"roles,omitempty"`
	Groups                  []Group                      `json:"groups,omitempty"`
	Users                   []User                       `json:"users,omitempty"`
	Clients                 []Client                     `json:"clients,omitempty"`
	ClientScopes            []ClientScope                `json:"clientScopes,omitempty"`
	ScopeMappings           []ScopeMapping               `json:"scopeMappings,omitempty"`
	ClientScopeMappings     map[string][]ScopeMapping    `json:"clientScopeMappings,omitempty"`
	IdentityProviders       []IdentityProvider           `json:"identityProviders,omitempty"`
	IdentityProviderMappers []IdentityProviderMapper     `json:"identityProviderMappers,omitempty"`
	Components              map[string][]ComponentExport `json:"components,omitempty"`
	// Keycloak 1.x's user federation shape: import converts it to
	// components; export never writes it.
	UserFederationProviders []LegacyFederationProvider `json:"userFederationProviders,omitempty"`
	UserFederationMappers   []LegacyFederationMapper   `json:"userFederationMappers,omitempty"`
	KeycloakVersion         string                     `json:"keycloakVersion,omitempty"`
}

// RealmRoles is the "roles" object of a realm export.
type RealmRoles struct {
	Realm  []Role            `json:"realm,omitempty"`
	Client map[string][]Role `json:"client,omitempty"`
}

// Role is Keycloak's RoleRepresentation.
type Role struct {
	ID          string              `json:"id,omitempty"`
	Name        string              `json:"name"`
	Description string              `json:"description,omitempty"`
	Composite   bool                `json:"composite"`
	Composites  *RoleComposites     `json:"composites,omitempty"`
	ClientRole  bool                `json:"clientRole"`
	ContainerID string              `json:"containerId,omitempty"`
	Attributes  map[string][]string `json:"attributes,omitempty"`
}

// RoleComposites names the roles a composite role includes.
type RoleComposites struct {
	Realm  []string            `json:"realm,omitempty"`
	Client map[string][]string `json:"client,omitempty"`
}

// Group is Keycloak's GroupRepresentation.
type Group struct {
	ID            string              `json:"id,omitempty"`
	Name          string              `json:"name"`
	Path          string              `json:"path,omitempty"`
	ParentID      string              `json:"parentId,omitempty"`
	SubGroupCount *int                `json:"subGroupCount,omitempty"`
	SubGroups     []Group             `json:"subGroups,omitempty"`
	Attributes    map[string][]string `json:"attributes,omitempty"`
	RealmRoles    []string            `json:"realmRoles,omitempty"`
	ClientRoles   map[string][]string `json:"clientRoles,omitempty"`
}

// User is Keycloak's UserRepresentation.
type User struct {
	ID                         string              `json:"id,omitempty"`
	CreatedTimestamp           int64               `json:"createdTimestamp,omitempty"`
	Username                   string              `json:"username"`
	Enabled                    *bool               `json:"enabled,omitempty"`
	Totp                       *bool               `json:"totp,omitempty"`
	EmailVerified              *bool               `json:"emailVerified,omitempty"`
	FirstName                  string              `json:"firstName,omitempty"`
	LastName                   string              `json:"lastName,omitempty"`
	Email                      string              `json:"email,omitempty"`
	FederationLink             string              `json:"federationLink,omitempty"`
	ServiceAccountClientID     string              `json:"serviceAccountClientId,omitempty"`
	Attributes                 map[string][]string `json:"attributes,omitempty"`
	Credentials                []Credential        `json:"credentials,omitempty"`
	DisableableCredentialTypes []string            `json:"disableableCredentialTypes,omitempty"`
	RequiredActions            []string            `json:"requiredActions,omitempty"`
	FederatedIdentities        []FederatedIdentity `json:"federatedIdentities,omitempty"`
	ClientConsents             []UserConsent       `json:"clientConsents,omitempty"`
	RealmRoles                 []string            `json:"realmRoles,omitempty"`
	ClientRoles                map[string][]string `json:"clientRoles,omitempty"`
	NotBefore                  *int64              `json:"notBefore,omitempty"`
	Groups                     []string            `json:"groups,omitempty"`
	Access                     map[string]bool     `json:"access,omitempty"`
}

// Credential is Keycloak's CredentialRepresentation. SecretData and
// CredentialData are JSON documents encoded as strings.
type Credential struct {
	ID             string `json:"id,omitempty"`
	Type           string `json:"type,omitempty"`
	UserLabel      string `json:"userLabel,omitempty"`
	CreatedDate    int64  `json:"createdDate,omitempty"`
	SecretData     string `json:"secretData,omitempty"`
	CredentialData string `json:"credentialData,omitempty"`
	Priority       int    `json:"priority,omitempty"`
	Value          string `json:"value,omitempty"` // plain text input only
	Temporary      *bool  `json:"temporary,omitempty"`
	// Legacy (pre-KC 11) hashed fields.
	HashedSaltedValue string `json:"hashedSaltedValue,omitempty"`
	Salt              string `json:"salt,omitempty"`
	HashIterations    int    `json:"hashIterations,omitempty"`
	Algorithm         string `json:"algorithm,omitempty"`
}

// UserConsent is a user's consent to a client (Keycloak's
// UserConsentRepresentation): the client by clientId, the client scopes
// granted by name.
type UserConsent struct {
	ClientID            string   `json:"clientId"`
	GrantedClientScopes []string `json:"grantedClientScopes,omitempty"`
	CreatedDate         int64    `json:"createdDate,omitempty"`
	LastUpdatedDate     int64    `json:"lastUpdatedDate,omitempty"`
}

// FederatedIdentity links a user to an identity provider account.
type FederatedIdentity struct {
	IdentityProvider string `json:"identityProvider"`
	UserID           string `json:"userId"`
	UserName         string `json:"userName"`
}

// Client is Keycloak's ClientRepresentation.
type Client struct {
	ID                                 string            `json:"id,omitempty"`
	ClientID                           string            `json:"clientId"`
	Name                               string            `json:"name,omitempty"`
	Description                        string            `json:"description,omitempty"`
	RootURL                            string            `json:"rootUrl,omitempty"`
	AdminURL                           string            `json:"adminUrl,omitempty"`
	BaseURL                            string            `json:"baseUrl,omitempty"`
	SurrogateAuthRequired              *bool             `json:"surrogateAuthRequired,omitempty"`
	Enabled                            *bool             `json:"enabled,omitempty"`
	AlwaysDisplayInConsole             *bool             `json:"alwaysDisplayInConsole,omitempty"`
	ClientAuthenticatorType            string            `json:"clientAuthenticatorType,omitempty"`
	Secret                             string            `json:"secret,omitempty"`
	RegistrationAccessToken            string            `json:"registrationAccessToken,omitempty"`
	RedirectURIs                       []string          `json:"redirectUris"`
	WebOrigins                         []string          `json:"webOrigins"`
	NotBefore                          *int64            `json:"notBefore,omitempty"`
	BearerOnly                         *bool             `json:"bearerOnly,omitempty"`
	ConsentRequired                    *bool             `json:"consentRequired,omitempty"`
	StandardFlowEnabled                *bool             `json:"standardFlowEnabled,omitempty"`
	ImplicitFlowEnabled                *bool             `json:"implicitFlowEnabled,omitempty"`
	DirectAccessGrantsEnabled          *bool             `json:"directAccessGrantsEnabled,omitempty"`
	ServiceAccountsEnabled             *bool             `json:"serviceAccountsEnabled,omitempty"`
	AuthorizationServicesEnabled       *bool             `json:"authorizationServicesEnabled,omitempty"`
	PublicClient                       *bool             `json:"publicClient,omitempty"`
	FrontchannelLogout                 *bool             `json:"frontchannelLogout,omitempty"`
	Protocol                           string            `json:"protocol,omitempty"`
	Attributes                         map[string]string `json:"attributes,omitempty"`
	AuthenticationFlowBindingOverrides map[string]string `json:"authenticationFlowBindingOverrides,omitempty"`
	FullScopeAllowed                   *bool             `json:"fullScopeAllowed,omitempty"`
	NodeReRegistrationTimeout          *int              `json:"nodeReRegistrationTimeout,omitempty"`
	ProtocolMappers                    []ProtocolMapper  `json:"protocolMappers,omitempty"`
	// Client scopes by name. Not omitempty: absent means "the realm's
	// defaults" on import, an explicit empty list means none.
	DefaultClientScopes  []string        `json:"defaultClientScopes"`
	OptionalClientScopes []string        `json:"optionalClientScopes"`
	DefaultRoles         []string        `json:"defaultRoles,omitempty"` // pre-KC13 exports; import folds them into the realm's default role
	Access               map[string]bool `json:"access,omitempty"`
}

// ProtocolMapper is Keycloak's ProtocolMapperRepresentation.
type ProtocolMapper struct {
	ID              string            `json:"id,omitempty"`
	Name            string            `json:"name"`
	Protocol        string            `json:"protocol,omitempty"`
	ProtocolMapper  string            `json:"protocolMapper"`
	ConsentRequired bool              `json:"consentRequired"`
	Config          map[string]string `json:"config,omitempty"`
}

// ClientScope is Keycloak's ClientScopeRepresentation.
type ClientScope struct {
	ID              string            `json:"id,omitempty"`
	Name            string            `json:"name"`
	Description     string            `json:"description,omitempty"`
	Protocol        string            `json:"protocol,omitempty"`
	Attributes      map[string]string `json:"attributes,omitempty"`
	ProtocolMappers []ProtocolMapper  `json:"protocolMappers,omitempty"`
}

// ScopeMapping is an entry of a realm export's scopeMappings.
type ScopeMapping struct {
	Client      string   `json:"client,omitempty"`
	ClientScope string   `json:"clientScope,omitempty"`
	Roles       []string `json:"roles,omitempty"`
}

// IdentityProvider is Keycloak's IdentityProviderRepresentation.
type IdentityProvider struct {
	Alias                       string            `json:"alias"`
	DisplayName                 string            `json:"displayName,omitempty"`
	InternalID                  string            `json:"internalId,omitempty"`
	ProviderID                  string            `json:"providerId"`
	Enabled                     *bool             `json:"enabled,omitempty"`
	UpdateProfileFirstLoginMode string            `json:"updateProfileFirstLoginMode,omitempty"`
	TrustEmail                  *bool             `json:"trustEmail,omitempty"`
	StoreToken                  *bool             `json:"storeToken,omitempty"`
	AddReadTokenRoleOnCreate    *bool             `json:"addReadTokenRoleOnCreate,omitempty"`
	AuthenticateByDefault       *bool             `json:"authenticateByDefault,omitempty"`
	LinkOnly                    *bool             `json:"linkOnly,omitempty"`
	HideOnLogin                 *bool             `json:"hideOnLogin,omitempty"`
	FirstBrokerLoginFlowAlias   string            `json:"firstBrokerLoginFlowAlias,omitempty"`
	PostBrokerLoginFlowAlias    string            `json:"postBrokerLoginFlowAlias,omitempty"`
	Config                      map[string]string `json:"config"`
}

// IdentityProviderMapper is Keycloak's IdentityProviderMapperRepresentation.
type IdentityProviderMapper struct {
	ID                     string            `json:"id,omitempty"`
	Name                   string            `json:"name"`
	IdentityProviderAlias  string            `json:"identityProviderAlias"`
	IdentityProviderMapper string            `json:"identityProviderMapper"`
	Config                 map[string]string `json:"config"`
}

// ComponentExport is a component as realm exports nest them: config values
// are arrays of strings and children hang under subComponents by type.
type ComponentExport struct {
	ID            string                       `json:"id,omitempty"`
	Name          string                       `json:"name"`
	ProviderID    string                       `json:"providerId"`
	SubType       string                       `json:"subType,omitempty"`
	SubComponents map[string][]ComponentExport `json:"subComponents,omitempty"`
	Config        map[string][]string          `json:"config,omitempty"`
}

// Component is Keycloak's ComponentRepresentation as the admin API uses it.
type Component struct {
	ID           string              `json:"id,omitempty"`
	Name         string              `json:"name"`
	ProviderID   string              `json:"providerId"`
	ProviderType string              `json:"providerType"`
	ParentID     string              `json:"parentId,omitempty"`
	SubType      string              `json:"subType,omitempty"`
	Config       map[string][]string `json:"config,omitempty"`
}
