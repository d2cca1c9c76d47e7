package account

import (
	"context"
	"errors"
	"net/mail"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/keygate/keygate/idp/login"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
)

// fieldError is a profile or password change refused because of one
// field: Keycloak's message key and its parameters.
type fieldError struct {
	Field  string
	Key    string
	Params []string
}

func (e *fieldError) Error() string { return e.Field + ": " + e.Key }

// profileUpdate is what the user asked to change; nil fields stay.
type profileUpdate struct {
	Username, Email, FirstName, LastName *string
}

// maxAttributeLength is Keycloak's default user profile length limit.
const maxAttributeLength = 255

// applyProfile validates in against the realm's rules for u, as Keycloak's
// ACCOUNT user profile context does with the default configuration: the
// username only where editUsernameAllowed (and the email is not the
// username), a changed email unverified and unique unless the realm
// allows duplicates, email, first and last name required. It returns the
// user to store and whether anything changed; u is not modified.
func (h *Handler) applyProfile(ctx context.Context, realm *oidc.Realm, u store.User, in profileUpdate) (store.User, bool, error) {
	s := realm.Settings
	out := u
	trim := func(p *string) string { return strings.TrimSpace(*p) }
	if u.FederationLink != "" {
		// A directory's user: keygate does not write profiles back to it.
		return u, false, &fieldError{Key: "readOnlyUserMessage"}
	}
	if in.Email != nil {
		email := strings.ToLower(trim(in.Email))
		switch {
		case email == "":
			return u, false, &fieldError{Field: "email", Key: "missingEmailMessage"}
		case utf8.RuneCountInString(email) > maxAttributeLength:
			return u, false, &fieldError{Field: "email", Key: "invalidEmailMessage"}
		case !validEmail(email):
			return u, false, &fieldError{Field: "email", Key: "invalidEmailMessage"}
		}
		if email != u.Email {
			if !s.DuplicateEmailsAllowed {
				if taken, err := store.EmailTaken(ctx, h.st, realm.Row.ID, email, u.ID); err != nil {
					return u, false, err
				} else if taken {
					return u, false, &fieldError{Field: "email", Key: "emailExistsMessage"}
				}
				if taken, err := h.login.DirectoryTaken(ctx, realm, email, true); err != nil {
					return u, false, err
				} else if taken {
					return u, false, &fieldError{Field: "email", Key: "emailExistsMessage"}
				}
			}
			if s.EmailLogin() { // another's username as this email
				if taken, err := store.LoginNameTaken(ctx, h.st, realm.Row.ID, email, u.ID, true); err != nil {
					return u, false, err
				} else if taken {
					return u, false, &fieldError{Field: "email", Key: "emailExistsMessage"}
				}
			}
			out.Email, out.EmailVerified = email, false
		}
	}
	if s.RegistrationEmailAsUsername {
		if out.Email != "" && out.Email != u.Username {
			if other, err := h.st.GetUserByUsername(ctx, realm.Row.ID, out.Email); err == nil && other.ID != u.ID {
				return u, false, &fieldError{Field: "email", Key: "emailExistsMessage"}
			} else if err != nil && !errors.Is(err, store.ErrNotFound) {
				return u, false, err
			}
			out.Username = out.Email
		}
	} else if in.Username != nil {
		name := strings.ToLower(trim(in.Username))
		if name != u.Username {
			switch {
			case !s.EditUsernameAllowed:
				return u, false, &fieldError{Field: "username", Key: "readOnlyUsernameMessage"}
			case name == "":
				return u, false, &fieldError{Field: "username", Key: "missingUsernameMessage"}
			case utf8.RuneCountInString(name) > maxAttributeLength || !login.ValidUsername(name):
				return u, false, &fieldError{Field: "username", Key: "invalidUsernameMessage"}
			}
			if other, err := h.st.GetUserByUsername(ctx, realm.Row.ID, name); err == nil && other.ID != u.ID {
				return u, false, &fieldError{Field: "username", Key: "usernameExistsMessage"}
			} else if err != nil && !errors.Is(err, store.ErrNotFound) {
				return u, false, err
			}
			if s.EmailLogin() { // another's email as this username
				if taken, err := store.LoginNameTaken(ctx, h.st, realm.Row.ID, name, u.ID, false); err != nil {
					return u, false, err
				} else if taken {
					return u, false, &fieldError{Field: "username", Key: "usernameExistsMessage"}
				}
			}
			// A directory user without a local copy yet owns the name too.
			if taken, err := h.login.DirectoryTaken(ctx, realm, name, false); err != nil {
				return u, false, err
			} else if taken {
				return u, false, &fieldError{Field: "username", Key: "usernameExistsMessage"}
			}
			out.Username = name
		}
	}
	for _, f := range []struct {
		val     *string
		dst     *string
		field   string
		missing string
	}{
		{in.FirstName, &out.FirstName, "firstName", "missingFirstNameMessage"},
		{in.LastName, &out.LastName, "lastName", "missingLastNameMessage"},
	} {
		if f.val == nil {
			continue
		}
		v := trim(f.val)
		switch {
		case v == "":
			return u, false, &fieldError{Field: f.field, Key: f.missing}
		case utf8.RuneCountInString(v) > maxAttributeLength || !login.ValidPersonName(v):
			return u, false, &fieldError{Field: f.field, Key: "invalidPersonNameMessage"}
		}
		*f.dst = v
	}
	changed := out.Username != u.Username || out.Email != u.Email || out.EmailVerified != u.EmailVerified ||
		out.FirstName != u.FirstName || out.LastName != u.LastName
	return out, changed, nil
}

// validEmail accepts a bare address (no display name), as Keycloak's
// email validator does in practice.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

// profileChanges are the event details of a profile change, as Keycloak's
// EventAuditingAttributeChangeListener names them.
func profileChanges(old, nu store.User) map[string]string {
	d := map[string]string{"context": "ACCOUNT"}
	add := func(name, a, b string) {
		if a != b {
			d["previous_"+name], d["updated_"+name] = a, b
		}
	}
	add("username", old.Username, nu.Username)
	add("email", old.Email, nu.Email)
	add("first_name", old.FirstName, nu.FirstName)
	add("last_name", old.LastName, nu.LastName)
	return d
}

// hasPassword reports whether the user has a stored password credential.
func hasPassword(creds []store.Credential) (store.Credential, bool) {
	i := slices.IndexFunc(creds, func(c store.Credential) bool { return c.Type == "password" })
	if i < 0 {
		return store.Credential{}, false
	}
	return creds[i], true
}
