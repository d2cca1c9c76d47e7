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
	realmID string
	roles   []store.Role
	groups  []store.Group
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
		return userGrants{realmID: realmID, roles: roles, groups: groups}, nil
	})
}
