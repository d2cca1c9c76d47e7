package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// checkpointer copies the WAL back into the database file from a
// connection of its own, shortly after writes, so that requests' commits
// do not. SQLite's automatic checkpoint runs inside the commit that
// crosses its threshold: that commit copies about 1,000 pages and syncs the
// file while holding the only writer, and every write queued behind it
// waits too. The writer keeps its automatic checkpoint (walBackstopPages):
// under a steady stream of writes the WAL is never wholly copied between
// two commits, so only a checkpoint inside a commit lets it restart; that
// one now finds most pages copied already. Measured on 2 cores (refresh,
// SQLite): p99 18-20 to 16-18 ms at concurrency 4, 37-40 to 31-38 ms at 16.
type checkpointer struct {
	db    *sql.DB
	after time.Duration
	kick  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	// mu is held while a checkpoint runs, here or in housekeeping: SQLite
	// runs one at a time and answers another with SQLITE_BUSY at once,
	// so housekeeping's checkpoint of a large WAL, meeting this one, used
	// to learn nothing and leave the WAL for the next minute's sweep.
	mu sync.Mutex
}

// walBackstopPages is the writer's own automatic checkpoint threshold, in
// pages: SQLite's default. Higher, the WAL of a busy server would grow to
// it before restarting.
const walBackstopPages = "1000"

func startCheckpointer(db *sql.DB, after time.Duration) *checkpointer {
	c := &checkpointer{db: db, after: after, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

// wrote says a write committed (or may have): a checkpoint follows within
// after. It never blocks.
func (c *checkpointer) wrote() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.done)
	t := time.NewTimer(c.after)
	t.Stop() // armed by the first write
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		// Writes within the wait are copied by the same checkpoint.
		t.Reset(c.after)
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		// PASSIVE never waits for readers or the writer; what it cannot
		// copy now the next one will. An error (disk full...) shows in
		// the writes themselves and in housekeeping, which logs it.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c.mu.Lock()
		_, _ = c.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		c.mu.Unlock()
		cancel()
	}
}

// close stops the loop and closes its connection.
func (c *checkpointer) close() error {
	c.once.Do(func() { close(c.stop) })
	<-c.done
	return c.db.Close()
}
