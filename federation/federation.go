// Package federation brings users from outside sources into keygate:
// user storage providers (LDAP directories), configured as Keycloak
// configures them, as components of a realm.
//
// A provider implements UserStorage (look a user up, load one by its
// immutable id, check a password) and, where it can, the optional
// capabilities below, found by type assertion as Dex finds its
// connectors'. The Registry opens a realm's providers from its components,
// in priority order; the Linker turns what a provider says of a person
// (an Identity) into a local user in one store transaction; the Service
// puts the two together for idp/authn, which stays the one place where a
// username and a password become a user.
//
// This package imports store and nothing from idp/.
package federation

import (
	"context"
	"errors"
	"time"

	"github.com/keygate/keygate/store"
)

// Component provider types, as Keycloak names them.
const (
	UserStorageType = "org.keycloak.storage.UserStorageProvider"
	LDAPMapperType  = "org.keycloak.storage.ldap.mappers.LDAPStorageMapper"
)

// User attributes that link an imported user to its entry, as Keycloak
// names them (they round-trip through realm exports).
const (
	AttrExternalID = "LDAP_ID"
	AttrEntryDN    = "LDAP_ENTRY_DN"
)

// Errors a UserStorage reports. Anything else is a failure of the source
// and is treated as ErrUnavailable: never as a wrong password, and never
// as a reason to delete a local user.
var (
	// ErrNotFound means the source answered, authoritatively, that it has
	// no such user.
	ErrNotFound = errors.New("federation: no such user")
	// ErrUnavailable means the source could not answer (down, slow,
	// misconfigured, garbage): the caller answers 503.
	ErrUnavailable = errors.New("federation: user storage unavailable")
	// ErrAmbiguous means the source has several entries for one name; the
	// login is refused.
	ErrAmbiguous = errors.New("federation: several entries for one user")
	// ErrAccountDisabled is the source's own verdict after a correct
	// password (Active Directory: disabled, locked, expired account).
	ErrAccountDisabled = errors.New("federation: account disabled in the source")
	// ErrMustChangePassword is the source's verdict on a correct but
	// expired (or reset) password: the user gets UPDATE_PASSWORD.
	ErrMustChangePassword = errors.New("federation: password must be changed")
)

// RoleRef names a role as mappers configure it: a realm role (Client "")
// or a role of the client with public clientId Client.
type RoleRef struct {
	Client string
	Name   string
	// Qualified: Name is a role string as Keycloak's hardcoded mappers
	// take it ("realmRole" or "clientId.role", Client ignored), which only
	// the realm's clients can resolve: the linker tries every dot, last
	// first, against the clientIds (KeycloakModelUtils.getRoleFromString)
	// and falls back to the realm role named Name.
	Qualified bool
}

// Grant is what one mapper decides about a user's role mappings and group
// memberships: Roles and Groups (paths) are what the source gives; Owned*
// are everything the mapper decides over, so the linker removes an owned
// mapping the source no longer gives. Mappings the mapper does not own
// (granted locally) are left alone.
type Grant struct {
	Roles       []RoleRef
	Groups      []string
	OwnedRoles  []RoleRef
	OwnedGroups []string
	// ImportOnly applies the grant only when the user is first imported
	// (Keycloak's IMPORT mode); later logins and syncs leave the local
	// mappings to the admins.
	ImportOnly bool
	// Create makes missing roles and groups (with their parents), as
	// Keycloak's role and group mappers create what the directory has.
	Create bool
}

// Identity is a person as a provider describes them, after its mappers ran.
type Identity struct {
	ExternalID    string // immutable id in the source (LDAP_ID)
	DN            string // the entry's name (LDAP_ENTRY_DN), "" if none
	Username      string
	Email         string
	EmailVerified bool
	FirstName     string
	LastName      string
	// Disabled: the source disables the account (e.g. Active Directory's
	// userAccountControl).
	Disabled bool
	// Attributes are user attributes the mappers set; a nil value removes
	// the attribute.
	Attributes map[string][]string
	// RequiredActions the source asks for (e.g. a password that must
	// change); added, never removed, by the linker.
	RequiredActions []string
	// Unmapped names the user properties ("email", "firstName",
	// "lastName") no mapper of the source decides: the linker leaves the
	// local values as they are instead of clearing them.
	Unmapped []string
	Grants   []Grant
}

// UserStorage is a source of users and passwords.
type UserStorage interface {
	// LookupUser finds a user by username, or by email with byEmail.
	LookupUser(ctx context.Context, name string, byEmail bool) (Identity, error)
	// LoadUser loads the user with this ExternalID (revalidation: it may
	// have been renamed or moved since). ErrNotFound: it is gone.
	LoadUser(ctx context.Context, externalID string) (Identity, error)
	// CheckPassword checks password for id (from LookupUser or LoadUser):
	// false for a wrong one, an error when the source cannot say. An empty
	// password is false without asking the source.
	CheckPassword(ctx context.Context, id Identity, password string) (bool, error)
	// Close releases the provider's connections.
	Close() error
}

// Searcher is a UserStorage that can search its users (the admin API's
// user search queries providers too).
type Searcher interface {
	SearchUsers(ctx context.Context, query string, max int) ([]Identity, error)
}

// Syncer is a UserStorage whose users can be read in pages: all of them
// (since zero) or those created or changed since a time.
type Syncer interface {
	SyncUsers(ctx context.Context, since time.Time, page func([]Identity) error) error
}

// MapperSyncer is a UserStorage whose group and role mappers can list
// everything they map (Keycloak's mapper sync, fedToKeycloak).
type MapperSyncer interface {
	MapperGrant(ctx context.Context, mapperID string) (Grant, error)
}

// PasswordUpdater is a UserStorage that stores passwords (WRITABLE mode).
type PasswordUpdater interface {
	UpdatePassword(ctx context.Context, id Identity, password string) error
}

// Writer is a UserStorage that writes its users back (Keycloak's WRITABLE
// edit mode): an admin's changes, users created in keygate
// (syncRegistrations) and deletions. Its errors, and UpdatePassword's:
// ErrUnavailable (the source could not answer), *RefusedError (the source
// said no, in its own words), ErrConflict (the source already has that
// name), ErrNotFound (the user's entry is gone), *ReadOnlyError (the change
// touches what the provider maps read-only) and ErrReadOnly (the provider
// takes no writes). Nothing is written locally by a Writer.
type Writer interface {
	// UpdateUser writes to id's entry what changed between old and next,
	// the local user before and after the change, and returns id as it is
	// after (a renamed entry has a new DN).
	UpdateUser(ctx context.Context, id Identity, old, next store.User) (Identity, error)
	// CreateUser creates the entry of u, a new local user, with password
	// unless it is empty, and returns it as the source describes it (its
	// ExternalID read back from the new entry).
	CreateUser(ctx context.Context, u store.User, password string) (Identity, error)
	// DeleteUser deletes id's entry; an entry already gone is no error.
	DeleteUser(ctx context.Context, id Identity) error
}

// Errors of writes.
var (
	// ErrReadOnly means the user's provider takes no writes: it is not
	// WRITABLE, or it is disabled (Keycloak shows a disabled provider's
	// users read-only).
	ErrReadOnly = errors.New("federation: the user is read-only")
	// ErrRefused is what a *RefusedError is.
	ErrRefused = errors.New("federation: the source refused the change")
)

// RefusedError is the source's refusal of a write (a schema or policy
// violation, missing rights): nothing was written. Reason is the source's
// own words, fit to show an admin.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string        { return ErrRefused.Error() + ": " + e.Reason }
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// ReadOnlyError is a change to a user property or attribute that the
// provider maps from its source read-only: Field names it as the admin API
// does ("firstName", or the attribute's name).
type ReadOnlyError struct{ Field string }

func (e *ReadOnlyError) Error() string        { return "federation: " + e.Field + " is read-only" }
func (e *ReadOnlyError) Is(target error) bool { return target == ErrReadOnly }

// EditMode is Keycloak's editMode of a user storage provider.
type EditMode string

const (
	ReadOnly EditMode = "READ_ONLY"
	Writable EditMode = "WRITABLE"
	Unsynced EditMode = "UNSYNCED"
)

// Provider is one opened user storage component.
type Provider struct {
	Component store.Component
	Storage   UserStorage
	// From the component's generic keys.
	Name               string
	Enabled            bool
	Priority           int
	EditMode           EditMode
	RemoveInvalidUsers bool // delete (true) or disable a user gone from the source
}
