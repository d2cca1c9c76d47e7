package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/keygate/keygate/store"
)

type redirectKey struct{}

// authorize is the authorization endpoint: it validates the client and
// redirect URI before anything can redirect, then has the browser side
// complete it at once from a live SSO session or show the login form.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request, realm *Realm) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.browser.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage")
		return
	}
	if formSize(r.Form) > maxAuthorizeBytes {
		p.browser.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage")
		return
	}
	req, ok := p.ParseAuthorizeRequest(w, r, realm, r.Form)
	if !ok {
		return
	}
	prompt := req.Form().Get("prompt")
	unavailable := func(err error) {
		p.log.WarnContext(r.Context(), "authorize: database unavailable", "err", err)
		w.Header().Set("Retry-After", RetryAfterUnavailable)
		p.browser.ErrorPage(w, r, realm, http.StatusServiceUnavailable, "temporarilyUnavailable")
	}
	sso, err := p.browser.LiveSession(r, realm)
	if err != nil {
		// The browser may well be signed in: neither the login form nor
		// login_required, but come back.
		unavailable(err)
		return
	}
	if sso != nil && !strings.Contains(prompt, "login") && !maxAgeExceeded(req.Form(), sso.AuthTime) {
		p.browser.ResumeSession(w, r, realm, req, sso)
		return
	}
	if strings.Contains(prompt, "none") {
		if hint := req.Form().Get("kc_idp_hint"); hint != "" {
			fwd, err := p.browser.ForwardsPromptNone(r, realm, hint)
			if err != nil {
				unavailable(err)
				return
			}
			if fwd {
				p.browser.StartLogin(w, r, realm, req.Client, r.Form)
				return
			}
		}
		p.WriteAuthorizeError(w, r, realm, req, fosite.ErrLoginRequired)
		return
	}
	p.browser.StartLogin(w, r, realm, req.Client, r.Form)
}

// maxAuthorizeBytes bounds an authorization request's parameters: the
// login attempt carries them (in its cookie, or stored when too large for
// one, see login.beginAttempt), so without it every attempt could carry a
// whole header's and form's worth of padding. Keycloak (Quarkus) refuses a
// request line past 4 KiB; this leaves room for long states.
const maxAuthorizeBytes = 16 << 10

// formSize is the length of f's names and values.
func formSize(f url.Values) int {
	n := 0
	for k, vs := range f {
		for _, v := range vs {
			n += len(k) + len(v) + 2
		}
	}
	return n
}

// AuthorizeRequest is a validated authorization request: its client may
// get tokens and its redirect URI is registered, so what goes wrong from
// here on is told to the client, at that URI.
type AuthorizeRequest struct {
	ar     fosite.AuthorizeRequester
	Client *Client
	extra  url.Values
}

// AddResponseParameter adds a parameter to the successful authorization
// response, in whichever response mode it goes (Keycloak's kc_action_status).
func (a *AuthorizeRequest) AddResponseParameter(key, value string) {
	if a.extra == nil {
		a.extra = url.Values{}
	}
	a.extra.Set(key, value)
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
	if errors.Is(err, store.ErrUnavailable) {
		p.log.WarnContext(ctx, "authorization endpoint: database unavailable", "err", err)
		w.Header().Set("Retry-After", RetryAfterUnavailable)
		p.browser.ErrorPage(w, r, realm, http.StatusServiceUnavailable, "temporarilyUnavailable")
		return nil, false
	} else if err != nil {
		p.browser.ErrorPage(w, r, realm, http.StatusBadRequest, "clientNotFoundMessage")
		return nil, false
	}
	redirect := form.Get("redirect_uri")
	if redirect == "" || !c.allowsRedirect(realm, redirect) {
		p.browser.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRedirectUriMessage")
		return nil, false
	}
	ctx = context.WithValue(ctx, redirectKey{}, redirect)
	hr := r.Clone(ctx)
	hr.Method = http.MethodGet
	hr.URL.RawQuery = form.Encode()
	hr.Form, hr.PostForm, hr.Body = nil, nil, http.NoBody
	ar, err := p.oauth.NewAuthorizeRequest(ctx, hr)
	if form.Get("state") == "" && errors.Is(err, fosite.ErrInvalidState) {
		// Keycloak accepts a request without state (some clients and
		// proxies omit it); fosite's last check refuses it, so ar is whole.
		err = nil
	}
	if err == nil {
		err = checkPKCE(c, ar.GetRequestForm())
	}
	if err != nil {
		if ar != nil && ar.IsRedirectURIValid() {
			p.writeAuthorizeError(w, r, realm, ar, err)
		} else {
			p.browser.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage")
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
	if ar.GetState() == "" {
		resp.GetParameters().Del("state") // none asked, none sent, as Keycloak
	}
	resp.AddParameter("session_state", sso.ID)
	resp.AddParameter("iss", realm.Issuer)
	for k := range req.extra {
		resp.AddParameter(k, req.extra.Get(k))
	}
	if ar.GetResponseMode() == fosite.ResponseModeFormPost {
		p.formPost(w, r, ar, resp.GetParameters())
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
		p.formPost(w, r, ar, params)
		return
	}
	p.oauth.WriteAuthorizeError(r.Context(), w, ar, &fosite.RFC6749Error{ErrorField: o.code, DescriptionField: o.desc, CodeField: o.status})
}
