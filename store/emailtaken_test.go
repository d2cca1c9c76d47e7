package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

type emailsOf map[string]error // email -> what GetUserByEmail answers besides a user "u1"

func (m emailsOf) GetUserByEmail(_ context.Context, _, email string) (User, error) {
	if err, ok := m[email]; ok {
		return User{}, err
	}
	return User{ID: "u1", Email: email}, nil
}

// Taken means someone else has the email, or several users share it; a
// store that cannot answer is an error, never "free" or "taken".
func TestEmailTaken(t *testing.T) {
	down := fmt.Errorf("%w: connection refused", ErrUnavailable)
	st := emailsOf{"free@x": ErrNotFound, "shared@x": ErrAmbiguous, "down@x": down}
	for _, tc := range []struct {
		email, self string
		taken       bool
		err         error
	}{
		{"free@x", "", false, nil},
		{"u1@x", "u1", false, nil},
		{"u1@x", "u2", true, nil},
		{"u1@x", "", true, nil},
		{"shared@x", "u1", true, nil},
		{"down@x", "u1", false, ErrUnavailable},
	} {
		taken, err := EmailTaken(context.Background(), st, "r", tc.email, tc.self)
		if taken != tc.taken || (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
			t.Errorf("%s as %q: taken=%v err=%v, want %v %v", tc.email, tc.self, taken, err, tc.taken, tc.err)
		}
	}
}
