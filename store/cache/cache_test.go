package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

// fakeStore is a Source over counters the test moves: remote writes
// (another process) and local ones (this process).
type fakeStore struct {
	mu     sync.Mutex
	realms map[string]store.RealmVersion
	down   bool
	reads  int
	local  atomic.Uint64
}

func (f *fakeStore) source(every time.Duration) Source {
	return Source{
		Read: func(context.Context) (map[string]store.RealmVersion, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.reads++
			if f.down {
				return nil, fmt.Errorf("read: %w", store.ErrUnavailable)
			}
			m := map[string]store.RealmVersion{}
			for k, v := range f.realms {
				m[k] = v
			}
			return m, nil
		},
		Local: f.local.Load,
		Dirty: func(ctx context.Context) bool { return ctx.Value(dirtyKey{}) != nil },
		Every: every,
	}
}

type dirtyKey struct{}

// write moves realm's config counter as a commit would; local says this
// process made it.
func (f *fakeStore) write(realm string, local bool) {
	f.mu.Lock()
	rv := f.realms[realm]
	rv.Config++
	f.realms[realm] = rv
	f.mu.Unlock()
	if local {
		f.local.Add(1)
	}
}

func newFake(every time.Duration) (*fakeStore, *Versions) {
	f := &fakeStore{realms: map[string]store.RealmVersion{"r": {Config: 1, Grants: 1, Components: 1}}}
	return f, NewVersions(f.source(every))
}

// counter is a load that counts its calls and returns their number.
type counter struct {
	n    atomic.Int64
	err  error
	wait chan struct{}
}

func (c *counter) load(ctx context.Context) (int64, error) {
	n := c.n.Add(1)
	if c.wait != nil {
		select {
		case <-c.wait:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if c.err != nil {
		return 0, c.err
	}
	return n, nil
}

// N concurrent misses of one key are one load, and every caller gets its
// value.
func TestSingleFlight(t *testing.T) {
	_, v := newFake(time.Hour)
	c := New[string, int64](v, Options[string, int64]{Kinds: Config})
	ld := &counter{wait: make(chan struct{})}
	const n = 50
	var wg sync.WaitGroup
	got := make([]int64, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { got[i], errs[i] = c.Get(t.Context(), "r", ld.load) })
	}
	for ld.n.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others queue on the flight
	close(ld.wait)
	wg.Wait()
	if ld.n.Load() != 1 {
		t.Fatalf("%d concurrent misses made %d loads, want 1", n, ld.n.Load())
	}
	for i := range n {
		if errs[i] != nil || got[i] != 1 {
			t.Fatalf("caller %d: %d %v", i, got[i], errs[i])
		}
	}
	// Served from memory now.
	if x, err := c.Get(t.Context(), "r", ld.load); err != nil || x != 1 || ld.n.Load() != 1 {
		t.Fatalf("hit: %d %v after %d loads", x, err, ld.n.Load())
	}
}

// A write made in this process is seen by the very next Get; one made
// elsewhere once the poll interval has passed; a write to another realm
// leaves the entry alone.
func TestInvalidationByCounters(t *testing.T) {
	// A poll interval long enough that no pause of a loaded machine
	// between the last poll and "right after a remote write" outlasts it.
	const every = 500 * time.Millisecond
	f, v := newFake(every)
	f.realms["other"] = store.RealmVersion{Config: 1}
	c := New[string, int64](v, Options[string, int64]{Kinds: Config})
	ld := &counter{}
	get := func() int64 {
		t.Helper()
		x, err := c.Get(t.Context(), "r", ld.load)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	get()
	if get() != 1 {
		t.Fatal("first load not kept")
	}
	f.write("r", true)
	if x := get(); x != 2 {
		t.Fatalf("after a local write: %d, want a reload at once", x)
	}
	f.write("other", true)
	if x := get(); x != 2 {
		t.Fatalf("after a write to another realm: %d, want the entry kept", x)
	}
	f.write("r", false)
	if x := get(); x != 2 {
		t.Fatalf("right after a remote write: %d, want the entry until the next poll", x)
	}
	time.Sleep(every + 100*time.Millisecond)
	if x := get(); x != 3 {
		t.Fatalf("after the poll interval: %d, want a reload", x)
	}
	// Kinds not followed do not invalidate.
	f.mu.Lock()
	rv := f.realms["r"]
	rv.Grants++
	f.realms["r"] = rv
	f.mu.Unlock()
	f.local.Add(1)
	if x := get(); x != 3 {
		t.Fatalf("after a grants write: %d, want the config entry kept", x)
	}
	// Invalidate forces one reload.
	c.Invalidate("r")
	if x := get(); x != 4 {
		t.Fatalf("after Invalidate: %d, want a reload", x)
	}
}

// Polls are amortised: many Gets within the interval read the counters
// once; without local writes no Get waits for a poll.
func TestPollAmortised(t *testing.T) {
	f, v := newFake(time.Hour)
	c := New[string, int64](v, Options[string, int64]{Kinds: Config})
	ld := &counter{}
	for range 1000 {
		if _, err := c.Get(t.Context(), "r", ld.load); err != nil {
			t.Fatal(err)
		}
	}
	if f.reads != 1 || ld.n.Load() != 1 {
		t.Fatalf("1000 Gets: %d counter reads, %d loads; want 1 and 1", f.reads, ld.n.Load())
	}
}

// Stale beats down: while the store is unavailable the last value is
// served, past invalidation; a key never loaded fails; other errors are
// not papered over; the value is reloaded once the store is back.
func TestStaleWhileUnavailable(t *testing.T) {
	f, v := newFake(time.Millisecond)
	c := New[string, int64](v, Options[string, int64]{Kinds: Config})
	ld := &counter{}
	if x, err := c.Get(t.Context(), "r", ld.load); err != nil || x != 1 {
		t.Fatal(x, err)
	}
	f.write("r", true) // the entry is stale now
	f.down = true
	ld.err = fmt.Errorf("load: %w", store.ErrUnavailable)
	for range 3 {
		time.Sleep(2 * time.Millisecond)
		if x, err := c.Get(t.Context(), "r", ld.load); err != nil || x != 1 {
			t.Fatalf("while down: %d %v, want the last value", x, err)
		}
	}
	if _, err := c.Get(t.Context(), "never", ld.load); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("never loaded while down: %v, want store.ErrUnavailable", err)
	}
	ld.err = errors.New("decode failed")
	f.down = false
	f.write("r", true)
	if _, err := c.Get(t.Context(), "r", ld.load); err == nil || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("other error: %v, want it returned", err)
	}
	ld.err = nil
	if x, err := c.Get(t.Context(), "r", ld.load); err != nil || x <= 1 {
		t.Fatalf("after recovery: %d %v, want a fresh load", x, err)
	}
	// NoStale: rights are not served from a value that cannot be checked.
	ns := New[string, int64](v, Options[string, int64]{Kinds: Config, NoStale: true})
	ld.err = nil
	if _, err := ns.Get(t.Context(), "r", ld.load); err != nil {
		t.Fatal(err)
	}
	f.write("r", true)
	ld.err = store.ErrUnavailable
	if _, err := ns.Get(t.Context(), "r", ld.load); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("NoStale while down: %v, want store.ErrUnavailable", err)
	}
}

// The counters unreadable (the database down) leave the last reading in
// force: entries checked against it are served without touching the store.
func TestCountersUnreadable(t *testing.T) {
	f, v := newFake(time.Millisecond)
	c := New[string, int64](v, Options[string, int64]{Kinds: Config})
	ld := &counter{}
	if _, err := c.Get(t.Context(), "r", ld.load); err != nil {
		t.Fatal(err)
	}
	f.down = true
	time.Sleep(2 * time.Millisecond)
	if x, err := c.Get(t.Context(), "r", ld.load); err != nil || x != 1 || ld.n.Load() != 1 {
		t.Fatalf("counters unreadable: %d %v after %d loads, want the entry served", x, err, ld.n.Load())
	}
}

// Inside a transaction that wrote a cached table, Get loads and keeps
// nothing: the transaction sees its own writes, nobody else sees them.
func TestDirtyTransactionBypasses(t *testing.T) {
	_, v := newFake(time.Hour)
	c := New[string, int64](v, Options[string, int64]{Kinds: Config})
	ld := &counter{}
	dirty := context.WithValue(t.Context(), dirtyKey{}, true)
	for i := range 3 {
		if x, _ := c.Get(dirty, "r", ld.load); x != int64(i+1) {
			t.Fatalf("dirty Get %d: %d, want a load each time", i, x)
		}
	}
	if x, _ := c.Get(t.Context(), "r", ld.load); x != 4 {
		t.Fatalf("clean Get after dirty ones: %d, want a load (nothing was kept)", x)
	}
}

// MaxAge ends an entry the counters cannot see changing.
func TestMaxAge(t *testing.T) {
	// Long enough that no pause of a loaded machine between the first two
	// Gets outlasts it.
	const maxAge = 500 * time.Millisecond
	_, v := newFake(time.Hour)
	c := New[string, int64](v, Options[string, int64]{Kinds: Config, MaxAge: maxAge})
	ld := &counter{}
	c.Get(t.Context(), "r", ld.load)
	if x, _ := c.Get(t.Context(), "r", ld.load); x != 1 {
		t.Fatal("entry not kept within MaxAge")
	}
	time.Sleep(maxAge + 100*time.Millisecond)
	if x, _ := c.Get(t.Context(), "r", ld.load); x != 2 {
		t.Fatalf("past MaxAge: %d, want a reload", x)
	}
}

// A caller that hangs up while it loads for others does not fail them:
// a waiter whose own context is alive loads again.
func TestLoaderCancelled(t *testing.T) {
	_, v := newFake(time.Hour)
	c := New[string, int64](v, Options[string, int64]{Kinds: Config})
	ld := &counter{wait: make(chan struct{})}
	lctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := c.Get(lctx, "r", ld.load); done <- err }()
	for ld.n.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	res := make(chan int64, 1)
	go func() { x, _ := c.Get(t.Context(), "r", ld.load); res <- x }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("loader: %v", err)
	}
	close(ld.wait)
	if x := <-res; x != 2 {
		t.Fatalf("waiter: %d, want its own load", x)
	}
}

// A store without counters: entries live fallbackTTL.
func TestFallbackWithoutCounters(t *testing.T) {
	v := For(struct{}{})
	c := New[string, int64](v, Options[string, int64]{Kinds: Config})
	ld := &counter{}
	c.Get(t.Context(), "r", ld.load)
	if x, _ := c.Get(t.Context(), "r", ld.load); x != 1 {
		t.Fatal("entry not kept")
	}
	// NoStale too: there are no counters to go unread.
	ns := New[string, int64](v, Options[string, int64]{Kinds: Config, NoStale: true})
	ld2 := &counter{}
	ns.Get(t.Context(), "r", ld2.load)
	if x, _ := ns.Get(t.Context(), "r", ld2.load); x != 1 {
		t.Fatal("NoStale entry not kept without counters")
	}
}

// A value keyed by something else than its realm follows the realm that
// Options.Realm names.
func TestRealmOfValue(t *testing.T) {
	f, v := newFake(time.Hour)
	c := New[string, string](v, Options[string, string]{Kinds: Config, Realm: func(_ string, realmID string) string { return realmID }})
	n := 0
	load := func(context.Context) (string, error) { n++; return "r", nil }
	c.Get(t.Context(), "by-name", load)
	c.Get(t.Context(), "by-name", load)
	f.write("r", true)
	c.Get(t.Context(), "by-name", load)
	if n != 2 {
		t.Fatalf("%d loads, want 2 (one after the realm's write)", n)
	}
}

func BenchmarkHit(b *testing.B) {
	_, v := newFake(time.Hour)
	c := New[string, int64](v, Options[string, int64]{Kinds: Config})
	ld := &counter{}
	ctx := context.Background()
	c.Get(ctx, "r", ld.load)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Get(ctx, "r", ld.load)
		}
	})
}

// NoStale entries are not served once the counters have gone unread past
// a poll and a read's timeout: a right revoked through another replica
// during the outage must not be vouched for by this process's memory. The
// other caches keep serving (TestCountersUnreadable).
func TestNoStaleWhileCountersUnreadable(t *testing.T) {
	f := &fakeStore{realms: map[string]store.RealmVersion{"r": {Config: 1, Grants: 1, Components: 1}}}
	src := f.source(time.Millisecond)
	// The entry goes unvouched for 2 polls and a timeout after the last
	// read: long enough that no pause of a loaded machine between a read
	// and the Get that follows it outlasts it.
	src.Timeout = 250 * time.Millisecond
	v := NewVersions(src)
	ns := New[string, int64](v, Options[string, int64]{Kinds: Config, NoStale: true})
	ld := &counter{}
	if _, err := ns.Get(t.Context(), "r", ld.load); err != nil {
		t.Fatal(err)
	}
	if x, err := ns.Get(t.Context(), "r", ld.load); err != nil || x != 1 {
		t.Fatalf("while up: %d %v, want the cached value", x, err)
	}
	f.mu.Lock()
	f.down = true
	f.mu.Unlock()
	ld.err = fmt.Errorf("load: %w", store.ErrUnavailable)
	time.Sleep(v.unverifiedAfter() + 5*time.Millisecond)
	if x, err := ns.Get(t.Context(), "r", ld.load); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("counters unread for %v: %d %v, want store.ErrUnavailable", v.unverifiedAfter(), x, err)
	}
	f.mu.Lock()
	f.down = false
	f.mu.Unlock()
	ld.err = nil
	time.Sleep(2 * time.Millisecond)
	// The counters read again and unmoved vouch for the entry once more.
	if x, err := ns.Get(t.Context(), "r", ld.load); err != nil || x != 1 {
		t.Fatalf("after recovery: %d %v, want the entry, confirmed", x, err)
	}
}
