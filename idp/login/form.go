package login

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/idp/events"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// attemptRecord is a login waiting for the form: the authorization request
// it will complete and the hash of its CSRF token. Stored as a KindLogin
// token under a random id, which the AUTH_SESSION_ID cookie and the form's
// session_code both carry. Single use.
type attemptRecord struct {
	Query    string    `json:"query"`
	CSRFHash []byte    `json:"csrf"`
	Created  time.Time `json:"created"`
}

// StartLogin records a login attempt for the authorization request form
// of client c and shows the login form.
func (h *Handler) StartLogin(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, c *oidc.Client, form url.Values) {
	csrf := randomToken()
	id := randomToken()
	at := attemptRecord{Query: form.Encode(), CSRFHash: sha256Sum([]byte(csrf)), Created: time.Now()}
	// Whole seconds: the stored record and its cookie expire together.
	pending := pendingAttempt{id: id, clientID: c.Row.ClientID, rec: at,
		expires: at.Created.Add(realm.Settings.AccessCodeLifespanLogin).Truncate(time.Second)}
	// kc_idp_hint names an identity provider to go to at once, as
	// Keycloak's identity-provider-redirector does; an unknown, disabled
	// or link-only one shows the form. Going there, the attempt is stored
	// now: the broker's pending login names it.
	p, toBroker, err := h.provider(r.Context(), realm, form.Get("kc_idp_hint"))
	if err != nil {
		h.storeError(w, r, realm, "start login", err)
		return
	}
	toBroker = toBroker && !p.flag(p.rep.LinkOnly)
	if err := h.beginAttempt(r.Context(), w, r, realm, pending, toBroker); err != nil {
		h.storeError(w, r, realm, "start login", err)
		return
	}
	h.stickLocale(w, r, realm, form.Get(paramLocale))
	r = h.withLocale(r, realm, form, nil)
	if toBroker {
		h.startBroker(w, r, realm, p, id, form, at.Created)
		return
	}
	h.renderLogin(w, r, realm, c, id, csrf, form.Get("login_hint"), "", http.StatusOK)
}

func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, c *oidc.Client, id, csrf, username, errKey string, status int) {
	action := realmPath(r, realm) + "login-actions/authenticate?" + url.Values{"session_code": {id}, "client_id": {c.Row.ClientID}}.Encode()
	// A page without the identity providers' buttons would tell their
	// users they cannot sign in here.
	providers, err := h.loginProviders(r, realm, c.Row.ClientID, id)
	if err != nil {
		h.storeError(w, r, realm, "login page", err)
		return
	}
	s := realm.Settings
	v := templates.LoginView{
		Page: h.page(r, realm), FormAction: action, CSRFToken: csrf, Username: username,
		LoginWithEmail: s.EmailLogin(), EmailOnly: s.EmailLogin() && s.RegistrationEmailAsUsername,
		ClientName:        c.Settings.Name,
		RememberMe:        realm.Settings.RememberMe,
		RememberMeChecked: realm.Settings.RememberMe && r.PostForm.Get("rememberMe") == "on",
		Providers:         providers,
		ResetPasswordURL:  h.resetPasswordURL(r, realm, c.Row.ClientID, id),
	}
	if s.RegistrationAllowed {
		v.RegisterURL = realmPath(r, realm) + "login-actions/registration?" + url.Values{"session_code": {id}, "client_id": {c.Row.ClientID}}.Encode()
	}
	if errKey != "" {
		v.Error = v.T(errKey)
	}
	h.render(w, status, templates.Login(v))
}

// authenticate handles the login form's POST: the attempt (cookie,
// session_code, CSRF token), its authorization request validated again,
// then the password; a good one ends in CompleteLogin.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage")
		return
	}
	id, _, at, ok := h.openAttempt(w, r, realm, "login")
	if !ok {
		return
	}
	given := sha256Sum([]byte(r.PostForm.Get("csrf_token")))
	if subtle.ConstantTimeCompare(given, at.CSRFHash) != 1 {
		h.ErrorPage(w, r, realm, http.StatusForbidden, "invalidRequestMessage")
		return
	}
	form, err := url.ParseQuery(at.Query)
	if err != nil {
		h.expiredPage(w, r, realm)
		return
	}
	r = h.withLocale(r, realm, form, nil)
	req, ok := h.oidc.ParseAuthorizeRequest(w, r, realm, form)
	if !ok {
		return
	}
	c := req.Client
	username := r.PostForm.Get("username")
	u, err := h.authn.Authenticate(ctx, realm.Row.ID, realm.Settings, username, r.PostForm.Get("password"), h.oidc.ClientIP(r))
	otpPending := errors.Is(err, authn.ErrOTPRequired)
	if otpPending {
		// The password was right; CompleteLogin's OTP form (otp.go, a
		// pre-step for users with an OTP device) asks for the code.
		err = nil
	}
	if code, userID := h.oidc.CredentialsError(r, realm, username, err); code != "" {
		h.oidc.Event(r, realm, store.Event{Type: events.LoginError, ClientID: c.Row.ClientID, UserID: userID, Error: code,
			Details: map[string]string{"auth_method": "openid-connect", "auth_type": "code", "username": username,
				"redirect_uri": req.Form().Get("redirect_uri")}})
	}
	switch {
	case errors.Is(err, authn.ErrBusy):
		w.Header().Set("Retry-After", "1")
		h.ErrorPage(w, r, realm, http.StatusServiceUnavailable, "temporarilyUnavailable")
		return
	case errors.Is(err, authn.ErrUnavailable):
		// The attempt stays open: the person may try again in a moment.
		w.Header().Set("Retry-After", "5")
		h.renderLogin(w, r, realm, c, id, r.PostForm.Get("csrf_token"), username, "userStorageUnavailableMessage", http.StatusServiceUnavailable)
		return
	case errors.Is(err, authn.ErrUserDisabled):
		h.renderLogin(w, r, realm, c, id, r.PostForm.Get("csrf_token"), username, "accountDisabledMessage", http.StatusOK)
		return
	case errors.Is(err, authn.ErrInvalidCredentials):
		h.renderLogin(w, r, realm, c, id, r.PostForm.Get("csrf_token"), username, "invalidUserMessage", http.StatusOK)
		return
	case err != nil:
		h.storeError(w, r, realm, "login", err)
		return
	}
	// The attempt is single use: a replayed form finds it spent.
	if err := h.st.DeactivateToken(ctx, store.KindLogin, id); errors.Is(err, store.ErrNotFound) {
		h.expiredPage(w, r, realm)
		return
	} else if err != nil {
		h.storeError(w, r, realm, "login", err)
		return
	}
	if !otpPending {
		h.rememberLocale(r, realm, form, &u)
	}
	h.CompleteLogin(w, r, realm, &Attempt{ID: id, Request: req, Started: at.Created}, u, Details{
		ACR: acrCredential, AuthTime: time.Now(),
		// A realm without Remember Me ignores the field, whoever posted it.
		RememberMe: realm.Settings.RememberMe && r.PostForm.Get("rememberMe") == "on",
	})
}

// ResumeSession answers req from sso, the browser's live SSO session, which
// satisfies the request's prompt and max_age: no form, the session's user
// read once and passed to CompleteLogin.
func (h *Handler) ResumeSession(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, req *oidc.AuthorizeRequest, sso *store.Session) {
	ctx := r.Context()
	_ = h.st.TouchSession(ctx, realm.Row.ID, sso.ID, time.Now())
	u, err := h.st.GetUser(ctx, realm.Row.ID, sso.UserID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.storeError(w, r, realm, "resume session", err)
		return
	}
	if err != nil || !u.Enabled {
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "accountDisabledMessage")
		return
	}
	h.CompleteLogin(w, r, realm, &Attempt{Request: req, Started: req.RequestedAt()}, u, Details{
		ACR: acrSession, AuthTime: sso.AuthTime, RememberMe: sso.RememberMe, Session: sso,
	})
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
