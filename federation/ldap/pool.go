package ldap

import (
	"context"
	"net"
	"sync"
	"sync/atomic"

	goldap "github.com/go-ldap/ldap/v3"
)

// conn is one connection to the directory.
type conn struct {
	l   *goldap.Conn
	raw net.Conn // the TCP socket under any TLS: closing it aborts whatever is in flight
	url string
	// rebind: the next user of a service connection binds first (set
	// after an operation failed on it, in case the failure left it in a
	// state other than bound as the service account).
	rebind bool
	broken bool
}

func (c *conn) close() {
	// Closing the socket first unblocks go-ldap's writer and reader, so
	// its Close cannot hang on a directory that stopped reading.
	_ = c.raw.Close()
	_ = c.l.Close()
}

// usable reports whether the connection can carry another request: the
// directory may have closed it while it sat idle.
func (c *conn) usable() bool { return !c.broken && !c.l.IsClosing() }

// pool bounds the connections of one kind (service account, or user
// binds) and keeps the idle ones. A slot is held for the whole use of a
// connection, so at most size connections exist: one is dialled only when
// no idle one is left, and idle ones never exceed the free slots.
type pool struct {
	slots chan struct{}
	keep  bool // keep connections for reuse (connectionPooling)

	mu     sync.Mutex
	idle   []*conn
	closed bool

	open atomic.Int64 // connections that exist now (for tests)
	peak atomic.Int64
}

func newPool(size int, keep bool) *pool {
	if size <= 0 {
		size = 1
	}
	return &pool{slots: make(chan struct{}, size), keep: keep}
}

// acquire waits for a slot, bounded by ctx.
func (p *pool) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pool) release() { <-p.slots }

// take returns an idle connection that still looks usable, or nil.
func (p *pool) take() *conn {
	for {
		p.mu.Lock()
		if len(p.idle) == 0 {
			p.mu.Unlock()
			return nil
		}
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		p.mu.Unlock()
		if c.usable() {
			return c
		}
		p.discard(c)
	}
}

// added counts a connection just dialled under a held slot.
func (p *pool) added() {
	n := p.open.Add(1)
	for {
		peak := p.peak.Load()
		if n <= peak || p.peak.CompareAndSwap(peak, n) {
			return
		}
	}
}

// put gives a connection back: kept when the pool keeps connections and
// it is usable, else closed. The caller still releases its slot.
func (p *pool) put(c *conn) {
	p.mu.Lock()
	if p.keep && !p.closed && c.usable() {
		p.idle = append(p.idle, c)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.discard(c)
}

// discard closes a connection taken from the pool or dialled for it.
func (p *pool) discard(c *conn) {
	c.close()
	p.open.Add(-1)
}

// close closes the idle connections; those in use are closed when they
// come back.
func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		p.discard(c)
	}
}
