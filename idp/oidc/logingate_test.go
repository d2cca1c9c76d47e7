package oidc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlstore"
	"github.com/keygate/keygate/store/storetest/backends"
)

// TestLoginGate: each realm has its own slots; a full realm makes its
// next login wait, and give up after the wait, without touching another
// realm's.
func TestLoginGate(t *testing.T) {
	g := &loginGate{limit: 2, wait: 50 * time.Millisecond, slots: map[string]*gateSlots{}}
	ctx := context.Background()
	r1, ok1 := g.enter(ctx, "a")
	_, ok2 := g.enter(ctx, "a")
	if !ok1 || !ok2 {
		t.Fatal("the first two logins of a realm must get in")
	}
	start := time.Now()
	if _, ok := g.enter(ctx, "a"); ok || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("a third login of a full realm: ok=%v after %v", ok, time.Since(start))
	}
	if release, ok := g.enter(ctx, "b"); !ok {
		t.Fatal("another realm waited for realm a")
	} else {
		release()
	}
	done := make(chan bool)
	go func() {
		_, ok := g.enter(ctx, "a")
		done <- ok
	}()
	time.Sleep(10 * time.Millisecond)
	r1()
	if !<-done {
		t.Fatal("a waiting login did not get the slot released to it")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, ok := g.enter(cctx, "a"); ok {
		t.Fatal("a cancelled login got a slot of a full realm")
	}
}

// The gate serves its waiters in the order they came: under a burst the
// token endpoint's answers keep their arrival order, and none waits for
// all the others.
func TestGateServesInArrivalOrder(t *testing.T) {
	g := &loginGate{limit: 1, wait: 5 * time.Second, slots: map[string]*gateSlots{}}
	ctx := context.Background()
	hold, _ := g.enter(ctx, "")
	const n = 8
	order := make(chan int, n)
	for i := range n {
		go func() {
			release, ok := g.enter(ctx, "")
			if !ok {
				order <- -1
				return
			}
			order <- i
			release()
		}()
		waitQueued(t, g, "", i+1) // each one queues before the next comes
	}
	hold()
	for want := range n {
		if got := <-order; got != want {
			t.Fatalf("waiter %d served in place %d", got, want)
		}
	}
}

// TestGateSlotPause: a request waiting on the database steps out of its
// slot, letting a queued one in, and steps back in ahead of every newcomer;
// the books balance once all have left.
func TestGateSlotPause(t *testing.T) {
	g := &loginGate{limit: 1, wait: 5 * time.Second, slots: map[string]*gateSlots{}}
	ctx := context.Background()
	a, ok := g.admit(ctx, "")
	if !ok {
		t.Fatal("first request refused")
	}
	got := make(chan *gateSlot)
	go func() {
		b, _ := g.admit(ctx, "")
		got <- b
	}()
	waitQueued(t, g, "", 1)
	a.pause()
	b := <-got
	if b == nil {
		t.Fatal("a queued request did not get the paused slot")
	}
	order := make(chan string, 2)
	go func() { // a newcomer, queued before a comes back
		c, ok := g.admit(ctx, "")
		if !ok {
			order <- "c refused"
			return
		}
		order <- "c"
		c.release()
	}()
	waitQueued(t, g, "", 1)
	go func() {
		a.resume()
		order <- "a"
	}()
	waitQueued(t, g, "", 2)
	select {
	case who := <-order:
		t.Fatalf("%s got in while b held the only slot", who)
	default:
	}
	b.release()
	if first := <-order; first != "a" {
		t.Fatalf("%s went before the resuming request", first)
	}
	a.release()
	if second := <-order; second != "c" {
		t.Fatalf("then %s, want c", second)
	}
	a.release() // twice is once
	e, ok := g.admit(ctx, "")
	if !ok {
		t.Fatal("no slot after everyone left")
	}
	g.wait = 20 * time.Millisecond
	if _, ok := g.admit(ctx, ""); ok {
		t.Fatal("a second slot appeared from the pauses' books")
	}
	// awayFromGate steps the context's slot out around the store call.
	err := awayFromGate(withSlot(ctx, e), func() error {
		f, ok := g.admit(ctx, "")
		if !ok {
			return errors.New("the slot stayed taken while its request waited on the store")
		}
		f.release()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.release()
}

// waitQueued waits (up to 5 s) until n requests wait at realm's gate,
// arriving or resuming: a goroutine just started may take a while to get
// there on a loaded machine.
func waitQueued(t *testing.T, g *loginGate, realm string, n int) {
	t.Helper()
	queued := func() int {
		g.mu.Lock()
		s := g.slots[realm]
		g.mu.Unlock()
		if s == nil {
			return 0
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.queue.Len() + s.back.Len()
	}
	for deadline := time.Now().Add(5 * time.Second); queued() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests waiting at the gate, want %d", queued(), n)
		}
	}
}

// remoteSQLite is a store that says it is reached over the network.
type remoteSQLite struct{ *sqlstore.Store }

func (remoteSQLite) Remote() bool { return true }

// The token endpoint steps out of its gate slot only where the database is
// remote: on SQLite the wait is the store's own CPU work.
func TestRemoteStoreSteppingOut(t *testing.T) {
	st := backends.SQLite(t)
	for _, tc := range []struct {
		st   store.Store
		want bool
	}{{st, false}, {remoteSQLite{st}, true}} {
		p, err := New(tc.st, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if p.remoteStore != tc.want {
			t.Errorf("%T: remoteStore %v, want %v", tc.st, p.remoteStore, tc.want)
		}
	}
}
