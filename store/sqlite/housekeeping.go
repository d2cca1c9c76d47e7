package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sync"
	"time"
)

// housekeeper keeps the database file and its WAL from only growing. Token
// and session rows come and go all day: without housekeeping the pages they
// free stay in the file (SQLite reuses them but never gives them back), and
// the WAL keeps the size of its busiest moment, since SQLite's automatic
// checkpoints restart it but never shrink it, and cannot even restart it
// while readers keep reading the frames at its end.
//
// Each run (the server's sweep, once a minute):
//   - frees the file's free pages (PRAGMA incremental_vacuum; the file is
//     in auto_vacuum=incremental mode, see convert);
//   - checkpoints the WAL: PASSIVE (never waits for readers or writers)
//     while the database is being written, TRUNCATE (waits up to the busy
//     timeout for readers, then empties the WAL file) once a run finds no
//     frame written since the previous one.
//
// The first run also switches a file made before auto_vacuum=incremental
// (which needs one VACUUM).
type housekeeper struct {
	path string
	open func(ctx context.Context) (*sql.DB, error) // a connection that may VACUUM
	// checkpoints is held across this run's checkpoints, so that they do
	// not meet the background checkpointer's (nil: no checkpointer).
	checkpoints *sync.Mutex

	mu        sync.Mutex
	converted bool
	lastLog   int // WAL frames the previous run's checkpoint found
}

// run does one round of housekeeping on the writer db and returns a line
// worth logging when it did something unusual (the one-time VACUUM).
func (h *housekeeper) run(ctx context.Context, db *sql.DB) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var note string
	if !h.converted {
		n, err := h.convert(ctx, db)
		if err != nil {
			return "", err
		}
		h.converted, note = true, n
	}
	if _, err := db.ExecContext(ctx, `PRAGMA incremental_vacuum`); err != nil {
		return note, fmt.Errorf("sqlite: incremental vacuum: %w", err)
	}
	if h.checkpoints != nil {
		h.checkpoints.Lock()
		defer h.checkpoints.Unlock()
	}
	busy, frames, done, err := checkpoint(ctx, db, "PASSIVE")
	if err != nil {
		return note, err
	}
	// Idle: everything in the WAL is in the file and nothing was written
	// since the previous run; a TRUNCATE now costs nobody a wait.
	if busy == 0 && frames == done && frames == h.lastLog && frames > 0 {
		if _, frames, _, err = checkpoint(ctx, db, "TRUNCATE"); err != nil {
			return note, err
		}
	}
	h.lastLog = frames
	return note, nil
}

// checkpoint runs PRAGMA wal_checkpoint(mode): busy is 1 when it could not
// finish, frames the WAL's length in frames, done how many are in the file.
func checkpoint(ctx context.Context, db *sql.DB, mode string) (busy, frames, done int, err error) {
	err = db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(`+mode+`)`).Scan(&busy, &frames, &done)
	if err != nil {
		err = fmt.Errorf("sqlite: checkpoint (%s): %w", mode, err)
	}
	return busy, frames, done, err
}

// autoVacuumIncremental is PRAGMA auto_vacuum's value for INCREMENTAL.
const autoVacuumIncremental = 2

// convert switches a file in another auto_vacuum mode to incremental. A new
// file gets the mode from the writer's connection pragmas before its first
// table; an existing one only with a VACUUM, which rewrites the whole file
// (needing its size again in free disk, and holding the write lock while it
// runs), once.
func (h *housekeeper) convert(ctx context.Context, db *sql.DB) (string, error) {
	var mode int
	if err := db.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		return "", fmt.Errorf("sqlite: auto_vacuum: %w", err)
	}
	if mode == autoVacuumIncremental {
		return "", nil
	}
	// The writer's pool holds its one connection; VACUUM runs on a
	// connection of its own, like a backup, and takes the write lock.
	vdb, err := h.open(ctx)
	if err != nil {
		return "", err
	}
	defer vdb.Close()
	before := fileSize(h.path)
	start := time.Now()
	if _, err := vdb.ExecContext(ctx, `PRAGMA auto_vacuum = INCREMENTAL`); err != nil {
		return "", fmt.Errorf("sqlite: auto_vacuum: %w", err)
	}
	if _, err := vdb.ExecContext(ctx, `VACUUM`); err != nil {
		return "", fmt.Errorf("sqlite: VACUUM to switch to auto_vacuum=incremental: %w", Explain(h.path, err))
	}
	// The rewritten pages are in the WAL: move them into the file, whose
	// size then says what the VACUUM gave back.
	if _, _, _, err := checkpoint(ctx, vdb, "TRUNCATE"); err != nil {
		return "", err
	}
	return fmt.Sprintf("sqlite: switched %s to auto_vacuum=incremental with a one-time VACUUM (%.1f MB before, %.1f MB after, %d ms); free pages are now given back to the disk",
		h.path, float64(before)/1e6, float64(fileSize(h.path))/1e6, time.Since(start).Milliseconds()), nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
