// Package sqlite opens keygate's store on SQLite through modernc.org/sqlite
// (pure Go, no cgo).
//
// The database runs in WAL mode with one writer connection and a pool of
// read-only connections: writes and transactions (BEGIN IMMEDIATE) go
// through the writer one at a time, reads outside a transaction run on the
// pool in parallel and never wait for a writer. Every statement made inside
// a transaction uses that transaction's connection (sqlstore takes it from
// the context), which is what keeps the single writer from deadlocking.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keygate/keygate/store/sqlstore"
)

// Pragmas every connection gets; the writer adds WAL, synchronous=NORMAL (safe
// in WAL: a power loss can drop the last commits, never corrupt) and
// immediate transactions, the readers query_only.
const (
	common = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"
	// auto_vacuum comes first: it takes effect without a VACUUM only on a
	// file that has no table yet (see housekeeper.convert for older files).
	writer = "_pragma=auto_vacuum(2)&" + common + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(" + walBackstopPages + ")&_txlock=immediate"
	// The background checkpoint's connection (checkpointer).
	checkpoints = common + "&_pragma=synchronous(NORMAL)"
	reader      = common + "&_pragma=query_only(1)"
	// Readiness's own connections (sqlstore.Store.SetProbes) wait less for
	// SQLite's file locks: a probe answers within its timeout.
	probeWriter = "_pragma=busy_timeout(2000)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	probeReader = "_pragma=busy_timeout(1000)&_pragma=query_only(1)"
)

// Open opens the database at path, creating it if needed, and applies
// pending migrations.
//
// path ":memory:" gives a private in-memory database on a single connection:
// correct, but reads made outside a transaction wait while one is open, so it
// suits tests, not servers.
//
// A database that cannot be opened or migrated because its disk is full,
// read-only or failing says so in words (see Explain).
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	s, err := Connect(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, Explain(path, err)
	}
	return s, nil
}

// Connect opens the database like Open but does not migrate it.
func Connect(ctx context.Context, path string) (*sqlstore.Store, error) {
	s, err := connect(ctx, path)
	return s, Explain(path, err)
}

func connect(ctx context.Context, path string) (*sqlstore.Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: invalid database path %q", path)
	}
	if path == ":memory:" {
		db, err := openDB(ctx, path+"?"+common+"&_txlock=immediate", 1)
		if err != nil {
			return nil, err
		}
		return sqlstore.New(db, db, dialect(func(ctx context.Context, dst string) error {
			return vacuumInto(ctx, db, dst)
		}, nil)), nil
	}
	if !strings.HasPrefix(path, "file:") { // a URI names its file in SQLite's syntax
		if err := createPrivate(path, false); err != nil {
			return nil, err
		}
	}
	// The writer connects first so that WAL mode is on before any reader.
	db, err := openDB(ctx, path+"?"+writer, 1)
	if err != nil {
		return nil, err
	}
	rdb, err := openDB(ctx, path+"?"+reader, max(4, runtime.GOMAXPROCS(0)))
	if err != nil {
		db.Close()
		return nil, err
	}
	d := dialect(func(ctx context.Context, dst string) error {
		// A connection of its own: VACUUM INTO reads one snapshot without
		// holding the writer, and query_only readers may not run it.
		bdb, err := openDB(ctx, path+"?"+common, 1)
		if err != nil {
			return err
		}
		defer bdb.Close()
		return vacuumInto(ctx, bdb, dst)
	}, func() (uint64, error) { return freeSpace(path) })
	cdb, err := openDB(ctx, path+"?"+checkpoints, 1)
	if err != nil {
		db.Close()
		rdb.Close()
		return nil, err
	}
	cp := startCheckpointer(cdb, 100*time.Millisecond)
	hk := &housekeeper{path: path, open: func(ctx context.Context) (*sql.DB, error) { return openDB(ctx, path+"?"+common, 1) }, checkpoints: &cp.mu}
	d.Maintain = func(ctx context.Context) (string, error) { return hk.run(ctx, db) }
	d.Wrote, d.Close = cp.wrote, cp.close
	s := sqlstore.New(db, rdb, d)
	// Readiness's connections, opened on first use: a second writer
	// connection to the file, so that the heartbeat takes SQLite's write
	// lock between transactions instead of queueing behind every write
	// waiting for the single writer connection.
	s.SetProbes(lazyDB(path+"?"+probeReader), lazyDB(path+"?"+probeWriter))
	return s, nil
}

// lazyDB is a one-connection pool that connects on first use.
func lazyDB(dsn string) *sql.DB {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		panic(err) // only for an unregistered driver
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	return db
}

func openDB(ctx context.Context, dsn string, conns int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	return db, nil
}

// vacuumInto writes a consistent, compacted copy of the database to dst,
// which must not exist yet.
func vacuumInto(ctx context.Context, db *sql.DB, dst string) error {
	// VACUUM INTO accepts an empty file and keeps its mode, so the copy is
	// created 0600 first; it holds what the database holds.
	if err := createPrivate(dst, true); err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", dst, err)
	}
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		_ = os.Remove(dst)
		return fmt.Errorf("sqlite: backup to %s: %w", dst, err)
	}
	return nil
}

// createPrivate creates path 0600 unless it exists (excl: fail if it does).
// The database holds client secrets, password hashes and, without
// --db-key, signing keys; SQLite gives its -wal and -shm files the mode of
// the database file, so they come out 0600 too. The explicit Chmod makes
// the mode independent of the umask. An existing file keeps its mode (the
// server warns when it is readable by others).
func createPrivate(path string, excl bool) error {
	flags := os.O_RDWR | os.O_CREATE | os.O_EXCL
	f, err := os.OpenFile(path, flags, 0o600)
	if errors.Is(err, fs.ErrExist) && !excl {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	err = f.Chmod(0o600)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	return nil
}

func dialect(backup func(ctx context.Context, path string) error, free func() (uint64, error)) sqlstore.Dialect {
	return sqlstore.Dialect{
		Name: "sqlite",
		IsUnique: func(err error) bool {
			c := code(err)
			return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
		},
		IsForeignKey:  func(err error) bool { return code(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY },
		IsUnavailable: unavailable,
		FreeSpace:     free,
		Backup:        backup,
	}
}

// unavailable: SQLite could not do the work for a reason that is not the
// statement's: the disk is full, read-only or failing, the file cannot be
// opened, memory ran out, or the lock stayed busy past busy_timeout.
func unavailable(err error) bool {
	switch code(err) & 0xff { // primary result code
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_BUSY,
		sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_PROTOCOL:
		return true
	}
	return false
}

func code(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}
