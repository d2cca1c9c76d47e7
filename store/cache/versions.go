// Package cache is keygate's one cache of slowly changing realm data
// (realm settings, the role and scope model, keys, admin authorization,
// user federation providers): a generic map with single-flight loads whose
// entries stay valid exactly as long as their realm's change counters
// (store.RealmVersion) do not move.
//
// Invalidation comes from the store's write path, never from callers: the
// database bumps a realm's counters inside every transaction that writes
// a cached table, whichever code path, process or replica made it. A
// process follows the counters through its store's Versions: a write made
// through this process is seen by the next lookup, any other within
// PollInterval. While the database cannot answer, entries keep being
// served ("stale beats down").
package cache

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/store"
)

// Kind names the tables a cached value is built from (see
// store.RealmVersion); a value is stale once a write to one of them in its
// realm commits.
type Kind uint8

const (
	Config Kind = 1 << iota
	Grants
	Components
)

// PollInterval is how often a process reads the database's change
// counters while it serves requests: the bound on how late it sees a
// write made by another process or replica.
const PollInterval = 250 * time.Millisecond

// pollTimeout bounds one read of the counters: a database that does not
// answer leaves the last reading in force.
const pollTimeout = 2 * time.Second

// fallbackTTL is the lifetime of every entry for a store that keeps no
// change counters.
const fallbackTTL = 5 * time.Second

// Source is what a store gives its Versions.
type Source struct {
	// Read returns every realm's counters (one cheap query).
	Read func(ctx context.Context) (map[string]store.RealmVersion, error)
	// Local counts the transactions of this process that committed a
	// write to a cached table: when it moved, the next lookup reads the
	// counters before it answers, so a process sees its own writes at once.
	Local func() uint64
	// Dirty says ctx carries a transaction that wrote a cached table and
	// has not committed: lookups made in it bypass the cache (they see the
	// transaction's own writes, which no one else may see yet).
	Dirty func(ctx context.Context) bool
	// Every is the polling interval; 0 means PollInterval.
	Every time.Duration
	// Timeout bounds one read of the counters; 0 means pollTimeout.
	Timeout time.Duration
}

// Versions follows one store's change counters for every cache of the
// process. It is safe for concurrent use.
type Versions struct {
	src   Source
	cur   atomic.Pointer[Snapshot]
	seq   atomic.Uint64
	mu    sync.Mutex // one read of the counters at a time
	reads atomic.Int64
}

// Snapshot is one reading of the counters. It is immutable.
type Snapshot struct {
	seq    uint64
	realms map[string]store.RealmVersion
	local  uint64    // Source.Local before the read
	at     time.Time // when it was read (or last found current)
	// verified is when the store last answered a read of the counters:
	// at, unless the reads since failed.
	verified time.Time
	epoch    int64 // fallbackTTL periods since the epoch; stores without counters
}

// NewVersions returns the version follower of a store; a store with
// counters builds one in its constructor and returns it from
// CacheVersions.
func NewVersions(src Source) *Versions {
	if src.Every <= 0 {
		src.Every = PollInterval
	}
	if src.Timeout <= 0 {
		src.Timeout = pollTimeout
	}
	return &Versions{src: src}
}

// Versioned is offered by stores that keep change counters.
type Versioned interface {
	CacheVersions() *Versions
}

// For returns st's Versions, or for a store without counters one whose
// entries live fallbackTTL.
func For(st any) *Versions {
	if v, ok := st.(Versioned); ok && v.CacheVersions() != nil {
		return v.CacheVersions()
	}
	return NewVersions(Source{})
}

// Reads is how many times the counters were read from the store.
func (v *Versions) Reads() int64 { return v.reads.Load() }

// dirty says ctx's transaction wrote a cached table.
func (v *Versions) dirty(ctx context.Context) bool {
	return v.src.Dirty != nil && v.src.Dirty(ctx)
}

// Current returns the counters as last read, reading them first when this
// process wrote since (the caller waits) or the last reading is older than
// the interval (one caller reads, the others go on with the last reading).
// It returns nil only when the counters were never read successfully.
func (v *Versions) Current(ctx context.Context) *Snapshot {
	if v.src.Read == nil {
		return v.fallback()
	}
	s := v.cur.Load()
	local := v.src.Local()
	if s != nil && s.local >= local && time.Since(s.at) < v.src.Every {
		return s
	}
	if s != nil && s.local >= local {
		// Only due: whoever gets the lock reads, the others keep going.
		if !v.mu.TryLock() {
			return s
		}
	} else {
		v.mu.Lock()
	}
	defer v.mu.Unlock()
	s = v.cur.Load()
	local = v.src.Local()
	if s != nil && s.local >= local && time.Since(s.at) < v.src.Every {
		return s
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.src.Timeout)
	defer cancel()
	v.reads.Add(1)
	m, err := v.src.Read(rctx)
	now := time.Now()
	switch {
	case err == nil && s != nil && sameVersions(s.realms, m):
		// Nothing moved: the entries checked against s stay checked.
		n := *s
		n.local, n.at, n.verified = local, now, now
		s = &n
	case err == nil:
		s = &Snapshot{seq: v.seq.Add(1), realms: m, local: local, at: now, verified: now}
	case s != nil:
		// Stale beats down: the last reading stays in force for another
		// interval rather than every request waiting on the database.
		n := *s
		n.local, n.at = local, now
		s = &n
	default:
		return nil
	}
	v.cur.Store(s)
	return s
}

// fallback is the snapshot of a store without counters: it changes every
// fallbackTTL.
func (v *Versions) fallback() *Snapshot {
	epoch := time.Now().UnixNano() / int64(fallbackTTL)
	if s := v.cur.Load(); s != nil && s.epoch == epoch {
		return s
	}
	s := &Snapshot{seq: v.seq.Add(1), epoch: epoch, at: time.Now()}
	v.cur.Store(s)
	return s
}

// unverifiedAfter is how long a snapshot may go without the store
// answering a read of the counters while the store is up: a poll interval
// before the read is due, the read's timeout, and an interval's margin.
// Past it the store is taken for down.
func (v *Versions) unverifiedAfter() time.Duration { return 2*v.src.Every + v.src.Timeout }

// Realm returns realmID's counters in s (zero for a realm s does not know).
func (s *Snapshot) Realm(realmID string) store.RealmVersion {
	if s.epoch != 0 {
		return store.RealmVersion{Config: s.epoch, Grants: s.epoch, Components: s.epoch}
	}
	return s.realms[realmID]
}

// stamp is the part of realmID's counters that kinds follow.
func (s *Snapshot) stamp(realmID string, kinds Kind) store.RealmVersion {
	rv := s.Realm(realmID)
	if kinds&Config == 0 {
		rv.Config = 0
	}
	if kinds&Grants == 0 {
		rv.Grants = 0
	}
	if kinds&Components == 0 {
		rv.Components = 0
	}
	return rv
}

func sameVersions(a, b map[string]store.RealmVersion) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
