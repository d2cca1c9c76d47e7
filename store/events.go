package store

import (
	"context"
	"time"
)

// Event is Keycloak's login event (EventRepresentation): what happened to
// whom, from where. Details never hold a password, token or secret.
type Event struct {
	ID        string
	Time      time.Time
	Type      string // LOGIN, LOGIN_ERROR, CODE_TO_TOKEN, ...
	RealmID   string
	ClientID  string // the public client_id
	UserID    string
	SessionID string
	IPAddress string
	Error     string // Keycloak's error string (invalid_user_credentials, ...)
	Details   map[string]string
}

// AdminEvent is Keycloak's admin event (AdminEventRepresentation): a write
// through the admin API. Representation is the request's JSON with secrets
// masked, and only when the realm's adminEventsDetailsEnabled is on.
type AdminEvent struct {
	ID             string
	Time           time.Time
	RealmID        string
	OperationType  string // CREATE, UPDATE, DELETE, ACTION
	ResourceType   string // USER, REALM_ROLE, CLIENT, ...
	ResourcePath   string // relative to the realm: users/{id}
	AuthRealmID    string
	AuthClientID   string // the caller's client (internal id, as Keycloak)
	AuthUserID     string
	AuthIPAddress  string
	Representation string
	Error          string
}

// EventQuery filters ListEvents (Keycloak's getEvents parameters). Empty
// fields do not filter; From and To are inclusive bounds on Time.
type EventQuery struct {
	Types     []string
	Client    string
	User      string
	IPAddress string
	From, To  time.Time
	First     int
	Max       int // 0 = no limit
}

// AdminEventQuery filters ListAdminEvents (Keycloak's getAdminEvents
// parameters). ResourcePath may use * as a wildcard.
type AdminEventQuery struct {
	OperationTypes []string
	ResourceTypes  []string
	ResourcePath   string
	AuthRealm      string
	AuthClient     string
	AuthUser       string
	AuthIPAddress  string
	From, To       time.Time
	First          int
	Max            int
}

// EventStore keeps login and admin events. Lists are newest first.
type EventStore interface {
	// AddEvents writes a batch of events in one transaction.
	AddEvents(ctx context.Context, events []Event, admin []AdminEvent) error
	ListEvents(ctx context.Context, realmID string, q EventQuery) ([]Event, error)
	ListAdminEvents(ctx context.Context, realmID string, q AdminEventQuery) ([]AdminEvent, error)
	// DeleteEvents and DeleteAdminEvents clear the realm's events.
	DeleteEvents(ctx context.Context, realmID string) error
	DeleteAdminEvents(ctx context.Context, realmID string) error
	// DeleteExpiredEvents removes the realm's login events older than before.
	DeleteExpiredEvents(ctx context.Context, realmID string, before time.Time) (int, error)
}
