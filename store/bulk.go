package store

import "context"

// NewUser is one user for BulkUserWriter.CreateUsers with everything that
// hangs off it.
type NewUser struct {
	User        User
	Credentials []Credential // UserID is taken from User
	RoleIDs     []string     // realm or client roles of User.RealmID
	GroupIDs    []string     // groups of User.RealmID
	// FederatedIdentities link the user to identity provider accounts
	// (RealmID and UserID are taken from User).
	FederatedIdentities []FederatedIdentity
}

// BulkUserWriter reads and writes users many at a time, for imports: a few
// statements per batch instead of a few per user. Call it inside Tx to make
// several batches one unit.
type BulkUserWriter interface {
	// LookupUsers returns, in no particular order and each once, the users of
	// realmID whose username or non-empty email is among usernames or emails
	// (compared lower-cased), and the users of any realm whose id is among
	// ids (ids are global).
	LookupUsers(ctx context.Context, realmID string, usernames, emails, ids []string) ([]User, error)
	// CreateUsers inserts every user with its credentials and role and group
	// mappings, all or nothing. Usernames and emails are stored lower-cased as
	// CreateUser does. ErrConflict on a duplicate id, username or email (among
	// users or against the store; an email only in a realm that does not
	// allow duplicate emails); ErrNotFound when a role or group is not in
	// the user's realm.
	CreateUsers(ctx context.Context, users []NewUser) error
}
