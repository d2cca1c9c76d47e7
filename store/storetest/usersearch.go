package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

// testSearchUsers: a backend's SearchUsers (store.UserSearcher) returns
// exactly what ListUsers returns, for sparse and dense prefix searches,
// filters and pages, and treats LIKE metacharacters as text.
func testSearchUsers(t *testing.T, s store.Store) {
	ss, isSearcher := s.(store.UserSearcher)
	if !isSearcher {
		t.Skip("backend has no SearchUsers")
	}
	ctx := t.Context()
	realm(t, s, "r1")
	realm(t, s, "r2")
	ok(t, s.Tx(ctx, func(ctx context.Context) error {
		for i := range 800 {
			u := store.User{ID: fmt.Sprintf("u%04d", i), RealmID: "r1", Username: fmt.Sprintf("user%04d", i),
				Email: fmt.Sprintf("mail%04d@example.com", i), FirstName: fmt.Sprintf("First%d", i%7),
				LastName: fmt.Sprintf("Last%d", i%300), Enabled: i%3 != 0, Created: t0}
			if i == 5 {
				u.Username, u.ServiceAccount = "user_sa", "client"
			}
			if err := s.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		return s.CreateUser(ctx, store.User{ID: "other", RealmID: "r2", Username: "user0001", Enabled: true, Created: time.Now()})
	}))
	yes := true
	for _, q := range []store.UserQuery{
		{Search: "user", Prefix: true, Max: 100},             // dense
		{Search: "user", Prefix: true, First: 750, Max: 100}, // dense, last page
		{Search: "user01", Prefix: true, Max: 20},            // sparse
		{Search: "USER01", Prefix: true, First: 5, Max: 3},   // case-insensitive, paged
		{Search: "first3", Prefix: true, Max: 0},             // sparse, no limit
		{Search: "last1", Prefix: true, Max: 50, Enabled: &yes},
		{Search: "mail0042", Prefix: true},
		{Search: "user", Prefix: true, IncludeServiceAccounts: true, Max: 10},
		{Search: "user_", Prefix: true}, // "_" is text, not a wildcard
		{Search: "%", Prefix: true},
		{Search: "' OR '1'='1", Prefix: true},
		{Search: "nobody", Prefix: true},
		{Search: "ser00", Max: 10}, // substring: delegated
	} {
		want := get[[]store.User](t)(s.ListUsers(ctx, "r1", q))
		got := get[[]store.User](t)(ss.SearchUsers(ctx, "r1", q))
		eq(t, fmt.Sprintf("SearchUsers(%+v)", q), usernames(got), usernames(want))
	}
}
