package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/keygate/keygate/store/postgres"
	"github.com/keygate/keygate/store/sqlite"
	"github.com/keygate/keygate/store/sqlstore"
)

const defaultDB = "sqlite:keygate.db"

// openStore opens (and migrates) the store named by --db.
func openStore(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		return sqlite.Open(ctx, strings.TrimPrefix(dsn, "sqlite:"))
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres.Open(ctx, dsn)
	}
	return nil, fmt.Errorf("--db %q: want sqlite:PATH or a postgres:// URL", redactDSN(dsn))
}

// redactDSN hides a password in a connection string before it is printed.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if c := strings.Index(rest[:at], ":"); c >= 0 {
				return dsn[:i+3] + rest[:c] + ":***" + rest[at:]
			}
		}
	}
	return dsn
}
