package sqlstore

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/cache"
)

// CachedTables are the tables whose writes move a realm's change counters
// (store.RealmVersion), by kind (and users, whose service-account rows move
// config: migration 0011). Migration 0009's triggers do the counting
// in the database; storetest.RunCacheVersionsShared checks that they cover
// this list. A cache that comes to read another table needs it here and a
// migration with its triggers, or it serves stale data.
var CachedTables = map[string]cache.Kind{
	"realms": cache.Config, "clients": cache.Config, "client_scopes": cache.Config,
	"roles": cache.Config, "role_composites": cache.Config, "groups": cache.Config,
	"group_roles": cache.Config, "keys": cache.Config, "identity_providers": cache.Config,
	"identity_provider_mappers": cache.Config,
	"user_roles":                cache.Grants, "user_groups": cache.Grants,
	"components": cache.Components,
}

// CacheVersions follows the store's change counters (cache.Versioned).
func (s *Store) CacheVersions() *cache.Versions { return s.versions }

func (s *Store) newVersions() *cache.Versions {
	return cache.NewVersions(cache.Source{
		Read:  s.readVersions,
		Local: s.localWrites.Load,
		Dirty: func(ctx context.Context) bool {
			t := s.txOf(ctx)
			return t != nil && t.cached.Load()
		},
	})
}

// readVersions reads every realm's counters: one small table, one query.
// It runs outside the caller's transaction, on a connection of its own (a
// poll that fails or times out must not abort the caller's work), unless
// the store has only the one connection the transaction holds (SQLite
// in memory).
func (s *Store) readVersions(ctx context.Context) (map[string]store.RealmVersion, error) {
	if s.rdb.Stats().MaxOpenConnections != 1 {
		ctx = context.WithValue(ctx, txKey{}, (*txFrame)(nil))
	}
	type row struct {
		id string
		v  store.RealmVersion
	}
	rows, err := list(ctx, s, func(sc scanner) (row, error) {
		var r row
		err := sc.Scan(&r.id, &r.v.Config, &r.v.Grants, &r.v.Components)
		return r, err
	}, `SELECT realm_id, config, grants, components FROM realm_versions`)
	if err != nil {
		return nil, wrap(err, "read cache versions")
	}
	m := make(map[string]store.RealmVersion, len(rows))
	for _, r := range rows {
		m[r.id] = r.v
	}
	return m, nil
}

// wrote records that a write statement ran, in its transaction or (outside
// one) at once: the dialect is told of it (Dialect.Wrote), and one that may
// move the change counters makes the process's next cache lookup read them.
// The database counts whatever this misses; the process then sees it
// within the poll interval.
func (s *Store) wrote(ctx context.Context, query string) {
	t := s.txOf(ctx)
	if t != nil {
		t.wrote.Store(true)
	} else if s.d.Wrote != nil {
		s.d.Wrote()
	}
	if !writesCached(query) {
		return
	}
	if t != nil {
		t.cached.Store(true)
		return
	}
	s.localWrites.Add(1)
}

// committed counts a committed transaction that wrote a cached table, and
// tells the dialect of one that wrote anything.
func (s *Store) committed(t *txn) {
	if t.cached.Load() {
		s.localWrites.Add(1)
	}
	if t.wrote.Load() && s.d.Wrote != nil {
		s.d.Wrote()
	}
}

var (
	writeTarget = regexp.MustCompile(`(?is)\b(INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+(\w+)`)
	writeKinds  sync.Map // query text -> bool
	nWriteKinds atomic.Int64
)

// writesCached says query writes a cached table, or users (a deleted
// user's role and group mappings cascade; a service account's row moves
// config, migration 0011), or the counters themselves
// (TouchRealmVersions). Decided once per query text.
func writesCached(query string) bool {
	if v, ok := writeKinds.Load(query); ok {
		return v.(bool)
	}
	hit := false
	if m := writeTarget.FindStringSubmatch(query); m != nil {
		table := strings.ToLower(m[2])
		_, hit = CachedTables[table]
		hit = hit || table == "users" || table == "realm_versions"
	}
	if cacheable(query, &nWriteKinds) {
		if _, loaded := writeKinds.LoadOrStore(query, hit); !loaded {
			nWriteKinds.Add(1)
		}
	}
	return hit
}
