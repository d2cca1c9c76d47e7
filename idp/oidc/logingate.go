package oidc

import (
	"container/list"
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
	slots map[string]*gateSlots
}

// gateSlots are one realm's slots. Waiters are served in arrival order,
// except that a request coming back from the database (resume) goes before
// every newcomer: it is part-way through, and making it queue again behind
// a burst would stretch the slowest answers.
type gateSlots struct {
	mu    sync.Mutex
	limit int
	held  int
	back  list.List // *gateWaiter, resuming
	queue list.List // *gateWaiter, arriving
}

type gateWaiter struct {
	ch      chan struct{}
	granted bool
}

// acquire takes a slot, waiting when none is free or others wait before
// it: a newcomer at most wait (or until done), a resuming request as long
// as it takes.
func (s *gateSlots) acquire(resume bool, wait time.Duration, done <-chan struct{}) bool {
	s.mu.Lock()
	if s.held < s.limit && (s.back.Len() == 0 && (resume || s.queue.Len() == 0)) {
		s.held++
		s.mu.Unlock()
		return true
	}
	w := &gateWaiter{ch: make(chan struct{})}
	q := &s.queue
	if resume {
		q = &s.back
	}
	e := q.PushBack(w)
	s.mu.Unlock()
	var stop <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		stop = t.C
	}
	select {
	case <-w.ch:
		return true
	case <-stop:
	case <-done:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.granted { // granted as it gave up: keep it
		return true
	}
	q.Remove(e)
	return false
}

func (s *gateSlots) release() {
	var buf [2]chan struct{}
	woken := buf[:0]
	s.mu.Lock()
	s.held--
	for s.held < s.limit {
		q := &s.back
		if q.Len() == 0 {
			q = &s.queue
		}
		e := q.Front()
		if e == nil {
			break
		}
		q.Remove(e)
		w := e.Value.(*gateWaiter)
		w.granted = true
		s.held++
		woken = append(woken, w.ch)
	}
	s.mu.Unlock()
	for _, ch := range woken { // the handoff's pipe write, outside the lock
		grants().wake(ch)
	}
}

// gateSlot is one admitted request's place. While it waits on the
// database it steps out (pause) so that another request uses the CPU, and
// steps back in ahead of newcomers (resume): the gate bounds the work on
// the CPU, not the requests in flight, or on PostgreSQL each slot would
// idle through every round trip.
type gateSlot struct {
	s    *gateSlots
	mu   sync.Mutex
	out  bool
	done bool
}

func (sl *gateSlot) release() {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if !sl.done {
		sl.done = true
		if !sl.out {
			sl.s.release()
		}
	}
}

func (sl *gateSlot) pause() {
	if sl == nil {
		return
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if !sl.done && !sl.out {
		sl.out = true
		sl.s.release()
	}
}

func (sl *gateSlot) resume() {
	if sl == nil {
		return
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if !sl.done && sl.out {
		sl.out = false
		sl.s.acquire(true, 0, nil)
	}
}

type gateSlotKey struct{}

// withSlot carries sl to the storage, which steps out around its writes.
func withSlot(ctx context.Context, sl *gateSlot) context.Context {
	return context.WithValue(ctx, gateSlotKey{}, sl)
}

// awayFromGate steps the request's slot out while fn waits on the store.
func awayFromGate(ctx context.Context, fn func() error) error {
	sl, _ := ctx.Value(gateSlotKey{}).(*gateSlot)
	sl.pause()
	defer sl.resume()
	return fn()
}

// newLoginGate waits at most wait for a slot (0 = 5 s).
func newLoginGate(wait time.Duration) *loginGate {
	if wait <= 0 {
		wait = 5 * time.Second
	}
	return &loginGate{limit: runtime.GOMAXPROCS(0), wait: wait, slots: map[string]*gateSlots{}}
}

// enter waits for a slot of realmID; release gives it back. false: the
// wait ran out (or ctx ended) and the caller answers 503.
func (g *loginGate) enter(ctx context.Context, realmID string) (release func(), ok bool) {
	sl, ok := g.admit(ctx, realmID)
	if !ok {
		return nil, false
	}
	return sl.release, true
}

// admit is enter with the slot itself, for callers that step out of it.
func (g *loginGate) admit(ctx context.Context, realmID string) (*gateSlot, bool) {
	g.mu.Lock()
	s := g.slots[realmID]
	if s == nil {
		s = &gateSlots{limit: g.limit}
		g.slots[realmID] = s
	}
	g.mu.Unlock()
	if s.acquire(false, g.wait, ctx.Done()) {
		return &gateSlot{s: s}, true
	}
	return nil, false
}
