package oidc

import (
	"context"
	"time"

	"github.com/ory/fosite"
)

type issuanceKey struct{}

// issuance is what the tokens of one token response share, as in
// Keycloak: one iat in whole seconds (Keycloak's currentTime), and the
// access token's exp, which the ID token repeats. Every exp is iat plus
// the lifespan, computed from that one second: fosite's own expiries are
// taken from the clock at other moments and rounded, which made exp - iat
// drift by a second either way.
type issuance struct {
	at        time.Time
	accessExp time.Time
	refresh   *presentedRefresh // the refresh grant's token, verified once (verifiedRefresh)
}

// presentedRefresh is a refresh token verifiedRefresh checked.
type presentedRefresh struct {
	token  string
	fields refreshFields
	err    error
}

// withIssuance starts the issuance of one token response.
func withIssuance(ctx context.Context) (context.Context, *issuance) {
	is := &issuance{at: now().Truncate(time.Second)}
	return context.WithValue(ctx, issuanceKey{}, is), is
}

// issuanceOf is ctx's issuance, or a new one for a token made outside the
// token endpoint.
func issuanceOf(ctx context.Context) *issuance {
	if is, ok := ctx.Value(issuanceKey{}).(*issuance); ok {
		return is
	}
	return &issuance{at: now().Truncate(time.Second)}
}

// grantOf is the request's grant type, for client lifespan overrides.
func grantOf(req fosite.Requester) fosite.GrantType {
	if ar, ok := req.(fosite.AccessRequester); ok && len(ar.GetGrantTypes()) == 1 {
		return fosite.GrantType(ar.GetGrantTypes()[0])
	}
	return fosite.GrantTypeAuthorizationCode
}

// accessExpiry is when an access token issued now for req expires: the
// client's or the realm's lifespan after iat, but not past the session's
// max lifespan (refreshMax), as Keycloak caps it.
func (is *issuance) accessExpiry(r *Realm, sess *Session, req fosite.Requester) time.Time {
	life := fosite.GetEffectiveLifespan(req.GetClient(), grantOf(req), fosite.AccessToken, r.Settings.AccessTokenLifespan)
	is.accessExp = is.at.Add(life.Truncate(time.Second))
	if m := sess.refreshMax; !m.IsZero() && is.accessExp.After(m) {
		is.accessExp = m.Truncate(time.Second)
	}
	return is.accessExp
}

// refreshExpiry is when a refresh token issued now expires: the SSO idle
// timeout (or the offline idle timeout) after iat, capped by the session's
// max lifespan (capRefresh, offlineExpiry).
func (is *issuance) refreshExpiry(r *Realm, sess *Session, req fosite.Requester) time.Time {
	life := sess.refreshLifespan
	if life == 0 {
		life = fosite.GetEffectiveLifespan(req.GetClient(), grantOf(req), fosite.RefreshToken, r.Settings.SSOSessionIdleTimeout)
	}
	exp := is.at.Add(life.Truncate(time.Second))
	if m := sess.refreshMax; !m.IsZero() && exp.After(m) {
		exp = m.Truncate(time.Second)
	}
	return exp
}
