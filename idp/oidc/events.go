package oidc

import (
	"errors"
	"net/http"
	"strings"

	"github.com/ory/fosite"

	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/idp/events"
	"github.com/keygate/keygate/store"
)

// SetEvents makes the provider (and idp/login, through Events) record
// Keycloak's login events to rec; nil records none.
func (p *Provider) SetEvents(rec *events.Recorder) { p.events = rec }

// Events is the recorder login events go to (nil: none).
func (p *Provider) Events() *events.Recorder { return p.events }

// Event records e in realm: its realm, address and time are filled in.
func (p *Provider) Event(r *http.Request, realm *Realm, e store.Event) {
	if p.events == nil {
		return
	}
	e.RealmID = realm.Row.ID
	if e.IPAddress == "" {
		e.IPAddress = p.ClientIP(r)
	}
	p.events.Notify(realm.Row.Name, e)
	p.events.Event(realm.Settings.Events, e)
}

// tokenEventTypes are the event types of each grant: success, error.
var tokenEventTypes = map[string][2]string{
	"password":           {events.Login, events.LoginError},
	"authorization_code": {events.CodeToToken, events.CodeToTokenError},
	"refresh_token":      {events.RefreshToken, events.RefreshTokenError},
	"client_credentials": {events.ClientLogin, events.ClientLoginError},
}

// tokenEvent records the outcome of one token request: ar is nil when the
// request was refused before fosite built it. Details never carry the
// form's secrets (password, code, refresh token, client secret).
func (p *Provider) tokenEvent(r *http.Request, realm *Realm, ar fosite.AccessRequester, err error) {
	if p.events == nil {
		return
	}
	grant := r.PostForm.Get("grant_type")
	types, ok := tokenEventTypes[grant]
	if !ok {
		return
	}
	e := store.Event{Type: types[0], Details: map[string]string{"grant_type": grant, "auth_method": "openid-connect"}}
	clientID := r.PostForm.Get("client_id")
	if id, _, ok := r.BasicAuth(); ok {
		clientID = id
		e.Details["client_auth_method"] = "client-secret"
	} else if r.PostForm.Get("client_secret") != "" {
		e.Details["client_auth_method"] = "client-secret"
	}
	e.ClientID = clientID
	if ar != nil {
		if c := ar.GetClient(); c != nil && c.GetID() != "" { // fosite's placeholder until the client authenticates
			e.ClientID = c.GetID()
		}
		if s, ok := ar.GetSession().(*Session); ok && s != nil {
			e.UserID, e.SessionID = s.UserID, s.SessionID
			if s.Username != "" && err == nil {
				e.Details["username"] = s.Username
			}
			if err == nil {
				switch grant {
				case "authorization_code":
					e.Details["code_id"] = s.SessionID
				case "refresh_token":
					e.Details["refresh_token_id"] = ar.GetID()
				}
				if s.scope != "" {
					e.Details["scope"] = s.scope
				}
			}
		}
	}
	if grant == "password" {
		if u := r.PostForm.Get("username"); u != "" && e.Details["username"] == "" {
			e.Details["username"] = u
		}
	}
	if err != nil {
		e.Type = types[1]
		e.Error = p.eventError(r, realm, grant, err, &e)
	}
	if grant == "client_credentials" && e.UserID == "" && err == nil {
		return // not a client login (fosite refused it before the handlers)
	}
	p.Event(r, realm, e)
}

// eventError is Keycloak's error string for a failed token request.
func (p *Provider) eventError(r *http.Request, realm *Realm, grant string, err error, e *store.Event) string {
	var fe *fosite.RFC6749Error
	code := ""
	if errors.As(err, &fe) {
		code = fe.ErrorField
	}
	switch {
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, authn.ErrUnavailable), errors.Is(err, authn.ErrBusy):
		return "temporarily_unavailable"
	case errors.Is(err, errNeedsConsent):
		return "consent_denied"
	case errors.Is(err, errNoConsent):
		return "invalid_token"
	case code == "invalid_client":
		return "invalid_client_credentials"
	case code == "unauthorized_client":
		return "not_allowed"
	case errors.Is(err, errNotSetUp):
		return "resolve_required_actions"
	case errors.Is(err, errSessionNotActive):
		return "invalid_token"
	}
	switch grant {
	case "password":
		if code, userID := p.CredentialsError(r, realm, r.PostForm.Get("username"), err); code != "" {
			e.UserID = userID
			return code
		}
	case "authorization_code":
		if code == "invalid_grant" {
			return "invalid_code"
		}
	case "refresh_token":
		if code == "invalid_grant" {
			return "invalid_token"
		}
	}
	if code != "" {
		return code
	}
	return "unknown_error"
}

// CredentialsError is Keycloak's error string for a refused username and
// password (authn's error err), with the id of the user it names when
// there is one; "" when err is no credentials error.
func (p *Provider) CredentialsError(r *http.Request, realm *Realm, username string, err error) (code, userID string) {
	switch {
	case errors.Is(err, authn.ErrUserDisabled):
		code = "user_disabled"
	case errors.Is(err, authn.ErrInvalidCredentials):
		code = "invalid_user_credentials"
	default:
		return "", ""
	}
	// Keycloak names the user it found, or says there was none: one read,
	// on failures only.
	name := strings.TrimSpace(username)
	u, lerr := p.st.GetUserByUsername(r.Context(), realm.Row.ID, name)
	if errors.Is(lerr, store.ErrNotFound) && realm.Settings.EmailLogin() && strings.Contains(name, "@") {
		u, lerr = p.st.GetUserByEmail(r.Context(), realm.Row.ID, name)
	}
	switch {
	case lerr == nil && u.ServiceAccount == "":
		return code, u.ID
	case errors.Is(lerr, store.ErrNotFound) || lerr == nil:
		return "user_not_found", ""
	}
	return code, ""
}
