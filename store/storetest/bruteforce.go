package storetest

import (
	"errors"
	"testing"

	"github.com/keygate/keygate/store"
)

// testLoginFailureReservations is what brute-force protection relies on to
// check at most failureFactor passwords (idp/authn reserves each attempt
// before checking it): a hundred concurrent compare-and-swaps on one
// counter row, each refusing once five failures are counted, let exactly
// five through. A refusal (fn's error) writes nothing and comes back as
// fn's own error.
func testLoginFailureReservations(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	warm(t, s, 20)
	errFull := errors.New("locked")
	errs := parallel(100, func(int) error {
		return s.UpdateLoginFailure(ctx, "r1", "u1", func(old store.LoginFailure) (store.LoginFailure, error) {
			if old.NumFailures >= 5 {
				return old, errFull
			}
			old.NumFailures++
			old.LastFailure = t0
			return old, nil
		})
	})
	admitted := 0
	for _, err := range errs {
		switch {
		case err == nil:
			admitted++
		case !errors.Is(err, errFull):
			t.Fatalf("reservation: %v", err)
		}
	}
	eq(t, "admitted", admitted, 5)
	eq(t, "failures", get[store.LoginFailure](t)(s.GetLoginFailure(ctx, "r1", "u1")).NumFailures, 5)
}
