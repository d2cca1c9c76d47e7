package admin

import (
	"time"

	"github.com/keygate/keygate/idp/cachemetrics"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/cache"
)

// authCache remembers who a bearer token is and what it may do (verifying
// it — RS256, the token record, the SSO session — and computing the
// caller's roles is most of the cost of a cheap admin call, and admin
// clients reuse one token for many calls), and the realm rows and default
// roles that every call reads. Entries end when their realm's
// configuration or role mappings change, whoever changed them (store/cache);
// a caller also after authTTL, so that a token revoked elsewhere (logout,
// revocation) stops working within it.
type authCache struct {
	callers      *cache.Cache[string, *caller]     // by Authorization header
	realms       *cache.Cache[string, store.Realm] // by realm name
	defaultRoles *cache.Cache[string, string]      // realm id -> role id
}

const authTTL = time.Second

func newAuthCache(v *cache.Versions) authCache {
	observe := cachemetrics.Observer("admin-auth")
	return authCache{
		callers: cache.New(v, cache.Options[string, *caller]{
			Kinds: cache.Config | cache.Grants, MaxAge: authTTL, NoStale: true, Observe: observe,
			Realm: func(_ string, c *caller) string { return c.realmID },
		}),
		realms: cache.New(v, cache.Options[string, store.Realm]{
			Kinds: cache.Config, Observe: observe,
			Realm: func(_ string, r store.Realm) string { return r.ID },
		}),
		defaultRoles: cache.New(v, cache.Options[string, string]{Kinds: cache.Config, Observe: observe}),
	}
}
