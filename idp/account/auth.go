package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keygate/keygate/idp/login"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
)

// console is a signed-in browser on the console: its SSO session, user
// and roles of client "account".
type console struct {
	realm *oidc.Realm
	sso   *store.Session
	user  store.User
	roles map[string]bool
	csrf  string
}

func (c *console) may(role string) bool { return c.roles[role] || c.roles[roleManageAccount] }

// browser authenticates a console request by its SSO session. Without
// one the browser is sent through the realm's login (GET) or refused
// (a form posted after the session ended); a user without view-profile or
// manage-account sees a 403 page. ok=false means the answer was written.
func (h *Handler) browser(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) (*console, bool) {
	ctx := r.Context()
	sso, err := h.login.LiveSession(r, realm)
	if err != nil {
		h.login.StoreError(w, r, realm, "account console session", err)
		return nil, false
	}
	if sso == nil {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.login.ErrorPage(w, r, realm, http.StatusForbidden, "sessionNotActiveMessage")
			return nil, false
		}
		h.toLogin(w, r, realm)
		return nil, false
	}
	u, err := h.st.GetUser(ctx, realm.Row.ID, sso.UserID)
	if err != nil {
		if unavailable(err) {
			h.login.StoreError(w, r, realm, "account console", err)
			return nil, false
		}
		h.toLogin(w, r, realm)
		return nil, false
	}
	if !u.Enabled {
		h.login.ErrorPage(w, r, realm, http.StatusForbidden, "accountDisabledMessage")
		return nil, false
	}
	if owesActions(realm, u) {
		// Required actions given since the session signed in (a temporary
		// password, new terms): the realm's login runs them first, as
		// Keycloak's console, a client of the realm, gets no token before.
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			h.toLogin(w, r, realm)
		} else {
			h.toLoginReturn(w, r, realm, base(r, realm)+"/", nil) // a form is not replayed
		}
		return nil, false
	}
	roles, err := h.accountRoles(ctx, realm, u.ID)
	if err != nil {
		h.login.StoreError(w, r, realm, "account console roles", err)
		return nil, false
	}
	c := &console{realm: realm, sso: sso, user: u, roles: roles}
	if !c.may(roleViewProfile) {
		h.login.ErrorPage(w, r, realm, http.StatusForbidden, "accountConsoleForbiddenMessage")
		return nil, false
	}
	c.csrf = login.SessionCSRF(realm, sso.ID, csrfPurpose)
	return c, true
}

// owesActions says whether u has a required action the realm has enabled
// (one a login would run, or refuse for want of its page).
func owesActions(realm *oidc.Realm, u store.User) bool {
	for _, p := range realm.Settings.RequiredActions {
		if p.Enabled && slices.Contains(u.RequiredActions, p.Alias) {
			return true
		}
	}
	return false
}

// form authenticates a console form: the session, the posted CSRF token
// bound to it, and role. ok=false means the answer was written.
func (h *Handler) form(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, role string) (*console, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.login.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage")
		return nil, false
	}
	c, ok := h.browser(w, r, realm)
	if !ok {
		return nil, false
	}
	if !login.SessionCSRFValid(realm, c.sso.ID, csrfPurpose, r.PostForm.Get("csrf_token")) {
		h.login.ErrorPage(w, r, realm, http.StatusForbidden, "invalidCsrfTokenMessage")
		return nil, false
	}
	if !c.may(role) {
		h.login.ErrorPage(w, r, realm, http.StatusForbidden, "accountConsoleForbiddenMessage")
		return nil, false
	}
	return c, true
}

// loginState is what the console remembers between sending the browser
// to the login and its return: a signed cookie, bound to one state.
type loginState struct {
	State, Verifier, Return string
}

// toLogin sends the browser through the realm's login as the console's
// client, account-console: an authorization request with PKCE S256 whose
// redirect URI is the console's; the page asked for is kept to come back
// to.
func (h *Handler) toLogin(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	ret := r.URL.Path
	if r.URL.RawQuery != "" {
		ret += "?" + r.URL.RawQuery
	}
	h.toLoginReturn(w, r, realm, ret, nil)
}

// maxAuthAge is how old the sign-in of the console's session may be for
// a change of how the user signs in (an authenticator app set up or
// removed) or deleting the account: Keycloak's console runs these as
// application-initiated actions, whose maxAuthAge is 300 seconds.
const maxAuthAge = 300 * time.Second

// recentLogin says whether c's session signed in within maxAuthAge;
// otherwise the browser is sent through the realm's login again
// (prompt=login) and back to the console's page ret, and false is
// returned.
func (h *Handler) recentLogin(w http.ResponseWriter, r *http.Request, c *console, ret string) bool {
	if c.sso == nil || time.Since(c.sso.AuthTime) <= maxAuthAge {
		return true
	}
	h.toLoginReturn(w, r, c.realm, ret, url.Values{"prompt": {"login"}})
	return false
}

// toLoginReturn is toLogin coming back to ret, with extra parameters of
// the authorization request.
func (h *Handler) toLoginReturn(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, ret string, extra url.Values) {
	st := loginState{State: random(), Verifier: random(), Return: ret}
	exp := time.Now().Add(realm.Settings.AccessCodeLifespanLogin)
	tok, err := realm.SignInternal(map[string]any{"typ": "account-login", "state": st.State, "verifier": st.Verifier,
		"return": st.Return, "exp": exp.Unix()})
	if err != nil {
		h.login.ErrorPage(w, r, realm, http.StatusInternalServerError, "unexpectedErrorMessage")
		return
	}
	h.setCookie(w, r, realm, cookieLogin, tok, int(realm.Settings.AccessCodeLifespanLogin.Seconds()))
	sum := sha256.Sum256([]byte(st.Verifier))
	q := url.Values{
		"client_id": {consoleClient}, "redirect_uri": {realm.Issuer + "/account" + loginRedirectPath},
		"response_type": {"code"}, "scope": {"openid"}, "state": {st.State}, "nonce": {random()},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	for k, v := range extra {
		q[k] = v
	}
	http.Redirect(w, r, oidc.PathPrefix(r.Context())+"/realms/"+realm.Row.Name+"/protocol/openid-connect/auth?"+q.Encode(), http.StatusFound)
}

// loginRedirect is the console's redirect URI: the state checked against
// the cookie toLogin set, the code redeemed with the PKCE verifier (the
// console is a client like any other), then back to the page asked for.
func (h *Handler) loginRedirect(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	q := r.URL.Query()
	ck, err := r.Cookie(cookieLogin)
	if err != nil {
		h.login.ErrorPage(w, r, realm, http.StatusBadRequest, "cookieNotFoundMessage")
		return
	}
	claims, err := realm.VerifyInternal(ck.Value)
	if err != nil || claims["typ"] != "account-login" {
		h.login.ErrorPage(w, r, realm, http.StatusBadRequest, "expiredCodeMessage")
		return
	}
	state, _ := claims["state"].(string)
	verifier, _ := claims["verifier"].(string)
	ret, _ := claims["return"].(string)
	if state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(q.Get("state"))) != 1 {
		h.login.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage")
		return
	}
	if e := q.Get("error"); e != "" || q.Get("code") == "" {
		h.clearCookie(w, r, realm, cookieLogin)
		h.log.InfoContext(r.Context(), "account console login failed", "realm", realm.Row.Name, "error", e)
		h.login.ErrorPage(w, r, realm, http.StatusBadRequest, "expiredCodeMessage")
		return
	}
	if h.token != nil {
		if err := h.redeem(r, realm, q.Get("code"), verifier); err != nil {
			var re *redeemError
			if errors.As(err, &re) && re.status == http.StatusServiceUnavailable {
				// The database could not answer: the code is not spent
				// and the cookie stays, so a reload may finish the login.
				h.login.StoreError(w, r, realm, "account console login", fmt.Errorf("%w: %v", store.ErrUnavailable, err))
				return
			}
			h.clearCookie(w, r, realm, cookieLogin)
			h.log.WarnContext(r.Context(), "account console: code not redeemed", "realm", realm.Row.Name, "err", err)
			h.login.ErrorPage(w, r, realm, http.StatusBadRequest, "expiredCodeMessage")
			return
		}
	}
	h.clearCookie(w, r, realm, cookieLogin)
	if !strings.HasPrefix(ret, base(r, realm)) || strings.HasPrefix(ret, base(r, realm)+loginRedirectPath) {
		ret = base(r, realm) + "/"
	}
	http.Redirect(w, r, ret, http.StatusFound)
}

// redeem exchanges the console's code at the realm's token endpoint,
// in-process, as the public client account-console with its verifier. The
// tokens are not kept: the console's pages go by the SSO session.
func (h *Handler) redeem(r *http.Request, realm *oidc.Realm, code, verifier string) error {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {consoleClient},
		"redirect_uri": {realm.Issuer + "/account" + loginRedirectPath}, "code_verifier": {verifier}}
	req, err := http.NewRequestWithContext(context.WithoutCancel(r.Context()), http.MethodPost,
		oidc.PathPrefix(r.Context())+"/realms/"+realm.Row.Name+"/protocol/openid-connect/token", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Host, req.RemoteAddr = r.Host, r.RemoteAddr
	for _, k := range []string{"X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-For"} {
		if v := r.Header.Get(k); v != "" {
			req.Header.Set(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.token.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return &redeemError{status: rec.Code, body: rec.Body.String()}
	}
	return nil
}

type redeemError struct {
	status int
	body   string
}

func (e *redeemError) Error() string {
	b := e.body
	if len(b) > 200 {
		b = b[:200]
	}
	return "token endpoint answered " + http.StatusText(e.status) + ": " + b
}

// setCookie writes a cookie of the console's path: HttpOnly, Secure over
// https, SameSite=Lax (the login's redirect back is a top-level GET).
func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: base(r, realm) + "/", HttpOnly: true,
		Secure: strings.HasPrefix(h.p.BaseURL(r), "https://"), SameSite: http.SameSiteLaxMode, MaxAge: maxAge})
}

func (h *Handler) clearCookie(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, name string) {
	h.setCookie(w, r, realm, name, "", -1)
}

func random() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
