// Package store defines keygate's persistence contract: plain Go types, context
// first, typed errors. Backends live in sub-packages (sqlite, postgres) and all
// of them must pass the conformance suite in storetest.
//
// Transactions travel in the context: Store.Tx runs a function with a context
// that carries the transaction, and every method called with that context runs
// inside it. Methods called with a plain context run on their own.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Typed errors; handlers map them to HTTP statuses in one place.
var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: conflict")
	// ErrUnavailable means the database could not answer: unreachable,
	// connection lost, shutting down, out of disk or connections, read-only,
	// or busy beyond its timeout. It is never the client's fault: every
	// surface answers it 503 with Retry-After, never as bad credentials or
	// a bad token. The backend sets it, keeping the driver's error in the
	// chain, so one classification serves every caller.
	ErrUnavailable = errors.New("store: database unavailable")
	// ErrAmbiguous means a lookup that names one user matched several
	// (GetUserByEmail in a realm that allows duplicate emails; Keycloak's
	// ModelDuplicateException). It is also ErrNotFound: there is no one
	// user, so a caller that looks a person up (login, forgot password,
	// linking) treats it as nobody, and one that checks an email is free
	// tests ErrAmbiguous first.
	ErrAmbiguous = fmt.Errorf("%w: several users match", ErrNotFound)
)

// Prober is offered by stores that can check reads and writes on
// connections of their own, for readiness: a probe must not wait behind
// the traffic it judges (SQLite's single writer, a saturated pool).
type Prober interface {
	// ProbeRead reads from the database.
	ProbeRead(ctx context.Context) error
	// ProbeWrite writes instance's heartbeat row, stamped now. A backend
	// that can tell the disk is (nearly) full fails it even when the small
	// write itself would still fit.
	ProbeWrite(ctx context.Context, instance string, now time.Time) error
}

// Store is everything keygate persists.
type Store interface {
	// Tx runs fn in one transaction. Nested calls join the outer transaction.
	// fn's error rolls everything back and is returned unchanged.
	Tx(ctx context.Context, fn func(ctx context.Context) error) error
	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	// Backup writes a consistent copy of the store to path (SQLite only).
	Backup(ctx context.Context, path string) error
	Close() error

	RealmStore
	ClientStore
	ScopeStore
	RoleStore
	GroupStore
	UserStore
	CredentialStore
	SessionStore
	ConsentStore
	TokenStore
	KeyStore
	BruteForceStore
	ComponentStore
	FederatedIdentityStore
	InitialAccessStore
	BulkUserWriter
	EventStore
}

// ---------------------------------------------------------------------------
// Realms

// Realm is a tenant. Settings holds the Keycloak realm attributes keygate
// honours or carries through (see idp/rep), serialized as JSON.
type Realm struct {
	ID       string
	Name     string
	Enabled  bool
	Settings json.RawMessage
	Created  time.Time
	// DuplicateEmailsAllowed is Keycloak's duplicateEmailsAllowed (also in
	// Settings), kept where the store enforces it: unless it is set, no two
	// users of the realm have the same non-empty email.
	DuplicateEmailsAllowed bool
}

type RealmStore interface {
	CreateRealm(ctx context.Context, r Realm) error // ErrConflict on duplicate id or name
	GetRealm(ctx context.Context, id string) (Realm, error)
	GetRealmByName(ctx context.Context, name string) (Realm, error)
	ListRealms(ctx context.Context) ([]Realm, error)
	// UpdateRealm replaces the realm row; renames allowed. ErrConflict on a
	// name clash, and when DuplicateEmailsAllowed goes from true to false
	// while users of the realm share an email (nothing is written).
	UpdateRealm(ctx context.Context, r Realm) error
	// DeleteRealm removes the realm and every row that belongs to it.
	DeleteRealm(ctx context.Context, id string) error
	// TouchRealmVersions moves every change counter of the realm (see
	// RealmVersion), so that every process reloads what it cached of it:
	// the admin API's clear-realm-cache, for a database changed where the
	// counters could not see it (a restored backup).
	TouchRealmVersions(ctx context.Context, id string) error
}

// ---------------------------------------------------------------------------
// Clients

// Client is an OIDC or SAML client. Config is Keycloak's ClientRepresentation
// minus id, clientId and secret (see idp/rep).
type Client struct {
	ID       string // internal UUID
	RealmID  string
	ClientID string // the public client_id
	// Secret is the confidential client's secret. Keycloak shows it again
	// (admin client-secret endpoint, realm export), so it is kept, not hashed.
	Secret string
	// RegistrationTokenHash is the SHA-256 of the current RFC 7592
	// registration access token's id, empty when none.
	RegistrationTokenHash string
	Config                json.RawMessage
	Created               time.Time
}

type ClientStore interface {
	CreateClient(ctx context.Context, c Client) error // ErrConflict on duplicate id or (realm, clientId)
	GetClient(ctx context.Context, realmID, id string) (Client, error)
	GetClientByClientID(ctx context.Context, realmID, clientID string) (Client, error)
	ListClients(ctx context.Context, realmID string) ([]Client, error)
	UpdateClient(ctx context.Context, c Client) error
	// UpdateClientFromToken is UpdateClient only while the stored
	// RegistrationTokenHash is still prevHash, ErrNotFound otherwise: a
	// registration access token is spent by one update, however many run
	// at once.
	UpdateClientFromToken(ctx context.Context, c Client, prevHash string) error
	DeleteClient(ctx context.Context, realmID, id string) error
}

// ---------------------------------------------------------------------------
// Client scopes

// ClientScope is a Keycloak client scope; Config holds its representation
// (protocol, attributes, protocolMappers).
type ClientScope struct {
	ID      string
	RealmID string
	Name    string
	Config  json.RawMessage
}

type ScopeStore interface {
	CreateClientScope(ctx context.Context, s ClientScope) error // ErrConflict on duplicate (realm, name)
	GetClientScope(ctx context.Context, realmID, id string) (ClientScope, error)
	ListClientScopes(ctx context.Context, realmID string) ([]ClientScope, error)
	UpdateClientScope(ctx context.Context, s ClientScope) error
	DeleteClientScope(ctx context.Context, realmID, id string) error
}

// ---------------------------------------------------------------------------
// Roles

// Role is a realm role (ClientID empty) or a client role (ClientID = the
// client's internal id).
type Role struct {
	ID          string
	RealmID     string
	ClientID    string
	Name        string
	Description string
	Attributes  map[string][]string
}

type RoleStore interface {
	CreateRole(ctx context.Context, r Role) error // ErrConflict on duplicate (realm, client, name)
	GetRole(ctx context.Context, realmID, id string) (Role, error)
	GetRoleByName(ctx context.Context, realmID, clientID, name string) (Role, error)
	// ListRoles lists realm roles (clientID "") or one client's roles.
	ListRoles(ctx context.Context, realmID, clientID string) ([]Role, error)
	// ListAllRoles lists every realm and client role of the realm.
	ListAllRoles(ctx context.Context, realmID string) ([]Role, error)
	UpdateRole(ctx context.Context, r Role) error
	DeleteRole(ctx context.Context, realmID, id string) error

	// Composite roles: parent includes child.
	AddRoleComposites(ctx context.Context, realmID, parentID string, childIDs []string) error
	RemoveRoleComposites(ctx context.Context, realmID, parentID string, childIDs []string) error
	ListRoleComposites(ctx context.Context, realmID, parentID string) ([]Role, error)
	// ListAllRoleComposites returns every (parent, child) pair of the realm,
	// for expanding composites in memory.
	ListAllRoleComposites(ctx context.Context, realmID string) ([][2]string, error)
	// ListRoleMembers lists the users the role is mapped to directly, by
	// username, first/max as ListGroupMembers.
	ListRoleMembers(ctx context.Context, realmID, roleID string, first, max int) ([]User, error)
}

// ---------------------------------------------------------------------------
// Groups

type Group struct {
	ID         string
	RealmID    string
	ParentID   string // "" for a top-level group
	Name       string
	Attributes map[string][]string
}

type GroupStore interface {
	CreateGroup(ctx context.Context, g Group) error // ErrConflict on sibling with the same name
	GetGroup(ctx context.Context, realmID, id string) (Group, error)
	ListGroups(ctx context.Context, realmID string) ([]Group, error)
	UpdateGroup(ctx context.Context, g Group) error
	DeleteGroup(ctx context.Context, realmID, id string) error // and its sub-groups
	GrantGroupRoles(ctx context.Context, realmID, groupID string, roleIDs []string) error
	RevokeGroupRoles(ctx context.Context, realmID, groupID string, roleIDs []string) error
	ListGroupRoles(ctx context.Context, realmID, groupID string) ([]Role, error)
	ListGroupMembers(ctx context.Context, realmID, groupID string, first, max int) ([]User, error)
}

// ---------------------------------------------------------------------------
// Users

type User struct {
	ID             string
	RealmID        string
	Username       string // stored lower-cased, as Keycloak does
	Email          string // lower-cased; "" when none
	EmailVerified  bool
	FirstName      string
	LastName       string
	Enabled        bool
	Created        time.Time
	FederationLink string // component id of the provider the user came from
	// FederationID is the provider's immutable id for the user (Keycloak
	// keeps it as the LDAP_ID attribute), "" for local users.
	FederationID    string
	ServiceAccount  string // client internal id when this is a service-account user
	Attributes      map[string][]string
	RequiredActions []string
	NotBefore       int64
}

// UserQuery filters ListUsers. Empty fields do not filter.
type UserQuery struct {
	Search    string // substring over username, email, first and last name
	Username  string
	Email     string
	FirstName string
	LastName  string
	Exact     bool // Username/Email/FirstName/LastName match exactly instead of by substring
	Enabled   *bool
	First     int
	Max       int // 0 = no limit
	// Prefix makes Search and the non-exact fields match at the start instead
	// of anywhere (Keycloak's "foo*"); unlike a substring, an index serves it.
	Prefix bool
	// IncludeServiceAccounts lists service-account users too (Keycloak hides them).
	IncludeServiceAccounts bool
	// Attributes are exact attribute values a user must all hold
	// (Keycloak's q=key:value search).
	Attributes map[string]string
}

type UserStore interface {
	// CreateUser stores u. ErrConflict on a duplicate id or username, or a
	// duplicate non-empty email unless the realm allows duplicate emails.
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, realmID, id string) (User, error)
	GetUserByUsername(ctx context.Context, realmID, username string) (User, error)
	// GetUserByEmail finds the one user with that (non-empty) email:
	// ErrNotFound when nobody has it, ErrAmbiguous (also ErrNotFound) when
	// several users do, which only a realm allowing duplicates has.
	GetUserByEmail(ctx context.Context, realmID, email string) (User, error)
	GetServiceAccountUser(ctx context.Context, realmID, clientID string) (User, error)
	// GetUserByFederationID finds the user provider link imported with the
	// immutable id externalID, whatever its username is now.
	GetUserByFederationID(ctx context.Context, realmID, link, externalID string) (User, error)
	// ListFederationIDs maps the immutable ids of the users provider link
	// imported to their user ids.
	ListFederationIDs(ctx context.Context, realmID, link string) (map[string]string, error)
	ListUsers(ctx context.Context, realmID string, q UserQuery) ([]User, error)
	CountUsers(ctx context.Context, realmID string, q UserQuery) (int, error)
	// UpdateUser replaces the user's row; ErrConflict as CreateUser.
	UpdateUser(ctx context.Context, u User) error
	DeleteUser(ctx context.Context, realmID, id string) error

	GrantUserRoles(ctx context.Context, realmID, userID string, roleIDs []string) error
	RevokeUserRoles(ctx context.Context, realmID, userID string, roleIDs []string) error
	ListUserRoles(ctx context.Context, realmID, userID string) ([]Role, error) // direct mappings only
	AddUserToGroup(ctx context.Context, realmID, userID, groupID string) error
	RemoveUserFromGroup(ctx context.Context, realmID, userID, groupID string) error
	ListUserGroups(ctx context.Context, realmID, userID string) ([]Group, error)
}

// ---------------------------------------------------------------------------
// Credentials

// Credential is Keycloak's stored credential: SecretData and CredentialData
// are the JSON strings Keycloak keeps (see idp/password).
type Credential struct {
	ID             string
	UserID         string
	Type           string // "password", ...
	UserLabel      string
	Created        time.Time
	SecretData     string
	CredentialData string
	Priority       int
}

type CredentialStore interface {
	ListCredentials(ctx context.Context, userID string) ([]Credential, error)
	CreateCredential(ctx context.Context, c Credential) error
	DeleteCredential(ctx context.Context, userID, id string) error
	// SetPassword replaces every password credential of the user with c, in
	// one transaction.
	SetPassword(ctx context.Context, userID string, c Credential) error
	// UpdateCredential compare-and-swaps one credential: fn receives the
	// current row (locked for the transaction) and returns the replacement,
	// or ErrAbort to leave it unchanged. ErrNotFound if it is gone.
	UpdateCredential(ctx context.Context, userID, id string, fn func(old Credential) (Credential, error)) error
}

// ErrAbort lets an update callback decline to write without it being an error.
var ErrAbort = errors.New("store: update aborted")

// ---------------------------------------------------------------------------
// SSO sessions

// Session is a user's SSO session (Keycloak "user session"); its ID is the
// `sid` claim and the `session_state` of token responses.
type Session struct {
	ID         string
	RealmID    string
	UserID     string
	Created    time.Time
	LastSeen   time.Time
	AuthTime   time.Time
	RememberMe bool
	IPAddress  string
	// Data holds per-session details (clients logged in, broker state).
	Data json.RawMessage
}

// SessionUser is an SSO session with its user (nil when the user is gone).
type SessionUser struct {
	Session Session
	User    *User
}

type SessionStore interface {
	CreateSession(ctx context.Context, s Session) error
	GetSession(ctx context.Context, realmID, id string) (Session, error)
	// TouchSession moves LastSeen forward (never backwards).
	TouchSession(ctx context.Context, realmID, id string, at time.Time) error
	ListUserSessions(ctx context.Context, realmID, userID string) ([]Session, error)
	// ListSessionsClients names, for each of the SSO sessions sessionIDs,
	// the clients holding a live refresh token (or an unredeemed code) of
	// it, sorted: Keycloak's client sessions, as the account console lists
	// them, in one read for all (a session without any has no entry).
	ListSessionsClients(ctx context.Context, realmID string, sessionIDs []string) (map[string][]string, error)
	// DeleteSession removes the session and its tokens, except offline
	// session tokens (KindOffline), which outlive it.
	DeleteSession(ctx context.Context, realmID, id string) error
	DeleteUserSessions(ctx context.Context, realmID, userID string) error
	// DeleteRealmSessions deletes every SSO session of the realm with its
	// tokens, offline ones excepted as with DeleteSession (the admin API's
	// logout-all).
	DeleteRealmSessions(ctx context.Context, realmID string) error
	// ListClientSessions lists the SSO sessions in which the client (by
	// its public client_id) holds a token live at `at`: a refresh or
	// offline token, or an unredeemed code (Keycloak's client sessions, as
	// ListSessionsClients counts them). Oldest first, from the first-th,
	// at most max (all when max < 0), each with its user.
	ListClientSessions(ctx context.Context, realmID, clientID string, at time.Time, first, max int) ([]SessionUser, error)
	// CountClientSessions counts those sessions for each client of the
	// realm that has any, by client_id.
	CountClientSessions(ctx context.Context, realmID string, at time.Time) (map[string]int, error)
	// DeleteExpiredSessions removes sessions idle since before idleBefore or
	// created before createdBefore, across realms that share these limits.
	DeleteExpiredSessions(ctx context.Context, realmID string, idleBefore, createdBefore time.Time) (int, error)
}

// ---------------------------------------------------------------------------
// User consents

// Consent is a user's consent to a client that asks for one (Keycloak's
// UserConsent): the client scopes granted.
type Consent struct {
	RealmID  string
	UserID   string
	ClientID string   // the client's internal id
	Scopes   []string // granted client scope ids, sorted
	Created  time.Time
	Updated  time.Time
}

type ConsentStore interface {
	GetConsent(ctx context.Context, realmID, userID, clientID string) (Consent, error)
	// PutConsent creates c, or replaces the user's consent to the client
	// (keeping its Created); ErrNotFound when the user or client is gone.
	PutConsent(ctx context.Context, c Consent) error
	ListUserConsents(ctx context.Context, realmID, userID string) ([]Consent, error)
	// DeleteConsent removes the user's consent to the client; ErrNotFound
	// when there is none.
	DeleteConsent(ctx context.Context, realmID, userID, clientID string) error
}

// ---------------------------------------------------------------------------
// OAuth 2.0 token records (fosite's storage)

// TokenKind names what a token record is.
type TokenKind string

const (
	KindCode    TokenKind = "code"
	KindAccess  TokenKind = "access"
	KindRefresh TokenKind = "refresh"
	KindPKCE    TokenKind = "pkce"
	KindOIDC    TokenKind = "oidc"
	// KindLogin is a browser login attempt: the authorization request waiting
	// for the login form, with its CSRF token. Single use.
	KindLogin TokenKind = "login"
	// KindOffline is a refresh token of an offline session (scope
	// offline_access): ending the SSO session leaves it, unlike KindRefresh.
	KindOffline TokenKind = "offline"
	// KindRevoked marks a request whose access tokens were revoked (access
	// tokens are not stored; see RevokeRequest). Signature is the request id.
	KindRevoked TokenKind = "revoked"
	// KindBroker is a login waiting for an identity provider's answer (the
	// SAML request, or the OIDC state, nonce and PKCE verifier, with the
	// authorization request); Signature is its RelayState / state. Single
	// use.
	KindBroker TokenKind = "broker"
	// KindReplay remembers an identity provider's assertion id (or token
	// id) until it expires, so that no replica accepts it twice: creating
	// one that exists is ErrConflict.
	KindReplay TokenKind = "replay"
)

// Token is one fosite request stored under a token signature.
type Token struct {
	Kind      TokenKind
	Signature string
	RequestID string
	RealmID   string
	ClientID  string // public client_id
	Subject   string
	SessionID string // SSO session (sid), "" for client credentials
	Active    bool
	Requested time.Time
	Expires   time.Time
	// Request is the serialized fosite request (scopes, audience, form, session).
	Request json.RawMessage
	// Uses is how many refreshes a single-use refresh token has made
	// under a refreshTokenMaxReuse above 0 (RotateRefresh, UseRefresh), or
	// UsesStale once the use of a newer token of its request made it
	// stale. Read only: a token is created with none.
	Uses int
}

// UsesStale is the Uses of a token a newer one of its request made stale.
const UsesStale = -1

// TokenSubject is a token with the SSO session (Token.SessionID) and the
// user (Token.Subject) it names; nil when it names none or they are gone.
type TokenSubject struct {
	Token   Token
	Session *Session
	User    *User
}

type TokenStore interface {
	CreateToken(ctx context.Context, t Token) error
	GetToken(ctx context.Context, kind TokenKind, signature string) (Token, error)
	DeleteToken(ctx context.Context, kind TokenKind, signature string) error
	// DeactivateToken marks one active token used (authorization code
	// redemption, refresh rotation, a login form); ErrNotFound when absent or
	// already inactive, so of two racing redemptions exactly one wins.
	DeactivateToken(ctx context.Context, kind TokenKind, signature string) error
	// RotateRefresh is a refresh grant's write, all or nothing: it spends
	// the active refresh token oldSig (KindRefresh or KindOffline), moves
	// the SSO session next.SessionID's LastSeen up to touch unless touch is
	// zero, and creates next. ErrNotFound when oldSig is no longer active
	// (a concurrent refresh spent it, or it was revoked) or the session is
	// gone; then nothing is written. PostgreSQL runs it as one statement:
	// one round trip. When next.Signature is oldSig (a reusable refresh
	// token's family, Keycloak's revokeRefreshToken off), the row is
	// renewed in place instead of spent: it stays active and takes next's
	// Requested, Expires and Request, with the same ErrNotFound cases.
	//
	// maxReuse > 0 (Keycloak's refreshTokenMaxReuse; ignored for a
	// renewal) lets a single-use token make maxReuse+1 refreshes in all:
	// each counts one use of oldSig in the same conditional write (so
	// concurrent ones count), the last leaves it inactive, and one past
	// them is ErrNotFound. Each also makes every other active token of
	// next's kinds and request stale (inactive, Uses UsesStale): Keycloak's
	// "Stale token", a token older than the newest one used. maxReuse 0 is
	// the plain spend, the same statement as before refreshTokenMaxReuse.
	RotateRefresh(ctx context.Context, oldSig string, maxReuse int, touch time.Time, next Token) error
	// UseRefresh is RotateRefresh's use of oldSig without the new token:
	// a refresh that issues none, or whose new token goes in a
	// transaction of its own.
	UseRefresh(ctx context.Context, oldSig string, maxReuse int) error
	// GetTokenSubject is a refresh grant's one read: the token of one of
	// kinds with that signature, with its SSO session and its user as the
	// same query found them. ErrNotFound when there is no such token.
	GetTokenSubject(ctx context.Context, signature string, kinds ...TokenKind) (TokenSubject, error)
	// RevokeRequest records that requestID's access tokens are revoked until
	// until (a KindRevoked record; an existing one is kept).
	RevokeRequest(ctx context.Context, realmID, requestID string, until time.Time) error
	// DeactivateRequest marks every token of kind issued for requestID inactive.
	DeactivateRequest(ctx context.Context, kind TokenKind, requestID string) error
	// ListOfflineTokens lists the realm's offline tokens (KindOffline) live
	// at `at`, only userID's unless it is "", each with the SSO session it
	// was issued under (nil once that has ended) and its user: Keycloak's
	// offline sessions, grouped by Token.SessionID.
	ListOfflineTokens(ctx context.Context, realmID, userID string, at time.Time) ([]TokenSubject, error)
	// OfflineSessionUser is the user of the offline session id: the
	// subject of its offline tokens live at `at`, as ListOfflineTokens
	// lists them. ErrNotFound when there are none (or their user is gone).
	OfflineSessionUser(ctx context.Context, realmID, id string, at time.Time) (string, error)
	// ListClientOfflineTokens is ListOfflineTokens of the offline
	// sessions in which the client (by its public client_id) holds a live
	// offline token: all their tokens, the other clients' too.
	ListClientOfflineTokens(ctx context.Context, realmID, clientID string, at time.Time) ([]TokenSubject, error)
	// CountOfflineSessions counts, for each client of the realm that has
	// any, the offline sessions (as ListOfflineTokens groups them) it holds
	// a live offline token of, by client_id.
	CountOfflineSessions(ctx context.Context, realmID string, at time.Time) (map[string]int, error)
	// DeleteOfflineSession deletes the offline tokens issued under the SSO
	// session id, spent ones included, and marks their requests revoked
	// until `until` (RevokeRequest): their access tokens outlive the SSO
	// session, so only the mark stops them. ErrNotFound when there are
	// none.
	DeleteOfflineSession(ctx context.Context, realmID, id string, until time.Time) error
	// RevokeClientGrants takes back what userID gave client c, in one
	// transaction: the consent and the offline tokens (spent ones
	// included) and, when there was a consent, the user's sessions of c
	// (its refresh tokens and codes), as Keycloak logs the client out of
	// them; the requests of every token deleted are marked revoked until
	// `until`, so their access tokens stop too. It says whether there was
	// anything: the admin API's consent revocation and the account
	// console's Remove access.
	RevokeClientGrants(ctx context.Context, realmID, userID string, c Client, until time.Time) (bool, error)
	// DeleteExpiredTokens removes tokens that expired before t.
	DeleteExpiredTokens(ctx context.Context, before time.Time) (int, error)
}

// ---------------------------------------------------------------------------
// Signing keys

// Key is a realm key. Exactly one key per (realm, algorithm) is active; older
// ones stay passive so tokens they signed still verify.
type Key struct {
	ID        string // kid
	RealmID   string
	Algorithm string // RS256, HS512, ...
	Use       string // "sig"
	Active    bool
	Private   []byte // PKCS#8 DER for asymmetric keys, the raw secret for HMAC
	Created   time.Time
}

type KeyStore interface {
	ListKeys(ctx context.Context, realmID string) ([]Key, error)
	// CreateActiveKey inserts k as the active key of its (realm, algorithm)
	// unless one exists; it returns the active key either way, so concurrent
	// first uses on several replicas agree on one key.
	CreateActiveKey(ctx context.Context, k Key) (Key, error)
	// RotateKey makes k the active key and the previous one passive.
	RotateKey(ctx context.Context, k Key) error
	DeleteKey(ctx context.Context, realmID, id string) error
}

// ---------------------------------------------------------------------------
// Brute-force counters

type LoginFailure struct {
	RealmID              string
	UserID               string
	NumFailures          int
	NumTempLockouts      int
	LastFailure          time.Time
	LastIPFailure        string
	FailedLoginNotBefore time.Time // locked until then
}

type BruteForceStore interface {
	GetLoginFailure(ctx context.Context, realmID, userID string) (LoginFailure, error)
	// UpdateLoginFailure compare-and-swaps the counter row (a zero row when
	// absent) under a lock for the transaction, so that concurrent callers,
	// on any replica, each see the others' writes: authn reserves every
	// login attempt this way before checking its password. An error from fn
	// writes nothing and is returned as is (ErrAbort: nil).
	UpdateLoginFailure(ctx context.Context, realmID, userID string, fn func(old LoginFailure) (LoginFailure, error)) error
	DeleteLoginFailure(ctx context.Context, realmID, userID string) error
	DeleteLoginFailures(ctx context.Context, realmID string) error
}

// ---------------------------------------------------------------------------
// Components and identity providers (Keycloak's generic plug-in records)

// Component is Keycloak's ComponentRepresentation (LDAP providers, their
// mappers, key providers, registration policies).
type Component struct {
	ID           string
	RealmID      string
	ParentID     string
	Name         string
	ProviderID   string
	ProviderType string
	SubType      string
	Config       map[string][]string
}

// IdentityProvider is Keycloak's IdentityProviderRepresentation, keyed by alias.
type IdentityProvider struct {
	InternalID string
	RealmID    string
	Alias      string
	ProviderID string
	Enabled    bool
	Config     json.RawMessage // the whole representation
}

// IdentityProviderMapper is Keycloak's IdentityProviderMapperRepresentation.
type IdentityProviderMapper struct {
	ID      string
	RealmID string
	Alias   string // identity provider alias
	Name    string
	Mapper  string
	Config  map[string]string
}

type ComponentStore interface {
	CreateComponent(ctx context.Context, c Component) error
	GetComponent(ctx context.Context, realmID, id string) (Component, error)
	ListComponents(ctx context.Context, realmID, parentID, providerType string) ([]Component, error) // empty filters match all
	UpdateComponent(ctx context.Context, c Component) error
	DeleteComponent(ctx context.Context, realmID, id string) error // and its children

	CreateIdentityProvider(ctx context.Context, p IdentityProvider) error // ErrConflict on duplicate alias
	GetIdentityProvider(ctx context.Context, realmID, alias string) (IdentityProvider, error)
	ListIdentityProviders(ctx context.Context, realmID string) ([]IdentityProvider, error)
	UpdateIdentityProvider(ctx context.Context, p IdentityProvider) error
	DeleteIdentityProvider(ctx context.Context, realmID, alias string) error // and its mappers
	CreateIdentityProviderMapper(ctx context.Context, m IdentityProviderMapper) error
	ListIdentityProviderMappers(ctx context.Context, realmID, alias string) ([]IdentityProviderMapper, error)
	UpdateIdentityProviderMapper(ctx context.Context, m IdentityProviderMapper) error
	DeleteIdentityProviderMapper(ctx context.Context, realmID, id string) error
}

// ---------------------------------------------------------------------------
// Federated identities (brokered logins)

// FederatedIdentity links a user to an identity provider account
// (Keycloak's FederatedIdentityRepresentation).
type FederatedIdentity struct {
	RealmID      string
	UserID       string
	Alias        string // the identity provider's alias
	ExternalID   string // the user's id at the provider (userId)
	ExternalName string // the user's name there (userName)
	Token        string // the provider's last token, with storeToken
}

type FederatedIdentityStore interface {
	// AddFederatedIdentity links a user: ErrConflict when the user has a
	// link to that provider, or the provider account is linked to another
	// user; ErrNotFound when the user or the provider does not exist.
	AddFederatedIdentity(ctx context.Context, f FederatedIdentity) error
	// UpdateFederatedIdentity replaces the name and token of a link.
	UpdateFederatedIdentity(ctx context.Context, f FederatedIdentity) error
	// GetUserByFederatedIdentity finds the user linked to a provider account.
	GetUserByFederatedIdentity(ctx context.Context, realmID, alias, externalID string) (User, error)
	ListFederatedIdentities(ctx context.Context, realmID, userID string) ([]FederatedIdentity, error)
	RemoveFederatedIdentity(ctx context.Context, realmID, userID, alias string) error
}
