package oidc

import (
	"sync"
	"testing"
	"time"
)

// Every grant handed off is delivered, from many releasers at once.
func TestHandoffDeliversEveryGrant(t *testing.T) {
	h := newHandoff()
	if h == nil {
		t.Fatal("no pipe for the handoff")
	}
	const releasers, each = 8, 500
	var wg sync.WaitGroup
	for range releasers {
		wg.Go(func() {
			for range each {
				ch := make(chan struct{})
				h.wake(ch)
				select {
				case <-ch:
				case <-time.After(5 * time.Second):
					t.Error("a grant was not delivered")
					return
				}
			}
		})
	}
	wg.Wait()
}

// A handoff whose pipe broke delivers what was pending and then grants
// directly: no waiter is left granted but asleep.
func TestHandoffBroken(t *testing.T) {
	h := newHandoff()
	if h == nil {
		t.Fatal("no pipe for the handoff")
	}
	h.w.Close()
	for i := range 3 {
		ch := make(chan struct{})
		h.wake(ch)
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("grant %d after the pipe broke was not delivered", i)
		}
	}
	h.mu.Lock()
	broken := h.broken
	h.mu.Unlock()
	if !broken {
		t.Fatal("a failed write did not switch the handoff to direct grants")
	}
	var none *handoff
	ch := make(chan struct{})
	none.wake(ch)
	select {
	case <-ch:
	default:
		t.Fatal("without a pipe a grant must be direct")
	}
}
