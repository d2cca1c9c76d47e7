package login

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/idp/events"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
)

// Authentication context classes, as Keycloak reports them in acr.
const (
	acrCredential = "1" // the user presented a credential for this login
	acrSession    = "0" // a live SSO session vouched for the user
)

// Attempt is a login on its way to an authorization response.
type Attempt struct {
	// ID names the stored login attempt (its KindLogin record and the
	// AUTH_SESSION_ID cookie); "" when none was stored, as when an SSO
	// session answers a request at once.
	ID string
	// Request is the pending authorization request, validated.
	Request *oidc.AuthorizeRequest
	// Started is when the person was sent to log in; fosite compares
	// auth_time with it for prompt=login and max_age.
	Started time.Time
}

// Details say how the user authenticated.
type Details struct {
	// ACR is "1" when the user presented a credential for this login, "0"
	// when a live SSO session vouched for them.
	ACR string
	// AuthTime is when the user authenticated; a new SSO session records
	// it, to the second.
	AuthTime time.Time
	// RememberMe asks for a remembered session (long-lived cookies, the
	// realm's Remember Me lifespans). Callers honour it only where the
	// realm offers Remember Me.
	RememberMe bool
	// IdentityProvider is the alias of the identity provider the user
	// signed in through, "" for none.
	IdentityProvider string
	// SessionData is kept with a new SSO session (a brokered login's IdP
	// session, for single logout).
	SessionData []byte
	// Session is the live SSO session that vouched for the user, reused as
	// it is; nil to create one.
	Session *store.Session
	// consented: the user granted consent on this login's consent screen.
	consented bool
}

// CompleteLogin is the step every way in ends in (the password form, a
// live SSO session, brokered logins): user, authenticated as d says, is
// signed in to answer the attempt.
//
// First the login's remaining steps run as pages (actions.go): for a
// fresh authentication (d.Session nil) the pre-steps that apply (the OTP
// form), then, for every login, the user's pending required actions the
// realm has enabled. prompt=none with steps pending learns
// interaction_required. Then the SSO session is reused or created (with
// its cookies), the attempt's cookie is cleared, and oidc issues the
// authorization response. user is used as given, not re-read.
func (h *Handler) CompleteLogin(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, at *Attempt, user store.User, d Details) {
	h.beginSteps(w, r, realm, at, user, d, d.Session == nil)
}

// finishLogin signs user in once no step is left.
func (h *Handler) finishLogin(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, at *Attempt, user store.User, d Details) {
	ctx := r.Context()
	sso := d.Session
	if sso == nil {
		t := time.Now()
		sso = &store.Session{
			ID: uuid.NewString(), RealmID: realm.Row.ID, UserID: user.ID, Created: t, LastSeen: t,
			AuthTime: d.AuthTime.Truncate(time.Second), IPAddress: h.oidc.ClientIP(r), RememberMe: d.RememberMe,
			Data: d.SessionData,
		}
		if err := h.st.CreateSession(ctx, *sso); err != nil {
			h.storeError(w, r, realm, "create session", err)
			return
		}
		if err := h.setSSOCookies(w, r, realm, *sso); err != nil {
			h.ErrorPage(w, r, realm, http.StatusInternalServerError, "unexpectedErrorMessage")
			return
		}
		if d.IdentityProvider != "" {
			h.indexBrokerSession(ctx, realm, *sso)
		}
	}
	if at.ID != "" {
		h.clearCookie(w, r, realm, cookieAttempt, true)
	}
	det := map[string]string{"auth_method": "openid-connect", "auth_type": "code", "username": user.Username,
		"redirect_uri": at.Request.Form().Get("redirect_uri"), "code_id": sso.ID, "consent": "no_consent_required"}
	switch {
	case d.consented:
		det["consent"] = "consent_granted"
	case at.Request.Client.Settings.ConsentRequired:
		det["consent"] = "persistent_consent"
	}
	if d.IdentityProvider != "" {
		det["identity_provider"] = d.IdentityProvider
	}
	h.oidc.Event(r, realm, store.Event{Type: events.Login, ClientID: at.Request.Client.Row.ClientID, UserID: user.ID,
		SessionID: sso.ID, Details: det})
	h.oidc.IssueAuthorizeResponse(w, r, realm, at.Request, user, *sso, d.ACR, at.Started)
}
