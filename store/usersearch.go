package store

import "context"

// UserSearcher is offered by backends with a faster path for Keycloak's
// default user search (UserQuery.Search with Prefix): same results as
// ListUsers, in the same order.
type UserSearcher interface {
	SearchUsers(ctx context.Context, realmID string, q UserQuery) ([]User, error)
}
