package idp

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
)

// Readiness timing. A probe answers within probeTimeout (under
// Kubernetes' default 1 s); its write check upserts this process's
// heartbeat row at most every beatEvery (beatRetry after a failed one, so
// that recovery shows soon), each write bounded by beatTimeout. A probe that finds a heartbeat still writing waits
// freshWait for it, then uses the previous result while that is younger
// than beatMaxAge: one write slowed by a burst of logins (SQLite's write
// lock) does not flip readiness, and writes that stay impossible turn it
// DOWN within beatTimeout.
const (
	probeTimeout = 800 * time.Millisecond
	freshWait    = 200 * time.Millisecond
	beatEvery    = 3 * time.Second
	beatRetry    = 500 * time.Millisecond
	beatTimeout  = 2 * time.Second
	beatMaxAge   = beatEvery + 2*beatTimeout
)

// health answers /health/live and /health/ready.
//
// Liveness is the process answering HTTP: it reads nothing. Readiness
// checks reads and writes separately, each on the store's probe
// connections (store.Prober), so it neither waits behind the traffic it
// judges nor flaps under it, and turns DOWN for a database that cannot be
// read, cannot be written (full disk, read-only, gone), before start-up is
// done, and from the moment shutdown begins. Health endpoints are never
// load-shed: they sit outside the login gate and any future shedding.
type health struct {
	st       store.Store
	prober   store.Prober // nil: fall back to Ping
	log      *slog.Logger
	instance string
	started  atomic.Bool // SetReady
	draining atomic.Bool // Drain
	// every and retry are beatEvery and beatRetry (tests shorten them).
	every, retry time.Duration

	mu       sync.Mutex
	beatAt   time.Time     // when the last heartbeat write started
	inflight chan struct{} // closed when the running write ends; nil when none
	last     beat          // the last finished write
	reading  *readFlight   // the read check running now; nil when none
	wasUp    bool          // the last answer, to log changes once
}

// readFlight is one read check that concurrent probes share.
type readFlight struct {
	done chan struct{} // closed when err is set
	err  error
}

type beat struct {
	at  time.Time // finished; zero: none yet
	err error
}

func newHealth(st store.Store, log *slog.Logger) *health {
	h := &health{st: st, log: log, instance: instanceName(), every: beatEvery, retry: beatRetry}
	h.prober, _ = st.(store.Prober)
	return h
}

// instanceName names this process's heartbeat row: host, pid and a random
// part, so replicas and restarts never share one.
func instanceName() string {
	host, _ := os.Hostname()
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + rand.Text()[:8]
}

func (h *health) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /health/live", func(w http.ResponseWriter, _ *http.Request) {
		writeHealth(w, true, nil)
	})
	mux.HandleFunc("GET /health/ready", h.ready)
	mux.HandleFunc("GET /health", h.ready)
}

// check is one line of the readiness answer (SmallRye Health's shape, as
// Keycloak answers it).
type check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
}

func status(ok bool) string {
	if ok {
		return "UP"
	}
	return "DOWN"
}

func (h *health) ready(w http.ResponseWriter, r *http.Request) {
	switch {
	case h.draining.Load():
		writeHealth(w, false, []check{{"shutdown", "DOWN"}})
		return
	case !h.started.Load():
		writeHealth(w, false, []check{{"startup", "DOWN"}})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), probeTimeout)
	defer cancel()
	var readErr, writeErr error
	if h.prober == nil {
		readErr = h.readCheck(ctx, h.st.Ping)
	} else {
		var wg sync.WaitGroup
		wg.Go(func() { writeErr = h.writeCheck(ctx) })
		readErr = h.readCheck(ctx, h.prober.ProbeRead)
		wg.Wait()
	}
	up := readErr == nil && writeErr == nil
	h.logChange(up, readErr, writeErr)
	checks := []check{{"database read", status(readErr == nil)}}
	if h.prober != nil {
		checks = append(checks, check{"database write", status(writeErr == nil)})
	}
	writeHealth(w, up, checks)
}

// readCheck joins the read in flight, or starts one with read: anyone
// can ask /health/ready on the public listeners, and a read each would
// queue on the probe's connections, the orchestrator's probe behind a
// flood of them. The read runs under probeTimeout of its own, so a
// caller that gives up does not fail the others.
func (h *health) readCheck(ctx context.Context, read func(context.Context) error) error {
	h.mu.Lock()
	f := h.reading
	if f == nil {
		f = &readFlight{done: make(chan struct{})}
		h.reading = f
		go func() {
			rctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
			err := read(rctx)
			cancel()
			h.mu.Lock()
			f.err, h.reading = err, nil
			h.mu.Unlock()
			close(f.done)
		}()
	}
	h.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errNoHeartbeat = errors.New("no heartbeat written yet")

// writeCheck starts a heartbeat write when none ran for beatEvery (or
// beatRetry, after a failure), waits
// for the running one while ctx allows, and judges by the last finished
// write: failed, or older than beatMaxAge, is DOWN.
func (h *health) writeCheck(ctx context.Context) error {
	h.mu.Lock()
	every := h.every
	if h.last.err != nil {
		every = h.retry
	}
	if h.inflight == nil && time.Since(h.beatAt) >= every {
		done := make(chan struct{})
		h.inflight, h.beatAt = done, time.Now()
		go func() {
			bctx, cancel := context.WithTimeout(context.Background(), beatTimeout)
			err := h.prober.ProbeWrite(bctx, h.instance, time.Now())
			cancel()
			h.mu.Lock()
			h.last, h.inflight = beat{time.Now(), err}, nil
			h.mu.Unlock()
			close(done)
		}()
	}
	wait, last := h.inflight, h.last
	h.mu.Unlock()
	if wait != nil {
		budget := ctx // nothing to fall back on: wait as long as the probe may
		if !last.at.IsZero() && time.Since(last.at) <= beatMaxAge {
			var cancel context.CancelFunc
			budget, cancel = context.WithTimeout(ctx, freshWait)
			defer cancel()
		}
		select {
		case <-wait:
		case <-budget.Done():
		}
	}
	h.mu.Lock()
	last = h.last
	h.mu.Unlock()
	switch {
	case last.at.IsZero():
		return errNoHeartbeat
	case last.err != nil:
		return last.err
	case time.Since(last.at) > beatMaxAge:
		return errors.New("heartbeat write still running after " + time.Since(last.at).Round(time.Millisecond).String())
	}
	return nil
}

// logChange logs readiness going DOWN (with why) and coming back UP, once
// per change.
func (h *health) logChange(up bool, readErr, writeErr error) {
	h.mu.Lock()
	changed := up != h.wasUp
	h.wasUp = up
	h.mu.Unlock()
	switch {
	case !changed:
	case up:
		h.log.Info("readiness UP: the database answers reads and writes")
	default:
		h.log.Warn("readiness DOWN", "read_err", errText(readErr), "write_err", errText(writeErr))
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func writeHealth(w http.ResponseWriter, up bool, checks []check) {
	if checks == nil {
		checks = []check{}
	}
	body, _ := json.Marshal(struct {
		Status string  `json:"status"`
		Checks []check `json:"checks"`
	}{status(up), checks})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !up {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write(body)
}

// SetReady marks the server ready once start-up work is done.
func (s *Server) SetReady() { s.health.started.Store(true) }

// Drain turns readiness DOWN for good: the first step of a shutdown, so
// that load balancers stop sending traffic while requests in flight
// finish.
func (s *Server) Drain() { s.health.draining.Store(true) }

// unavailablePage answers a browser page whose realm could not be read
// because the database is unavailable with the error page; APIs get JSON.
func (s *Server) unavailablePage(w http.ResponseWriter, r *http.Request, realm string) bool {
	if !browserPage(r) {
		return false
	}
	w.Header().Set("Retry-After", oidc.RetryAfterUnavailable)
	s.login.RealmErrorPage(w, r, realm, "", http.StatusServiceUnavailable, "temporarilyUnavailable")
	return true
}
