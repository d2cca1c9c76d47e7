package idp

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/storetest/backends"
)

// fakeProber is a store whose probes answer what the test says.
type fakeProber struct {
	store.Store
	mu              sync.Mutex
	readErr, wrErr  error
	wrDelay         time.Duration
	rdDelay         time.Duration
	rdConn          chan struct{} // non-nil: reads take rdDelay each, one at a time
	reads, writes   atomic.Int64
	instanceWritten string
}

func (f *fakeProber) ProbeRead(ctx context.Context) error {
	f.reads.Add(1)
	f.mu.Lock()
	d, err, conn := f.rdDelay, f.readErr, f.rdConn
	f.mu.Unlock()
	if conn != nil { // one connection, as SQLite's probe reader has
		select {
		case conn <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-conn }()
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (f *fakeProber) ProbeWrite(ctx context.Context, instance string, _ time.Time) error {
	f.writes.Add(1)
	f.mu.Lock()
	d, err := f.wrDelay, f.wrErr
	f.instanceWritten = instance
	f.mu.Unlock()
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return ctx.Err()
	}
	return err
}

func (f *fakeProber) set(readErr, wrErr error, delay time.Duration) {
	f.mu.Lock()
	f.readErr, f.wrErr, f.wrDelay = readErr, wrErr, delay
	f.mu.Unlock()
}

type probeResult struct {
	code   int
	body   map[string]any
	took   time.Duration
	checks map[string]string
}

func probe(t *testing.T, h *health, path string) probeResult {
	t.Helper()
	mux := http.NewServeMux()
	h.register(mux)
	start := time.Now()
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	res := probeResult{code: rec.Code, took: time.Since(start), checks: map[string]string{}}
	if err := json.Unmarshal(rec.Body.Bytes(), &res.body); err != nil {
		t.Fatalf("%s: %v: %q", path, err, rec.Body.String())
	}
	checks, _ := res.body["checks"].([]any)
	for _, c := range checks {
		m := c.(map[string]any)
		res.checks[m["name"].(string)] = m["status"].(string)
	}
	return res
}

func newTestHealth(st store.Store) *health {
	h := newHealth(st, slog.New(slog.DiscardHandler))
	h.started.Store(true)
	return h
}

func TestReadinessChecksReadsAndWrites(t *testing.T) {
	f := &fakeProber{}
	h := newTestHealth(f)
	h.every, h.retry = 0, 0

	if r := probe(t, h, "/health/ready"); r.code != 200 || r.checks["database read"] != "UP" || r.checks["database write"] != "UP" {
		t.Fatalf("healthy: %d %v", r.code, r.body)
	}
	if f.instanceWritten == "" {
		t.Fatal("no heartbeat row written")
	}
	f.set(nil, store.ErrUnavailable, 0) // full disk, read-only database
	if r := probe(t, h, "/health/ready"); r.code != 503 || r.checks["database read"] != "UP" || r.checks["database write"] != "DOWN" {
		t.Fatalf("writes failing: %d %v", r.code, r.body)
	}
	f.set(store.ErrUnavailable, nil, 0)
	if r := probe(t, h, "/health/ready"); r.code != 503 || r.checks["database read"] != "DOWN" || r.checks["database write"] != "UP" {
		t.Fatalf("reads failing: %d %v", r.code, r.body)
	}
	f.set(nil, nil, 0)
	if r := probe(t, h, "/health/ready"); r.code != 200 {
		t.Fatalf("recovered: %d %v", r.code, r.body)
	}
}

// The heartbeat row is written at most every beatEvery however often the
// probe asks, and soon again after a failure.
func TestReadinessHeartbeatThrottled(t *testing.T) {
	f := &fakeProber{}
	h := newTestHealth(f)
	h.every, h.retry = time.Hour, 0
	for range 20 {
		probe(t, h, "/health/ready")
	}
	if n := f.writes.Load(); n != 1 {
		t.Fatalf("%d heartbeat writes for 20 probes within beatEvery, want 1", n)
	}
	if n := f.reads.Load(); n != 20 {
		t.Fatalf("%d reads for 20 probes, want 20", n)
	}
}

// A slow heartbeat write with a good one before it keeps readiness UP and
// the probe fast; with none before it the probe waits at most
// probeTimeout and says DOWN; one that failed says DOWN at once.
func TestReadinessSlowWrite(t *testing.T) {
	f := &fakeProber{}
	h := newTestHealth(f)
	h.every = 0
	probe(t, h, "/health/ready")
	f.set(nil, nil, time.Second)
	r := probe(t, h, "/health/ready")
	if r.code != 200 || r.took > freshWait+300*time.Millisecond {
		t.Fatalf("slow write after a good one: %d in %s, want 200 within about %s", r.code, r.took, freshWait)
	}

	f2 := &fakeProber{}
	f2.set(nil, nil, 3*time.Second)
	h2 := newTestHealth(f2)
	r = probe(t, h2, "/health/ready")
	if r.code != 503 || r.took > probeTimeout+300*time.Millisecond {
		t.Fatalf("first write slow: %d in %s, want 503 within about %s", r.code, r.took, probeTimeout)
	}
}

func TestReadinessStartupAndDrain(t *testing.T) {
	f := &fakeProber{}
	h := newHealth(f, slog.New(slog.DiscardHandler))
	if r := probe(t, h, "/health/ready"); r.code != 503 || r.checks["startup"] != "DOWN" {
		t.Fatalf("before start-up is done: %d %v", r.code, r.body)
	}
	h.started.Store(true)
	if r := probe(t, h, "/health/ready"); r.code != 200 {
		t.Fatalf("started: %d %v", r.code, r.body)
	}
	h.draining.Store(true)
	before := f.reads.Load() + f.writes.Load()
	if r := probe(t, h, "/health/ready"); r.code != 503 || r.checks["shutdown"] != "DOWN" {
		t.Fatalf("draining: %d %v", r.code, r.body)
	}
	if f.reads.Load()+f.writes.Load() != before {
		t.Error("a draining server still probed the database")
	}
}

// Liveness reads nothing: it stays UP, and cheap, with the database gone.
func TestLivenessIsCheap(t *testing.T) {
	f := &fakeProber{}
	f.set(store.ErrUnavailable, store.ErrUnavailable, time.Hour)
	h := newTestHealth(f)
	for range 10 {
		if r := probe(t, h, "/health/live"); r.code != 200 || r.body["status"] != "UP" {
			t.Fatalf("liveness: %d %v", r.code, r.body)
		}
	}
	if n := f.reads.Load() + f.writes.Load(); n != 0 {
		t.Fatalf("liveness probed the database %d times", n)
	}
}

// On SQLite the probe does not queue behind the single writer: with a
// transaction holding the writer connection (where the old check pinged,
// and waited), readiness answers UP at once from its own connections.
func TestReadinessNotQueuedBehindSQLiteWriter(t *testing.T) {
	st := backends.SQLite(t)
	h := newTestHealth(st)
	h.every = 0
	if r := probe(t, h, "/health/ready"); r.code != 200 {
		t.Fatalf("before: %d %v", r.code, r.body)
	}
	held, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = st.Tx(context.Background(), func(context.Context) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	defer close(release)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := st.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ping with the writer held: %v; the test does not hold the writer", err)
	}
	for range 5 {
		r := probe(t, h, "/health/ready")
		if r.code != 200 || r.took > 500*time.Millisecond {
			t.Fatalf("with the writer held: %d in %s %v, want 200 at once", r.code, r.took, r.body)
		}
	}
}

// Readiness is served on the public listeners: a flood of probes shares
// the read in flight instead of queueing one read each on the probe's
// single connection, where the orchestrator's own probe would wait past
// probeTimeout behind them and take the replica out of service.
func TestReadinessFloodSharesRead(t *testing.T) {
	f := &fakeProber{rdDelay: 50 * time.Millisecond, rdConn: make(chan struct{}, 1)}
	h := newTestHealth(f)
	h.every = time.Hour
	probe(t, h, "/health/ready") // the heartbeat, written once
	f.reads.Store(0)
	const n = 40
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { codes[i] = probe(t, h, "/health/ready").code })
	}
	wg.Wait()
	down := 0
	for _, c := range codes {
		if c != http.StatusOK {
			down++
		}
	}
	if down > 0 || f.reads.Load() > n/4 {
		t.Errorf("%d concurrent probes: %d DOWN, %d reads", n, down, f.reads.Load())
	}
}
