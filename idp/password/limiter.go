package password

import (
	"context"
	"errors"
	"runtime"
)

// ErrBusy is returned by Limiter.Do when its wait queue is full.
var ErrBusy = errors.New("password: too many concurrent hashing requests")

// Limiter bounds the hashing work running at once so that a burst of logins
// cannot starve the rest of the server, and sheds load instead of queueing
// without limit. Wrap each Hash/Verify call: l.Do(ctx, func() { ok, err = Verify(c, pw) }).
// A nil *Limiter runs fn at once, unbounded.
type Limiter struct {
	slots   chan struct{} // one token per running fn
	waiting chan struct{} // one token per caller waiting for a slot
}

// NewLimiter returns a Limiter running at most workers functions at once
// (runtime.GOMAXPROCS(0) when workers <= 0) with at most queue callers
// waiting for a slot (none when queue <= 0).
func NewLimiter(workers, queue int) *Limiter {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &Limiter{
		slots:   make(chan struct{}, workers),
		waiting: make(chan struct{}, max(queue, 0)),
	}
}

// Do runs fn in the calling goroutine once a worker slot is free. It returns
// ErrBusy at once, without running fn, when queue callers are already
// waiting, and ctx.Err() if ctx ends before a slot frees up (or has already
// ended). It returns nil after fn has run.
func (l *Limiter) Do(ctx context.Context, fn func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if l == nil || l.slots == nil {
		fn()
		return nil
	}
	select {
	case l.slots <- struct{}{}:
	default:
		select {
		case l.waiting <- struct{}{}:
		default:
			return ErrBusy
		}
		// A freed slot goes to the longest-waiting sender (channel senders
		// queue in FIFO order), so waiters are not overtaken by newcomers.
		select {
		case l.slots <- struct{}{}:
			<-l.waiting
		case <-ctx.Done():
			<-l.waiting
			return ctx.Err()
		}
	}
	defer func() { <-l.slots }()
	fn()
	return nil
}
