package admin

import (
	"context"

	"github.com/google/uuid"

	"github.com/keygate/keygate/store"
)

// Keycloak's cache endpoints (manage-realm, 204, an ACTION admin event).
// keygate's caches are per process and follow the realm's change counters
// in the database, which every write to a cached table moves (store/cache),
// so none of them is ever stale past the poll interval.

// clearRealmCache is POST /clear-realm-cache: every process and replica
// reloads the realm's settings, keys, clients, roles, groups and scopes
// (another replica within the poll interval), as Keycloak's cluster-wide
// clear does; for a database changed where the counters do not see it (a
// restored backup, triggers turned off).
//
// The store has no write that moves a counter alone. A group created and
// deleted in one transaction moves the realm's config counter (the
// triggers count both writes) without rewriting any row another admin may
// be changing at the same moment, as writing the realm row back would; no
// one else ever sees the group.
func (a *API) clearRealmCache(c *call) error {
	err := a.st.Tx(c.ctx, func(ctx context.Context) error {
		id := uuid.NewString()
		g := store.Group{ID: id, RealmID: c.realm.ID, Name: "keygate-clear-realm-cache-" + id}
		if err := a.st.CreateGroup(ctx, g); err != nil {
			return err
		}
		return a.st.DeleteGroup(ctx, c.realm.ID, id)
	})
	if err != nil {
		return err
	}
	return c.noContent()
}

// clearUserCache is POST /clear-user-cache. Nothing to clear: keygate
// keeps no user cache (Keycloak's caches user models; keygate reads a user
// from the database at each request), and what it derives from users' role
// and group mappings follows the grants counter, which every write to them
// moves.
func (a *API) clearUserCache(c *call) error { return c.noContent() }

// clearKeysCache is POST /clear-keys-cache. Nothing to clear: Keycloak's
// keys cache holds other parties' public keys (clients' and identity
// providers' JWKS). keygate verifies no JWT a client signs, and an OIDC
// identity provider's broker fetches its JWKS again whenever a token names
// a key it has not seen, so a rotation needs no clearing; the realm's own
// keys are in the realm cache.
func (a *API) clearKeysCache(c *call) error { return c.noContent() }
