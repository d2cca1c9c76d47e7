package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// Client adapts a stored Keycloak client to fosite.
type Client struct {
	Row      store.Client
	Rep      rep.Client
	Settings rep.ClientSettings
}

var _ fosite.Client = (*Client)(nil)

func (c *Client) GetID() string { return c.Row.ClientID }

// GetHashedSecret returns the secret itself; secretHasher compares in
// constant time. Client secrets are high-entropy, so no slow hash is needed.
func (c *Client) GetHashedSecret() []byte { return []byte(c.Row.Secret) }

func (c *Client) GetRedirectURIs() []string { return c.Settings.RedirectURIs }

// GetGrantTypes derives the grants from Keycloak's per-client switches.
func (c *Client) GetGrantTypes() fosite.Arguments {
	s := c.Settings
	var g fosite.Arguments
	if s.StandardFlowEnabled {
		g = append(g, "authorization_code")
	}
	if s.ImplicitFlowEnabled {
		g = append(g, "implicit")
	}
	if s.DirectAccessGrantsEnabled {
		g = append(g, "password")
	}
	if s.ServiceAccountsEnabled && !s.PublicClient {
		g = append(g, "client_credentials")
	}
	if s.UseRefreshTokens {
		g = append(g, "refresh_token")
	}
	return g
}

func (c *Client) GetResponseTypes() fosite.Arguments {
	r := fosite.Arguments{}
	if c.Settings.StandardFlowEnabled {
		r = append(r, "code")
	}
	if c.Settings.ImplicitFlowEnabled {
		r = append(r, "token", "id_token", "id_token token")
		if c.Settings.StandardFlowEnabled {
			r = append(r, "code id_token", "code token", "code id_token token")
		}
	}
	return r
}

// GetScopes lists what the client may request: openid plus its client scopes.
func (c *Client) GetScopes() fosite.Arguments {
	out := fosite.Arguments{"openid"}
	out = append(out, c.Settings.DefaultClientScopes...)
	out = append(out, c.Settings.OptionalClientScopes...)
	return out
}

// GetResponseModes: Keycloak lets every client use every response mode.
func (c *Client) GetResponseModes() []fosite.ResponseModeType {
	return []fosite.ResponseModeType{fosite.ResponseModeDefault, fosite.ResponseModeQuery, fosite.ResponseModeFragment, fosite.ResponseModeFormPost}
}

func (c *Client) IsPublic() bool                { return c.Settings.PublicClient }
func (c *Client) GetAudience() fosite.Arguments { return nil }

// GetEffectiveLifespan-style override: the client attribute
// access.token.lifespan wins over the realm's.
func (c *Client) GetEffectiveLifespan(gt fosite.GrantType, tt fosite.TokenType, fallback time.Duration) time.Duration {
	if tt == fosite.AccessToken && c.Settings.AccessTokenLifespan > 0 {
		return c.Settings.AccessTokenLifespan
	}
	return fallback
}

// secretHasher compares client secrets in constant time. Hashing both sides
// first makes the comparison length-independent too.
type secretHasher struct{}

func (secretHasher) Compare(_ context.Context, stored, given []byte) error {
	if len(stored) == 0 {
		return errors.New("client has no secret")
	}
	a, b := sha256.Sum256(stored), sha256.Sum256(given)
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return errors.New("client secret mismatch")
	}
	return nil
}

func (secretHasher) Hash(_ context.Context, data []byte) ([]byte, error) { return data, nil }

// redirectAllowed matches a redirect URI as Keycloak does: exactly, or by a
// registered pattern ending in "*" matching the prefix.
func redirectAllowed(registered []string, uri string) bool {
	for _, r := range registered {
		if r == uri {
			return true
		}
		if strings.HasSuffix(r, "*") && strings.HasPrefix(uri, strings.TrimSuffix(r, "*")) {
			return true
		}
	}
	return false
}
