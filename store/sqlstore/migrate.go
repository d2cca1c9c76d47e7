package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/migrations"
)

// Migration is one numbered schema file, NNNN_name.up.sql.
type Migration struct {
	Version  int
	Name     string
	SQL      string
	Checksum string // hex SHA-256 of the file
}

// Migrations returns the dialect's migration files in version order.
func (s *Store) Migrations() ([]Migration, error) {
	fsys := s.d.Migrations
	if fsys == nil {
		fsys = migrations.FS
	}
	files, err := fs.Glob(fsys, s.d.Name+"/*.up.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, f := range files {
		base := strings.TrimSuffix(path.Base(f), ".up.sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlstore: migration %s: name is not NNNN_name.up.sql", f)
		}
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b), Checksum: hex.EncodeToString(sum[:])})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("sqlstore: two migrations numbered %d", ms[i].Version)
		}
	}
	return ms, nil
}

// Migrate applies every pending migration; see MigrateTo.
func (s *Store) Migrate(ctx context.Context) error { return s.MigrateTo(ctx, math.MaxInt) }

// MigrateTo applies the pending migrations numbered up to version, in order,
// each in its own transaction together with its schema_migrations row. It
// refuses to run when an applied file's checksum changed or the database has
// a migration this binary does not know (a newer keygate migrated it).
//
// Every transaction first takes the dialect's migration lock (SQLite: BEGIN
// IMMEDIATE's write lock) and re-reads what is applied, so processes starting
// at once apply each file exactly once.
func (s *Store) MigrateTo(ctx context.Context, version int) error {
	ms, err := s.Migrations()
	if err != nil {
		return err
	}
	for {
		done, err := s.migrateNext(ctx, ms, version)
		if err != nil || done {
			return err
		}
	}
}

// migrateNext applies the first pending migration up to version; done when
// there is none.
func (s *Store) migrateNext(ctx context.Context, ms []Migration, version int) (done bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("sqlstore: migrate: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if s.d.MigrationLock != "" {
		if _, err := tx.ExecContext(ctx, s.d.MigrationLock); err != nil {
			return false, fmt.Errorf("sqlstore: migration lock: %w", err)
		}
	}
	applied, err := appliedMigrations(ctx, tx, s.q)
	if err != nil {
		return false, err
	}
	known := map[int]Migration{}
	for _, m := range ms {
		known[m.Version] = m
	}
	for v, sum := range applied {
		m, ok := known[v]
		switch {
		case !ok:
			return false, fmt.Errorf("sqlstore: database has migration %d, unknown to this binary (written by a newer keygate?)", v)
		case m.Checksum != sum:
			return false, fmt.Errorf("sqlstore: migration %04d_%s changed after it was applied (checksum %s, applied %s)",
				v, m.Name, m.Checksum, sum)
		}
	}
	i := slices.IndexFunc(ms, func(m Migration) bool { _, ok := applied[m.Version]; return !ok })
	if i < 0 || ms[i].Version > version {
		return true, tx.Commit() // keeps schema_migrations if this run created it
	}
	m := ms[i]
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("sqlstore: migration %04d_%s: %w", m.Version, m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)`),
		m.Version, m.Name, m.Checksum, time.Now().UnixMilli()); err != nil {
		return false, fmt.Errorf("sqlstore: record migration %04d_%s: %w", m.Version, m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("sqlstore: commit migration %04d_%s: %w", m.Version, m.Name, err)
	}
	return false, nil
}

// appliedMigrations creates the bookkeeping table if needed (the runner owns
// it, so that it exists before 0001) and returns version -> checksum.
func appliedMigrations(ctx context.Context, tx *sql.Tx, q func(string) string) (map[int]string, error) {
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT PRIMARY KEY,
		name       TEXT NOT NULL,
		checksum   TEXT NOT NULL,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return nil, fmt.Errorf("sqlstore: create schema_migrations: %w", err)
	}
	rows, err := tx.QueryContext(ctx, q(`SELECT version, checksum FROM schema_migrations`))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int]string{}
	for rows.Next() {
		var v int
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, err
		}
		applied[v] = sum
	}
	return applied, rows.Err()
}
