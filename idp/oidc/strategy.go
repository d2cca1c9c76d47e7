package oidc

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"

	"github.com/google/uuid"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/token/jwt"
)

// tokenStrategy issues Keycloak-shaped tokens: RS256 JWT access tokens with
// the claims the mappers computed, HS512 JWT refresh tokens (keycloak-js
// decodes them), and HMAC authorization codes. A token's signature segment
// is what the store keys it by.
type tokenStrategy struct {
	codes *oauth2.HMACSHAStrategyUnPrefixed
}

var _ oauth2.CoreStrategy = (*tokenStrategy)(nil)

// AccessTokenSignature is the whole token: access tokens are not stored,
// so storage gets the token itself to verify (see GetAccessTokenSession).
func (s *tokenStrategy) AccessTokenSignature(_ context.Context, token string) string {
	return token
}

// RefreshTokenSignature is where the refresh token is stored (refreshKey):
// a reusable token's family key once its signature is verified, else its
// own signature.
func (s *tokenStrategy) RefreshTokenSignature(ctx context.Context, token string) string {
	r, err := mustRealm(ctx)
	if err != nil {
		return signatureOf(token)
	}
	f, err := verifiedRefresh(ctx, r, token)
	if err != nil {
		return signatureOf(token) // ValidateRefreshToken refuses it, if it is found at all
	}
	return refreshKey(f.JTI, f.Typ, token)
}

// refreshFields are the claims of a verified refresh token that its
// lookup and the grant's checks read.
type refreshFields struct {
	JTI string          `json:"jti"`
	Typ string          `json:"typ"`
	Iat *int64          `json:"iat"`
	Exp json.RawMessage `json:"exp"` // raw, for checkExpLiteral
}

// verifiedRefresh checks token's HS512 signature and decodes its fields,
// once per token response (remembered in its issuance): fosite validates
// a refresh token and asks for its key twice, and the claims handler
// reads its iat.
func verifiedRefresh(ctx context.Context, r *Realm, token string) (refreshFields, error) {
	is, _ := ctx.Value(issuanceKey{}).(*issuance)
	if is != nil && is.refresh != nil && is.refresh.token == token {
		return is.refresh.fields, is.refresh.err
	}
	var f refreshFields
	payload, err := verifiedHS512(r.keys, token)
	if err == nil && json.Unmarshal(payload, &f) != nil {
		err = errTokenMalformed
	}
	if is != nil {
		is.refresh = &presentedRefresh{token: token, fields: f, err: err}
	}
	return f, err
}

// familyPrefix starts a reusable refresh token family's store key; no
// signature segment (base64url) contains its colon.
const familyPrefix = "family:"

// refreshKey is the store key of a verified refresh token. A single-use
// token (the realm's revokeRefreshToken on) is stored under its signature
// and spent by its refresh. A reusable one (Keycloak's default,
// revokeRefreshToken off: any refresh token of a live session may be used
// again until it expires) has a jti naming its family, "<family>.<random>"
// (familyOf: its request's id, or that id and a random part for a family
// begun by a single-use token), and every token of the family shares one
// row (revoked with its request), which each refresh renews in place:
// reuse needs no row per token, and two refreshes racing with one token
// both succeed. Only a refresh token (typ) names a
// family: the realm's internal tokens share its HMAC key and carry jtis
// of their own.
func refreshKey(jti, typ, token string) string {
	if i := strings.LastIndexByte(jti, '.'); i > 0 && (typ == "Refresh" || typ == "Offline") {
		return familyPrefix + jti[:i]
	}
	return signatureOf(token)
}

func (s *tokenStrategy) AuthorizeCodeSignature(ctx context.Context, token string) string {
	return s.codes.AuthorizeCodeSignature(ctx, token)
}

func (s *tokenStrategy) GenerateAuthorizeCode(ctx context.Context, req fosite.Requester) (string, string, error) {
	return s.codes.GenerateAuthorizeCode(ctx, req)
}

func (s *tokenStrategy) ValidateAuthorizeCode(ctx context.Context, req fosite.Requester, token string) error {
	return s.codes.ValidateAuthorizeCode(ctx, req, token)
}

func (s *tokenStrategy) GenerateAccessToken(ctx context.Context, req fosite.Requester) (string, string, error) {
	r, sess, err := realmSession(ctx, req)
	if err != nil {
		return "", "", err
	}
	is := issuanceOf(ctx)
	exp := is.accessExpiry(r, sess, req)
	sess.SetExpiresAt(fosite.AccessToken, exp)
	claims := make(map[string]any, len(sess.access)+12)
	for k, v := range sess.access {
		claims[k] = v
	}
	claims["exp"] = exp.Unix()
	claims["iat"] = is.at.Unix()
	// "<request id>.<random>": unique, and it names the request whose
	// revocation ends this token (access tokens are not stored).
	claims["jti"] = req.GetID() + "." + rand.Text()
	claims["iss"] = r.Issuer
	if aud := sess.accessAud; len(aud) == 1 {
		claims["aud"] = aud[0]
	} else if len(aud) > 1 {
		claims["aud"] = aud
	}
	claims["sub"] = sess.UserID
	claims["typ"] = "Bearer"
	claims["azp"] = req.GetClient().GetID()
	if sess.SessionID != "" {
		claims["sid"] = sess.SessionID
	}
	claims["scope"] = sess.scope
	return sign(r.keys.tokenKey(r.Settings.DefaultSignatureAlgorithm), claims)
}

func (s *tokenStrategy) ValidateAccessToken(ctx context.Context, _ fosite.Requester, token string) error {
	r, err := mustRealm(ctx)
	if err != nil {
		return err
	}
	return validationError(verifyOnly(r, token, algAsym))
}

func (s *tokenStrategy) GenerateRefreshToken(ctx context.Context, req fosite.Requester) (string, string, error) {
	r, sess, err := realmSession(ctx, req)
	if err != nil {
		return "", "", err
	}
	is := issuanceOf(ctx)
	exp := is.refreshExpiry(r, sess, req)
	sess.SetExpiresAt(fosite.RefreshToken, exp)
	typ := "Refresh"
	if req.GetGrantedScopes().Has("offline_access") {
		typ = "Offline"
	}
	// revokeRefreshToken off (Keycloak's default): reusable (refreshKey).
	reusable := !r.Settings.RevokeRefreshToken
	jti := uuid.NewString()
	if reusable {
		jti = familyOf(req, sess) + "." + rand.Text()
	}
	claims := map[string]any{
		"exp":   exp.Unix(),
		"iat":   is.at.Unix(),
		"jti":   jti,
		"iss":   r.Issuer,
		"aud":   r.Issuer,
		"sub":   sess.UserID,
		"typ":   typ,
		"azp":   req.GetClient().GetID(),
		"scope": sess.scope,
	}
	if sess.SessionID != "" {
		claims["sid"] = sess.SessionID
	}
	token, sig, err := sign(r.keys.hmac, claims)
	if err == nil && reusable {
		sig = refreshKey(jti, typ, token)
	}
	return token, sig, err
}

// familyOf names the reusable family a new refresh token joins: the
// presented token's when a refresh renews one; the request's for a new
// grant. A refresh of a single-use token (issued while the realm's
// revokeRefreshToken was on) starts a family of its own: its request's
// family key may be held by the family that was spent when the setting
// was turned on, whose earlier tokens must stay a reuse.
func familyOf(req fosite.Requester, sess *Session) string {
	f := sess.found
	if f == nil {
		return req.GetID()
	}
	if fam, ok := strings.CutPrefix(f.Token.Signature, familyPrefix); ok {
		return fam
	}
	return req.GetID() + "-" + rand.Text()
}

func (s *tokenStrategy) ValidateRefreshToken(ctx context.Context, _ fosite.Requester, token string) error {
	r, err := mustRealm(ctx)
	if err != nil {
		return err
	}
	f, err := verifiedRefresh(ctx, r, token)
	if err == nil {
		err = checkExpLiteral(string(f.Exp), now())
	}
	return validationError(err)
}

func verifyOnly(r *Realm, token, alg string) error {
	return verifyExp(r.keys, token, alg, now())
}

func validationError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errTokenExpired):
		return fosite.ErrTokenExpired.WithWrap(err)
	default:
		return fosite.ErrTokenSignatureMismatch.WithWrap(err)
	}
}

func realmSession(ctx context.Context, req fosite.Requester) (*Realm, *Session, error) {
	r, err := mustRealm(ctx)
	if err != nil {
		return nil, nil, err
	}
	sess, ok := req.GetSession().(*Session)
	if !ok {
		return nil, nil, errors.New("oidc: unexpected session type")
	}
	return r, sess, nil
}

// idSigner is the jwt.Signer fosite's ID token strategy uses: the realm's
// token key (RS256, or ES256 when the realm asks for it) from the context.
type idSigner struct{}

var _ jwt.Signer = idSigner{}

func (idSigner) Generate(ctx context.Context, claims jwt.MapClaims, _ jwt.Mapper) (string, string, error) {
	r, err := mustRealm(ctx)
	if err != nil {
		return "", "", err
	}
	// The ID token shares the response's iat and the access token's exp
	// (fosite reads the clock again for both).
	if is := issuanceOf(ctx); !is.accessExp.IsZero() {
		claims["iat"], claims["exp"] = is.at.Unix(), is.accessExp.Unix()
	}
	return sign(r.keys.tokenKey(r.Settings.DefaultSignatureAlgorithm), claims)
}

func (idSigner) Validate(ctx context.Context, token string) (string, error) {
	r, err := mustRealm(ctx)
	if err != nil {
		return "", err
	}
	if _, err := verify(r.keys, token, algAsym, now()); err != nil {
		return "", err
	}
	return signatureOf(token), nil
}

// Decode accepts expired tokens with a ValidationError fosite understands
// (id_token_hint may be expired).
func (idSigner) Decode(ctx context.Context, token string) (*jwt.Token, error) {
	r, err := mustRealm(ctx)
	if err != nil {
		return nil, err
	}
	claims, err := verify(r.keys, token, algAsym, now())
	if errors.Is(err, errTokenExpired) {
		return &jwt.Token{Claims: claims}, &jwt.ValidationError{Errors: jwt.ValidationErrorExpired}
	}
	if err != nil {
		return nil, &jwt.ValidationError{Errors: jwt.ValidationErrorSignatureInvalid}
	}
	return &jwt.Token{Claims: claims}, nil
}

func (idSigner) Hash(_ context.Context, in []byte) ([]byte, error) { return sha256Sum(in), nil }
func (idSigner) GetSignature(_ context.Context, token string) (string, error) {
	return signatureOf(token), nil
}
func (idSigner) GetSigningMethodLength(context.Context) int { return 32 }
