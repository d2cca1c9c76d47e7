package oidc

import (
	"context"
	"time"

	"github.com/ory/fosite"
)

// config adapts fosite's static Config to per-realm values carried in the
// request context: lifespans, issuer and the HMAC secret come from the realm.
type config struct {
	*fosite.Config
}

func newConfig() *config {
	return &config{Config: &fosite.Config{
		// Refresh tokens are issued whatever the scope, as Keycloak does.
		RefreshTokenScopes: []string{},
		// Keycloak does not reject short state or nonce values.
		MinParameterEntropy:            1,
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:       fosite.DefaultAudienceMatchingStrategy,
		EnforcePKCEForPublicClients:    false,
		EnablePKCEPlainChallengeMethod: true,
		SendDebugMessagesToClients:     false,
		// Refresh tokens are rotated: the presented one is deactivated.
		RefreshTokenLifespan: 30 * time.Minute,
		TokenEntropy:         32,
		ClientSecretsHasher:  secretHasher{},
	}}
}

func (c *config) GetAccessTokenLifespan(ctx context.Context) time.Duration {
	if r := RealmFrom(ctx); r != nil {
		return r.Settings.AccessTokenLifespan
	}
	return c.Config.GetAccessTokenLifespan(ctx)
}

func (c *config) GetIDTokenLifespan(ctx context.Context) time.Duration {
	return c.GetAccessTokenLifespan(ctx)
}

// GetRefreshTokenLifespan is the SSO idle timeout, Keycloak's
// refresh_expires_in; the session's max lifespan caps it where tokens are made.
func (c *config) GetRefreshTokenLifespan(ctx context.Context) time.Duration {
	if r := RealmFrom(ctx); r != nil {
		return r.Settings.SSOSessionIdleTimeout
	}
	return c.Config.GetRefreshTokenLifespan(ctx)
}

func (c *config) GetAuthorizeCodeLifespan(ctx context.Context) time.Duration {
	if r := RealmFrom(ctx); r != nil {
		return r.Settings.AccessCodeLifespan
	}
	return c.Config.GetAuthorizeCodeLifespan(ctx)
}

func (c *config) GetIDTokenIssuer(ctx context.Context) string {
	if r := RealmFrom(ctx); r != nil {
		return r.Issuer
	}
	return ""
}

func (c *config) GetAccessTokenIssuer(ctx context.Context) string { return c.GetIDTokenIssuer(ctx) }

// GetTokenURLs is the audience accepted in client assertions.
func (c *config) GetTokenURLs(ctx context.Context) []string {
	if r := RealmFrom(ctx); r != nil {
		return []string{r.Issuer + "/protocol/openid-connect/token", r.Issuer}
	}
	return nil
}

// GetGlobalSecret is the realm's HS512 key: authorization codes are HMACed
// with it, so a code from one realm is worthless in another.
func (c *config) GetGlobalSecret(ctx context.Context) ([]byte, error) {
	r, err := mustRealm(ctx)
	if err != nil {
		return nil, err
	}
	return r.keys.hmac.key.([]byte), nil
}

func (c *config) GetRotatedGlobalSecrets(ctx context.Context) ([][]byte, error) {
	r, err := mustRealm(ctx)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, k := range r.keys.byKID {
		if k.alg == algHS512 && !k.active {
			out = append(out, k.key.([]byte))
		}
	}
	return out, nil
}
