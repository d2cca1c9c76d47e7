package login

import (
	"context"
	"net/http"
	"slices"

	"github.com/a-h/templ"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// delete_account: Keycloak's DeleteAccount required action, which a realm
// must enable (it is registered disabled). Only a user with the account
// client's delete-account role may confirm; the others see Keycloak's
// "not enough permissions" on the page. Confirming deletes the user and
// their sessions.
func init() {
	RegisterAction(Action{Alias: "delete_account", Show: showDeleteAccount, Process: processDeleteAccount})
}

// mayDeleteAccount says whether u holds account's delete-account role
// (directly, through a group or a composite).
func mayDeleteAccount(ctx context.Context, s *Step) (bool, error) {
	_, clientRoles, err := s.H.oidc.UserRoles(ctx, s.Realm.Row.ID, s.User.ID)
	if err != nil {
		return false, err
	}
	return slices.Contains(clientRoles["account"], "delete-account"), nil
}

func showDeleteAccount(s *Step) templ.Component {
	v := templates.DeleteAccountView{Page: s.Page, FormAction: s.FormAction, CSRFToken: s.CSRFToken, Error: s.Error}
	if v.Error == "" {
		if ok, err := mayDeleteAccount(s.Request.Context(), s); err == nil && !ok {
			v.Error = s.Page.T("deletingAccountForbidden")
		}
	}
	return templates.DeleteAccount(v)
}

func processDeleteAccount(ctx context.Context, s *Step) Result {
	h, realm, u := s.H, s.Realm, s.User
	if s.Form.Has("cancel-aia") {
		return Deny()
	}
	ok, err := mayDeleteAccount(ctx, s)
	if err != nil {
		return storeRetry(s, err)
	}
	if !ok {
		h.oidc.Event(s.Request, realm, store.Event{Type: "DELETE_ACCOUNT_ERROR", ClientID: s.ClientID, UserID: u.ID,
			Error: "user_delete_error", Details: map[string]string{"username": u.Username}})
		return Retry("", "deletingAccountForbidden")
	}
	// The user's sessions end with it: their clients are told.
	if err := h.oidc.EndUserSessions(ctx, realm.Issuer, realm.Row.ID, u.ID, func(ctx context.Context) error {
		return h.st.DeleteUser(ctx, realm.Row.ID, u.ID)
	}); err != nil {
		return storeRetry(s, err)
	}
	h.oidc.Event(s.Request, realm, store.Event{Type: "DELETE_ACCOUNT", ClientID: s.ClientID, UserID: u.ID,
		Details: map[string]string{"username": u.Username}})
	w, r := s.Writer, s.Request
	h.clearCookie(w, r, realm, cookieAttempt, true)
	h.clearCookie(w, r, realm, cookieIdentity, true)
	h.clearCookie(w, r, realm, cookieSession, false)
	h.render(w, http.StatusOK, templates.Info(templates.InfoView{Page: s.Page, Title: s.Page.T("deleteAccountConfirm"),
		Message: s.Page.T("userDeletedSuccessfully")}))
	return Handled()
}
