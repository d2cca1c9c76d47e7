package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// checkpointer copies the WAL back into the database file from a
// connection of its own, shortly after writes, so that no request's commit
// does it. SQLite's automatic checkpoint runs inside the commit that
// crosses its threshold: that commit copies about 1,000 pages and syncs the
// file while holding the only writer, and every write queued behind it
// waits too. Measured on 2 cores (refresh, SQLite): p99 18-20 to 16 ms at
// concurrency 4 and 37-39 to 31 ms at 16. The writer keeps a higher
// automatic threshold (walBackstopPages) for when this one falls behind.
type checkpointer struct {
	db    *sql.DB
	after time.Duration
	kick  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// walBackstopPages is the writer's own automatic checkpoint threshold, in
// pages (SQLite's default is 1,000).
const walBackstopPages = "4000"

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
	t := time.NewTimer(0)
	<-t.C
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
		_, _ = c.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		cancel()
	}
}

// close stops the loop and closes its connection.
func (c *checkpointer) close() error {
	c.once.Do(func() { close(c.stop) })
	<-c.done
	return c.db.Close()
}
