package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keygate/keygate/store"
)

var _ store.Prober = (*Store)(nil)

// MinFreeSpace is the free space below which ProbeWrite reports the disk
// full: a write that fits in pages SQLite can reuse still succeeds there,
// but the next one that needs the file to grow fails.
const MinFreeSpace = 1 << 20

// SetProbes gives readiness connections of its own: read for ProbeRead,
// write for ProbeWrite (SQLite: a second writer connection with a short
// busy timeout, outside the single writer's queue; PostgreSQL: a small
// pool apart from the main one). Close closes them.
func (s *Store) SetProbes(read, write *sql.DB) { s.probeR, s.probeW = read, write }

// ProbeRead reads one row on the probe's read connection.
func (s *Store) ProbeRead(ctx context.Context) error {
	db := s.probeR
	if db == nil {
		db = s.rdb
	}
	var n int
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM health_heartbeat`).Scan(&n)
	return wrap(s.classify(err), "probe read")
}

// ProbeWrite upserts instance's heartbeat row on the probe's write
// connection; rows of instances silent for a day go in the same
// transaction. Where the dialect can tell, less than MinFreeSpace free
// fails it as store.ErrUnavailable too.
func (s *Store) ProbeWrite(ctx context.Context, instance string, now time.Time) error {
	if s.d.FreeSpace != nil {
		if free, err := s.d.FreeSpace(); err == nil && free < MinFreeSpace {
			return fmt.Errorf("sqlstore: probe write: %w: disk full (%d bytes free)", store.ErrUnavailable, free)
		}
	}
	db := s.probeW
	if db == nil {
		db = s.db
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return wrap(s.classify(err), "probe write")
	}
	defer func() { _ = tx.Rollback() }()
	ms := now.UnixMilli()
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO health_heartbeat (instance, beat_at) VALUES (?, ?)
		ON CONFLICT (instance) DO UPDATE SET beat_at = excluded.beat_at`), instance, ms); err != nil {
		return wrap(s.classify(err), "probe write")
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM health_heartbeat WHERE beat_at < ?`), ms-int64(24*time.Hour/time.Millisecond)); err != nil {
		return wrap(s.classify(err), "probe write")
	}
	return wrap(s.classify(tx.Commit()), "probe write")
}
