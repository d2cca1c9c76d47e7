package store

import (
	"context"
	"errors"
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
