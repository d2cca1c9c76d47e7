package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/ory/fosite"

	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// Cookies, named as Keycloak names them. Their path is the realm's, so
// realms never see each other's cookies.
const (
	cookieIdentity = "KEYCLOAK_IDENTITY" // the SSO session, signed, HttpOnly
	cookieSession  = "KEYCLOAK_SESSION"  // hash of the sid, read by keycloak-js's iframe
	cookieAttempt  = "AUTH_SESSION_ID"   // the login attempt a form belongs to
)

// attempt is a login waiting for the form: the authorization request it
// will complete and the hash of its CSRF token. Stored as a KindLogin token.
type attempt struct {
	Query    string    `json:"query"`
	CSRFHash []byte    `json:"csrf"`
	Created  time.Time `json:"created"`
}

type redirectKey struct{}

// authorize is the authorization endpoint: it validates the client and
// redirect URI before anything can redirect, then completes at once from a
// live SSO session or shows the login form.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request, realm *Realm) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage", "")
		return
	}
	req, ok := p.ParseAuthorizeRequest(w, r, realm, r.Form)
	if !ok {
		return
	}
	ctx := r.Context()
	prompt := req.Form().Get("prompt")
	if sso := p.ssoSession(r, realm); sso != nil && !strings.Contains(prompt, "login") && !maxAgeExceeded(req.Form(), sso.AuthTime) {
		_ = p.st.TouchSession(ctx, realm.Row.ID, sso.ID, now())
		p.finish(w, r, realm, req, sso, "0", req.RequestedAt())
		return
	}
	if strings.Contains(prompt, "none") {
		p.WriteAuthorizeError(w, r, realm, req, fosite.ErrLoginRequired)
		return
	}
	p.startLogin(w, r, realm, req.Client, r.Form)
}

// AuthorizeRequest is a validated authorization request: its client may
// get tokens and its redirect URI is registered, so what goes wrong from
// here on is told to the client, at that URI.
type AuthorizeRequest struct {
	ar     fosite.AuthorizeRequester
	Client *Client
}

// Form is the request's parameters.
func (a *AuthorizeRequest) Form() url.Values { return a.ar.GetRequestForm() }

// RequestedAt is when the request was parsed.
func (a *AuthorizeRequest) RequestedAt() time.Time { return a.ar.GetRequestedAt() }

// ParseAuthorizeRequest parses and validates an authorization request
// (form: its parameters, from the browser or from a stored login attempt).
// On failure it has already answered: with an error page when the client
// or redirect URI is not trusted, by redirecting the error otherwise.
func (p *Provider) ParseAuthorizeRequest(w http.ResponseWriter, r *http.Request, realm *Realm, form url.Values) (*AuthorizeRequest, bool) {
	ctx := r.Context()
	c, err := loadClient(ctx, p.models, realm, form.Get("client_id"))
	if err != nil {
		p.errorPage(w, r, realm, http.StatusBadRequest, "clientNotFoundMessage", "")
		return nil, false
	}
	redirect := form.Get("redirect_uri")
	if redirect == "" || !c.allowsRedirect(realm, redirect) {
		p.errorPage(w, r, realm, http.StatusBadRequest, "invalidRedirectUriMessage", "")
		return nil, false
	}
	ctx = context.WithValue(ctx, redirectKey{}, redirect)
	hr := r.Clone(ctx)
	hr.Method = http.MethodGet
	hr.URL.RawQuery = form.Encode()
	hr.Form, hr.PostForm, hr.Body = nil, nil, http.NoBody
	ar, err := p.oauth.NewAuthorizeRequest(ctx, hr)
	if err == nil {
		err = checkPKCE(c, ar.GetRequestForm())
	}
	if err != nil {
		if ar != nil && ar.IsRedirectURIValid() {
			p.writeAuthorizeError(w, r, realm, ar, err)
		} else {
			p.errorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage", "")
		}
		return nil, false
	}
	return &AuthorizeRequest{ar: ar, Client: c}, true
}

// checkPKCE applies Keycloak's per-client pkce.code.challenge.method and
// requires S256 from public clients (plain only where the client says so).
func checkPKCE(c *Client, form url.Values) error {
	method, challenge := form.Get("code_challenge_method"), form.Get("code_challenge")
	if method == "" && challenge != "" {
		method = "plain"
	}
	want := c.Settings.PKCEMethod
	if want == "" && c.Settings.PublicClient {
		want = "S256"
	}
	switch {
	case want == "":
		return nil
	case challenge == "":
		return keycloakError(http.StatusBadRequest, "invalid_request", "Missing parameter: code_challenge_method")
	case method != want && !(want == "plain" && method == "S256"):
		return keycloakError(http.StatusBadRequest, "invalid_request", "Invalid parameter: code challenge method is not configured one")
	}
	return nil
}

func maxAgeExceeded(form url.Values, authTime time.Time) bool {
	v := form.Get("max_age")
	if v == "" {
		return false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return false
	}
	return now().After(authTime.Add(time.Duration(n) * time.Second))
}

// startLogin records the attempt and shows the form.
func (p *Provider) startLogin(w http.ResponseWriter, r *http.Request, realm *Realm, c *Client, form url.Values) {
	csrf := randomToken()
	id := randomToken()
	at := attempt{Query: form.Encode(), CSRFHash: sha256Sum([]byte(csrf)), Created: now()}
	data, err := json.Marshal(at)
	if err == nil {
		err = p.st.CreateToken(r.Context(), store.Token{
			Kind: store.KindLogin, Signature: id, RequestID: id, RealmID: realm.Row.ID, ClientID: c.Row.ClientID,
			Active: true, Requested: at.Created, Expires: at.Created.Add(realm.Settings.AccessCodeLifespanLogin), Request: data,
		})
	}
	if err != nil {
		p.log.ErrorContext(r.Context(), "start login", "err", err)
		p.errorPage(w, r, realm, http.StatusInternalServerError, "unexpectedErrorMessage", "")
		return
	}
	p.setCookie(w, r, realm, cookieAttempt, id, 0, true)
	p.renderLogin(w, r, realm, c, id, csrf, form.Get("login_hint"), "", http.StatusOK)
}

func (p *Provider) renderLogin(w http.ResponseWriter, r *http.Request, realm *Realm, c *Client, id, csrf, username, errKey string, status int) {
	action := p.realmPath(r, realm) + "login-actions/authenticate?" + url.Values{"session_code": {id}, "client_id": {c.Row.ClientID}}.Encode()
	v := templates.LoginView{
		Page: p.page(r, realm), FormAction: action, CSRFToken: csrf, Username: username,
		LoginWithEmail: realm.Settings.LoginWithEmailAllowed, ClientName: c.Settings.Name,
		RememberMe:        realm.Settings.RememberMe,
		RememberMeChecked: realm.Settings.RememberMe && r.PostForm.Get("rememberMe") == "on",
	}
	if errKey != "" {
		v.Error = templates.Message(errKey)
	}
	p.render(w, status, templates.Login(v))
}

// authenticate handles the login form's POST.
func (p *Provider) authenticate(w http.ResponseWriter, r *http.Request, realm *Realm) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage", "")
		return
	}
	id := r.URL.Query().Get("session_code")
	ck, err := r.Cookie(cookieAttempt)
	if id == "" || err != nil || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(id)) != 1 {
		p.errorPage(w, r, realm, http.StatusBadRequest, "cookieNotFoundMessage", "")
		return
	}
	tok, err := p.st.GetToken(ctx, store.KindLogin, id)
	if err != nil || tok.RealmID != realm.Row.ID || !tok.Active || now().After(tok.Expires) {
		p.expiredPage(w, r, realm)
		return
	}
	var at attempt
	if err := json.Unmarshal(tok.Request, &at); err != nil {
		p.expiredPage(w, r, realm)
		return
	}
	given := sha256Sum([]byte(r.PostForm.Get("csrf_token")))
	if subtle.ConstantTimeCompare(given, at.CSRFHash) != 1 {
		p.errorPage(w, r, realm, http.StatusForbidden, "invalidRequestMessage", "")
		return
	}
	form, err := url.ParseQuery(at.Query)
	if err != nil {
		p.expiredPage(w, r, realm)
		return
	}
	req, ok := p.ParseAuthorizeRequest(w, r, realm, form)
	if !ok {
		return
	}
	c := req.Client
	username := r.PostForm.Get("username")
	u, err := p.authn.Authenticate(ctx, realm.Row.ID, realm.Settings, username, r.PostForm.Get("password"), remoteIP(ctx))
	switch {
	case errors.Is(err, authn.ErrBusy):
		w.Header().Set("Retry-After", "1")
		p.errorPage(w, r, realm, http.StatusServiceUnavailable, "temporarilyUnavailable", "")
		return
	case errors.Is(err, authn.ErrUnavailable):
		// The attempt stays open: the person may try again in a moment.
		w.Header().Set("Retry-After", "5")
		p.renderLogin(w, r, realm, c, id, r.PostForm.Get("csrf_token"), username, "userStorageUnavailableMessage", http.StatusServiceUnavailable)
		return
	case errors.Is(err, authn.ErrUserDisabled):
		p.renderLogin(w, r, realm, c, id, r.PostForm.Get("csrf_token"), username, "accountDisabledMessage", http.StatusOK)
		return
	case errors.Is(err, authn.ErrInvalidCredentials):
		p.renderLogin(w, r, realm, c, id, r.PostForm.Get("csrf_token"), username, "invalidUserMessage", http.StatusOK)
		return
	case err != nil:
		p.log.ErrorContext(ctx, "login", "err", err)
		p.errorPage(w, r, realm, http.StatusInternalServerError, "unexpectedErrorMessage", "")
		return
	}
	// The attempt is single use: a replayed form finds it spent.
	if err := p.st.DeactivateToken(ctx, store.KindLogin, id); err != nil {
		p.expiredPage(w, r, realm)
		return
	}
	if len(u.RequiredActions) > 0 {
		// The pages for required actions do not exist yet: no session and
		// no code until the actions are done (an administrator can clear
		// them), rather than a login that skips them.
		p.clearCookie(w, r, realm, cookieAttempt, true)
		p.errorPage(w, r, realm, http.StatusBadRequest, "accountNotSetUpMessage", "")
		return
	}
	t := now()
	sso := store.Session{
		ID: uuid.NewString(), RealmID: realm.Row.ID, UserID: u.ID, Created: t, LastSeen: t,
		AuthTime: t.Truncate(time.Second), IPAddress: remoteIP(ctx),
		// A realm without Remember Me ignores the field, whoever posted it.
		RememberMe: realm.Settings.RememberMe && r.PostForm.Get("rememberMe") == "on",
	}
	if err := p.st.CreateSession(ctx, sso); err != nil {
		p.log.ErrorContext(ctx, "create session", "err", err)
		p.errorPage(w, r, realm, http.StatusInternalServerError, "unexpectedErrorMessage", "")
		return
	}
	if err := p.setSSOCookies(w, r, realm, sso); err != nil {
		p.errorPage(w, r, realm, http.StatusInternalServerError, "unexpectedErrorMessage", "")
		return
	}
	p.clearCookie(w, r, realm, cookieAttempt, true)
	p.finish(w, r, realm, req, &sso, "1", at.Created)
}

// finish issues the authorization response for an authenticated session.
func (p *Provider) finish(w http.ResponseWriter, r *http.Request, realm *Realm, req *AuthorizeRequest, sso *store.Session, acr string, requestedAt time.Time) {
	ctx := r.Context()
	u, err := p.st.GetUser(ctx, realm.Row.ID, sso.UserID)
	if err != nil || !u.Enabled {
		p.errorPage(w, r, realm, http.StatusBadRequest, "accountDisabledMessage", "")
		return
	}
	if len(u.RequiredActions) > 0 {
		// An action added since the SSO session began (an administrator's
		// temporary password): no code. A silent request learns that the
		// user must interact, as Keycloak answers it.
		if strings.Contains(req.Form().Get("prompt"), "none") {
			p.WriteAuthorizeError(w, r, realm, req, ErrInteractionRequired)
			return
		}
		p.errorPage(w, r, realm, http.StatusBadRequest, "accountNotSetUpMessage", "")
		return
	}
	p.IssueAuthorizeResponse(w, r, realm, req, u, *sso, acr, requestedAt)
}

// IssueAuthorizeResponse answers req for user, signed in to the SSO
// session sso: the code (with session_state and iss) goes to the client's
// redirect URI in the request's response mode, form_post included. acr is
// "1" when the user presented a credential for this login, "0" when a
// live SSO session vouched for them; requestedAt is when the user was sent
// to log in (fosite compares auth_time with it for prompt and max_age).
// Every check of the user (enabled, required actions) is the caller's.
func (p *Provider) IssueAuthorizeResponse(w http.ResponseWriter, r *http.Request, realm *Realm, req *AuthorizeRequest, user store.User, sso store.Session, acr string, requestedAt time.Time) {
	ctx := r.Context()
	ar := req.ar
	for _, s := range ar.GetRequestedScopes() {
		ar.GrantScope(s)
	}
	if fr, ok := ar.(*fosite.AuthorizeRequest); ok {
		// fosite compares auth_time with the request time for prompt and
		// max_age; the request began when the user was sent to the form.
		fr.RequestedAt = requestedAt.UTC().Truncate(time.Second)
	}
	sess := newSession(realm.Row.ID)
	sess.UserID, sess.Username, sess.SessionID, sess.AuthTime, sess.ACR = user.ID, user.Username, sso.ID, sso.AuthTime.UTC(), acr
	idc := sess.IDTokenClaims()
	idc.RequestedAt = ar.GetRequestedAt()
	resp, err := p.oauth.NewAuthorizeResponse(ctx, ar, sess)
	if err != nil {
		p.writeAuthorizeError(w, r, realm, ar, err)
		return
	}
	// Keycloak sends no scope here; keycloak-js would leave an unknown
	// "scope" in the app's URL fragment and reuse it as a redirect_uri.
	resp.GetParameters().Del("scope")
	resp.AddParameter("session_state", sso.ID)
	resp.AddParameter("iss", realm.Issuer)
	if ar.GetResponseMode() == fosite.ResponseModeFormPost {
		p.formPost(w, r, realm, ar, resp.GetParameters())
		return
	}
	p.oauth.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// ErrInteractionRequired is OpenID Connect's interaction_required: the
// user must act before a code can be issued, and the request (prompt=none)
// forbids asking.
var ErrInteractionRequired error = fosite.ErrInteractionRequired

// WriteAuthorizeError sends err, an authorization error, to req's client
// at its (validated) redirect URI in the request's response mode.
func (p *Provider) WriteAuthorizeError(w http.ResponseWriter, r *http.Request, realm *Realm, req *AuthorizeRequest, err error) {
	p.writeAuthorizeError(w, r, realm, req.ar, err)
}

// writeAuthorizeError sends an authorization error to the client's
// (validated) redirect URI in the request's response mode, worded tersely
// (clientError).
func (p *Provider) writeAuthorizeError(w http.ResponseWriter, r *http.Request, realm *Realm, ar fosite.AuthorizeRequester, err error) {
	o := clientError(err, atAuthorize, ar.GetRequestForm())
	p.explain(r.Context(), "authorization endpoint", err, o)
	if ar.GetResponseMode() == fosite.ResponseModeFormPost {
		params := url.Values{"error": {o.code}, "error_description": {o.desc}}
		if st := ar.GetState(); st != "" {
			params.Set("state", st)
		}
		p.formPost(w, r, realm, ar, params)
		return
	}
	p.oauth.WriteAuthorizeError(r.Context(), w, ar, &fosite.RFC6749Error{ErrorField: o.code, DescriptionField: o.desc, CodeField: o.status})
}

// ssoSession returns the live SSO session the browser's cookie names, or nil.
func (p *Provider) ssoSession(r *http.Request, realm *Realm) *store.Session {
	ck, err := r.Cookie(cookieIdentity)
	if err != nil {
		return nil
	}
	claims, err := verify(realm.keys, ck.Value, algHS512, now())
	if err != nil || strClaim(claims, "typ") != "Serialized-ID" {
		return nil
	}
	s, err := p.st.GetSession(r.Context(), realm.Row.ID, strClaim(claims, "sid"))
	if err != nil || s.UserID != strClaim(claims, "sub") {
		return nil
	}
	t := now()
	idle, max := realm.Settings.SSOSessionIdleTimeout, realm.Settings.SSOSessionMaxLifespan
	if s.RememberMe && realm.Settings.RememberMe {
		if v := realm.Settings.SSOSessionIdleTimeoutRememberMe; v > 0 {
			idle = v
		}
		if v := realm.Settings.SSOSessionMaxLifespanRememberMe; v > 0 {
			max = v
		}
	}
	if t.After(s.LastSeen.Add(idle)) || t.After(s.Created.Add(max)) {
		return nil
	}
	return &s
}

func (p *Provider) setSSOCookies(w http.ResponseWriter, r *http.Request, realm *Realm, s store.Session) error {
	exp := s.Created.Add(realm.Settings.SSOSessionMaxLifespan)
	tok, _, err := sign(realm.keys.hmac, map[string]any{
		"typ": "Serialized-ID", "sid": s.ID, "sub": s.UserID, "exp": exp.Unix(), "iat": now().Unix(),
	})
	if err != nil {
		return err
	}
	maxAge := 0 // a browser-session cookie unless "remember me"
	if s.RememberMe {
		maxAge = int(time.Until(exp).Seconds())
	}
	p.setCookie(w, r, realm, cookieIdentity, tok, maxAge, true)
	sum := sha256.Sum256([]byte(s.ID))
	p.setCookie(w, r, realm, cookieSession, base64.RawURLEncoding.EncodeToString(sum[:]), maxAge, false)
	return nil
}

// setCookie writes a realm-scoped cookie: Secure over https; HttpOnly
// unless keycloak-js must read it; SameSite=Lax (None where the
// session-status iframe needs it cross-site, which requires https).
func (p *Provider) setCookie(w http.ResponseWriter, r *http.Request, realm *Realm, name, value string, maxAge int, httpOnly bool) {
	secure := strings.HasPrefix(p.BaseURL(r), "https://")
	ck := &http.Cookie{
		Name: name, Value: value, Path: p.realmPath(r, realm), HttpOnly: httpOnly,
		Secure: secure, SameSite: http.SameSiteLaxMode, MaxAge: maxAge,
	}
	if name == cookieSession && secure {
		ck.SameSite = http.SameSiteNoneMode
	}
	http.SetCookie(w, ck)
}

func (p *Provider) clearCookie(w http.ResponseWriter, r *http.Request, realm *Realm, name string, httpOnly bool) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: p.realmPath(r, realm), MaxAge: -1, HttpOnly: httpOnly,
		Secure: strings.HasPrefix(p.BaseURL(r), "https://"), SameSite: http.SameSiteLaxMode})
}

// realmPath is "/realms/{name}/", behind the legacy "/auth" prefix when the
// request came that way, so cookies reach every realm endpoint.
func (p *Provider) realmPath(r *http.Request, realm *Realm) string {
	return PathPrefix(r.Context()) + "/realms/" + realm.Row.Name + "/"
}

type prefixKey struct{}

// WithPathPrefix records that the request arrived under a prefix ("/auth").
func WithPathPrefix(ctx context.Context, prefix string) context.Context {
	return context.WithValue(ctx, prefixKey{}, prefix)
}

// PathPrefix returns the prefix WithPathPrefix recorded, or "".
func PathPrefix(ctx context.Context) string {
	s, _ := ctx.Value(prefixKey{}).(string)
	return s
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
