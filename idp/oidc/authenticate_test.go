package oidc

import (
	"context"
	"errors"
	"testing"

	"github.com/ory/fosite"

	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

type fixedAuthn struct{ err error }

func (f fixedAuthn) Authenticate(context.Context, string, rep.RealmSettings, string, string, string) (store.User, error) {
	return store.User{}, f.err
}

// Only the user's own failures become invalid_grant (fosite.ErrNotFound);
// an error on our side stays a server error, never "wrong password".
func TestAuthenticateBlamesTheUserOnlyForTheirFailures(t *testing.T) {
	ctx := WithRealm(context.Background(), &Realm{Row: store.Realm{ID: "r"}})
	for _, tc := range []struct {
		err       error
		userFault bool
	}{
		{authn.ErrInvalidCredentials, true},
		{authn.ErrUserDisabled, true},
		{authn.ErrOTPRequired, true},
		{errors.New("sqlstore: list credentials: unexpected EOF"), false},
	} {
		_, err := (&storage{authn: fixedAuthn{tc.err}}).Authenticate(ctx, "u", "p")
		if err == nil || errors.Is(err, fosite.ErrNotFound) != tc.userFault {
			t.Errorf("%v: got %v, user's fault %v", tc.err, err, tc.userFault)
		}
	}
}
