package login

import (
	"context"
	"errors"
	"strings"

	"github.com/a-h/templ"

	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// UPDATE_PROFILE: Keycloak's UpdateProfile required action over the
// default user profile: username (only where editUsernameAllowed and the
// realm does not name users by email), email, first and last name, all
// required. A changed email is no longer verified; usernames and emails
// stay unique (emails unless duplicateEmailsAllowed); a new username or
// name holds none of the characters Keycloak's user profile refuses
// (ValidUsername, ValidPersonName). A user of a user
// storage provider may only confirm what the directory says.
func init() {
	RegisterAction(Action{Alias: "UPDATE_PROFILE", Show: showUpdateProfile, Process: processUpdateProfile})
}

// editUsername says whether the profile page lets the user change their
// username.
func editUsername(s *Step) bool {
	return s.Realm.Settings.EditUsernameAllowed && !s.Realm.Settings.RegistrationEmailAsUsername
}

func showUpdateProfile(s *Step) templ.Component {
	v := templates.UpdateProfileView{Page: s.Page, FormAction: s.FormAction, CSRFToken: s.CSRFToken,
		Username: s.User.Username, Email: s.User.Email, FirstName: s.User.FirstName, LastName: s.User.LastName,
		EditUsername: editUsername(s), ShowEmail: true, Error: s.Error, ErrorField: s.ErrorField, Cancelable: s.Cancelable}
	if s.Error != "" {
		// Show what the person typed, not what is stored.
		v.Username, v.Email, v.FirstName, v.LastName = s.Data["username"], s.Data["email"], s.Data["firstName"], s.Data["lastName"]
	}
	return templates.UpdateProfile(v)
}

func processUpdateProfile(ctx context.Context, s *Step) Result {
	h, realm, set := s.H, s.Realm, s.Realm.Settings
	f := s.Form
	username := s.User.Username
	if editUsername(s) {
		username = strings.TrimSpace(f.Get("username"))
	}
	email := strings.TrimSpace(f.Get("email"))
	first, last := strings.TrimSpace(f.Get("firstName")), strings.TrimSpace(f.Get("lastName"))
	if set.RegistrationEmailAsUsername {
		username = email
	}
	s.Data["username"], s.Data["email"], s.Data["firstName"], s.Data["lastName"] = username, email, first, last
	if u := s.User; u.FederationLink != "" {
		// A directory's user: its provider owns these attributes (read-only
		// in Keycloak's user profile; keygate writes no profile back, as
		// the account console says). The stored values complete the action.
		if strings.ToLower(username) != u.Username || strings.ToLower(email) != u.Email || first != u.FirstName || last != u.LastName {
			return Retry("", "readOnlyUserMessage")
		}
		return Done()
	}
	switch {
	case username == "":
		return Retry("username", "missingUsernameMessage")
	case email == "":
		return Retry("email", "missingEmailMessage")
	case !validEmail(email):
		return Retry("email", "invalidEmailMessage")
	case first == "":
		return Retry("firstName", "missingFirstNameMessage")
	case last == "":
		return Retry("lastName", "missingLastNameMessage")
	case len(username) > 255 || len(email) > 255 || len(first) > 255 || len(last) > 255:
		return Retry("", "invalidParameterMessage", "length")
	case strings.ToLower(username) != s.User.Username && !set.RegistrationEmailAsUsername && !ValidUsername(username):
		// Not strings.EqualFold: it takes "\u017Fam" (LONG S, kept by
		// lower-casing) for the stored "sam", a rename past the validators.
		return Retry("username", "invalidUsernameMessage")
	case first != s.User.FirstName && !ValidPersonName(first):
		return Retry("firstName", "invalidPersonNameMessage")
	case last != s.User.LastName && !ValidPersonName(last):
		return Retry("lastName", "invalidPersonNameMessage")
	}
	u := s.User
	lowerName, lowerEmail := strings.ToLower(username), strings.ToLower(email)
	if lowerName != u.Username {
		o, err := h.st.GetUserByUsername(ctx, realm.Row.ID, lowerName)
		if err == nil && o.ID != u.ID {
			return Retry("username", "usernameExistsMessage")
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return storeRetry(s, err)
		}
	}
	if lowerName != u.Username {
		if taken, err := h.DirectoryTaken(ctx, realm, lowerName, false); err != nil {
			return storeRetry(s, err)
		} else if taken {
			return Retry("username", "usernameExistsMessage")
		}
	}
	if lowerName != u.Username && set.EmailLogin() { // another's email as this username
		if taken, err := store.LoginNameTaken(ctx, h.st, realm.Row.ID, lowerName, u.ID, false); err != nil {
			return storeRetry(s, err)
		} else if taken {
			return Retry("username", "usernameExistsMessage")
		}
	}
	if lowerEmail != u.Email && !set.DuplicateEmailsAllowed {
		if taken, err := store.EmailTaken(ctx, h.st, realm.Row.ID, lowerEmail, u.ID); err != nil {
			return storeRetry(s, err)
		} else if taken {
			return Retry("email", "emailExistsMessage")
		}
		if taken, err := h.DirectoryTaken(ctx, realm, lowerEmail, true); err != nil {
			return storeRetry(s, err)
		} else if taken {
			return Retry("email", "emailExistsMessage")
		}
		if set.EmailLogin() { // another's username as this email
			if taken, err := store.LoginNameTaken(ctx, h.st, realm.Row.ID, lowerEmail, u.ID, true); err != nil {
				return storeRetry(s, err)
			} else if taken {
				return Retry("email", "emailExistsMessage")
			}
		}
	}
	details := map[string]string{"username": u.Username, "context": "REQUIRED_ACTION"}
	if lowerEmail != u.Email {
		details["previous_email"], details["updated_email"] = u.Email, lowerEmail
		u.EmailVerified = false
	}
	if first != u.FirstName {
		details["previous_first_name"], details["updated_first_name"] = u.FirstName, first
	}
	if last != u.LastName {
		details["previous_last_name"], details["updated_last_name"] = u.LastName, last
	}
	u.Username, u.Email, u.FirstName, u.LastName = lowerName, lowerEmail, first, last
	if err := h.st.UpdateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Retry("username", "usernameExistsMessage")
		}
		return storeRetry(s, err)
	}
	h.oidc.Event(s.Request, realm, store.Event{Type: "UPDATE_PROFILE", ClientID: s.ClientID, UserID: u.ID, Details: details})
	return Done()
}

// directoryNames is authn's DirectoryHas: whether a user storage provider
// has a user with a name or email that no local user has yet.
type directoryNames interface {
	DirectoryHas(ctx context.Context, realmID string, s rep.RealmSettings, name string, byEmail bool) error
}

// DirectoryTaken says whether a user storage provider of realm has a user
// named name (an email when byEmail) who may not have a local copy yet:
// a profile change must not take it, as Keycloak's uniqueness checks ask
// the providers too. A directory that cannot answer is an error
// (authn.ErrUnavailable).
func (h *Handler) DirectoryTaken(ctx context.Context, realm *oidc.Realm, name string, byEmail bool) (bool, error) {
	dn, ok := h.authn.(directoryNames)
	if !ok {
		return false, nil
	}
	switch err := dn.DirectoryHas(ctx, realm.Row.ID, realm.Settings, name, byEmail); {
	case errors.Is(err, authn.ErrUsernameExists), errors.Is(err, authn.ErrEmailExists):
		return true, nil
	default:
		return false, err
	}
}

// storeRetry shows the page again after a store failure, saying so.
func storeRetry(s *Step, err error) Result {
	s.H.log.ErrorContext(s.Request.Context(), "required action "+s.Alias, "realm", s.Realm.Row.Name, "user", s.User.ID, "err", err)
	if errors.Is(err, store.ErrUnavailable) {
		return Unavailable("", "temporarilyUnavailable")
	}
	if errors.Is(err, authn.ErrUnavailable) {
		return Unavailable("", "userStorageUnavailableMessage")
	}
	return Retry("", "unexpectedErrorMessage")
}
