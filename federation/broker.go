package federation

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/keygate/keygate/store"
)

// Identity brokering: keygate is the service provider (SAML) or relying
// party (OIDC) of a realm's identity providers, Keycloak's
// identityProviders. A Broker knows one provider's protocol and nothing of
// HTTP handlers, sessions or users: it says where to send the browser to
// start a login, and who signed in from what came back, as Dex's SAML and
// OIDC connectors do. The caller (idp/login) keeps the pending login
// between the two, named by RelayState (SAML) or state (OIDC), in the
// store so that any replica can finish it.

// ErrBrokerRefused wraps every reason a broker refuses what came back (a
// bad signature, a wrong audience, an expired or replayed assertion, an
// error the IdP sent): the browser gets a generic page, the log the reason.
var ErrBrokerRefused = errors.New("federation: identity provider response refused")

// BrokerRequest is one brokered login as the caller sees it.
type BrokerRequest struct {
	// ID is this login's unique id at the IdP: the SAML AuthnRequest ID
	// (InResponseTo must echo it) or the OIDC nonce's seed. The caller makes
	// it, unguessable.
	ID string
	// RelayState is the caller's key of the pending login, sent as SAML
	// RelayState or OIDC state and given back with the answer.
	RelayState string
	// CallbackURL is keygate's endpoint the IdP answers to:
	// {base}/realms/{realm}/broker/{alias}/endpoint.
	CallbackURL string
	// RealmIssuer is {base}/realms/{realm}: Keycloak's default SP entity id.
	RealmIssuer string
	LoginHint   string
	// ForceAuthn asks the IdP to authenticate again (prompt=login, an
	// exceeded max_age).
	ForceAuthn bool
	// PromptNone passes the client's prompt=none on to an OIDC IdP that
	// accepts it (acceptsPromptNoneForwardFromClient): it must answer
	// without asking.
	PromptNone bool
	// MaxAge is the client's max_age (0: none asked), passed on to an OIDC
	// IdP whose config has passMaxAge.
	MaxAge time.Duration
	// ClientParams is the client's own authorization request, for the
	// parameters an OIDC provider forwards (forwardParameters); UILocales
	// is the login page's language (an OIDC provider's uiLocales).
	ClientParams url.Values
	UILocales    string
	// RawQuery is the callback's URL query exactly as received, for Finish
	// and HandleLogout of a GET (the SAML Redirect binding signs its
	// bytes, which url.Values loses); empty for a POST.
	RawQuery string
}

// BrokerStart is where to send the browser.
type BrokerStart struct {
	// RedirectURL: a GET redirect (SAML Redirect binding, OIDC).
	RedirectURL string
	// PostURL and PostForm: an auto-submitted POST (SAML POST binding).
	PostURL  string
	PostForm map[string]string
	// State is what Finish will need (the OIDC PKCE verifier and nonce, the
	// SAML request id): the caller stores it server-side with the pending
	// login and never shows it to the browser.
	State []byte
}

// BrokeredIdentity is who signed in at the IdP, before mappers.
type BrokeredIdentity struct {
	// UserID is the user's stable id at the IdP (SAML principal: NameID or
	// principalAttribute; OIDC sub): the federated identity's userId.
	UserID string
	// Username is the IdP's username for the user (brokered username).
	Username  string
	Email     string
	FirstName string
	LastName  string
	// Attributes are the SAML attributes, keyed by Name and by
	// FriendlyName, or the OIDC claims (ID token and userinfo), nested
	// objects kept in Claims.
	Attributes map[string][]string
	Claims     map[string]any
	// The IdP's session, for single logout: SAML's NameID and
	// SessionIndex; an OIDC IdP's session id (the ID token's sid, which
	// its back-channel logout tokens name) is its SessionIndex.
	NameID, NameIDFormat, SessionIndex string
	// Token is the IdP's token or assertion, kept only with storeToken
	// (never logged).
	Token string
	// IDToken is the OIDC IdP's ID token, for its logout (id_token_hint).
	// The caller keeps it with the session (never logged).
	IDToken string
}

// Broker is one identity provider's protocol.
type Broker interface {
	// Start begins a login.
	Start(ctx context.Context, req BrokerRequest) (BrokerStart, error)
	// Finish validates what came back to the callback (the POST form or
	// the query: SAMLResponse or code/error, and RelayState/state) for the
	// pending request with the state Start returned.
	Finish(ctx context.Context, req BrokerRequest, state []byte, params url.Values) (BrokeredIdentity, error)
}

// SPMetadata is a Broker that publishes its service-provider metadata
// (SAML: /broker/{alias}/endpoint/descriptor).
type SPMetadata interface {
	Metadata(ctx context.Context, req BrokerRequest) ([]byte, error)
}

// SingleLogout is a Broker that logs out at the IdP (SAML SLO; OIDC
// RP-initiated logout at the provider's logoutUrl).
type SingleLogout interface {
	// Logout starts a logout at the IdP of the session the login left
	// (NameID, SessionIndex or IDToken from the BrokeredIdentity); relayState
	// names the caller's pending logout. A zero BrokerStart: nothing for
	// the browser to do there (no logout URL, or done over the back
	// channel).
	Logout(ctx context.Context, req BrokerRequest, id BrokeredIdentity) (BrokerStart, error)
	// HandleLogout takes what the IdP sent to the callback: a LogoutRequest
	// (the IdP logs the user out everywhere: the caller ends the sessions
	// of nameID, sessionIndex and sends the browser to the response) or a
	// LogoutResponse to a Logout (response is zero).
	HandleLogout(ctx context.Context, req BrokerRequest, params url.Values) (nameID, sessionIndex string, response BrokerStart, err error)
}

// LogoutTokens is a Broker that takes its IdP's back-channel logout tokens
// (OpenID Connect Back-Channel Logout 1.0), POSTed to keygate as Keycloak
// takes them.
type LogoutTokens interface {
	// Issues says whether iss (read unverified from a token) is this
	// IdP's, to pick which provider verifies it.
	Issues(iss string) bool
	// VerifyLogoutToken checks raw (signature, issuer, audience, times,
	// the back-channel logout event, no nonce, its jti seen once) and
	// returns whom it logs out: the IdP's subject, and its session id
	// when it names one.
	VerifyLogoutToken(ctx context.Context, raw string) (subject, sid string, err error)
}

// BrokerEnv is what the server gives every broker.
type BrokerEnv struct {
	Logger *slog.Logger
	// Realm's signing key and its certificate (RS256), for SAML requests
	// and metadata; also the decryption key of encrypted assertions.
	Key  crypto.Signer
	Cert *x509.Certificate
	// HTTP is the client for the IdP's metadata, JWKS, token and userinfo
	// endpoints (timeouts set, roots from --truststore-paths).
	HTTP *http.Client
	// Replay remembers an assertion id (or an ID token's jti) until it
	// expires, across replicas: store.ErrConflict when it was seen before.
	Replay func(ctx context.Context, id string, until time.Time) error
	// Reveal turns a stored secret (clientSecret, sealed with --db-key)
	// into the secret.
	Reveal func(value string) (string, error)
	// Now is the clock (tests move it).
	Now func() time.Time
}

// BrokerFactory opens a broker from an identity provider's stored
// representation (the IdentityProviderRepresentation's config). It must
// not touch the network: metadata and keys are fetched when first needed.
type BrokerFactory func(ctx context.Context, env BrokerEnv, idp store.IdentityProvider) (Broker, error)
