package ldap

import (
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Circuit breaker defaults: a directory that failed this many times in a
// row is not asked again for the cool-down, so an outage costs one timeout
// per cool-down instead of one per login.
const (
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
)

// errCircuitOpen is what a call gets while the breaker fails fast.
var errCircuitOpen = errors.New("circuit open after repeated failures: not asking the directory")

// breaker is a per-client circuit breaker: closed (every call goes
// through), open (every call fails fast until the cool-down ends), then
// half-open (one call, the probe, goes through; its outcome closes or
// re-opens the circuit). It logs once when it opens and once when it
// closes, however many calls fail in between.
type breaker struct {
	threshold int
	cooldown  time.Duration
	name      string
	log       *slog.Logger
	now       func() time.Time

	mu       sync.Mutex
	failures int       // consecutive
	openedAt time.Time // zero: closed
	probing  bool
}

func newBreaker(name string, threshold int, cooldown time.Duration, log *slog.Logger) *breaker {
	if threshold <= 0 {
		threshold = DefaultBreakerFailures
	}
	if cooldown <= 0 {
		cooldown = DefaultBreakerCooldown
	}
	circuitOpen.WithLabelValues(name).Set(0)
	return &breaker{threshold: threshold, cooldown: cooldown, name: name, log: log, now: time.Now}
}

// allow reports whether a call may go to the directory. A call allowed
// must end in exactly one of success, failure or skip.
func (b *breaker) allow() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openedAt.IsZero() {
		return nil
	}
	if b.probing || b.now().Sub(b.openedAt) < b.cooldown {
		return errCircuitOpen
	}
	b.probing = true
	return nil
}

// success records an answer from the directory (any answer: a wrong
// password or "no such object" is the directory working).
func (b *breaker) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures = 0
	b.probing = false
	if !b.openedAt.IsZero() {
		b.openedAt = time.Time{}
		circuitOpen.WithLabelValues(b.name).Set(0)
		b.log.Info("ldap: directory answers again; circuit closed", "provider", b.name)
	}
}

// failure records a failure to reach the directory or get an answer.
func (b *breaker) failure(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	if !b.openedAt.IsZero() {
		// A failed probe: stay open for another cool-down, quietly.
		b.probing = false
		b.openedAt = b.now()
		return
	}
	if b.failures >= b.threshold {
		b.openedAt = b.now()
		circuitOpen.WithLabelValues(b.name).Set(1)
		b.log.Warn("ldap: directory failing; circuit open, failing fast",
			"provider", b.name, "failures", b.failures, "cooldown", b.cooldown.String(), "err", err)
	}
}

// skip ends an allowed call that never reached the directory (the caller
// gave up waiting for a connection): it says nothing about the directory,
// but frees the probe slot.
func (b *breaker) skip() {
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

// open reports whether the circuit is open (for tests and Test).
func (b *breaker) open() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.openedAt.IsZero()
}

// failFast is the error a call gets while the circuit is open.
func (b *breaker) failFast() error {
	return unavailable(b.name, errCircuitOpen)
}
