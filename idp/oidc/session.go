package oidc

import (
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/keygate/keygate/store"
)

// Session is the fosite session keygate stores with every token record. It
// names who the tokens are for; the claims themselves are computed from the
// store each time tokens are issued (as Keycloak does), so role changes show
// up on the next refresh.
type Session struct {
	RealmID   string                         `json:"realm_id"`
	UserID    string                         `json:"sub"`
	Username  string                         `json:"username"`
	SessionID string                         `json:"sid,omitempty"` // SSO session; "" for service accounts
	AuthTime  time.Time                      `json:"auth_time"`
	ACR       string                         `json:"acr,omitempty"`
	Expires   map[fosite.TokenType]time.Time `json:"expires"`
	// ServiceAccount marks client_credentials sessions.
	ServiceAccount bool `json:"service_account,omitempty"`

	// Computed per issuance, never stored.
	//
	// pending (a password grant's new SSO session) and touch (a refresh's
	// session activity) are written with the refresh token, in one
	// transaction: one trip to SQLite's single writer per grant, and no SSO
	// session left behind by a grant that failed.
	pending   *store.Session
	touch     time.Time
	access    map[string]any
	accessAud []string
	scope     string
	id        *jwt.IDTokenClaims
	headers   *jwt.Headers
	// loaded is the user the grant handler has just read (a service
	// account), so that the claims do not read it again.
	loaded *store.User
	// found is what the refresh token's one read found with it (its SSO
	// session and user), so that the grant reads neither again.
	found *store.TokenSubject
	// presentedIat is the iat of the refresh token a refresh presented
	// (verified): the notBefore checks read it, not the row's time, which
	// a reusable family's every refresh moves forward.
	presentedIat int64
	// refreshLifespan replaces the SSO idle timeout (offline tokens), and
	// refreshMax caps the refresh token's exp (the session's max lifespan).
	refreshLifespan time.Duration
	refreshMax      time.Time
}

var (
	_ fosite.Session = (*Session)(nil)
	_ openid.Session = (*Session)(nil)
)

func newSession(realmID string) *Session {
	return &Session{RealmID: realmID, Expires: map[fosite.TokenType]time.Time{}}
}

func (s *Session) SetExpiresAt(key fosite.TokenType, exp time.Time) {
	if s.Expires == nil {
		s.Expires = map[fosite.TokenType]time.Time{}
	}
	s.Expires[key] = exp
}

func (s *Session) GetExpiresAt(key fosite.TokenType) time.Time { return s.Expires[key] }
func (s *Session) GetUsername() string                         { return s.Username }
func (s *Session) GetSubject() string                          { return s.UserID }

// SetSubject is called by fosite's password grant with what Authenticate returned.
func (s *Session) SetSubject(sub string) { s.UserID = sub }

func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	c := *s
	c.Expires = make(map[fosite.TokenType]time.Time, len(s.Expires))
	for k, v := range s.Expires {
		c.Expires[k] = v
	}
	c.pending, c.touch = nil, time.Time{}
	c.access, c.accessAud, c.scope, c.id, c.headers = nil, nil, "", nil, nil
	c.refreshLifespan, c.refreshMax = 0, time.Time{}
	return &c
}

// IDTokenClaims returns the claims the ID token strategy signs; filled by the
// claims handler before tokens are generated.
func (s *Session) IDTokenClaims() *jwt.IDTokenClaims {
	if s.id == nil {
		s.id = &jwt.IDTokenClaims{Subject: s.UserID, AuthTime: s.AuthTime, Extra: map[string]any{}}
	}
	return s.id
}

func (s *Session) IDTokenHeaders() *jwt.Headers {
	if s.headers == nil {
		s.headers = &jwt.Headers{Extra: map[string]any{}}
	}
	return s.headers
}

type idClaims = jwt.IDTokenClaims
