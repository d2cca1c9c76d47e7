// Package account is a realm's account console at /realms/{realm}/account
// (personal info, signing in, devices and sessions, linked accounts),
// rendered on the server with the login pages' look, and behind it the
// subset of Keycloak's Account REST API that apps call with a user's
// token (Accept: application/json on the same paths).
//
// The console is a client of its realm, as Keycloak's is: a browser
// without an SSO session is sent through the realm's login with an
// authorization request of client account-console (PKCE S256) and comes
// back to the page it asked for. Pages are authorized by the SSO session
// and the user's roles of client "account" (view-profile or
// manage-account to see, manage-account to change, manage-account-links
// to link and unlink); every form carries a CSRF token bound to the
// session. The REST API takes only bearer tokens of the realm whose
// audience includes "account", authorized by the token's roles of that
// client, as Keycloak's AccountRestService is.
package account

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/idp/login"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/store"
)

// Roles of client "account" (Keycloak's AccountRoles).
const (
	accountClient      = "account"
	consoleClient      = "account-console"
	roleManageAccount  = "manage-account"
	roleViewProfile    = "view-profile"
	roleManageLinks    = "manage-account-links"
	roleViewApps       = "view-applications"
	csrfPurpose        = "account"
	maxFormBytes       = 64 << 10
	maxJSONBytes       = 64 << 10
	cookieLogin        = "KEYGATE_ACCOUNT_LOGIN"
	cookieReferrer     = "KEYGATE_ACCOUNT_REFERRER"
	loginRedirectPath  = "/login-redirect"
	signingInPath      = "/account-security/signing-in"
	deviceActivityPath = "/account-security/device-activity"
	linkedAccountsPath = "/account-security/linked-accounts"
)

// Authenticator checks the current password before a change (idp/authn:
// brute-force counted, directories asked, hashing bounded).
type Authenticator = login.Authenticator

// Handler serves every realm's account console and Account REST API.
type Handler struct {
	st    store.Store
	p     *oidc.Provider
	login *login.Handler
	authn Authenticator
	lim   *password.Limiter
	log   *slog.Logger
	// token redeems the console's authorization code in-process (the
	// server's routes); nil: the code is left to expire unused.
	token http.Handler
}

// New returns the console over st. lim hashes new passwords; token (the
// server's mux) answers the token endpoint for the console's own login.
func New(st store.Store, p *oidc.Provider, lh *login.Handler, a Authenticator, lim *password.Limiter, token http.Handler, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	return &Handler{st: st, p: p, login: lh, authn: a, lim: lim, token: token, log: log}
}

// Register adds the console and the REST API under /realms/{realm}/account.
func (h *Handler) Register(mux *http.ServeMux) {
	const a = "/realms/{realm}/account"
	rh := h.p.RealmHandler
	for _, root := range []string{a, a + "/{$}"} {
		mux.HandleFunc("GET "+root, rh(h.root))
		mux.HandleFunc("POST "+root, rh(h.rootPost))
		mux.HandleFunc("OPTIONS "+root, rh(h.preflight))
	}
	mux.HandleFunc("OPTIONS "+a+"/{rest...}", rh(h.preflight))
	mux.HandleFunc("GET "+a+loginRedirectPath, rh(h.loginRedirect))
	mux.HandleFunc("POST "+a+"/delete-account", rh(h.deleteAccount))

	// The console's pages and forms.
	mux.HandleFunc("GET "+a+signingInPath, rh(h.signingInPage))
	mux.HandleFunc("POST "+a+signingInPath+"/password", rh(h.changePassword))
	mux.HandleFunc("POST "+a+signingInPath+"/otp/{id}/delete", rh(h.removeOTPForm))
	mux.HandleFunc("POST "+a+signingInPath+"/otp/set-up", rh(h.setUpOTP))
	mux.HandleFunc("GET "+a+deviceActivityPath, rh(h.deviceActivityPage))
	mux.HandleFunc("POST "+a+deviceActivityPath+"/sign-out", rh(h.signOutForm))
	mux.HandleFunc("GET "+a+linkedAccountsPath, rh(h.linkedAccountsPage))
	mux.HandleFunc("POST "+a+linkedAccountsPath+"/{alias}/link", rh(h.linkForm))
	mux.HandleFunc("POST "+a+linkedAccountsPath+"/{alias}/unlink", rh(h.unlinkForm))
	mux.HandleFunc("GET "+a+applicationsPath, rh(h.applicationsPage))
	mux.HandleFunc("POST "+a+applicationsPath+"/{client}/remove", rh(h.removeAccessForm))

	// The Account REST API.
	mux.HandleFunc("GET "+a+"/credentials", rh(h.restCredentials))
	mux.HandleFunc("DELETE "+a+"/credentials/{id}", rh(h.restRemoveCredential))
	mux.HandleFunc("GET "+a+"/sessions", rh(h.restSessions))
	mux.HandleFunc("GET "+a+"/sessions/devices", rh(h.restDevices))
	mux.HandleFunc("DELETE "+a+"/sessions", rh(h.restLogoutSessions))
	mux.HandleFunc("DELETE "+a+"/sessions/{id}", rh(h.restLogoutSession))
	mux.HandleFunc("GET "+a+"/linked-accounts", rh(h.restLinkedAccounts))
	mux.HandleFunc("DELETE "+a+"/linked-accounts/{alias}", rh(h.restUnlink))
	mux.HandleFunc("DELETE "+a+applicationsPath+"/{client}/consent", rh(h.restRevokeConsent))
}

// base is the console's path: "/realms/{name}/account", behind the
// legacy "/auth" prefix when the request came that way.
func base(r *http.Request, realm *oidc.Realm) string {
	return oidc.PathPrefix(r.Context()) + "/realms/" + realm.Row.Name + "/account"
}

// wantsJSON says whether a request on a path the console and the REST API
// share is the API's: a bearer token, a JSON body, or an Accept that asks
// for JSON rather than a page.
func wantsJSON(r *http.Request) bool {
	if hasBearer(r) {
		return true
	}
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
		return true
	}
	acc := r.Header.Get("Accept")
	return strings.Contains(acc, "application/json") && !strings.Contains(acc, "text/html")
}

func hasBearer(r *http.Request) bool {
	scheme, _, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "bearer")
}

func (h *Handler) root(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	if wantsJSON(r) {
		h.restAccount(w, r, realm)
		return
	}
	h.personalInfoPage(w, r, realm)
}

func (h *Handler) rootPost(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	if wantsJSON(r) {
		h.restUpdateAccount(w, r, realm)
		return
	}
	h.updateProfileForm(w, r, realm)
}

// accountRoles are the user's effective roles of client "account".
func (h *Handler) accountRoles(ctx context.Context, realm *oidc.Realm, userID string) (map[string]bool, error) {
	_, clients, err := h.p.UserRoles(ctx, realm.Row.ID, userID)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, r := range clients[accountClient] {
		out[r] = true
	}
	return out, nil
}

// unavailable reports whether err is the database (or a directory) that
// could not answer: 503 with Retry-After, never a refusal.
func unavailable(err error) bool {
	return errors.Is(err, store.ErrUnavailable) || errors.Is(err, authn.ErrUnavailable)
}
