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

// redirectURIs returns the client's redirect URIs made absolute.
func (c *Client) redirectURIs(realm *Realm) []string {
	return c.resolve(realm, c.Settings.RedirectURIs)
}

// postLogoutURIs resolves post.logout.redirect.uris ("+" = the redirect URIs).
func (c *Client) postLogoutURIs(realm *Realm) []string {
	var out []string
	for _, u := range c.Settings.PostLogoutRedirectURIs {
		if u == "+" {
			out = append(out, c.Settings.RedirectURIs...)
			continue
		}
		out = append(out, u)
	}
	return c.resolve(realm, out)
}

// resolve makes "/..." URIs absolute against the client's rootUrl or,
// as Keycloak does, the server's base URL.
func (c *Client) resolve(realm *Realm, uris []string) []string {
	base := strings.TrimSuffix(realm.Issuer, "/realms/"+realm.Row.Name)
	out := make([]string, 0, len(uris))
	for _, u := range uris {
		out = append(out, resolveRelative(c.Settings.RootURL, base, u))
	}
	return out
}

// Client returns the realm's client clientID if it may get tokens here
// (enabled, not bearer-only, OpenID Connect); store.ErrNotFound otherwise.
func (p *Provider) Client(ctx context.Context, realm *Realm, clientID string) (*Client, error) {
	return loadClient(ctx, p.models, realm, clientID)
}

// AllowsPostLogoutRedirect reports whether a logout of the client may end
// at uri: its post.logout.redirect.uris ("+" = its redirect URIs), matched
// as redirect URIs are.
func (c *Client) AllowsPostLogoutRedirect(realm *Realm, uri string) bool {
	return c.allowsPostLogoutRedirect(realm, uri)
}

// AllowsRedirect reports whether a login of the client may end at uri:
// one of its redirect URIs, matched exactly as the authorization endpoint
// matches them (the account console's referrer_uri).
func (c *Client) AllowsRedirect(realm *Realm, uri string) bool {
	return c.allowsRedirect(realm, uri)
}

// AllowsOrigin reports whether the client's webOrigins admit a browser
// origin (see allowsOrigin).
func (c *Client) AllowsOrigin(realm *Realm, origin string) bool {
	return c.allowsOrigin(realm, origin)
}

// allowsRedirect reports whether the client may be sent to uri after a login.
func (c *Client) allowsRedirect(realm *Realm, uri string) bool {
	return redirectAllowed(c.redirectURIs(realm), uri)
}

// allowsPostLogoutRedirect reports whether the client may be sent to uri after a logout.
func (c *Client) allowsPostLogoutRedirect(realm *Realm, uri string) bool {
	return redirectAllowed(c.postLogoutURIs(realm), uri)
}

// allowsOrigin reports whether the client's webOrigins admit a browser
// origin: "*" any, "+" the origins of its redirect URIs, otherwise the same
// scheme, host and port.
func (c *Client) allowsOrigin(realm *Realm, raw string) bool {
	o, reason := parseOrigin(raw)
	if reason != "" {
		return false
	}
	for _, w := range c.Settings.WebOrigins {
		switch w {
		case "*":
			return true
		case "+":
			for _, u := range c.redirectURIs(realm) {
				if p, reason := parsePattern(u); reason == "" {
					if po, ok := originOf(p); ok && po == o {
						return true
					}
				}
			}
		default:
			if wo, reason := parseOrigin(w); reason == "" && wo == o {
				return true
			}
		}
	}
	return false
}
