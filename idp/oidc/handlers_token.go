package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/keygate/keygate/store"
)

// claimsHandler runs first among the token endpoint handlers. Once fosite has
// authenticated the grant, it establishes who the tokens are for (creating
// the SSO session of a password grant, resolving a service account, checking
// a refreshed session is still alive) and computes every claim, so the token
// strategies only sign.
type claimsHandler struct{ p *Provider }

var _ fosite.TokenEndpointHandler = claimsHandler{}

// errSessionNotActive is refresh of a session that ended (logout, expiry,
// disabled user): Keycloak's "Session not active".
var errSessionNotActive = errors.New("session not active")

func (h claimsHandler) CanHandleTokenEndpointRequest(context.Context, fosite.AccessRequester) bool {
	return true
}
func (h claimsHandler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

// HandleTokenEndpointRequest has nothing to validate; the grant handlers do.
func (h claimsHandler) HandleTokenEndpointRequest(context.Context, fosite.AccessRequester) error {
	return fosite.ErrUnknownRequest
}

func (h claimsHandler) PopulateTokenEndpointResponse(ctx context.Context, req fosite.AccessRequester, _ fosite.AccessResponder) error {
	r, sess, err := realmSession(ctx, req)
	if err != nil {
		return err
	}
	c, ok := req.GetClient().(*Client)
	if !ok {
		return fosite.ErrServerError.WithDebug("unexpected client type")
	}
	if req.GetGrantTypes().ExactOne("authorization_code") {
		// fosite's code handler grants the code's scopes only in its own
		// Populate, after this one: grant them here (the authorization
		// endpoint granted every requested scope), or the tokens would
		// lack openid and offline_access.
		for _, s := range req.GetRequestedScopes() {
			req.GrantScope(s)
		}
	}
	st := h.p.st
	t := now()
	offline := req.GetGrantedScopes().Has("offline_access")
	var newSession *store.Session
	switch {
	case offline && sess.SessionID != "" && req.GetGrantTypes().ExactOne("refresh_token"):
		// An offline session outlives the SSO session it began in: the
		// refresh token carries it, idle-limited by the realm's
		// offlineSessionIdleTimeout (fillClaims refuses a disabled or
		// deleted user; revocation and logout deactivate the token).
		// It is idle since its token's row was last written (a reusable
		// family's newest refresh), against the realm's timeout as it is
		// now: an older token's own exp may be later, or set under a
		// longer timeout.
		if f := sess.found; f != nil && offlineEnded(r, f.Token, sess, t) {
			return fosite.ErrInvalidGrant.WithWrap(errSessionNotActive).WithHint("Session not active")
		}
		offlineExpiry(r, sess)
	case req.GetGrantTypes().ExactOne("password"):
		// Authenticate set the user id; fillClaims loads the user.
		s := store.Session{ID: uuid.NewString(), RealmID: r.Row.ID, UserID: sess.UserID, Created: t, LastSeen: t, AuthTime: t, IPAddress: remoteIP(ctx)}
		if c.Settings.UseRefreshTokens {
			sess.pending = &s // created with the refresh token
		} else {
			newSession = &s // created once the claims allow the grant
		}
		sess.SessionID, sess.AuthTime = s.ID, t.Truncate(time.Second)
		capRefresh(r, sess, s, offline)
	case req.GetGrantTypes().ExactOne("client_credentials"):
		u, err := h.p.serviceAccounts.get(ctx, r.Row.ID, c.Row.ID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !u.Enabled) {
			return keycloakError(http.StatusBadRequest, "unauthorized_client", "Client not enabled to retrieve service account")
		} else if err != nil {
			return fosite.ErrServerError.WithWrap(err)
		}
		sess.UserID, sess.Username, sess.ServiceAccount, sess.AuthTime = u.ID, u.Username, true, t.Truncate(time.Second)
		sess.loaded = &u
	case sess.SessionID != "": // refresh_token, authorization_code
		s, err := foundSession(ctx, st, r, sess)
		if errors.Is(err, store.ErrNotFound) {
			return fosite.ErrInvalidGrant.WithWrap(errSessionNotActive).WithHint("Session not active")
		} else if err != nil {
			return fosite.ErrServerError.WithWrap(err) // store.ErrUnavailable: 503, not the session's fault
		}
		if req.GetGrantTypes().ExactOne("refresh_token") {
			// A refresh needs a session neither idle nor past its max
			// lifespan, and counts as activity. (fillClaims refuses a
			// disabled or deleted user.)
			if ssoEnded(r, s, t) {
				return fosite.ErrInvalidGrant.WithWrap(errSessionNotActive).WithHint("Session not active")
			}
			sess.touch = t
		}
		capRefresh(r, sess, s, offline)
	}
	if c.Settings.ConsentRequired && req.GetGrantTypes().ExactOne("refresh_token") {
		if err := h.p.consentHolds(ctx, r, c, sess.UserID, req.GetGrantedScopes()); err != nil {
			return err
		}
	}
	if sess.found != nil {
		// The notBefore checks (fillClaims) read the presented token's iat:
		// every token of a reusable family shares one row, whose time is
		// its newest token's.
		f, err := verifiedRefresh(ctx, r, req.GetRequestForm().Get("refresh_token"))
		if err == nil && f.Iat == nil {
			err = errors.New("refresh token without iat")
		}
		if err != nil {
			return fosite.ErrInvalidGrant.WithWrap(err)
		}
		sess.presentedIat = *f.Iat
	}
	cs, err := h.p.fillClaims(ctx, r, c, sess, req.GetGrantedScopes())
	switch {
	case err != nil:
		return err
	case cs.notSetUp:
		// Pending required actions (a temporary password...) stop every
		// grant, including a refresh of tokens issued before the action
		// was added: Keycloak's "Account is not fully set up".
		return fosite.ErrInvalidGrant.WithWrap(errNotSetUp)
	case offline && !cs.offlineAllowed:
		return errOfflineNotAllowed
	}
	if newSession != nil {
		if err := st.CreateSession(ctx, *newSession); err != nil {
			return fosite.ErrServerError.WithWrap(err)
		}
	}
	return nil
}

// ssoEnded reports whether SSO session s is idle or past its max lifespan
// at t, by the realm's settings.
func ssoEnded(r *Realm, s store.Session, t time.Time) bool {
	return t.After(s.LastSeen.Add(r.Settings.SSOSessionIdleTimeout)) || t.After(s.Created.Add(r.Settings.SSOSessionMaxLifespan))
}

// offlineEnded reports whether the offline session of refresh token row
// tok (sess its session) is idle or past its max lifespan at t, by the
// realm's settings as they are now (a token's exp was set under those of
// its issuance): idle since the row's last write, a reusable family's
// newest refresh.
func offlineEnded(r *Realm, tok store.Token, sess *Session, t time.Time) bool {
	return t.After(tok.Requested.Add(r.Settings.OfflineSessionIdleTimeout)) ||
		(r.Settings.OfflineSessionMaxLifespanEnabled && t.After(sess.AuthTime.Add(r.Settings.OfflineSessionMaxLifespan)))
}

// errOfflineNotAllowed is Keycloak's answer to offline_access for a user
// without the offline_access role (or a client whose scope leaves it out).
var errOfflineNotAllowed = keycloakError(http.StatusBadRequest, "not_allowed", "Offline tokens not allowed for the user or client")

// capRefresh keeps the refresh token from outliving the SSO session's max
// lifespan; an offline token gets the offline session's lifetime instead.
func capRefresh(r *Realm, sess *Session, s store.Session, offline bool) {
	if offline {
		offlineExpiry(r, sess)
		return
	}
	sess.refreshMax = s.Created.Add(r.Settings.SSOSessionMaxLifespan)
}

// offlineExpiry sets an offline refresh token's expiry: the offline idle
// timeout from now, within the offline max lifespan when the realm enables it.
func offlineExpiry(r *Realm, sess *Session) {
	sess.refreshLifespan = r.Settings.OfflineSessionIdleTimeout
	if r.Settings.OfflineSessionMaxLifespanEnabled {
		sess.refreshMax = sess.AuthTime.Add(r.Settings.OfflineSessionMaxLifespan)
	}
}

// fillClaims computes the claims of every token kind into the session.
func (p *Provider) fillClaims(ctx context.Context, r *Realm, c *Client, sess *Session, granted fosite.Arguments) (claimSet, error) {
	m, err := p.models.get(ctx, r.Row.ID)
	if err != nil {
		return claimSet{}, fosite.ErrServerError.WithWrap(err)
	}
	cs, sub, err := p.claimsOf(ctx, r, m, c, sess, granted, false)
	if errors.Is(err, store.ErrNotFound) {
		return claimSet{}, fosite.ErrInvalidGrant.WithWrap(errSessionNotActive).WithHint("Session not active")
	} else if err != nil {
		return claimSet{}, fosite.ErrServerError.WithWrap(err)
	}
	if !sub.user.Enabled {
		return claimSet{}, fosite.ErrInvalidGrant.WithWrap(errSessionNotActive).WithHint("Session not active")
	}
	if f := sess.found; f != nil && stale(min(f.Token.Requested.Unix(), sess.presentedIat), r, c, &sub.user) {
		// The refresh token predates a notBefore: Keycloak's "Stale token".
		return claimSet{}, fosite.ErrInvalidGrant.WithHint("Stale token")
	}
	sess.Username = sub.user.Username
	cs.offlineAllowed = slices.Contains(sub.roles.realm, "offline_access")
	cs.notSetUp = len(r.Settings.PendingRequiredActions(sub.user.RequiredActions)) > 0
	sess.access, sess.accessAud, sess.scope = cs.access, cs.accessAud, cs.scope

	idc := sess.IDTokenClaims()
	*idc = *newIDClaims(sess)
	for k, v := range cs.id {
		idc.Extra[k] = v
	}
	// fosite writes acr from its own field and drops an "acr" extra.
	if acr, ok := cs.id["acr"].(string); ok {
		idc.AuthenticationContextClassReference = acr
	}
	idc.Extra["typ"] = "ID"
	idc.Extra["azp"] = c.Row.ClientID
	if sess.SessionID != "" {
		idc.Extra["sid"] = sess.SessionID
	}
	if len(cs.idAud) > 0 {
		idc.Audience = append([]string{c.Row.ClientID}, cs.idAud...)
	}
	return cs, nil
}

// claimsOf loads sess's user with their roles and groups, keeps the roles
// within the client's scope, and runs the mappers: what every issuance and
// an introspection (introspect) compute.
func (p *Provider) claimsOf(ctx context.Context, r *Realm, m *realmModel, c *Client, sess *Session, granted []string, introspect bool) (claimSet, subject, error) {
	sub, m, err := p.loadSubject(ctx, r, m, c, sess)
	if err != nil {
		return claimSet{}, subject{}, err
	}
	if !c.Settings.FullScopeAllowed {
		sub.roles = m.limitToScope(sub.roles, r.Settings, c, appliedScopes(m, c, granted))
	}
	sub.introspect = introspect
	return computeClaims(m, sub, granted), sub, nil
}

func newIDClaims(sess *Session) *idClaims {
	return &idClaims{Subject: sess.UserID, AuthTime: sess.AuthTime, Extra: map[string]any{}}
}

// passwordIDTokenHandler adds an ID token to password grant responses that
// asked for openid; fosite has no OIDC handler for that grant, Keycloak does.
type passwordIDTokenHandler struct {
	ids *openid.DefaultStrategy
	p   *Provider
}

func (h passwordIDTokenHandler) CanHandleTokenEndpointRequest(_ context.Context, req fosite.AccessRequester) bool {
	return req.GetGrantTypes().ExactOne("password")
}
func (h passwordIDTokenHandler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool {
	return false
}
func (h passwordIDTokenHandler) HandleTokenEndpointRequest(context.Context, fosite.AccessRequester) error {
	return fosite.ErrUnknownRequest
}

func (h passwordIDTokenHandler) PopulateTokenEndpointResponse(ctx context.Context, req fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, req) || !req.GetGrantedScopes().Has("openid") {
		return fosite.ErrUnknownRequest
	}
	_, sess, err := realmSession(ctx, req)
	if err != nil {
		return err
	}
	sess.IDTokenClaims().AccessTokenHash = halfHash(resp.GetAccessToken())
	tok, err := h.ids.GenerateIDToken(ctx, h.p.cfg.GetIDTokenLifespan(ctx), req)
	if err != nil {
		return fmt.Errorf("id token: %w", err)
	}
	resp.SetExtra("id_token", tok)
	return nil
}

// halfHash is OIDC's at_hash: the left half of SHA-256, base64url.
func halfHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// foundSession is sess's SSO session: as the refresh token's read found it,
// or read now.
func foundSession(ctx context.Context, st store.Store, r *Realm, sess *Session) (store.Session, error) {
	if f := sess.found; f != nil && f.Session != nil && f.Session.ID == sess.SessionID && f.Session.RealmID == r.Row.ID {
		return *f.Session, nil
	}
	return st.GetSession(ctx, r.Row.ID, sess.SessionID)
}
