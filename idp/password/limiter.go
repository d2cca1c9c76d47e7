package password

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBusy is returned by the Limiter when the caller's key (realm) already
// has as many callers waiting as its queue allows, or so many that the
// wait they imply is longer than the limiter's maximum wait.
var ErrBusy = errors.New("password: too many concurrent hashing requests")

// Limiter bounds the hashing work running at once so that a burst of logins
// cannot starve the rest of the server, sheds load instead of queueing
// without limit, and shares the work fairly between keys (realm ids), so
// that one realm flooded with logins cannot starve another's:
//
//   - each key has its own wait queue, so one realm's full queue (ErrBusy,
//     which the HTTP layer answers with 503) never refuses another realm;
//   - a freed slot goes to the waiting key holding the fewest slots (ties:
//     the one served least recently), FIFO within a key;
//   - PBKDF2 work (Verify and Hash with a pbkdf2 algorithm) checks in every
//     few hundred iterations and hands its slot to another key's waiting
//     PBKDF2 work when that key holds fewer slots, so such a newcomer gets a
//     worker within a fraction of a millisecond however costly the running
//     hashes are;
//   - work that cannot be cut (argon2, bcrypt) may hold at most workers-1
//     slots per key (one slot when workers is 1), so it never holds every
//     worker against another realm.
//
// The queue is bounded by the wait it implies rather than by a count alone
// (SetMaxWait): a caller that would queue is refused with ErrBusy when the
// callers ahead of it, at the measured cost of a hash (an EWMA of recent
// service times, which rises when the machine is busy with other work),
// would keep it waiting longer than the maximum wait. A fixed count sized
// for one machine lets logins wait for seconds on a smaller one, until
// clients time out and retry into the same queue.
//
// A lone realm still gets every worker. Logins go through Verify and Hash;
// Do runs any other function (not preempted, key "").
// A nil *Limiter runs everything at once, unbounded.
type Limiter struct {
	workers  int
	queue    int // waiting callers allowed per key
	pinnedAt int // slots a key may hold with work that cannot be preempted

	mu      sync.Mutex
	maxWait time.Duration // 0: only queue bounds the wait
	cost    time.Duration // EWMA of the service time of one call; 0 until measured
	running int
	waiters int                  // callers waiting, all keys
	peak    int                  // most callers waiting at once since the last TakePeak
	keys    map[string]*keyState // keys with work running or waiting
	seq     uint64               // counts grants, for least-recently-served
	// observer is told of every caller's wait for a slot (SetObserver).
	observer atomic.Pointer[func(wait time.Duration, granted bool)]
}

// SetObserver has fn told, for every caller, how long it waited for a slot
// and whether it got one (false: refused with ErrBusy, or its context
// ended); the server exports it as metrics. fn runs on the caller's
// goroutine, outside the limiter's lock.
func (l *Limiter) SetObserver(fn func(wait time.Duration, granted bool)) { l.observer.Store(&fn) }

func (l *Limiter) observed(wait time.Duration, granted bool) {
	if fn := l.observer.Load(); fn != nil {
		(*fn)(wait, granted)
	}
}

// Stats is what the pool is doing now: callers holding a slot, callers
// waiting for one, and the measured cost of one call (Cost).
func (l *Limiter) Stats() (running, waiting int, cost time.Duration) {
	if l == nil {
		return 0, 0, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.running, l.waiters, l.cost
}

type keyState struct {
	running int       // slots held
	pinned  int       // of which running work that cannot be preempted
	waiters []*waiter // FIFO; a preempted hash waits at the front
	served  uint64    // seq of the key's latest grant
}

type waiter struct {
	pinned  bool
	granted bool
	at      time.Time     // when granted
	ready   chan struct{} // closed on grant
}

// NewLimiter returns a Limiter running at most workers functions at once
// (runtime.GOMAXPROCS(0) when workers <= 0) with at most queue callers per
// key waiting for a slot (none when queue <= 0).
func NewLimiter(workers, queue int) *Limiter {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &Limiter{
		workers:  workers,
		queue:    max(queue, 0),
		pinnedAt: max(workers-1, 1),
		keys:     make(map[string]*keyState),
	}
}

// SetMaxWait bounds the wait a queued caller may face: a caller is refused
// with ErrBusy instead of queueing when the callers already waiting for its
// key, at the measured cost of a call, would take longer than d to be
// served (see impliedWait). d <= 0 leaves only the queue length as bound.
func (l *Limiter) SetMaxWait(d time.Duration) {
	l.mu.Lock()
	l.maxWait = max(d, 0)
	l.mu.Unlock()
}

// costWeight is the weight of the latest sample in the EWMA of service
// times: about the last 16 calls count, so the estimate follows a change of
// load within a fraction of a second at login rates.
const costWeight = 1.0 / 8

// observe folds the service time of one call into the EWMA. Called with
// l.mu held.
func (l *Limiter) observe(d time.Duration) {
	if l.cost == 0 {
		l.cost = d
		return
	}
	l.cost += time.Duration(costWeight * float64(d-l.cost))
}

// impliedWait is how long a caller queued now behind k's waiters would
// wait, at the measured cost: the calls ahead of it (its own key's waiters
// and itself) share the workers with the other keys that have callers
// waiting, since a free slot goes to the key holding fewest (fair share).
// Called with l.mu held.
func (l *Limiter) impliedWait(k *keyState) time.Duration {
	sharing := 1
	for _, o := range l.keys {
		if o != k && len(o.waiters) > 0 {
			sharing++
		}
	}
	ahead := len(k.waiters) + 1
	return time.Duration(int64(l.cost) * int64(ahead) * int64(sharing) / int64(l.workers))
}

// Saturated reports whether a caller for key would be refused with ErrBusy
// if it came now: every worker busy and key's queue at its bound. Callers
// may check it to refuse early, before work that the refusal would waste.
func (l *Limiter) Saturated(key string) bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.keys[key]
	if k == nil || l.running < l.workers {
		return false
	}
	return len(k.waiters) >= l.queue || l.maxWait > 0 && l.impliedWait(k) > l.maxWait
}

// Cost is the measured service time of one call (the EWMA), 0 before the
// first call ends.
func (l *Limiter) Cost() time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cost
}

// Do runs fn in the calling goroutine once a worker slot is free. It returns
// ErrBusy at once, without running fn, when queue callers are already
// waiting or they imply a wait over the maximum (SetMaxWait), ErrBusy too
// when the caller has waited the maximum without getting a slot, and
// ctx.Err() if ctx ends before a slot frees up (or has already ended). It
// returns nil after fn has run.
func (l *Limiter) Do(ctx context.Context, fn func()) error {
	return l.do(ctx, "", false, func(func()) { fn() })
}

// Verify checks pw against c in the pool on behalf of key (a realm id), as
// the package function Verify does. When pw is wrong and c is much cheaper
// to verify than a credential hashed under p (an imported md5 or a
// low-iteration hash), it also spends the difference in p's algorithm, so
// that a wrong password costs about the same for every user. Errors wrap
// ErrMalformed or ErrUnsupported for a bad c, or are ErrBusy or ctx.Err()
// from the pool.
func (l *Limiter) Verify(ctx context.Context, key string, c Credential, p Policy, pw string) (bool, error) {
	p = p.clamped()
	var ok bool
	var verr error
	err := l.do(ctx, key, c.pinned() || padPinned(c, p), func(yield func()) {
		ok, verr = verify(c, pw, yield)
		if !ok {
			pad(p, padWork(c, p), yield) // a malformed c counts as free
		}
	})
	if err != nil {
		return false, err
	}
	return ok, verr
}

// Hash hashes pw under p in the pool on behalf of key (see Hash).
func (l *Limiter) Hash(ctx context.Context, key string, p Policy, pw string) (Credential, error) {
	var c Credential
	var herr error
	err := l.do(ctx, key, p.HashAlgorithm() == Argon2, func(yield func()) { c, herr = hashPolicy(p, pw, yield) })
	if err != nil {
		return Credential{}, err
	}
	return c, herr
}

// do runs fn holding a slot for key. fn gets the yield function to call
// between slices of its work: it yields the processor and, unless pinned,
// hands the slot to another key when fairness asks for it.
func (l *Limiter) do(ctx context.Context, key string, pinned bool, fn func(yield func())) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if l == nil || l.keys == nil {
		fn(runtime.Gosched)
		return nil
	}
	l.mu.Lock()
	k := l.keys[key]
	if k == nil {
		k = new(keyState)
		l.keys[key] = k
	}
	// Every grantable waiter is served whenever a slot frees (dispatch),
	// so a free slot here has nobody eligible waiting for it.
	// start is when the slot was granted: for a waiter, before it was
	// woken, so the cost measured includes the time a busy machine takes
	// to run it, which the callers behind it wait for too.
	var start time.Time
	if l.running < l.workers && l.eligible(k, pinned) {
		l.grant(k, pinned)
		l.mu.Unlock()
		start = time.Now()
		l.observed(0, true)
	} else {
		if len(k.waiters) >= l.queue || l.maxWait > 0 && l.impliedWait(k) > l.maxWait {
			l.forget(key, k)
			l.mu.Unlock()
			l.observed(0, false)
			return ErrBusy
		}
		arrived := time.Now()
		w := &waiter{pinned: pinned, ready: make(chan struct{})}
		k.waiters = append(k.waiters, w)
		l.waiters++
		l.peak = max(l.peak, l.waiters)
		// The estimate admitted this caller; if the machine slows down
		// (the measured cost lags), it still waits no longer than maxWait.
		var expired <-chan time.Time
		if l.maxWait > 0 {
			t := time.NewTimer(l.maxWait)
			defer t.Stop()
			expired = t.C
		}
		l.mu.Unlock()
		var err error
		select {
		case <-w.ready:
			start = w.at
		case <-ctx.Done():
			err = ctx.Err()
		case <-expired:
			err = ErrBusy
		}
		if err != nil {
			l.mu.Lock()
			if w.granted { // lost the race with a grant: give the slot back
				l.release(key, k, pinned)
			} else {
				k.waiters = slices.DeleteFunc(k.waiters, func(x *waiter) bool { return x == w })
				l.waiters--
				l.forget(key, k)
			}
			l.mu.Unlock()
			l.observed(time.Since(arrived), false)
			return err
		}
		l.observed(start.Sub(arrived), true)
	}
	var handedOff time.Duration // time spent waiting after handing the slot over
	defer func() {
		l.mu.Lock()
		l.observe(time.Since(start) - handedOff)
		l.release(key, k, pinned)
		l.mu.Unlock()
	}()
	yield := runtime.Gosched
	if !pinned {
		yield = func() {
			runtime.Gosched()
			handedOff += l.checkpoint(k)
		}
	}
	fn(yield)
	return nil
}

// eligible reports whether k may take one more slot for work of this kind.
func (l *Limiter) eligible(k *keyState, pinned bool) bool {
	return !pinned || k.pinned < l.pinnedAt
}

func (l *Limiter) grant(k *keyState, pinned bool) {
	l.running++
	k.running++
	if pinned {
		k.pinned++
	}
	l.seq++
	k.served = l.seq
}

// release gives back a slot of k and hands free slots to waiters.
func (l *Limiter) release(key string, k *keyState, pinned bool) {
	l.running--
	k.running--
	if pinned {
		k.pinned--
	}
	l.forget(key, k)
	l.dispatch()
}

// forget drops an idle key so that the map holds only active realms.
func (l *Limiter) forget(key string, k *keyState) {
	if k.running == 0 && len(k.waiters) == 0 && l.keys[key] == k {
		delete(l.keys, key)
	}
}

// next is the index of k's first waiter that may run now, or -1.
func (l *Limiter) next(k *keyState) int {
	return slices.IndexFunc(k.waiters, func(w *waiter) bool { return l.eligible(k, w.pinned) })
}

// dispatch fills free slots: each goes to the key with an eligible waiter
// holding the fewest slots, ties to the key served least recently.
func (l *Limiter) dispatch() {
	for l.running < l.workers {
		var best *keyState
		bi := -1
		for _, k := range l.keys {
			i := l.next(k)
			if i < 0 {
				continue
			}
			if best == nil || k.running < best.running || k.running == best.running && k.served < best.served {
				best, bi = k, i
			}
		}
		if best == nil {
			return
		}
		w := best.waiters[bi]
		best.waiters = slices.Delete(best.waiters, bi, bi+1)
		l.waiters--
		l.grant(best, w.pinned)
		w.granted, w.at = true, time.Now()
		close(w.ready)
	}
}

// checkpoint is called by running preemptible work of k between slices.
// When another key holds fewer slots than k and has preemptible work
// waiting, the slot is handed to that work and the caller waits, first in
// k's queue, for the next slot. (Without a context: the wait is a few
// slices of other keys' work.) Pinned work waiting is not handed a slot
// here: it would keep it for a whole hash, and it gets its turn when a
// hash ends. It returns how long the caller waited for its slot back.
func (l *Limiter) checkpoint(k *keyState) time.Duration {
	l.mu.Lock()
	var to *keyState
	ti := -1
	for _, o := range l.keys {
		if o == k || o.running >= k.running {
			continue
		}
		i := slices.IndexFunc(o.waiters, func(w *waiter) bool { return !w.pinned })
		if i >= 0 && (to == nil || o.running < to.running || o.running == to.running && o.served < to.served) {
			to, ti = o, i
		}
	}
	if to == nil {
		l.mu.Unlock()
		return 0
	}
	w := &waiter{ready: make(chan struct{})}
	k.waiters = slices.Insert(k.waiters, 0, w)
	k.running--
	handed := to.waiters[ti]
	to.waiters = slices.Delete(to.waiters, ti, ti+1)
	l.running--
	l.grant(to, false)
	handed.granted, handed.at = true, time.Now()
	close(handed.ready)
	l.mu.Unlock()
	t := time.Now()
	<-w.ready
	return w.at.Sub(t)
}

// TakePeak returns the most callers that waited at once since the previous
// call (0 for a nil Limiter) and starts counting again from those waiting
// now.
func (l *Limiter) TakePeak() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.peak
	l.peak = l.waiters
	return p
}

// waiting is the number of callers waiting for a slot (for tests).
func (l *Limiter) waiting() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, k := range l.keys {
		n += len(k.waiters)
	}
	return n
}
