package login

import (
	"context"
	"errors"
	"net/http"

	"github.com/a-h/templ"

	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/idp/events"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// UPDATE_PASSWORD: Keycloak's UpdatePassword required action. The new
// password follows the realm's policy (each rule named when it fails),
// passwordHistory included, and is stored as the policy says; "Sign out
// from other devices" ends the user's other sessions.
func init() {
	RegisterAction(Action{Alias: "UPDATE_PASSWORD", Show: showUpdatePassword, Process: processUpdatePassword})
}

func showUpdatePassword(s *Step) templ.Component {
	return templates.UpdatePassword(templates.UpdatePasswordView{Page: s.Page, FormAction: s.FormAction,
		CSRFToken: s.CSRFToken, Error: s.Error, ErrorField: s.ErrorField, Username: s.User.Username,
		LogoutSessions: s.Error == "" || s.Data["logoutSessions"] == "on", Cancelable: s.Cancelable})
}

func processUpdatePassword(ctx context.Context, s *Step) Result {
	h, realm := s.H, s.Realm
	pw, confirm := s.Form.Get("password-new"), s.Form.Get("password-confirm")
	s.Data["logoutSessions"] = s.Form.Get("logout-sessions")
	fail := func(errKey string) {
		h.oidc.Event(s.Request, realm, store.Event{Type: events.UpdatePasswordError, ClientID: s.ClientID,
			UserID: s.User.ID, Error: errKey, Details: map[string]string{"username": s.User.Username}})
	}
	switch {
	case pw == "":
		return Retry("password", "missingPasswordMessage")
	case pw != confirm:
		return Retry("password-confirm", "notMatchPasswordMessage")
	}
	ps := h.Passwords()
	if ps == nil {
		return Fail(http.StatusInternalServerError, "unexpectedErrorMessage")
	}
	err := ps.SetPassword(ctx, realm.Row.ID, realm.Settings, s.User, pw)
	var pe *password.PolicyError
	switch {
	case errors.As(err, &pe):
		fail("password_rejected")
		return Retry("password", pe.Key, pe.Params...)
	case errors.Is(err, authn.ErrBusy):
		return Unavailable("password", "temporarilyUnavailable")
	case err != nil:
		h.log.ErrorContext(ctx, "update password", "realm", realm.Row.Name, "user", s.User.ID, "err", err)
		fail("password_update_failed")
		if errors.Is(err, store.ErrUnavailable) || errors.Is(err, authn.ErrUnavailable) {
			return Unavailable("password", "temporarilyUnavailable")
		}
		return Retry("password", "unexpectedErrorMessage")
	}
	h.oidc.Event(s.Request, realm, store.Event{Type: events.UpdatePassword, ClientID: s.ClientID, UserID: s.User.ID,
		Details: map[string]string{"username": s.User.Username}})
	if s.Form.Get("logout-sessions") == "on" {
		// Asked for, perhaps because the old password leaked: the login
		// does not go on as if the other sessions had ended. The page
		// again (503), as the account console answers.
		if err := h.endOtherSessions(ctx, s); err != nil {
			return storeRetry(s, err)
		}
	}
	return Done()
}

// endOtherSessions ends the user's SSO sessions but the one this login
// continues (an SSO session's login), as Keycloak's logout-sessions does;
// the first store error, once it tried them all.
func (h *Handler) endOtherSessions(ctx context.Context, s *Step) error {
	keep := ""
	if s.Details.Session != nil {
		keep = s.Details.Session.ID
	}
	list, err := h.st.ListUserSessions(ctx, s.Realm.Row.ID, s.User.ID)
	if err != nil {
		h.log.WarnContext(ctx, "sign out other sessions", "user", s.User.ID, "err", err)
		return err
	}
	var first error
	for _, ss := range list {
		if ss.ID == keep {
			continue
		}
		if err := h.oidc.EndSession(ctx, s.Realm.Issuer, s.Realm.Row.ID, ss.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			h.log.WarnContext(ctx, "sign out other sessions", "user", s.User.ID, "err", err)
			if first == nil {
				first = err
			}
		}
	}
	return first
}
