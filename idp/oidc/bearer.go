package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/keygate/keygate/store"
)

// TokenInfo describes a verified, active access token.
type TokenInfo struct {
	Realm     *Realm
	UserID    string // sub
	Username  string
	ClientID  string // azp
	SessionID string // sid, "" for service accounts
	Claims    map[string]any
}

// ErrInvalidToken covers every reason a bearer token is refused.
var ErrInvalidToken = errors.New("invalid bearer token")

// VerifyBearer checks the request's "Authorization: Bearer" access token
// against realm realmName: signature by the realm's keys, expiry, not
// revoked, a live client and user, and a live SSO session when it has one.
// A store that cannot answer is store.ErrUnavailable, not ErrInvalidToken:
// the token may be fine.
func (p *Provider) VerifyBearer(r *http.Request, realmName string) (*TokenInfo, error) {
	token := bearer(r)
	if token == "" {
		return nil, ErrInvalidToken
	}
	realm, err := p.Resolve(r, realmName)
	if errors.Is(err, store.ErrUnavailable) {
		return nil, err
	} else if err != nil {
		return nil, ErrInvalidToken
	}
	ctx := WithRealm(r.Context(), realm)
	claims, err := verify(realm.keys, token, algAsym, now())
	if err != nil {
		return nil, ErrInvalidToken
	}
	req, err := (&storage{st: p.st, models: p.models}).accessRequest(ctx, realm, claims)
	if errors.Is(err, store.ErrUnavailable) {
		return nil, err
	} else if err != nil {
		return nil, ErrInvalidToken
	}
	sess := req.GetSession().(*Session)
	return &TokenInfo{
		Realm: realm, UserID: sess.UserID, Username: sess.Username,
		ClientID: req.GetClient().GetID(), SessionID: sess.SessionID, Claims: claims,
	}, nil
}

// UserRoles returns a user's effective roles (direct, through groups and
// their parents, composites expanded): realm role names and, per clientId,
// client role names.
func (p *Provider) UserRoles(ctx context.Context, realmID, userID string) ([]string, map[string][]string, error) {
	m, err := p.models.get(ctx, realmID)
	if err != nil {
		return nil, nil, err
	}
	direct, err := p.st.ListUserRoles(ctx, realmID, userID)
	if err != nil {
		return nil, nil, err
	}
	groups, err := p.st.ListUserGroups(ctx, realmID, userID)
	if err != nil {
		return nil, nil, err
	}
	if m, err = p.models.current(ctx, realmID, m, direct, groups); err != nil {
		return nil, nil, err
	}
	ur, err := m.effectiveRoles(ctx, p.st, realmID, direct, groups)
	if err != nil {
		return nil, nil, err
	}
	return ur.realm, ur.client, nil
}

// IssuerRealm reads the realm name from the `iss` of the bearer JWT in an
// Authorization header value, without verifying it: it only picks the
// realm whose keys (and settings) then judge the token. "" when there is
// none.
func IssuerRealm(authz string) string {
	scheme, tok, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	_, name, ok := strings.Cut(UnverifiedIssuer(strings.TrimSpace(tok)), "/realms/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return ""
	}
	return name
}

// UnverifiedIssuer reads a JWT's iss without verifying anything, only to
// pick who verifies it (a realm, an identity provider); "" when the token
// has none or is not a JWT of sane size.
func UnverifiedIssuer(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(parts[1]) > 16<<10 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.Iss
}
