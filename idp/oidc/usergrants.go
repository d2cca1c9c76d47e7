package oidc

import (
	"context"

	"github.com/keygate/keygate/idp/cachemetrics"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/cache"
)

// userGrants are a user's direct role mappings and groups: with the realm
// model, what every issuance computes the roles and groups claims from.
type userGrants struct {
	roles  []store.Role
	groups []store.Group
}

// grantCache keeps users' grants until their realm's role or group mappings
// change (the grants counter: any process's write, seen at once here and
// within the poll interval on other replicas), so that a refresh reads no
// mapping rows. NoStale: a right is never served from before an outage.
type grantCache struct {
	st store.Store
	c  *cache.Cache[grantKey, userGrants]
}

type grantKey struct{ realmID, userID string }

// maxCachedGrants bounds the memory: past it the cache starts over.
const maxCachedGrants = 16384

func newGrantCache(st store.Store, v *cache.Versions) *grantCache {
	return &grantCache{st: st, c: cache.New(v, cache.Options[grantKey, userGrants]{
		Kinds: cache.Grants, NoStale: true, Max: maxCachedGrants,
		Realm:   func(k grantKey, _ userGrants) string { return k.realmID },
		Observe: cachemetrics.Observer("grants"),
	})}
}

func (c *grantCache) get(ctx context.Context, realmID, userID string) (userGrants, error) {
	return c.c.Get(ctx, grantKey{realmID, userID}, func(ctx context.Context) (userGrants, error) {
		roles, err := c.st.ListUserRoles(ctx, realmID, userID)
		if err != nil {
			return userGrants{}, err
		}
		groups, err := c.st.ListUserGroups(ctx, realmID, userID)
		if err != nil {
			return userGrants{}, err
		}
		return userGrants{roles: roles, groups: groups}, nil
	})
}

// serviceAccountCache keeps each client's service-account user, so that a
// client_credentials grant reads no row. The user is part of its client's
// configuration: any write to a service-account row moves the realm's
// config counter (migration 0011), so a disabled or edited account is seen
// by this process's next grant and by other replicas within the poll
// interval. NoStale, as for grants: an outage never serves an account that
// may have been disabled meanwhile.
type serviceAccountCache struct {
	st store.Store
	c  *cache.Cache[serviceAccountKey, store.User]
}

type serviceAccountKey struct{ realmID, clientID string }

func newServiceAccountCache(st store.Store, v *cache.Versions) *serviceAccountCache {
	return &serviceAccountCache{st: st, c: cache.New(v, cache.Options[serviceAccountKey, store.User]{
		Kinds: cache.Config, NoStale: true, Max: maxCachedGrants,
		Realm:   func(k serviceAccountKey, _ store.User) string { return k.realmID },
		Observe: cachemetrics.Observer("service-accounts"),
	})}
}

// get returns the client's service-account user (store.ErrNotFound for a
// client without one, never cached). The user shares its maps and slices
// with the cache: callers only read it.
func (c *serviceAccountCache) get(ctx context.Context, realmID, clientID string) (store.User, error) {
	return c.c.Get(ctx, serviceAccountKey{realmID, clientID}, func(ctx context.Context) (store.User, error) {
		return c.st.GetServiceAccountUser(ctx, realmID, clientID)
	})
}
