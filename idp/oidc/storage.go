package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	fstorage "github.com/ory/fosite/storage"

	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// storage adapts store.Store to fosite's storage interfaces. Every record is
// scoped to the realm in the context: a token from realm A is "not found" in B.
type storage struct {
	st     store.Store
	models *modelCache
	tx     txStore
	authn  Authenticator
}

// txStore is the fosite-style transaction API the SQL store offers.
type txStore interface {
	BeginTX(ctx context.Context) (context.Context, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Authenticator turns a username and password into a user (idp/authn). It
// returns authn.ErrInvalidCredentials, ErrUserDisabled or ErrBusy on failure.
type Authenticator interface {
	Authenticate(ctx context.Context, realmID string, s rep.RealmSettings, username, password, ip string) (store.User, error)
}

var (
	_ fosite.ClientManager                                = (*storage)(nil)
	_ oauth2.CoreStorage                                  = (*storage)(nil)
	_ oauth2.TokenRevocationStorage                       = (*storage)(nil)
	_ oauth2.ResourceOwnerPasswordCredentialsGrantStorage = (*storage)(nil)
	_ openid.OpenIDConnectRequestStorage                  = (*storage)(nil)
	_ pkce.PKCERequestStorage                             = (*storage)(nil)
	_ fstorage.Transactional                              = (*storage)(nil)
)

// ---- clients

func (s *storage) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	r, err := mustRealm(ctx)
	if err != nil {
		return nil, err
	}
	c, err := loadClient(ctx, s.models, r, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	// fosite matches redirect URIs exactly; Keycloak also allows rootUrl-
	// relative URIs and a trailing "*". The authorization endpoint put the
	// requested URI in the context once it matched Keycloak's rules.
	if want, ok := ctx.Value(redirectKey{}).(string); ok && c.allowsRedirect(r, want) {
		cp := *c
		cp.Settings.RedirectURIs = append([]string{want}, c.redirectURIs(r)...)
		return &cp, nil
	}
	return c, nil
}

// loadClient returns an OIDC client that may get tokens, from the realm
// model (decoded once per model load, not per request).
func loadClient(ctx context.Context, models *modelCache, r *Realm, clientID string) (*Client, error) {
	m, err := models.get(ctx, r.Row.ID)
	if err != nil {
		return nil, err
	}
	c := m.clients[clientID]
	if c == nil || !c.getsTokens() {
		return nil, store.ErrNotFound
	}
	return c, nil
}

// getsTokens: disabled clients, bearer-only clients and SAML clients
// cannot get tokens here.
func (c *Client) getsTokens() bool {
	return c.Settings.Enabled && !c.Settings.BearerOnly && c.Settings.Protocol == "openid-connect"
}

// Client assertions (private_key_jwt) are not offered; these satisfy fosite.
func (s *storage) ClientAssertionJWTValid(context.Context, string) error { return nil }
func (s *storage) SetClientAssertionJWT(context.Context, string, time.Time) error {
	return nil
}

// ---- password grant

func (s *storage) Authenticate(ctx context.Context, username, password string) (string, error) {
	r, err := mustRealm(ctx)
	if err != nil {
		return "", err
	}
	// A user with an OTP device must send its code, checked with the
	// password (Keycloak's direct grant conditional OTP).
	code := ""
	if ar, ok := ctx.Value(fosite.AccessRequestContextKey).(fosite.AccessRequester); ok {
		if c, ok := ar.GetClient().(*Client); ok && c.Settings.ConsentRequired {
			// A direct grant cannot ask for consent: refused before the
			// password is looked at, as Keycloak does.
			return "", errConsentRequiredClient
		}
		code = directGrantCode(ar.GetRequestForm())
	}
	ctx = authn.WithDirectGrantOTP(ctx, code)
	u, err := s.authn.Authenticate(ctx, r.Row.ID, r.Settings, username, password, remoteIP(ctx))
	switch {
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, authn.ErrUnavailable), errors.Is(err, authn.ErrBusy):
		// Nothing was learnt about the password: never invalid_grant.
		// fosite answers server_error with err wrapped; clientError finds
		// the cause and answers 503 temporarily_unavailable.
		return "", err
	case errors.Is(err, authn.ErrInvalidCredentials), errors.Is(err, authn.ErrUserDisabled), errors.Is(err, authn.ErrOTPRequired):
		// fosite maps ErrNotFound to invalid_grant; keep the cause for our
		// error writer, which answers Keycloak's generic message.
		return "", fmt.Errorf("%w: %w", fosite.ErrNotFound, err)
	case err != nil:
		// Anything else went wrong on our side: a server error, never a
		// wrong password.
		return "", err
	}
	if len(r.Settings.PendingRequiredActions(u.RequiredActions)) > 0 {
		// The password was right, but the account is not ready: refuse
		// before any SSO session exists (Keycloak's direct grant does too).
		return "", fmt.Errorf("%w: %w", fosite.ErrNotFound, errNotSetUp)
	}
	return u.ID, nil
}

// directGrantCode is the password grant's one-time code as Keycloak's
// ValidateOTP reads it: `otp`, or `totp` when there is no `otp`
// (KEYCLOAK-12908); a client that sent `otp` failed every grant here.
func directGrantCode(form url.Values) string {
	if form.Has("otp") {
		return form.Get("otp")
	}
	return form.Get("totp")
}

// ---- token records

// storedRequest is the serialized fosite request kept with every token.
type storedRequest struct {
	ID              string     `json:"id"`
	RequestedAt     time.Time  `json:"requested_at"`
	ClientID        string     `json:"client_id"`
	Scopes          []string   `json:"scopes,omitempty"`
	GrantedScopes   []string   `json:"granted_scopes,omitempty"`
	Audience        []string   `json:"audience,omitempty"`
	GrantedAudience []string   `json:"granted_audience,omitempty"`
	Form            url.Values `json:"form,omitempty"`
	Session         *Session   `json:"session"`
}

// secretFormFields never reach the database.
var secretFormFields = []string{"password", "otp", "totp", "client_secret", "code_verifier", "refresh_token", "code", "client_assertion", "token", "id_token_hint"}

func (s *storage) create(ctx context.Context, kind store.TokenKind, sig string, req fosite.Requester) error {
	ctx, err := s.bind(ctx)
	if err != nil {
		return err
	}
	t, err := s.record(ctx, kind, sig, req)
	if err != nil {
		return err
	}
	return s.st.CreateToken(ctx, t)
}

// record is the token record of req.
func (s *storage) record(ctx context.Context, kind store.TokenKind, sig string, req fosite.Requester) (store.Token, error) {
	r, err := mustRealm(ctx)
	if err != nil {
		return store.Token{}, err
	}
	sess, ok := req.GetSession().(*Session)
	if !ok {
		return store.Token{}, fmt.Errorf("oidc: unexpected session type %T", req.GetSession())
	}
	form := url.Values{}
	for k, v := range req.GetRequestForm() {
		form[k] = v
	}
	for _, k := range secretFormFields {
		delete(form, k)
	}
	sr := storedRequest{
		ID: req.GetID(), RequestedAt: req.GetRequestedAt(), ClientID: req.GetClient().GetID(),
		Scopes: req.GetRequestedScopes(), GrantedScopes: req.GetGrantedScopes(),
		Audience: req.GetRequestedAudience(), GrantedAudience: req.GetGrantedAudience(),
		Form: form, Session: sess,
	}
	data, err := json.Marshal(sr)
	if err != nil {
		return store.Token{}, err
	}
	exp := sess.GetExpiresAt(tokenTypeOf(kind))
	if exp.IsZero() {
		exp = time.Now().Add(24 * time.Hour) // pkce/oidc records follow their code
		if e := sess.GetExpiresAt(fosite.AuthorizeCode); !e.IsZero() {
			exp = e
		}
	}
	return store.Token{
		Kind: kind, Signature: sig, RequestID: req.GetID(), RealmID: r.Row.ID,
		ClientID: req.GetClient().GetID(), Subject: sess.UserID, SessionID: sess.SessionID,
		Active: true, Requested: req.GetRequestedAt(), Expires: exp, Request: data,
	}, nil
}

func tokenTypeOf(kind store.TokenKind) fosite.TokenType {
	switch kind {
	case store.KindAccess:
		return fosite.AccessToken
	case store.KindRefresh, store.KindOffline:
		return fosite.RefreshToken
	default:
		return fosite.AuthorizeCode
	}
}

// get loads a token record and rebuilds its fosite request. An inactive
// record comes back with the request and inactiveErr, as fosite requires.
func (s *storage) get(ctx context.Context, kind store.TokenKind, sig string, inactiveErr error) (fosite.Requester, error) {
	ctx, r, err := s.bindRealm(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.st.GetToken(ctx, kind, sig)
	return s.request(ctx, r, t, err, inactiveErr, nil)
}

// request rebuilds the fosite request of a token read for realm r; found,
// when the read also brought the token's session and user, goes with its
// session so that the grant reads neither again.
func (s *storage) request(ctx context.Context, r *Realm, t store.Token, err, inactiveErr error, found *store.TokenSubject) (fosite.Requester, error) {
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.RealmID != r.Row.ID) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	req, err := s.rebuild(ctx, r, t)
	if err != nil {
		return nil, err
	}
	if sess, ok := req.Session.(*Session); ok && found != nil {
		sess.found = found
	}
	if !t.Active {
		return req, inactiveErr
	}
	return req, nil
}

func (s *storage) rebuild(ctx context.Context, r *Realm, t store.Token) (*fosite.Request, error) {
	var sr storedRequest
	if err := json.Unmarshal(t.Request, &sr); err != nil {
		return nil, fmt.Errorf("oidc: corrupt token record: %w", err)
	}
	c, err := loadClient(ctx, s.models, r, sr.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fosite.ErrNotFound // client deleted or disabled: its tokens die with it
	}
	if err != nil {
		return nil, err
	}
	if sr.Session == nil {
		sr.Session = newSession(r.Row.ID)
	}
	return &fosite.Request{
		ID: sr.ID, RequestedAt: sr.RequestedAt, Client: c,
		RequestedScope: sr.Scopes, GrantedScope: sr.GrantedScopes,
		RequestedAudience: sr.Audience, GrantedAudience: sr.GrantedAudience,
		Form: sr.Form, Session: sr.Session,
	}, nil
}

func (s *storage) CreateAuthorizeCodeSession(ctx context.Context, code string, req fosite.Requester) error {
	return s.create(ctx, store.KindCode, code, req)
}

func (s *storage) GetAuthorizeCodeSession(ctx context.Context, code string, _ fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, store.KindCode, code, fosite.ErrInvalidatedAuthorizeCode)
}

func (s *storage) InvalidateAuthorizeCodeSession(ctx context.Context, code string) error {
	ctx, err := s.bind(ctx)
	if err != nil {
		return err
	}
	err = s.st.DeactivateToken(ctx, store.KindCode, code)
	if errors.Is(err, store.ErrNotFound) {
		return errCodeSpent // a concurrent redemption won
	}
	return err
}

// errCodeSpent: the code was redeemed between fosite's read and its
// invalidation. fosite reports any storage error as server_error; the token
// endpoint answers invalid_grant instead.
var errCodeSpent = errors.New("authorization code already redeemed")

// ---- access tokens
//
// Access tokens are not stored, as Keycloak stores none: each is its own
// record, an RS256 JWT whose jti starts with the id of the request it came
// from (see GenerateAccessToken). What can end one before its exp is checked
// where it is used: a revocation marker for its request (RFC 7009
// revocation, refresh-token or code reuse), its SSO session, its client and
// its user. Writing none keeps SQLite's single writer for what must be
// written: client_credentials writes nothing at all.

func (s *storage) CreateAccessTokenSession(context.Context, string, fosite.Requester) error {
	return nil
}

// GetAccessTokenSession receives the whole token (AccessTokenSignature is
// the identity) and rebuilds its request from the verified claims.
func (s *storage) GetAccessTokenSession(ctx context.Context, token string, _ fosite.Session) (fosite.Requester, error) {
	r, err := mustRealm(ctx)
	if err != nil {
		return nil, err
	}
	claims, err := verify(r.keys, token, algAsym, now())
	if err != nil {
		return nil, fosite.ErrNotFound
	}
	return s.accessRequest(ctx, r, claims)
}

// accessRequest rebuilds the request of an access token whose signature and
// expiry were verified, or fails with fosite.ErrInactiveToken when it was
// revoked or its session, client or user is gone or disabled.
func (s *storage) accessRequest(ctx context.Context, r *Realm, claims map[string]any) (*fosite.Request, error) {
	reqID, _, _ := strings.Cut(strClaim(claims, "jti"), ".")
	if reqID == "" || strClaim(claims, "typ") != "Bearer" {
		return nil, fosite.ErrNotFound
	}
	c, err := loadClient(ctx, s.models, r, strClaim(claims, "azp"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, fosite.ErrInactiveToken
	} else if err != nil {
		return nil, err
	}
	if _, err := s.st.GetToken(ctx, store.KindRevoked, reqID); err == nil {
		return nil, fosite.ErrInactiveToken
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	u, err := s.st.GetUser(ctx, r.Row.ID, strClaim(claims, "sub"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && !u.Enabled) {
		return nil, fosite.ErrInactiveToken
	} else if err != nil {
		return nil, err
	}
	iat, _ := numClaim(claims, "iat")
	if stale(iat, r, c, &u) {
		return nil, fosite.ErrInactiveToken
	}
	sid := strClaim(claims, "sid")
	scopes := strings.Fields(strClaim(claims, "scope"))
	// Tokens of an offline session (scope offline_access) outlive the SSO
	// session; revoking the offline session writes the revocation marker.
	// An SSO session idle or past its max lifespan ended, swept or not
	// (Keycloak's isSessionValid), as a refresh finds it (ssoEnded).
	if sid != "" && !slices.Contains(scopes, "offline_access") {
		if ss, err := s.st.GetSession(ctx, r.Row.ID, sid); errors.Is(err, store.ErrNotFound) || (err == nil && ssoEnded(r, ss, now())) {
			return nil, fosite.ErrInactiveToken
		} else if err != nil {
			return nil, err
		}
	}
	exp, _ := numClaim(claims, "exp")
	sess := newSession(r.Row.ID)
	sess.UserID, sess.Username, sess.SessionID, sess.ServiceAccount = u.ID, u.Username, sid, u.ServiceAccount != ""
	sess.loaded = &u // the claims an introspection computes read no user again
	sess.Expires[fosite.AccessToken] = time.Unix(exp, 0)
	return &fosite.Request{
		ID: reqID, RequestedAt: time.Unix(iat, 0), Client: c,
		RequestedScope: scopes, GrantedScope: scopes, Form: url.Values{}, Session: sess,
	}, nil
}

// stale reports whether a token issued at iat (unix seconds) predates the
// realm's, the client's or the user's notBefore, as Keycloak's
// NotBeforeCheck: a realm's or client's revocation ("set to now"), an
// admin's logout of the user. u may be nil. A token from before its
// client was created is stale too: it was a deleted client's, whose
// clientId a new client has taken.
func stale(iat int64, r *Realm, c *Client, u *store.User) bool {
	nb := max(r.Settings.NotBefore, c.Settings.NotBefore, c.Row.Created.Unix())
	if u != nil {
		nb = max(nb, u.NotBefore)
	}
	return iat < nb
}

// DeleteAccessTokenSession has nothing to delete; revocation goes through
// RevokeAccessToken.
func (s *storage) DeleteAccessTokenSession(context.Context, string) error { return nil }

// CreateRefreshTokenSession also writes what the claims handler left for
// this write (a new SSO session, a session's activity), in one transaction
// (joining the refresh flow's own).
func (s *storage) CreateRefreshTokenSession(ctx context.Context, sig, _ string, req fosite.Requester) error {
	kind := store.KindRefresh
	if req.GetGrantedScopes().Has("offline_access") {
		kind = store.KindOffline
	}
	sess, _ := req.GetSession().(*Session)
	if f := frameOf(ctx); f != nil && f.t.spend != "" && sess != nil && sess.pending == nil {
		next, err := s.record(ctx, kind, sig, req)
		if err != nil {
			return err
		}
		// Outside a transaction, or inside one begun since (bind leaves a
		// reusable family's key to this renewal instead of spending it).
		rctx := f.t.parent
		if f.t.tx != nil {
			rctx = f.t.tx
		}
		n := maxReuseOf(ctx, f.t.spend)
		err = awayFromGate(ctx, func() error { return s.st.RotateRefresh(rctx, f.t.spend, n, sess.touch, next) })
		if n > 0 && errors.Is(err, store.ErrNotFound) {
			err = s.reuseRefusal(rctx, f.t.spend, n, err)
		}
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
			// A concurrent refresh spent the token first (or the session
			// ended): fosite answers as for a lost race. A conflict would
			// be a new family whose key is taken (familyOf gives a
			// family begun by a single-use token a key of its own).
			return fosite.ErrSerializationFailure.WithWrap(err)
		}
		if err == nil {
			f.t.spend, sess.touch = "", time.Time{}
		}
		return err
	}
	ctx, err := s.bind(ctx)
	if err != nil {
		return err
	}
	if sess == nil || (sess.pending == nil && sess.touch.IsZero()) {
		return awayFromGate(ctx, func() error { return s.create(ctx, kind, sig, req) })
	}
	err = awayFromGate(ctx, func() error {
		return s.st.Tx(ctx, func(ctx context.Context) error {
			if p := sess.pending; p != nil {
				if err := s.st.CreateSession(ctx, *p); err != nil {
					return err
				}
			}
			if !sess.touch.IsZero() {
				if err := s.st.TouchSession(ctx, sess.RealmID, sess.SessionID, sess.touch); err != nil {
					return err
				}
			}
			return s.create(ctx, kind, sig, req)
		})
	})
	if err == nil {
		sess.pending, sess.touch = nil, time.Time{}
	}
	return err
}

// refreshKinds are where a refresh token may be: an SSO session's or an
// offline session's.
var refreshKinds = [...]store.TokenKind{store.KindRefresh, store.KindOffline}

// GetRefreshTokenSession reads the token of either kind together with its
// SSO session and user (one query), which the grant then uses instead of
// reading them again.
func (s *storage) GetRefreshTokenSession(ctx context.Context, sig string, _ fosite.Session) (fosite.Requester, error) {
	ctx, r, err := s.bindRealm(ctx)
	if err != nil {
		return nil, err
	}
	ts, err := s.st.GetTokenSubject(ctx, sig, refreshKinds[:]...)
	inactive := fosite.ErrInactiveToken
	if err == nil {
		if why := reuseRefused(ts.Token, maxReuseOf(ctx, sig)); why != nil && r.Settings.RevokeRefreshToken {
			// fosite revokes the token's request, as for any reuse
			// (Keycloak detaches the client session).
			ts.Token.Active = false
			inactive = fosite.ErrInactiveToken.WithWrap(why)
		}
	}
	return s.request(ctx, r, ts.Token, err, inactive, &ts)
}

// Keycloak's refreshTokenMaxReuse (TokenManager.validateTokenReuse), for
// single-use refresh tokens: each may make maxReuse+1 refreshes, counted
// in its row (store.Token.Uses) by the write that spends it; a use makes
// every other token of its request stale. Both refusals answer Keycloak's
// words, and fosite revokes the request's tokens as for any reuse:
// Keycloak detaches the client session on either.
var (
	errReuseStale    = errors.New("refresh token made stale by the use of a newer one")
	errReuseExceeded = errors.New("maximum allowed refresh token reuse exceeded")
)

// maxReuseOf is the realm's refreshTokenMaxReuse for the refresh token
// sig: 0 for a reusable family's key, which has no count, and while
// revokeRefreshToken is off (Keycloak counts nothing then: a single-use
// token issued while it was on is spent by its one refresh, as before).
func maxReuseOf(ctx context.Context, sig string) int {
	r, err := mustRealm(ctx)
	if err != nil || strings.HasPrefix(sig, familyPrefix) || !r.Settings.RevokeRefreshToken {
		return 0
	}
	return max(r.Settings.RefreshTokenMaxReuse, 0)
}

// reuseRefused is why the single-use refresh token t is refused under
// maxReuse n: nil when it may be used, or when it is refused as it always
// was (n 0 and the token spent: "Token is not active", as before). A token
// active with more uses than n (n was lowered) is refused too.
func reuseRefused(t store.Token, n int) error {
	switch {
	case t.Active && t.Uses > n:
		return errReuseExceeded
	case t.Active || n == 0:
		return nil
	case t.Uses == store.UsesStale:
		return errReuseStale
	case t.Uses > 0:
		return errReuseExceeded
	}
	return nil
}

// reuseRefusal tells why a use of sig under maxReuse n found nothing to
// spend (a concurrent use took the last one, or a newer token's use made
// it stale) by reading its row again: only a refused use pays that read.
// A race lost is not a reuse: nothing is revoked, as for a single-use
// token's lost race.
func (s *storage) reuseRefusal(ctx context.Context, sig string, n int, err error) error {
	ts, rerr := s.st.GetTokenSubject(ctx, sig, refreshKinds[:]...)
	if rerr != nil {
		return err
	}
	why := reuseRefused(ts.Token, n)
	if why == nil {
		return err
	}
	return fmt.Errorf("%w: %w", why, err)
}

// DeleteRefreshTokenSession is fosite's on a reuse, before it revokes the
// request. Under a refreshTokenMaxReuse above 0 the row stays (revoked
// with its request, swept after its expiry), so that every later
// presentation of the token is refused in the same words.
func (s *storage) DeleteRefreshTokenSession(ctx context.Context, sig string) error {
	if maxReuseOf(ctx, sig) > 0 {
		return nil
	}
	ctx, err := s.bind(ctx)
	if err != nil {
		return err
	}
	for _, k := range refreshKinds {
		if err := ignoreNotFound(s.st.DeleteToken(ctx, k, sig)); err != nil {
			return err
		}
	}
	return nil
}

// RotateRefreshToken spends the presented single-use refresh token, so
// later reuse is detected; access tokens already issued live to their exp,
// as in Keycloak. Spending is conditional on the token still being active:
// of two requests racing with one refresh token, the second finds it spent
// and fails instead of forking the chain. A reusable family's row is not
// spent but renewed by the new token's write.
func (s *storage) RotateRefreshToken(ctx context.Context, _, refreshSignature string) error {
	family := strings.HasPrefix(refreshSignature, familyPrefix)
	if f := frameOf(ctx); f != nil && (f.t.tx == nil || family) {
		f.t.spend = refreshSignature // spent or renewed with the new token's write (CreateRefreshTokenSession)
		return nil
	}
	if family {
		return nil
	}
	ctx, err := s.bind(ctx)
	if err != nil {
		return err
	}
	return s.spend(ctx, refreshSignature)
}

// spend deactivates the refresh or offline token sig, or counts a use of
// it under a refreshTokenMaxReuse above 0.
func (s *storage) spend(ctx context.Context, refreshSignature string) error {
	var err error
	if n := maxReuseOf(ctx, refreshSignature); n > 0 {
		err = s.st.UseRefresh(ctx, refreshSignature, n)
		if errors.Is(err, store.ErrNotFound) {
			err = s.reuseRefusal(ctx, refreshSignature, n, err)
		}
	} else {
		err = s.st.DeactivateToken(ctx, store.KindRefresh, refreshSignature)
		if errors.Is(err, store.ErrNotFound) {
			err = s.st.DeactivateToken(ctx, store.KindOffline, refreshSignature)
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return fosite.ErrSerializationFailure.WithWrap(err)
	}
	return err
}

func (s *storage) RevokeRefreshToken(ctx context.Context, requestID string) error {
	ctx, err := s.bind(ctx)
	if err != nil {
		return err
	}
	for _, k := range refreshKinds {
		if err := s.st.DeactivateRequest(ctx, k, requestID); err != nil {
			return err
		}
	}
	return nil
}

// RevokeAccessToken marks the request revoked for as long as any access
// token of this realm can live.
func (s *storage) RevokeAccessToken(ctx context.Context, requestID string) error {
	ctx, err := s.bind(ctx)
	if err != nil {
		return err
	}
	r, err := mustRealm(ctx)
	if err != nil {
		return err
	}
	m, err := s.models.get(ctx, r.Row.ID)
	if err != nil {
		return err
	}
	return s.st.RevokeRequest(ctx, r.Row.ID, requestID, revokedUntil(r.Settings, m))
}

// revokedUntil is how long a revocation mark must last: as long as any
// access token of the realm can live.
func revokedUntil(s rep.RealmSettings, m *realmModel) time.Time {
	longest := max(s.AccessTokenLifespan, s.AccessTokenLifespanForImplicitFlow)
	for _, c := range m.clients {
		longest = max(longest, c.Settings.AccessTokenLifespan)
	}
	return now().Add(longest + time.Minute)
}

// RevokedUntil is revokedUntil for the realm realmID with settings s: what
// a store write that revokes requests outside the token endpoint
// (store.RevokeClientGrants, DeleteOfflineSession) marks them until.
func (p *Provider) RevokedUntil(ctx context.Context, realmID string, s rep.RealmSettings) (time.Time, error) {
	m, err := p.models.get(ctx, realmID)
	if err != nil {
		return time.Time{}, err
	}
	return revokedUntil(s, m), nil
}

func (s *storage) CreateOpenIDConnectSession(ctx context.Context, code string, req fosite.Requester) error {
	return s.create(ctx, store.KindOIDC, code, req)
}

// GetOpenIDConnectSession returns the authorization request stored for the
// code (its form carries nonce, max_age and prompt). At the token endpoint
// the session is swapped for the token request's own, whose claims the
// claims handler has just computed, so the ID token carries them.
func (s *storage) GetOpenIDConnectSession(ctx context.Context, code string, tokenReq fosite.Requester) (fosite.Requester, error) {
	req, err := s.get(ctx, store.KindOIDC, code, nil)
	if errors.Is(err, fosite.ErrNotFound) {
		return nil, openid.ErrNoSessionFound
	}
	if err != nil {
		return nil, err
	}
	if tokenReq != nil {
		if cur, ok := tokenReq.GetSession().(*Session); ok && cur.id != nil {
			if stored, ok := req.GetSession().(*Session); ok && stored.UserID == cur.UserID {
				// fosite checks prompt=none and max_age against the time of
				// the authorization request, which the claims computed at
				// the token endpoint do not know.
				cur.id.RequestedAt = req.GetRequestedAt()
				req.(*fosite.Request).Session = cur
			}
		}
	}
	return req, nil
}

func (s *storage) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	ctx, err := s.bind(ctx)
	if err != nil {
		return err
	}
	return ignoreNotFound(s.st.DeleteToken(ctx, store.KindOIDC, code))
}

func (s *storage) CreatePKCERequestSession(ctx context.Context, sig string, req fosite.Requester) error {
	return s.create(ctx, store.KindPKCE, sig, req)
}

func (s *storage) GetPKCERequestSession(ctx context.Context, sig string, _ fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, store.KindPKCE, sig, nil)
}

// DeletePKCERequestSession keeps the record. fosite deletes it before it
// checks the verifier, so after one failed check the same code would pass
// with no verifier at all (a PKCE downgrade). The code is single use, so a
// lingering PKCE record grants nothing; housekeeping removes it on expiry.
func (s *storage) DeletePKCERequestSession(context.Context, string) error { return nil }

// ---- transactions
//
// fosite wraps each grant's writes in BeginTX and Commit. The store's
// transaction begins lazily, at the first write that needs one (bind): a
// refresh needs none, because RotateRefreshToken only notes the presented
// token and CreateRefreshTokenSession hands the rotation, the SSO session's
// activity and the new token to the store as one write (store.RotateRefresh:
// one statement on PostgreSQL, instead of BEGIN, three statements and
// COMMIT, each a round trip).

type lazyTxKey struct{}

// lazyTx is one fosite transaction.
type lazyTx struct {
	parent     context.Context // BeginTX's context: the store's transaction begins from it
	tx         context.Context // the store's transaction, once begun
	spend      string          // the refresh token RotateRefreshToken noted, not yet spent
	rolledBack bool            // a nested Rollback: the outer Commit fails
}

// lazyFrame is a BeginTX's view: the owner commits, a nested one joins.
type lazyFrame struct {
	t     *lazyTx
	owner bool
}

func frameOf(ctx context.Context) *lazyFrame {
	f, _ := ctx.Value(lazyTxKey{}).(*lazyFrame)
	return f
}

func (s *storage) BeginTX(ctx context.Context) (context.Context, error) {
	if f := frameOf(ctx); f != nil {
		return context.WithValue(ctx, lazyTxKey{}, &lazyFrame{t: f.t}), nil
	}
	return context.WithValue(ctx, lazyTxKey{}, &lazyFrame{t: &lazyTx{parent: ctx}, owner: true}), nil
}

// bindRealm is bind, and the realm the request runs in: what a read of a
// token record needs.
func (s *storage) bindRealm(ctx context.Context) (context.Context, *Realm, error) {
	ctx, err := s.bind(ctx)
	if err != nil {
		return ctx, nil, err
	}
	r, err := mustRealm(ctx)
	return ctx, r, err
}

// bind returns ctx inside the store's transaction, beginning it (and
// spending a noted refresh token in it) on first use.
func (s *storage) bind(ctx context.Context) (context.Context, error) {
	f := frameOf(ctx)
	if f == nil {
		return ctx, nil
	}
	t := f.t
	if t.tx == nil {
		tx, err := s.tx.BeginTX(t.parent)
		if err != nil {
			return ctx, err
		}
		t.tx = tx
		if sig := t.spend; sig != "" && !strings.HasPrefix(sig, familyPrefix) {
			t.spend = ""
			if err := s.spend(tx, sig); err != nil {
				return ctx, err
			}
		}
	}
	return boundCtx{ctx, t.tx}, nil
}

// boundCtx is a method's context (its deadline, its values) that also
// carries the store's transaction.
type boundCtx struct {
	context.Context
	tx context.Context
}

func (c boundCtx) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.tx.Value(key)
}

func (s *storage) Commit(ctx context.Context) error {
	f := frameOf(ctx)
	if f == nil || !f.owner {
		return nil
	}
	t := f.t
	if t.rolledBack {
		if t.tx != nil {
			_ = s.tx.Rollback(t.tx)
		}
		return errRolledBack
	}
	if t.spend != "" && t.tx == nil && !strings.HasPrefix(t.spend, familyPrefix) {
		// A rotation nothing else followed: spend the token on its own
		// (a reusable family's row is renewed by the new token, or kept).
		sig := t.spend
		t.spend = ""
		return s.spend(t.parent, sig)
	}
	if t.tx == nil {
		return nil
	}
	return awayFromGate(ctx, func() error { return s.tx.Commit(t.tx) })
}

func (s *storage) Rollback(ctx context.Context) error {
	f := frameOf(ctx)
	if f == nil {
		return nil
	}
	t := f.t
	t.spend = ""
	if !f.owner {
		t.rolledBack = true
		return nil
	}
	if t.tx == nil {
		return nil
	}
	return s.tx.Rollback(t.tx)
}

// errRolledBack reports a Commit of a transaction a nested frame rolled back.
var errRolledBack = errors.New("oidc: transaction was rolled back by a nested Rollback")

func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

type ipKey struct{}

func withRemoteIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, ipKey{}, ip)
}

func remoteIP(ctx context.Context) string {
	s, _ := ctx.Value(ipKey{}).(string)
	return s
}

// AuthTimeOf is the sign-in time a stored token record carries (its
// session's auth_time), or zero: the start the admin API shows for an
// offline session, which keeps it through every rotation.
func AuthTimeOf(t store.Token) time.Time {
	var sr struct {
		Session struct {
			AuthTime time.Time `json:"auth_time"`
		} `json:"session"`
	}
	if json.Unmarshal(t.Request, &sr) != nil {
		return time.Time{}
	}
	return sr.Session.AuthTime
}
