package store

import (
	"context"
	"errors"
	"time"
)

// ErrExhausted means an initial access token exists but has expired or has
// no registrations left.
var ErrExhausted = errors.New("store: initial access token expired or used up")

// InitialAccessToken is Keycloak's client initial access token (RFC 7591's
// "initial access token"): it authorises Count client registrations within
// Expiration seconds of Created. Only the SHA-256 of the token is kept.
type InitialAccessToken struct {
	ID             string
	RealmID        string
	TokenHash      string // hex SHA-256 of the token
	Created        time.Time
	Expiration     int // seconds; 0 = never expires
	Count          int
	RemainingCount int
}

// Expired reports whether t has expired at now.
func (t InitialAccessToken) Expired(now time.Time) bool {
	return t.Expiration > 0 && !now.Before(t.Created.Add(time.Duration(t.Expiration)*time.Second))
}

type InitialAccessStore interface {
	CreateInitialAccessToken(ctx context.Context, t InitialAccessToken) error // ErrConflict on duplicate id or hash
	ListInitialAccessTokens(ctx context.Context, realmID string) ([]InitialAccessToken, error)
	GetInitialAccessTokenByHash(ctx context.Context, realmID, hash string) (InitialAccessToken, error)
	DeleteInitialAccessToken(ctx context.Context, realmID, id string) error
	// UseInitialAccessToken atomically takes one registration from the token
	// with that hash and returns it as it is afterwards: ErrNotFound when
	// there is none, ErrExhausted when it has expired or has no
	// registrations left (then nothing changes).
	UseInitialAccessToken(ctx context.Context, realmID, hash string) (InitialAccessToken, error)
}
