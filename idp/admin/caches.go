package admin

// Keycloak's cache endpoints (manage-realm, 204, an ACTION admin event).
// keygate's caches are per process and follow the realm's change counters
// in the database, which every write to a cached table moves (store/cache),
// so none of them is ever stale past the poll interval.

// clearRealmCache is POST /clear-realm-cache: every process and replica
// reloads the realm's settings, keys, clients, roles, groups and scopes
// (another replica within the poll interval), as Keycloak's cluster-wide
// clear does; for a database changed where the counters do not see it (a
// restored backup, triggers turned off). Keycloak clears every realm's;
// keygate the realm named, which is all its admin may manage.
func (a *API) clearRealmCache(c *call) error {
	if err := a.st.TouchRealmVersions(c.ctx, c.realm.ID); err != nil {
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
