package cache

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/keygate/keygate/store"
)

// Options configure a Cache.
type Options[K comparable, V any] struct {
	// Kinds are the tables the values are built from.
	Kinds Kind
	// Realm names the realm whose counters a value follows; nil means the
	// key is the realm id (K must then be a string).
	Realm func(key K, val V) string
	// MaxAge, when set, also ends an entry after this long: for what the
	// counters do not see (a revoked token behind a cached caller).
	MaxAge time.Duration
	// Max bounds the entries; past it the cache starts over. 0 means 4096.
	Max int
	// NoStale turns off serving the last value when a load finds the
	// store unavailable, and serving any entry once the counters have gone
	// unread past a poll and a read's timeout (the store down, or this
	// process cut off from it): for rights, which must not outlive a check
	// (another replica may have revoked them meanwhile).
	NoStale bool
	// Observe, when set, is told of every Get: hit when it was answered
	// from memory (for the server's metrics).
	Observe func(hit bool)
}

// Cache maps keys to values loaded from the store. Concurrent misses of
// one key share one load (single flight); an entry is served until its
// realm's counters of Kinds move (or MaxAge passes); a load that fails with
// store.ErrUnavailable answers the last value the key had, however old.
type Cache[K comparable, V any] struct {
	v    *Versions
	opts Options[K, V]

	mu      sync.Mutex
	m       map[K]*entry[V]
	flights map[K]*flight[V]
}

type entry[V any] struct {
	val   V
	realm string
	stamp store.RealmVersion
	seq   uint64 // snapshot the stamp was last found current in
	at    time.Time
	stale bool // Invalidate: reload, but still the fallback while down
}

type flight[V any] struct {
	done chan struct{}
	seq  uint64
	val  V
	err  error
}

// New returns an empty cache following v.
func New[K comparable, V any](v *Versions, opts Options[K, V]) *Cache[K, V] {
	if opts.Max <= 0 {
		opts.Max = 4096
	}
	if opts.Realm == nil {
		opts.Realm = func(k K, _ V) string { s, _ := any(k).(string); return s }
	}
	return &Cache[K, V]{v: v, opts: opts, m: map[K]*entry[V]{}, flights: map[K]*flight[V]{}}
}

// Get returns key's value, loading it with load when the cache has none
// that is current. Inside a transaction that wrote a cached table, it
// always loads and keeps nothing.
func (c *Cache[K, V]) Get(ctx context.Context, key K, load func(ctx context.Context) (V, error)) (V, error) {
	if c.v.dirty(ctx) {
		c.observe(false)
		return load(ctx)
	}
	snap := c.v.Current(ctx)
	for first := true; ; first = false {
		c.mu.Lock()
		e := c.m[key]
		if e != nil && c.valid(e, snap) {
			c.mu.Unlock()
			if first {
				c.observe(true)
			}
			return e.val, nil
		}
		if first {
			c.observe(false)
		}
		if f := c.flights[key]; f != nil {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				var zero V
				return zero, ctx.Err()
			}
			if ctxErr(f.err) && ctx.Err() == nil {
				continue // the loader's caller went away; ours is still here
			}
			if snap == nil || f.seq >= snap.seq {
				return f.val, f.err
			}
			continue // loaded before what snap knows: check again
		}
		f := &flight[V]{done: make(chan struct{})}
		if snap != nil {
			f.seq = snap.seq
		}
		c.flights[key] = f
		c.mu.Unlock()
		return c.load(ctx, key, f, snap, load)
	}
}

// load runs one flight's load and publishes its result.
func (c *Cache[K, V]) load(ctx context.Context, key K, f *flight[V], snap *Snapshot, load func(ctx context.Context) (V, error)) (val V, err error) {
	defer func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.flights, key)
		if p := recover(); p != nil {
			f.err = errors.New("cache: load panicked")
			close(f.done)
			panic(p)
		}
		switch {
		case err == nil:
			if len(c.m) >= c.opts.Max {
				clear(c.m)
			}
			e := &entry[V]{val: val, realm: c.opts.Realm(key, val), at: time.Now(), seq: f.seq}
			if snap != nil {
				e.stamp = snap.stamp(e.realm, c.opts.Kinds)
			} else {
				e.stale = true // counters never read: check again next time
			}
			c.m[key] = e
		case errors.Is(err, store.ErrUnavailable) && !c.opts.NoStale:
			if old := c.m[key]; old != nil {
				val, err = old.val, nil // stale beats down
			}
		}
		f.val, f.err = val, err
		close(f.done)
	}()
	return load(ctx)
}

// valid says e may be served in snap. Called with c.mu held.
func (c *Cache[K, V]) valid(e *entry[V], snap *Snapshot) bool {
	switch {
	case e.stale || snap == nil:
		return false
	case c.opts.NoStale && snap.epoch == 0 && time.Since(snap.verified) > c.v.unverifiedAfter():
		return false // (a store without counters reads nothing to verify)
	case c.opts.MaxAge > 0 && time.Since(e.at) > c.opts.MaxAge:
		return false
	case e.seq == snap.seq:
		return true
	case snap.stamp(e.realm, c.opts.Kinds) == e.stamp:
		e.seq = snap.seq
		return true
	}
	return false
}

// Invalidate makes key's next Get load again; the old value stays the
// answer while the store is unavailable. For a value found stale by other
// means than the counters (a row it does not know of yet).
func (c *Cache[K, V]) Invalidate(key K) {
	c.mu.Lock()
	if e := c.m[key]; e != nil {
		e.stale = true
	}
	c.mu.Unlock()
}

// Peek returns key's last value, current or not, without loading: what a
// load may reuse of it.
func (c *Cache[K, V]) Peek(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[key]; e != nil {
		return e.val, true
	}
	var zero V
	return zero, false
}

func (c *Cache[K, V]) observe(hit bool) {
	if c.opts.Observe != nil {
		c.opts.Observe(hit)
	}
}

// Clear drops every entry.
func (c *Cache[K, V]) Clear() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

func ctxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
