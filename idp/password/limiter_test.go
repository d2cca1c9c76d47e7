package password

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond for up to 5 s; the limiter exposes no hooks, so tests
// watch its queue length.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLimiterBoundsConcurrency(t *testing.T) {
	const workers, callers = 3, 40
	l := NewLimiter(workers, callers)
	var running, peak, done atomic.Int32
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			err := l.Do(context.Background(), func() {
				n := running.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(2 * time.Millisecond)
				running.Add(-1)
				done.Add(1)
			})
			if err != nil {
				t.Errorf("Do: %v", err)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p != workers {
		t.Errorf("peak concurrency = %d, want exactly %d", p, workers)
	}
	if d := done.Load(); d != callers {
		t.Errorf("%d of %d functions ran", d, callers)
	}
}

// doWithin calls l.Do with a function that must not run and fails the test
// if Do has not returned within d (a broken limiter would block instead of
// shedding load).
func doWithin(t *testing.T, l *Limiter, d time.Duration) error {
	t.Helper()
	result := make(chan error, 1)
	go func() {
		result <- l.Do(context.Background(), func() { t.Error("fn ran although the limiter is full") })
	}()
	select {
	case err := <-result:
		return err
	case <-time.After(d):
		t.Fatalf("Do blocked for %v; want ErrBusy at once", d)
		return nil
	}
}

// blockWorkers occupies n slots of l until the returned func is called (at
// the latest when the test ends).
func blockWorkers(t *testing.T, l *Limiter, n int) (release func()) {
	t.Helper()
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	var started sync.WaitGroup
	for range n {
		started.Add(1)
		go func() {
			_ = l.Do(context.Background(), func() { started.Done(); <-gate })
		}()
	}
	started.Wait()
	return release
}

func TestLimiterQueueOverflow(t *testing.T) {
	l := NewLimiter(1, 2)
	release := blockWorkers(t, l, 1)

	results := make(chan error, 2)
	for range 2 {
		go func() { results <- l.Do(context.Background(), func() {}) }()
	}
	waitFor(t, "two queued callers", func() bool { return l.waiting() == 2 })

	if err := doWithin(t, l, time.Second); !errors.Is(err, ErrBusy) {
		t.Fatalf("Do with a full queue = %v, want ErrBusy", err)
	}

	release()
	for range 2 {
		if err := <-results; err != nil {
			t.Errorf("queued caller: %v", err)
		}
	}
	if err := l.Do(context.Background(), func() {}); err != nil {
		t.Errorf("Do after the queue drained: %v", err)
	}
}

func TestLimiterNoQueue(t *testing.T) {
	l := NewLimiter(1, 0)
	blockWorkers(t, l, 1)
	if err := doWithin(t, l, time.Second); !errors.Is(err, ErrBusy) {
		t.Errorf("Do with queue 0 and a busy worker = %v, want ErrBusy", err)
	}
}

func TestLimiterContextCancelWhileWaiting(t *testing.T) {
	l := NewLimiter(1, 1)
	release := blockWorkers(t, l, 1)

	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	var ran atomic.Bool
	go func() { result <- l.Do(ctx, func() { ran.Store(true) }) }()
	waitFor(t, "a queued caller", func() bool { return l.waiting() == 1 })
	cancel()
	select {
	case err := <-result:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Do = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Do did not return after cancel")
	}
	if ran.Load() {
		t.Errorf("fn ran after cancellation")
	}
	if n := l.waiting(); n != 0 {
		t.Errorf("cancelled caller still holds a queue place (%d)", n)
	}

	// Deadline expiry behaves the same and reports DeadlineExceeded.
	dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer dcancel()
	if err := l.Do(dctx, func() {}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do past deadline = %v, want DeadlineExceeded", err)
	}

	release()
	if err := l.Do(context.Background(), func() {}); err != nil {
		t.Errorf("Do after release: %v", err)
	}
}

func TestLimiterDoneContext(t *testing.T) {
	l := NewLimiter(4, 4)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Do(ctx, func() { t.Error("fn ran") }); !errors.Is(err, context.Canceled) {
		t.Errorf("Do(done ctx) = %v, want context.Canceled", err)
	}
}

func TestLimiterDefaultsAndNil(t *testing.T) {
	l := NewLimiter(0, -3)
	if l.workers != runtime.GOMAXPROCS(0) || l.queue != 0 {
		t.Errorf("NewLimiter(0, -3): %d workers, %d queue; want GOMAXPROCS=%d, 0", l.workers, l.queue, runtime.GOMAXPROCS(0))
	}
	var nl *Limiter
	ran := false
	if err := nl.Do(context.Background(), func() { ran = true }); err != nil || !ran {
		t.Errorf("nil Limiter: Do = %v, ran = %v", err, ran)
	}
}

func TestLimiterReleasesSlotOnPanic(t *testing.T) {
	l := NewLimiter(1, 0)
	func() {
		defer func() { _ = recover() }()
		_ = l.Do(context.Background(), func() { panic("boom") })
	}()
	if err := l.Do(context.Background(), func() {}); err != nil {
		t.Errorf("Do after a panicking fn = %v; the slot leaked", err)
	}
}

// TestLimiterQueueIsPerKey: one realm's full queue refuses only that realm;
// a freed slot goes to the realm served least recently, not to the older
// waiter of the realm that just had it.
func TestLimiterQueueIsPerKey(t *testing.T) {
	l := NewLimiter(1, 1)
	gate := make(chan struct{})
	running := make(chan struct{})
	go func() {
		_ = l.do(context.Background(), "flood", false, func(func()) { close(running); <-gate })
	}()
	<-running
	var order []string
	var mu sync.Mutex
	ran := func(who string) func(func()) {
		return func(func()) { mu.Lock(); order = append(order, who); mu.Unlock() }
	}
	results := make(chan error, 2)
	go func() { results <- l.do(context.Background(), "flood", false, ran("flood")) }()
	waitFor(t, "the flood realm's queue to fill", func() bool { return l.waiting() == 1 })
	if err := l.do(context.Background(), "flood", false, ran("refused")); !errors.Is(err, ErrBusy) {
		t.Fatalf("flood realm over its queue: %v, want ErrBusy", err)
	}
	go func() { results <- l.do(context.Background(), "master", false, ran("master")) }()
	waitFor(t, "master to queue", func() bool { return l.waiting() == 2 })
	close(gate)
	for range 2 {
		if err := <-results; err != nil {
			t.Fatalf("queued caller: %v", err)
		}
	}
	if want := []string{"master", "flood"}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
}

// TestLimiterPreemptsPBKDF2ForAnotherKey: a costly PBKDF2 hash of one realm
// holding the only worker hands it over at its next checkpoint, so another
// realm's login finishes long before the hash does.
func TestLimiterPreemptsPBKDF2ForAnotherKey(t *testing.T) {
	l := NewLimiter(1, 4)
	costly := Policy{Algorithm: PBKDF2SHA512, Iterations: 300_000}
	hashDone := make(chan time.Time, 1)
	started := make(chan struct{})
	go func() {
		_ = l.do(context.Background(), "flood", false, func(yield func()) {
			close(started)
			_, _ = hashPolicy(costly, "pw", yield)
		})
		hashDone <- time.Now()
	}()
	<-started
	md5, _ := FromMD5Hex("5f4dcc3b5aa765d61d8327deb882cf99")
	ok, err := l.Verify(context.Background(), "master", md5, Policy{Algorithm: MD5}, "password")
	loginDone := time.Now()
	if !ok || err != nil {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	if hd := <-hashDone; !loginDone.Before(hd) {
		t.Errorf("the other realm's login waited for the whole costly hash")
	} else {
		t.Logf("login done %s before the costly hash", hd.Sub(loginDone))
	}
}

// TestLimiterPinnedWorkLeavesASlot: work that cannot be preempted (argon2,
// bcrypt) holds at most workers-1 slots per realm, so another realm finds a
// free worker at once.
func TestLimiterPinnedWorkLeavesASlot(t *testing.T) {
	l := NewLimiter(2, 4)
	gate := make(chan struct{})
	defer close(gate)
	started := make(chan struct{}, 2)
	for range 2 {
		go func() {
			_ = l.do(context.Background(), "flood", true, func(func()) { started <- struct{}{}; <-gate })
		}()
	}
	<-started
	waitFor(t, "the second pinned call to queue", func() bool { return l.waiting() == 1 })
	done := make(chan error, 1)
	go func() { done <- l.do(context.Background(), "master", true, func(func()) {}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("another realm found no free worker")
	}
	// A realm alone still uses every worker for preemptible work.
	var peak, cur atomic.Int32
	var wg sync.WaitGroup
	l2 := NewLimiter(2, 8)
	for range 8 {
		wg.Go(func() {
			_ = l2.do(context.Background(), "solo", false, func(func()) {
				n := cur.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(5 * time.Millisecond)
				cur.Add(-1)
			})
		})
	}
	wg.Wait()
	if peak.Load() != 2 {
		t.Errorf("a lone realm ran %d at once, want 2", peak.Load())
	}
}

// TestPadWork: only a failed verify of a clearly cheaper credential is
// padded, by the difference, so that it costs what the policy's hash does.
func TestPadWork(t *testing.T) {
	p := DefaultPolicy()
	full := DummyCredential(p).work()
	if pw := p.work(); pw != full {
		t.Fatalf("policy work %v, its dummy's %v", pw, full)
	}
	for _, q := range []Policy{{Algorithm: PBKDF2SHA1, Iterations: 1000}, {Algorithm: PBKDF2SHA512, Iterations: 1000}, {Algorithm: Argon2, Iterations: 2}} {
		if qw, dw := q.work(), DummyCredential(q).work(); qw != dw {
			t.Errorf("%s: policy work %v, its dummy's %v", q, qw, dw)
		}
	}
	md5, _ := FromMD5Hex("5f4dcc3b5aa765d61d8327deb882cf99")
	cred := func(alg string, n, keyLen int) Credential {
		return Credential{Algorithm: alg, Iterations: n, Value: make([]byte, keyLen), Salt: make([]byte, 16)}
	}
	bc10, _ := FromBcrypt("$2y$10$66vhZQhoJmqdkRXJWkc2u.VUlat/ollTc.Bfgot/Vnduw6WPK5syC")
	for _, tc := range []struct {
		name string
		c    Credential
		want float64
	}{
		{"md5", md5, full},
		{"malformed", Credential{Algorithm: "nope"}, full},
		{"the policy's own", cred(PBKDF2SHA256, 20_000, 32), 0},
		{"half the iterations", cred(PBKDF2SHA256, 10_000, 32), full / 2},
		{"slightly fewer iterations", cred(PBKDF2SHA256, 18_000, 32), 0},
		{"Keycloak 27500 x 64 bytes", cred(PBKDF2SHA256, 27_500, 64), 0},
		{"bcrypt 10", bc10, 0},
	} {
		if got := padWork(tc.c, p); got != tc.want {
			t.Errorf("%s: padWork = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestLimiterDoesNotHandPBKDF2SliceToPinnedWork: a checkpoint never hands
// its worker to waiting argon2 or bcrypt work, which would keep it for a
// whole hash; that work runs when the hash ends.
func TestLimiterDoesNotHandPBKDF2SliceToPinnedWork(t *testing.T) {
	l := NewLimiter(1, 4)
	started := make(chan struct{})
	hashDone := make(chan time.Time, 1)
	go func() {
		_ = l.do(context.Background(), "a", false, func(yield func()) {
			close(started)
			_, _ = hashPolicy(Policy{Algorithm: PBKDF2SHA256, Iterations: 200_000}, "pw", yield)
			hashDone <- time.Now()
		})
	}()
	<-started
	var pinnedRan time.Time
	if err := l.do(context.Background(), "b", true, func(func()) { pinnedRan = time.Now() }); err != nil {
		t.Fatal(err)
	}
	if hd := <-hashDone; pinnedRan.Before(hd) {
		t.Errorf("pinned work of another realm ran in the middle of a PBKDF2 hash")
	}
}

// seedCost runs n calls of d each so that the limiter's measured cost is
// about d.
func seedCost(t *testing.T, l *Limiter, n int, d time.Duration) {
	t.Helper()
	for range n {
		if err := l.Do(context.Background(), func() { time.Sleep(d) }); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLimiterShedsByImpliedWait(t *testing.T) {
	l := NewLimiter(1, 100)
	seedCost(t, l, 1, 200*time.Millisecond)
	c := l.Cost()
	if c < 200*time.Millisecond || c > 400*time.Millisecond {
		t.Fatalf("measured cost %v after a 200 ms call", c)
	}
	// The bound is set from the cost as measured (a loaded machine
	// oversleeps), and long enough that the queued callers' own maxWait
	// timers do not fire while the test looks at them: two queued callers
	// imply 2c of wait (under 2.5c); a third would imply 3c.
	l.SetMaxWait(c * 5 / 2)
	release := blockWorkers(t, l, 1)
	results := make(chan error, 2)
	for i := range 2 {
		go func() { results <- l.Do(context.Background(), func() {}) }()
		waitFor(t, "queued callers", func() bool { return l.waiting() == i+1 })
	}
	if err := doWithin(t, l, time.Second); !errors.Is(err, ErrBusy) {
		t.Fatalf("Do with 2 calls of %v queued and a bound of 2.5 of them = %v, want ErrBusy", c, err)
	}
	if !l.Saturated("") || l.Saturated("other") {
		t.Errorf("Saturated: %v for the full key, %v for another; want true, false", l.Saturated(""), l.Saturated("other"))
	}
	// Another key, with nobody waiting, still queues: its first caller
	// shares the worker with one waiting key, 2c.
	other := make(chan error, 1)
	go func() {
		other <- l.do(context.Background(), "other", false, func(func()) {})
	}()
	waitFor(t, "the other key's caller queued", func() bool { return l.waiting() == 3 })
	release()
	for range 2 {
		if err := <-results; err != nil {
			t.Errorf("queued caller: %v", err)
		}
	}
	if err := <-other; errors.Is(err, ErrBusy) {
		t.Errorf("the other key's caller: %v", err)
	}
}

func TestLimiterCostFollowsLoad(t *testing.T) {
	l := NewLimiter(1, 100)
	// At the slow cost ten queued callers would imply 2 s, over the 1 s
	// bound; the bound is long so that the queued callers' own timers do
	// not fire while a loaded machine runs the test.
	l.SetMaxWait(time.Second)
	seedCost(t, l, 1, 200*time.Millisecond)
	slow := l.Cost()
	// Cheap calls bring the estimate down within a few dozen calls, and
	// with it the implied wait: many more callers may queue.
	seedCost(t, l, 60, 0)
	if c := l.Cost(); c > slow/20 {
		t.Fatalf("cost %v after 60 instant calls (was %v): the EWMA does not follow", c, slow)
	}
	release := blockWorkers(t, l, 1)
	results := make(chan error, 10)
	for i := range 10 {
		go func() { results <- l.Do(context.Background(), func() {}) }()
		waitFor(t, "queued callers", func() bool { return l.waiting() == i+1 })
	}
	release()
	for range 10 {
		if err := <-results; err != nil {
			t.Errorf("queued caller with cheap calls measured: %v", err)
		}
	}
}

func TestLimiterQueuedWaitBounded(t *testing.T) {
	// Nothing measured yet, so the estimate admits every caller the queue
	// length allows; each still waits no longer than the maximum.
	l := NewLimiter(1, 3)
	l.SetMaxWait(100 * time.Millisecond)
	blockWorkers(t, l, 1)
	results := make(chan error, 3)
	start := time.Now()
	for range 3 {
		go func() { results <- l.Do(context.Background(), func() { t.Error("ran with the worker blocked") }) }()
	}
	waitFor(t, "queued callers", func() bool { return l.waiting() == 3 })
	if err := doWithin(t, l, time.Second); !errors.Is(err, ErrBusy) {
		t.Fatalf("Do beyond the queue = %v, want ErrBusy", err)
	}
	for range 3 {
		if err := <-results; !errors.Is(err, ErrBusy) {
			t.Errorf("caller queued past the maximum wait = %v, want ErrBusy", err)
		}
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
		t.Errorf("queued callers gave up after %v, want about 100 ms", d)
	}
	if n := l.waiting(); n != 0 {
		t.Errorf("%d still waiting", n)
	}
}

func TestLimiterTakePeak(t *testing.T) {
	l := NewLimiter(1, 10)
	release := blockWorkers(t, l, 1)
	results := make(chan error, 3)
	for i := range 3 {
		go func() { results <- l.Do(context.Background(), func() {}) }()
		waitFor(t, "queued callers", func() bool { return l.waiting() == i+1 })
	}
	if p := l.TakePeak(); p != 3 {
		t.Fatalf("TakePeak with 3 waiting = %d", p)
	}
	release()
	for range 3 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	// Counting restarted from the 3 then waiting; nobody waited since.
	if p := l.TakePeak(); p != 3 {
		t.Errorf("TakePeak after the queue drained = %d, want 3", p)
	}
	if p := l.TakePeak(); p != 0 {
		t.Errorf("TakePeak when idle = %d, want 0", p)
	}
	var nilL *Limiter
	if p := nilL.TakePeak(); p != 0 {
		t.Errorf("nil TakePeak = %d", p)
	}
}
