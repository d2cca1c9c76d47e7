// Package postgres opens keygate's store on PostgreSQL through pgx's
// database/sql driver.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlstore"
)

// MaxConns bounds the connection pool; every open transaction holds one.
const MaxConns = 25

// ConnectTimeout bounds a new connection, TCP, TLS and the server's
// greeting together, when the DSN sets no connect_timeout: a server that
// is down, unreachable or accepts and never answers is store.ErrUnavailable
// within seconds instead of holding a request (and, once MaxConns are
// stuck so, every request) for the kernel's minutes-long TCP timeouts.
const ConnectTimeout = 3 * time.Second

// keepAlive detects a peer that vanished under an idle pooled connection
// (a blackholed server, a dropped NAT entry) within seconds, so the pool
// stops handing it out: probes after 5 s of silence, 3 more 2 s apart.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 5 * time.Second, Interval: 2 * time.Second, Count: 3}

// Open connects to dsn (a postgres:// URL or key=value string) and applies
// pending migrations.
//
// The schema comes from the DSN: search_path=name is passed to the server
// as is (the schema must exist), while schema=name sets search_path and
// creates the schema when missing.
func Open(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	s, err := Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Connect connects like Open but does not migrate.
func Connect(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = ConnectTimeout
	}
	dialer := &net.Dialer{KeepAliveConfig: keepAlive}
	cfg.DialFunc = dialer.DialContext
	schema, create := cfg.RuntimeParams["schema"]
	if create {
		delete(cfg.RuntimeParams, "schema")
		cfg.RuntimeParams["search_path"] = schema
	}
	// A pooled connection idle for over a second is pinged before reuse
	// (pgx's default), and any connection is when a read runs again after
	// losing its connection (sqlstore.Retrying): the retry gets a live one.
	ping := stdlib.OptionShouldPing(func(ctx context.Context, p stdlib.ShouldPingParams) bool {
		return p.IdleDuration > time.Second || sqlstore.Retrying(ctx)
	})
	db := sql.OpenDB(&breaker{Connector: stdlib.GetConnector(*cfg, ping), timeout: cfg.ConnectTimeout})
	db.SetMaxOpenConns(MaxConns)
	db.SetMaxIdleConns(MaxConns)
	if create {
		_, err = db.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
		if isCode(err, "23505") { // a concurrent CREATE SCHEMA won
			err = nil
		}
	} else {
		err = db.PingContext(ctx)
	}
	if err != nil {
		db.Close()
		if unavailable(err) || errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("postgres: connect: %w (%w)", store.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := sqlstore.New(db, db, dialect)
	// Readiness's own small pool: a probe never waits for one of the
	// MaxConns connections that a flood of requests holds.
	probes := stdlib.OpenDB(*cfg, ping)
	probes.SetMaxOpenConns(2)
	probes.SetMaxIdleConns(2)
	s.SetProbes(probes, probes)
	return s, nil
}

var dialect = sqlstore.Dialect{
	Name:      "postgres",
	Dollar:    true,
	ForUpdate: true,
	// One lock per schema, held until the migration transaction ends.
	MigrationLock: `SELECT pg_advisory_xact_lock(hashtext('keygate.migrate.' || coalesce(current_schema(), '')))`,
	IsUnique:      func(err error) bool { return isCode(err, "23505") }, // unique_violation
	IsForeignKey:  func(err error) bool { return isCode(err, "23503") }, // foreign_key_violation
	IsUnavailable: unavailable,
	ConnLost:      connLost,
	// deadlock_detected, serialization_failure: the statement was rolled
	// back whole (keygate runs READ COMMITTED, so mostly deadlocks).
	Conflicted: func(err error) bool { return isCode(err, "40P01") || isCode(err, "40001") },
	Backup: func(context.Context, string) error {
		return errors.New("postgres: keygate cannot back up PostgreSQL itself; use pg_dump")
	},
}

// unavailable: the server could not be reached or spoke of itself, not of
// the statement: connection exceptions (class 08), insufficient resources
// (53: disk full, out of memory, too many connections), operator
// intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot
// connect now, 57014 statement timeout), system errors (58), and a
// read-only server (25006, a standby or default_transaction_read_only).
func unavailable(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || errors.Is(err, pgconn.ErrConnClosed) || pgconn.Timeout(err) {
		return true
	}
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return false
	}
	switch {
	case strings.HasPrefix(e.Code, "08"), strings.HasPrefix(e.Code, "53"), strings.HasPrefix(e.Code, "58"),
		e.Code == "57P01", e.Code == "57P02", e.Code == "57P03", e.Code == "57014", e.Code == "25006":
		return true
	}
	return false
}

// connLost: the connection died under a statement that had reached the
// server (reset, closed, the server terminating it), so a read may run
// again on another. A failed dial is not: a second dial would fail alike.
func connLost(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	if isCode(err, "57P01") || isCode(err, "57P02") || isCode(err, "08006") || isCode(err, "08003") {
		return true
	}
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || (errors.As(err, &ne) && !ne.Timeout())
}

func isCode(err error, code string) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == code
}
