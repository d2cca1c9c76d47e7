package store

import (
	"context"
	"errors"
	"strings"
)

// EmailReader finds a user by email (UserStore, or a view of it).
type EmailReader interface {
	GetUserByEmail(ctx context.Context, realmID, email string) (User, error)
}

// EmailTaken reports whether email belongs, in the realm, to a user other
// than selfID ("" for nobody): another user has it, or several share it
// (ErrAmbiguous). Every "email already exists" check goes through it. Its
// error is only the store failing to answer.
func EmailTaken(ctx context.Context, st EmailReader, realmID, email, selfID string) (bool, error) {
	other, err := st.GetUserByEmail(ctx, realmID, email)
	switch {
	case errors.Is(err, ErrAmbiguous): // (also ErrNotFound: first)
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return other.ID != selfID, nil
}

// UserReader finds a user by username or by email.
type UserReader interface {
	EmailReader
	GetUserByUsername(ctx context.Context, realmID, username string) (User, error)
}

// LoginNameTaken reports whether name, about to become a user's username
// (or its email, asEmail), already names a user other than selfID the
// other way round: another's email equal to the new username, another's
// username equal to the new email. It matters where the login form takes
// either (rep.RealmSettings.EmailLogin): a login looks the name up as a
// username first, so whoever held it as an email could no longer sign in
// by it, and its owner's logins would go to the other account (Keycloak's
// duplicate validators since keycloak#27297). Its error is only the store
// failing to answer.
func LoginNameTaken(ctx context.Context, st UserReader, realmID, name, selfID string, asEmail bool) (bool, error) {
	if !asEmail {
		if !strings.Contains(name, "@") { // no email has none
			return false, nil
		}
		return EmailTaken(ctx, st, realmID, name, selfID)
	}
	other, err := st.GetUserByUsername(ctx, realmID, name)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return other.ID != selfID, nil
}
