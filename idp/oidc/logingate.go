package oidc

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// loginGate bounds, per realm, the password grants signing their tokens
// at once (the CPU part of a login, after the password check). The
// hashing pool already shares password hashing between realms, but a
// directory user's login costs keygate no hash: without this gate a flood
// of LDAP logins in one realm would take all the CPU and starve every
// other realm's logins. The wait for the directory and for the hashing
// pool happens before: a dead directory holds no slot. A login that waits
// too long for its realm's turn answers 503 with Retry-After.
type loginGate struct {
	limit int
	wait  time.Duration
	mu    sync.Mutex
	slots map[string]chan struct{}
}

// newLoginGate waits at most wait for a slot (0 = 5 s).
func newLoginGate(wait time.Duration) *loginGate {
	if wait <= 0 {
		wait = 5 * time.Second
	}
	return &loginGate{limit: runtime.GOMAXPROCS(0), wait: wait, slots: map[string]chan struct{}{}}
}

// enter waits for a slot of realmID; release gives it back. false: the
// wait ran out (or ctx ended) and the caller answers 503.
func (g *loginGate) enter(ctx context.Context, realmID string) (release func(), ok bool) {
	g.mu.Lock()
	ch := g.slots[realmID]
	if ch == nil {
		ch = make(chan struct{}, g.limit)
		g.slots[realmID] = ch
	}
	g.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, true
	default:
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, true
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, false
}
