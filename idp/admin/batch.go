package admin

import (
	"context"
	"sync"

	"github.com/keygate/keygate/store"
)

// userBatcher group-commits concurrent user creations: SQLite has one
// writer, and a transaction per user spends most of its time committing.
// The first caller to find the batcher idle becomes the leader and writes
// whatever is queued, batch after batch, until the queue is empty; the
// others wait for their result. A batch that fails (a duplicate) is retried
// user by user, so each caller gets its own answer.
type userBatcher struct {
	st    store.Store
	mu    sync.Mutex
	queue []*pendingUser
	busy  bool
}

type pendingUser struct {
	u    store.NewUser
	done chan error
}

const maxBatch = 128

func (b *userBatcher) create(ctx context.Context, u store.NewUser) error {
	p := &pendingUser{u: u, done: make(chan error, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	if b.busy {
		b.mu.Unlock()
		return <-p.done
	}
	b.busy = true
	ctx = context.WithoutCancel(ctx) // the batch is everyone's, not the leader's
	for len(b.queue) > 0 {
		batch := b.queue[:min(len(b.queue), maxBatch)]
		b.queue = b.queue[len(batch):]
		b.mu.Unlock()
		b.flush(ctx, batch)
		b.mu.Lock()
	}
	b.busy = false
	b.mu.Unlock()
	return <-p.done
}

func (b *userBatcher) flush(ctx context.Context, batch []*pendingUser) {
	users := make([]store.NewUser, len(batch))
	for i, p := range batch {
		users[i] = p.u
	}
	err := b.st.CreateUsers(ctx, users)
	if err == nil || len(batch) == 1 {
		for _, p := range batch {
			p.done <- err
		}
		return
	}
	for _, p := range batch {
		p.done <- b.st.CreateUsers(ctx, []store.NewUser{p.u})
	}
}
