package login

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// Keycloak's registration event types.
const (
	eventRegister      = "REGISTER"
	eventRegisterError = "REGISTER_ERROR"
)

// maxFieldRunes bounds each registration field (Keycloak's user profile
// allows 255 characters for names, username and email).
const maxFieldRunes = 255

// registrar is the Authenticator's user creation (authn.Authenticator.Register).
type registrar interface {
	Register(ctx context.Context, s rep.RealmSettings, reg authn.Registration) (store.User, error)
}

func (h *Handler) registerRegistration(mux *http.ServeMux) {
	mux.HandleFunc("GET /realms/{realm}/login-actions/registration", h.oidc.RealmHandler(h.registrationPage))
	mux.HandleFunc("POST /realms/{realm}/login-actions/registration", h.oidc.RealmHandler(h.register))
}

// registrationForm is what the register page re-displays.
type registrationForm struct {
	firstName, lastName, email, username string
}

// registrationPage (GET) shows the register page for the browser's login
// attempt: a fresh attempt record with its own CSRF token replaces the
// login form's, as each page of the first broker login has its own.
func (h *Handler) registrationPage(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	if !realm.Settings.RegistrationAllowed {
		h.ErrorPage(w, r, realm, http.StatusNotFound, "registrationNotAllowedMessage")
		return
	}
	_, tok, at, ok := h.openAttempt(w, r, realm, "registration")
	if !ok {
		return
	}
	form, err := url.ParseQuery(at.Query)
	if err != nil {
		h.expiredPage(w, r, realm)
		return
	}
	csrf, id := randomToken(), randomToken()
	next := pendingAttempt{id: id, clientID: tok.ClientID, expires: tok.Expires,
		rec: attemptRecord{Query: at.Query, CSRFHash: sha256Sum([]byte(csrf)), Created: at.Created}}
	row, err := next.row(realm.Row.ID)
	if err == nil {
		err = h.st.CreateToken(r.Context(), row)
	}
	if err != nil {
		h.storeError(w, r, realm, "registration", err)
		return
	}
	h.setCookie(w, r, realm, cookieAttempt, id, 0, true)
	h.stickLocale(w, r, realm, r.URL.Query().Get(paramLocale))
	h.renderRegister(w, h.withLocale(r, realm, form, nil), realm, tok.ClientID, id, csrf, at.Query, registrationForm{}, "", "", http.StatusOK)
}

// renderRegister shows the register page of attempt id (r carries the
// attempt's locale hints, withLocale). Its language menu links to this
// page of the same attempt with kc_locale; "Back to Login" repeats the
// authorization request (query), which starts the login again.
func (h *Handler) renderRegister(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, clientID, id, csrf, query string, f registrationForm, errKey, field string, status int, args ...any) {
	path := realmPath(r, realm) + "login-actions/registration"
	q := url.Values{"session_code": {id}, "client_id": {clientID}}
	if hints, _ := r.Context().Value(localeHintsKey{}).(*localeHints); hints != nil {
		hints.menu, hints.form = &url.URL{Path: path}, q
	}
	p := h.page(r, realm)
	action := url.Values{"session_code": {id}, "client_id": {clientID}}
	if l := r.URL.Query().Get(paramLocale); l != "" {
		action.Set(paramLocale, l) // the chosen language outlives a refused attempt
	}
	v := templates.RegisterView{
		Page: p, FormAction: path + "?" + action.Encode(), CSRFToken: csrf,
		FirstName: f.firstName, LastName: f.lastName, Email: f.email, Username: f.username,
		EmailAsUsername: realm.Settings.RegistrationEmailAsUsername, ErrorField: field,
		LoginURL: realmPath(r, realm) + "protocol/openid-connect/auth?" + query,
	}
	if errKey != "" {
		v.Error = p.T(errKey, args...)
	}
	h.render(w, status, templates.Register(v))
}

// register (POST) takes the register page's form: the attempt and its
// CSRF token, the authorization request validated again, the fields as
// Keycloak's registration form checks them, then the user created with
// the realm's defaults and signed in (CompleteLogin) to answer the
// client. Refusals re-display the page with Keycloak's message for the
// first failed check.
func (h *Handler) register(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	ctx := r.Context()
	if !realm.Settings.RegistrationAllowed {
		h.ErrorPage(w, r, realm, http.StatusNotFound, "registrationNotAllowedMessage")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage")
		return
	}
	id, tok, at, ok := h.openAttempt(w, r, realm, "registration")
	if !ok {
		return
	}
	if subtle.ConstantTimeCompare(sha256Sum([]byte(r.PostForm.Get("csrf_token"))), at.CSRFHash) != 1 {
		h.ErrorPage(w, r, realm, http.StatusForbidden, "invalidRequestMessage")
		return
	}
	form, err := url.ParseQuery(at.Query)
	if err != nil {
		h.expiredPage(w, r, realm)
		return
	}
	req, ok := h.oidc.ParseAuthorizeRequest(w, r, realm, form)
	if !ok {
		return
	}
	r = h.withLocale(r, realm, form, nil)
	s := realm.Settings
	f := registrationForm{
		firstName: strings.TrimSpace(r.PostForm.Get("firstName")),
		lastName:  strings.TrimSpace(r.PostForm.Get("lastName")),
		email:     strings.ToLower(strings.TrimSpace(r.PostForm.Get("email"))),
		username:  strings.ToLower(strings.TrimSpace(r.PostForm.Get("username"))),
	}
	if s.RegistrationEmailAsUsername {
		f.username = f.email
	}
	pw := r.PostForm.Get("password")
	refuse := func(errKey, field, eventError string, args ...any) {
		h.oidc.Event(r, realm, store.Event{Type: eventRegisterError, ClientID: tok.ClientID, Error: eventError,
			Details: map[string]string{"auth_method": "openid-connect", "register_method": "form",
				"username": f.username, "email": f.email, "redirect_uri": req.Form().Get("redirect_uri")}})
		// The profile stays for the person to correct; the passwords never
		// come back.
		h.renderRegister(w, r, realm, tok.ClientID, id, r.PostForm.Get("csrf_token"), at.Query, f, errKey, field, http.StatusOK, args...)
	}
	// Keycloak's order: the profile's fields, then the password.
	switch {
	case f.firstName == "":
		refuse("missingFirstNameMessage", "firstName", "invalid_registration")
		return
	case f.lastName == "":
		refuse("missingLastNameMessage", "lastName", "invalid_registration")
		return
	case f.email == "":
		refuse("missingEmailMessage", "email", "invalid_registration")
		return
	case !validEmail(f.email):
		refuse("invalidEmailMessage", "email", "invalid_registration")
		return
	case !s.RegistrationEmailAsUsername && f.username == "":
		refuse("missingUsernameMessage", "username", "invalid_registration")
		return
	case !s.RegistrationEmailAsUsername && !ValidUsername(f.username):
		refuse("invalidUsernameMessage", "username", "invalid_registration")
		return
	case !ValidPersonName(f.firstName):
		refuse("invalidPersonNameMessage", "firstName", "invalid_registration")
		return
	case !ValidPersonName(f.lastName):
		refuse("invalidPersonNameMessage", "lastName", "invalid_registration")
		return
	case tooLong(f.firstName, f.lastName, f.email, f.username):
		refuse("invalidRequestMessage", "", "invalid_registration")
		return
	case pw == "":
		refuse("missingPasswordMessage", "password", "invalid_registration")
		return
	case subtle.ConstantTimeCompare([]byte(pw), []byte(r.PostForm.Get("password-confirm"))) != 1:
		refuse("notMatchPasswordMessage", "password-confirm", "invalid_registration")
		return
	}
	reg, ok := h.authn.(registrar)
	if !ok {
		h.ErrorPage(w, r, realm, http.StatusInternalServerError, "unexpectedErrorMessage")
		return
	}
	u := store.User{ID: uuid.NewString(), RealmID: realm.Row.ID, Username: f.username, Email: f.email,
		FirstName: f.firstName, LastName: f.lastName, Created: time.Now().UTC()}
	if s.InternationalizationEnabled {
		// The language the person registered in becomes theirs, as
		// Keycloak's registration records it.
		u.Attributes = map[string][]string{"locale": {resolveLocale(r, realm)}}
	}
	u, err = reg.Register(ctx, s, authn.Registration{User: u, Password: pw, RequiredActions: defaultRequiredActions(realm)})
	var pe *password.PolicyError
	switch {
	case errors.As(err, &pe):
		args := make([]any, len(pe.Params))
		for i, p := range pe.Params {
			args[i] = p
		}
		refuse(pe.Key, "password", "invalid_registration", args...)
		return
	case errors.Is(err, authn.ErrUsernameExists) && s.RegistrationEmailAsUsername:
		refuse("emailExistsMessage", "email", "email_in_use")
		return
	case errors.Is(err, authn.ErrUsernameExists):
		refuse("usernameExistsMessage", "username", "username_in_use")
		return
	case errors.Is(err, authn.ErrEmailExists):
		refuse("emailExistsMessage", "email", "email_in_use")
		return
	case errors.Is(err, authn.ErrUnavailable) && !errors.Is(err, store.ErrUnavailable):
		// The directory that takes registrations cannot answer: the page
		// stays, the person may try again in a moment.
		w.Header().Set("Retry-After", "5")
		h.renderRegister(w, r, realm, tok.ClientID, id, r.PostForm.Get("csrf_token"), at.Query, f,
			"userStorageUnavailableMessage", "", http.StatusServiceUnavailable)
		return
	case errors.Is(err, authn.ErrBusy):
		w.Header().Set("Retry-After", "1")
		h.ErrorPage(w, r, realm, http.StatusServiceUnavailable, "temporarilyUnavailable")
		return
	case err != nil:
		h.storeError(w, r, realm, "registration", err)
		return
	}
	// The attempt is single use: a replayed form finds it spent.
	if err := h.st.DeactivateToken(ctx, store.KindLogin, id); errors.Is(err, store.ErrNotFound) {
		h.expiredPage(w, r, realm)
		return
	} else if err != nil {
		h.storeError(w, r, realm, "registration", err)
		return
	}
	h.oidc.Event(r, realm, store.Event{Type: eventRegister, ClientID: tok.ClientID, UserID: u.ID,
		Details: map[string]string{"auth_method": "openid-connect", "auth_type": "code", "register_method": "form",
			"username": u.Username, "email": u.Email, "redirect_uri": req.Form().Get("redirect_uri")}})
	h.CompleteLogin(w, r, realm, &Attempt{ID: id, Request: req, Started: at.Created}, u, Details{
		ACR: acrCredential, AuthTime: time.Now(),
	})
}

func tooLong(fields ...string) bool {
	for _, f := range fields {
		if utf8.RuneCountInString(f) > maxFieldRunes {
			return true
		}
	}
	return false
}

// defaultRequiredActions are the realm's required actions that are
// enabled and marked default (Keycloak adds them to every new user),
// read from the realm's stored representation; a realm that lists none
// has Keycloak's defaults, none of which is a default action.
func defaultRequiredActions(realm *oidc.Realm) []string {
	var rep struct {
		RequiredActions []struct {
			Alias         string `json:"alias"`
			ProviderID    string `json:"providerId"`
			Enabled       bool   `json:"enabled"`
			DefaultAction bool   `json:"defaultAction"`
		} `json:"requiredActions"`
	}
	if len(realm.Row.Settings) == 0 || json.Unmarshal(realm.Row.Settings, &rep) != nil {
		return nil
	}
	var out []string
	for _, a := range rep.RequiredActions {
		if a.Enabled && a.DefaultAction {
			name := a.Alias
			if name == "" {
				name = a.ProviderID
			}
			out = append(out, name)
		}
	}
	return out
}
