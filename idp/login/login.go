// Package login is the browser side of signing in to a realm: the login
// attempt and its form, the SSO session and its cookies, the pages a person
// sees, logout, and the pages keycloak-js loads in iframes. The OpenID
// Connect protocol (fosite, the authorization request and response, tokens)
// is idp/oidc's: this package asks it to validate and answer authorization
// requests, and oidc reaches this one only through its Browser interface.
package login

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// maxFormBytes bounds the bodies of the forms posted here.
const maxFormBytes = 64 << 10

// Store is what the browser flow keeps: login attempts (store.KindLogin
// tokens), SSO sessions, and the users they belong to.
type Store interface {
	store.TokenStore
	store.SessionStore
	store.ConsentStore
	GetUser(ctx context.Context, realmID, id string) (store.User, error)
	// Required actions (actions.go).
	UpdateUser(ctx context.Context, u store.User) error
	DeleteUser(ctx context.Context, realmID, id string) error
	// Identity brokering.
	GetUserByUsername(ctx context.Context, realmID, username string) (store.User, error)
	GetUserByEmail(ctx context.Context, realmID, email string) (store.User, error)
	GetUserByFederatedIdentity(ctx context.Context, realmID, alias, externalID string) (store.User, error)
	ListFederatedIdentities(ctx context.Context, realmID, userID string) ([]store.FederatedIdentity, error)
	GetIdentityProvider(ctx context.Context, realmID, alias string) (store.IdentityProvider, error)
	ListIdentityProviders(ctx context.Context, realmID string) ([]store.IdentityProvider, error)
	ListIdentityProviderMappers(ctx context.Context, realmID, alias string) ([]store.IdentityProviderMapper, error)
}

// Authenticator turns a username and password into a user (idp/authn). It
// returns authn.ErrInvalidCredentials, ErrUserDisabled, ErrBusy or
// ErrUnavailable on failure.
type Authenticator interface {
	Authenticate(ctx context.Context, realmID string, s rep.RealmSettings, username, password, ip string) (store.User, error)
}

// Handler serves the browser side of every realm's logins.
type Handler struct {
	st    Store
	oidc  *oidc.Provider
	authn Authenticator
	log   *slog.Logger
	// Identity brokering (SetBrokering); nil: no identity providers.
	brokers *federation.Brokers
	linker  *federation.Linker
	// mail sends the realms' mail (SetMail, email.go); nil: none.
	mail *mailFlow
}

// New returns the browser flow over st, answering authorization requests
// through p. The caller makes it p's Browser (p.SetBrowser).
func New(st Store, p *oidc.Provider, authn Authenticator, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	return &Handler{st: st, oidc: p, authn: authn, log: log}
}

// Register adds the browser endpoints to mux under /realms/{realm}.
func (h *Handler) Register(mux *http.ServeMux) {
	const oc = "/realms/{realm}/protocol/openid-connect"
	mux.HandleFunc("POST /realms/{realm}/login-actions/authenticate", h.oidc.RealmHandler(h.authenticate))
	mux.HandleFunc("GET /realms/{realm}/login-actions/required-action", h.oidc.RealmHandler(h.showAction))
	mux.HandleFunc("POST /realms/{realm}/login-actions/required-action", h.oidc.RealmHandler(h.processAction))
	// OPTIONS (CORS preflight) on the logout endpoint is oidc's.
	mux.HandleFunc("GET "+oc+"/logout", h.oidc.RealmHandler(h.logout))
	mux.HandleFunc("POST "+oc+"/logout", h.oidc.RealmHandler(h.logout))
	mux.HandleFunc("GET "+oc+"/login-status-iframe.html", h.oidc.RealmHandler(h.loginStatusIframe))
	mux.HandleFunc("GET "+oc+"/login-status-iframe.html/init", h.oidc.RealmHandler(h.loginStatusInit))
	mux.HandleFunc("GET "+oc+"/3p-cookies/step1.html", h.oidc.RealmHandler(h.cookiesStep1))
	mux.HandleFunc("GET "+oc+"/3p-cookies/step2.html", h.oidc.RealmHandler(h.cookiesStep2))
	h.registerBroker(mux)
	h.registerMail(mux)
	h.registerRegistration(mux)
}
