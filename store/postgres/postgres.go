// Package postgres opens keygate's store on PostgreSQL through pgx's
// database/sql driver.
package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/keygate/keygate/store/sqlstore"
)

// MaxConns bounds the connection pool; every open transaction holds one.
const MaxConns = 25

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
	schema, create := cfg.RuntimeParams["schema"]
	if create {
		delete(cfg.RuntimeParams, "schema")
		cfg.RuntimeParams["search_path"] = schema
	}
	db := stdlib.OpenDB(*cfg)
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
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return sqlstore.New(db, db, dialect), nil
}

var dialect = sqlstore.Dialect{
	Name:      "postgres",
	Dollar:    true,
	ForUpdate: true,
	// One lock per schema, held until the migration transaction ends.
	MigrationLock: `SELECT pg_advisory_xact_lock(hashtext('keygate.migrate.' || coalesce(current_schema(), '')))`,
	IsUnique:      func(err error) bool { return isCode(err, "23505") }, // unique_violation
	IsForeignKey:  func(err error) bool { return isCode(err, "23503") }, // foreign_key_violation
	Backup: func(context.Context, string) error {
		return errors.New("postgres: keygate cannot back up PostgreSQL itself; use pg_dump")
	},
}

func isCode(err error, code string) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == code
}
