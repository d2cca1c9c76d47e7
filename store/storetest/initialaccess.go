package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

// testInitialAccessTokens: create/list/get/delete, and UseInitialAccessToken
// as a compare-and-swap: N concurrent uses of a token with count k succeed
// exactly k times; expired tokens and other realms' hashes are refused.
func testInitialAccessTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	realm(t, s, "r2")
	now := time.Now().UTC().Truncate(time.Millisecond)
	tok := store.InitialAccessToken{ID: "t1", RealmID: "r1", TokenHash: "h1", Created: now, Expiration: 3600, Count: 3, RemainingCount: 3}
	ok(t, s.CreateInitialAccessToken(ctx, tok))
	isErr(t, s.CreateInitialAccessToken(ctx, store.InitialAccessToken{ID: "t1b", RealmID: "r1", TokenHash: "h1", Created: now}), store.ErrConflict)
	eq(t, "get by hash", get[store.InitialAccessToken](t)(s.GetInitialAccessTokenByHash(ctx, "r1", "h1")), tok)
	_, err := s.GetInitialAccessTokenByHash(ctx, "r2", "h1")
	isErr(t, err, store.ErrNotFound)
	_, err = s.UseInitialAccessToken(ctx, "r2", "h1")
	isErr(t, err, store.ErrNotFound)

	warm(t, s, 4)
	errs := parallel(8, func(int) error {
		_, err := s.UseInitialAccessToken(ctx, "r1", "h1")
		return err
	})
	used, exhausted := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			used++
		case errors.Is(err, store.ErrExhausted):
			exhausted++
		default:
			t.Fatal(err)
		}
	}
	eq(t, "successful uses", used, 3)
	eq(t, "refused uses", exhausted, 5)
	left, err := s.UseInitialAccessToken(ctx, "r1", "h1")
	isErr(t, err, store.ErrExhausted)
	eq(t, "remaining after exhaustion", left.RemainingCount, 0)

	old := store.InitialAccessToken{ID: "t2", RealmID: "r1", TokenHash: "h2", Created: now.Add(-2 * time.Hour), Expiration: 60, Count: 5, RemainingCount: 5}
	ok(t, s.CreateInitialAccessToken(ctx, old))
	if !old.Expired(now) {
		t.Fatal("Expired: want true")
	}
	_, err = s.UseInitialAccessToken(ctx, "r1", "h2")
	isErr(t, err, store.ErrExhausted)
	eq(t, "expired token unchanged", get[store.InitialAccessToken](t)(s.GetInitialAccessTokenByHash(ctx, "r1", "h2")).RemainingCount, 5)

	never := store.InitialAccessToken{ID: "t3", RealmID: "r1", TokenHash: "h3", Created: now.Add(-1000 * time.Hour), Count: 1, RemainingCount: 1}
	ok(t, s.CreateInitialAccessToken(ctx, never))
	got, err := s.UseInitialAccessToken(ctx, "r1", "h3")
	ok(t, err)
	eq(t, "expiration 0 never expires", got.RemainingCount, 0)

	eq(t, "list", ids(get[[]store.InitialAccessToken](t)(s.ListInitialAccessTokens(ctx, "r1")),
		func(x store.InitialAccessToken) string { return x.ID }), []string{"t3", "t2", "t1"})
	ok(t, s.DeleteInitialAccessToken(ctx, "r1", "t1"))
	isErr(t, s.DeleteInitialAccessToken(ctx, "r1", "t1"), store.ErrNotFound)
	isErr(t, s.DeleteInitialAccessToken(ctx, "r2", "t2"), store.ErrNotFound)
}
