package rep

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/store"
)

// RealmSettings are a realm's settings with Keycloak 26's defaults resolved,
// in the units the rest of keygate uses. Zero durations mean what they mean in
// Keycloak: "inherit" (client session limits, remember-me timeouts) or
// "disabled" (offline max lifespan when not enabled).
type RealmSettings struct {
	ID, Name                     string
	DisplayName, DisplayNameHTML string
	Enabled                      bool
	SSLRequired                  string // "external" (default), "none", "all"

	RegistrationAllowed, RegistrationEmailAsUsername bool
	LoginWithEmailAllowed                            bool // default true
	DuplicateEmailsAllowed                           bool
	ResetPasswordAllowed, EditUsernameAllowed        bool
	RememberMe, VerifyEmail                          bool

	AccessTokenLifespan                 time.Duration // 300s
	AccessTokenLifespanForImplicitFlow  time.Duration // 900s
	SSOSessionIdleTimeout               time.Duration // 1800s: refresh_expires_in
	SSOSessionMaxLifespan               time.Duration // 36000s
	SSOSessionIdleTimeoutRememberMe     time.Duration // 0: SSOSessionIdleTimeout
	SSOSessionMaxLifespanRememberMe     time.Duration // 0: SSOSessionMaxLifespan
	OfflineSessionIdleTimeout           time.Duration // 2592000s
	OfflineSessionMaxLifespanEnabled    bool
	OfflineSessionMaxLifespan           time.Duration // 5184000s, only when enabled
	ClientSessionIdleTimeout            time.Duration // 0: the SSO session's
	ClientSessionMaxLifespan            time.Duration // 0: the SSO session's
	AccessCodeLifespan                  time.Duration // 60s: authorization codes
	AccessCodeLifespanLogin             time.Duration // 1800s: a login form's life
	AccessCodeLifespanUserAction        time.Duration // 300s: required actions
	ActionTokenGeneratedByUserLifespan  time.Duration // 300s
	ActionTokenGeneratedByAdminLifespan time.Duration // 43200s
	RevokeRefreshToken                  bool
	RefreshTokenMaxReuse                int
	NotBefore                           int64 // tokens issued before (unix seconds) are invalid

	PasswordPolicy string // Keycloak's policy string; "" means password.DefaultPolicy()
	BruteForce     BruteForceSettings
	OTP            OTPPolicy

	DefaultRole                 string   // realm role every new user gets: "default-roles-<realm>"
	DefaultGroups               []string // group paths every new user joins
	DefaultDefaultClientScopes  []string // given to new clients as default scopes
	DefaultOptionalClientScopes []string // given to new clients as optional scopes
	// ScopeMappings and ClientScopeMappings limit the roles in tokens of
	// clients with fullScopeAllowed=false (and of client scopes), by name.
	ScopeMappings       []ScopeMapping
	ClientScopeMappings map[string][]ScopeMapping

	DefaultSignatureAlgorithm   string // "RS256"
	InternationalizationEnabled bool
	SupportedLocales            []string
	DefaultLocale               string
	Events                      EventsSettings
	Attributes                  map[string]string
	// RequiredActions are the registered required actions by priority.
	RequiredActions []RequiredActionProvider
}

// EventsSettings are a realm's events settings (Keycloak's
// RealmEventsConfigRepresentation, resolved).
type EventsSettings struct {
	ID                        string // the realm's id
	EventsEnabled             bool   // store login events
	EnabledEventTypes         []string
	EventsExpiration          time.Duration // 0: stored events never expire
	EventsListeners           []string      // default ["jboss-logging"]
	AdminEventsEnabled        bool
	AdminEventsDetailsEnabled bool
}

// BruteForceSettings are Keycloak's brute-force detector settings
// (keycloak-compat §9). Imported realms keep Keycloak's default (off); realms
// created by keygate turn it on (NewRealm).
type BruteForceSettings struct {
	Protected             bool
	PermanentLockout      bool
	MaxTemporaryLockouts  int           // 0: unlimited temporary lockouts
	Strategy              string        // "MULTIPLE" (default) or "LINEAR"
	FailureFactor         int           // 30
	WaitIncrement         time.Duration // 60s
	MaxFailureWait        time.Duration // 900s
	MinimumQuickLoginWait time.Duration // 60s
	QuickLoginCheck       time.Duration // 1000ms
	MaxDeltaTime          time.Duration // 43200s: failures older than this are forgotten
}

// Keycloak 26 defaults for a new realm.
var (
	defaultDefaultClientScopes  = []string{"profile", "email", "roles", "web-origins", "acr", "basic", "role_list"} // role_list applies to SAML clients only
	defaultOptionalClientScopes = []string{"offline_access", "address", "phone", "microprofile-jwt"}
)

// DecodeRealm decodes a stored realm into its representation (collections
// empty) and its resolved settings. It runs once per request: one
// json.Unmarshal, no store access.
func DecodeRealm(r store.Realm) (Realm, RealmSettings, error) {
	var rep Realm
	if len(r.Settings) > 0 {
		if err := json.Unmarshal(r.Settings, &rep); err != nil {
			return Realm{}, RealmSettings{}, fmt.Errorf("rep: realm %q settings: %w", r.Name, err)
		}
	}
	rep.ID, rep.Realm, rep.Enabled = r.ID, r.Name, ptr(r.Enabled)
	return rep, rep.Settings(), nil
}

// Settings resolves r's settings, applying Keycloak's defaults to what r
// leaves unset. Non-positive lifespans that Keycloak requires to be positive
// (access token, SSO session, codes) also resolve to the default, so a
// hand-written 0 never issues already-expired tokens.
func (r *Realm) Settings() RealmSettings {
	s := RealmSettings{
		ID: r.ID, Name: r.Realm, DisplayName: r.DisplayName, DisplayNameHTML: r.DisplayNameHTML,
		Enabled:     boolOr(r.Enabled, true),
		SSLRequired: strOr(r.SSLRequired, "external"),

		RegistrationAllowed:         boolOr(r.RegistrationAllowed, false),
		RegistrationEmailAsUsername: boolOr(r.RegistrationEmailAsUsername, false),
		LoginWithEmailAllowed:       boolOr(r.LoginWithEmailAllowed, true),
		DuplicateEmailsAllowed:      boolOr(r.DuplicateEmailsAllowed, false),
		ResetPasswordAllowed:        boolOr(r.ResetPasswordAllowed, false),
		EditUsernameAllowed:         boolOr(r.EditUsernameAllowed, false),
		RememberMe:                  boolOr(r.RememberMe, false),
		VerifyEmail:                 boolOr(r.VerifyEmail, false),

		AccessTokenLifespan:                 positiveSeconds(r.AccessTokenLifespan, 300),
		AccessTokenLifespanForImplicitFlow:  positiveSeconds(r.AccessTokenLifespanForImplicitFlow, 900),
		SSOSessionIdleTimeout:               positiveSeconds(r.SSOSessionIdleTimeout, 1800),
		SSOSessionMaxLifespan:               positiveSeconds(r.SSOSessionMaxLifespan, 36000),
		SSOSessionIdleTimeoutRememberMe:     seconds(r.SSOSessionIdleTimeoutRememberMe, 0),
		SSOSessionMaxLifespanRememberMe:     seconds(r.SSOSessionMaxLifespanRememberMe, 0),
		OfflineSessionIdleTimeout:           positiveSeconds(r.OfflineSessionIdleTimeout, 2592000),
		OfflineSessionMaxLifespanEnabled:    boolOr(r.OfflineSessionMaxLifespanEnabled, false),
		OfflineSessionMaxLifespan:           positiveSeconds(r.OfflineSessionMaxLifespan, 5184000),
		ClientSessionIdleTimeout:            seconds(r.ClientSessionIdleTimeout, 0),
		ClientSessionMaxLifespan:            seconds(r.ClientSessionMaxLifespan, 0),
		AccessCodeLifespan:                  positiveSeconds(r.AccessCodeLifespan, 60),
		AccessCodeLifespanLogin:             positiveSeconds(r.AccessCodeLifespanLogin, 1800),
		AccessCodeLifespanUserAction:        positiveSeconds(r.AccessCodeLifespanUserAction, 300),
		ActionTokenGeneratedByUserLifespan:  positiveSeconds(r.ActionTokenGeneratedByUserLifespan, 300),
		ActionTokenGeneratedByAdminLifespan: positiveSeconds(r.ActionTokenGeneratedByAdminLifespan, 43200),
		RevokeRefreshToken:                  boolOr(r.RevokeRefreshToken, false),
		RefreshTokenMaxReuse:                intOr(r.RefreshTokenMaxReuse, 0),
		NotBefore:                           int64(intOr(r.NotBefore, 0)),

		PasswordPolicy: r.PasswordPolicy,
		OTP:            r.OTPPolicy(),
		BruteForce: BruteForceSettings{
			Protected:             boolOr(r.BruteForceProtected, false),
			PermanentLockout:      boolOr(r.PermanentLockout, false),
			MaxTemporaryLockouts:  intOr(r.MaxTemporaryLockouts, 0),
			Strategy:              strOr(r.BruteForceStrategy, "MULTIPLE"),
			FailureFactor:         positiveInt(r.FailureFactor, 30),
			WaitIncrement:         seconds(r.WaitIncrementSeconds, 60),
			MaxFailureWait:        seconds(r.MaxFailureWaitSeconds, 900),
			MinimumQuickLoginWait: seconds(r.MinimumQuickLoginWaitSeconds, 60),
			QuickLoginCheck:       time.Duration(int64Or(r.QuickLoginCheckMilliSeconds, 1000)) * time.Millisecond,
			MaxDeltaTime:          seconds(r.MaxDeltaTimeSeconds, 43200),
		},

		DefaultRole:                 "default-roles-" + strings.ToLower(r.Realm),
		DefaultGroups:               r.DefaultGroups,
		DefaultDefaultClientScopes:  r.DefaultDefaultClientScopes,
		DefaultOptionalClientScopes: r.DefaultOptionalClientScopes,
		ScopeMappings:               r.ScopeMappings,
		ClientScopeMappings:         r.ClientScopeMappings,

		DefaultSignatureAlgorithm:   strOr(r.DefaultSignatureAlgorithm, "RS256"),
		InternationalizationEnabled: boolOr(r.InternationalizationEnabled, false),
		SupportedLocales:            r.SupportedLocales,
		DefaultLocale:               r.DefaultLocale,
		Events: EventsSettings{
			ID: r.ID, EventsEnabled: boolOr(r.EventsEnabled, false), EnabledEventTypes: r.EnabledEventTypes,
			EventsListeners:    r.EventsListeners,
			AdminEventsEnabled: boolOr(r.AdminEventsEnabled, false), AdminEventsDetailsEnabled: boolOr(r.AdminEventsDetailsEnabled, false),
		},
		Attributes: r.Attributes,

		RequiredActions: r.RequiredActionProviders(),
	}
	if r.DefaultRole != nil && r.DefaultRole.Name != "" {
		s.DefaultRole = r.DefaultRole.Name
	}
	if r.EventsExpiration != nil && *r.EventsExpiration > 0 {
		s.Events.EventsExpiration = time.Duration(*r.EventsExpiration) * time.Second
	}
	if s.Events.EventsListeners == nil {
		s.Events.EventsListeners = []string{"jboss-logging"}
	}
	if s.DefaultDefaultClientScopes == nil {
		s.DefaultDefaultClientScopes = defaultDefaultClientScopes
	}
	if s.DefaultOptionalClientScopes == nil {
		s.DefaultOptionalClientScopes = defaultOptionalClientScopes
	}
	return s
}

// ClientSettings are a client's settings with Keycloak's defaults resolved.
type ClientSettings struct {
	ID       string // internal id
	ClientID string // the public client_id
	Name     string
	Secret   string // "" for public clients
	Protocol string // "openid-connect" (default) or "saml"

	Enabled                   bool // default true
	PublicClient              bool
	BearerOnly                bool
	ConsentRequired           bool
	StandardFlowEnabled       bool // default true
	ImplicitFlowEnabled       bool
	DirectAccessGrantsEnabled bool
	ServiceAccountsEnabled    bool
	FrontchannelLogout        bool
	FullScopeAllowed          bool   // default true
	ClientAuthenticatorType   string // "client-secret" (default)

	RootURL, BaseURL, AdminURL string
	// RedirectURIs and WebOrigins as configured: they may be relative to
	// RootURL, use "${authBaseUrl}"-style placeholders, end in "*", and
	// WebOrigins may hold "+" (derive from RedirectURIs) or "*".
	RedirectURIs, WebOrigins []string
	// PostLogoutRedirectURIs is the attribute post.logout.redirect.uris split
	// on "##"; "+" means "the redirect URIs".
	PostLogoutRedirectURIs []string
	// PKCEMethod is pkce.code.challenge.method: "" (PKCE optional), "S256" or "plain".
	PKCEMethod string
	// AccessTokenLifespan is access.token.lifespan; 0 means the realm's.
	AccessTokenLifespan time.Duration
	// UseRefreshTokens is use.refresh.tokens (default true).
	UseRefreshTokens bool
	// ClientCredentialsUseRefreshToken is client_credentials.use_refresh_token
	// (default false: no refresh token for client_credentials).
	ClientCredentialsUseRefreshToken bool

	DefaultClientScopes, OptionalClientScopes []string
	ProtocolMappers                           []ProtocolMapper
	Attributes                                map[string]string
	NotBefore                                 int64
}

// DecodeClient decodes a stored client into its representation (with id,
// clientId and secret restored from the columns) and its resolved settings.
// It runs per request: one json.Unmarshal.
func DecodeClient(c store.Client) (Client, ClientSettings, error) {
	rep, err := ClientFromStore(c)
	if err != nil {
		return Client{}, ClientSettings{}, err
	}
	return rep, rep.Settings(), nil
}

// Settings resolves c's settings, applying Keycloak's defaults to what c
// leaves unset.
func (c *Client) Settings() ClientSettings {
	a := c.Attributes
	s := ClientSettings{
		ID: c.ID, ClientID: c.ClientID, Name: c.Name, Secret: c.Secret,
		Protocol:                  strOr(c.Protocol, "openid-connect"),
		Enabled:                   boolOr(c.Enabled, true),
		PublicClient:              boolOr(c.PublicClient, false),
		BearerOnly:                boolOr(c.BearerOnly, false),
		ConsentRequired:           boolOr(c.ConsentRequired, false),
		StandardFlowEnabled:       boolOr(c.StandardFlowEnabled, true),
		ImplicitFlowEnabled:       boolOr(c.ImplicitFlowEnabled, false),
		DirectAccessGrantsEnabled: boolOr(c.DirectAccessGrantsEnabled, false),
		ServiceAccountsEnabled:    boolOr(c.ServiceAccountsEnabled, false),
		FrontchannelLogout:        boolOr(c.FrontchannelLogout, false),
		FullScopeAllowed:          boolOr(c.FullScopeAllowed, true),
		ClientAuthenticatorType:   strOr(c.ClientAuthenticatorType, "client-secret"),
		RootURL:                   c.RootURL, BaseURL: c.BaseURL, AdminURL: c.AdminURL,
		RedirectURIs: c.RedirectURIs, WebOrigins: c.WebOrigins,
		PKCEMethod:                       a["pkce.code.challenge.method"],
		UseRefreshTokens:                 attrBool(a, "use.refresh.tokens", true),
		ClientCredentialsUseRefreshToken: attrBool(a, "client_credentials.use_refresh_token", false),
		DefaultClientScopes:              c.DefaultClientScopes,
		OptionalClientScopes:             c.OptionalClientScopes,
		ProtocolMappers:                  c.ProtocolMappers,
		Attributes:                       a,
	}
	if c.NotBefore != nil {
		s.NotBefore = *c.NotBefore
	}
	if s.PublicClient {
		s.Secret = ""
	}
	if v := a["post.logout.redirect.uris"]; v != "" {
		s.PostLogoutRedirectURIs = strings.Split(v, "##")
	}
	if n, err := strconv.Atoi(a["access.token.lifespan"]); err == nil && n > 0 {
		s.AccessTokenLifespan = time.Duration(n) * time.Second
	}
	return s
}

func attrBool(a map[string]string, key string, def bool) bool {
	if b, err := strconv.ParseBool(a[key]); err == nil {
		return b
	}
	return def
}

func ptr[T any](v T) *T { return &v }

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func int64Or(p *int64, def int64) int64 {
	if p == nil {
		return def
	}
	return *p
}

func positiveInt(p *int, def int) int {
	if p == nil || *p <= 0 {
		return def
	}
	return *p
}

func strOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func seconds(p *int, def int) time.Duration {
	return time.Duration(intOr(p, def)) * time.Second
}

func positiveSeconds(p *int, def int) time.Duration {
	return time.Duration(positiveInt(p, def)) * time.Second
}
