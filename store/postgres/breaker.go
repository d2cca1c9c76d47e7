package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// breaker is the pool's connector with a memory of the last dial that timed
// out: for ConnectTimeout after it, further attempts fail at once with its
// error instead of dialing. Without it, when the
// server is down or silent, every request queued for one of the MaxConns
// slots and every retry of a lost read waits its own connect timeout in
// turn, and a burst of requests takes minutes to be told
// store.ErrUnavailable. A dial after the window tries the server again.
type breaker struct {
	driver.Connector
	mu      sync.Mutex
	err     error
	until   time.Time
	timeout time.Duration
}

func (b *breaker) Connect(ctx context.Context) (driver.Conn, error) {
	b.mu.Lock()
	if b.err != nil && time.Now().Before(b.until) {
		err := b.err
		b.mu.Unlock()
		return nil, err
	}
	b.mu.Unlock()
	c, err := b.Connector.Connect(ctx)
	// Only a dial that ran out of time trips it: a refused or reset dial
	// fails fast anyway, and must not delay noticing the server is back.
	// The caller giving up (ctx) says nothing of the server.
	if err != nil && ctx.Err() == nil && (pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded)) {
		b.mu.Lock()
		b.err, b.until = err, time.Now().Add(b.timeout)
		b.mu.Unlock()
	}
	return c, err
}
