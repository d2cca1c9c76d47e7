package password

import (
	"context"
	"errors"
	"runtime"
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
	waitFor(t, "two queued callers", func() bool { return len(l.waiting) == 2 })

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
	waitFor(t, "a queued caller", func() bool { return len(l.waiting) == 1 })
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
	if n := len(l.waiting); n != 0 {
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
	if cap(l.slots) != runtime.GOMAXPROCS(0) || cap(l.waiting) != 0 {
		t.Errorf("NewLimiter(0, -3): %d slots, %d queue; want GOMAXPROCS=%d, 0", cap(l.slots), cap(l.waiting), runtime.GOMAXPROCS(0))
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
