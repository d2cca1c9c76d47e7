package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/keygate/keygate/store/postgres"
	"github.com/keygate/keygate/store/sqlite"
	"github.com/keygate/keygate/store/sqlstore"
)

const defaultDB = "sqlite:keygate.db"

// openStore opens (and migrates) the store named by --db.
func openStore(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	var st *sqlstore.Store
	var err error
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		st, err = sqlite.Open(ctx, strings.TrimPrefix(dsn, "sqlite:"))
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		st, err = postgres.Open(ctx, dsn)
	default:
		return nil, usageError{fmt.Sprintf("--db %q: want sqlite:PATH or a postgres:// URL", redactDSN(dsn))}
	}
	if err != nil {
		return nil, fmt.Errorf("cannot open the database %s: %w", redactDSN(dsn), err)
	}
	return st, nil
}

// checkWritable writes the heartbeat row once before serve starts, so that
// a database on a full or read-only disk stops the start with the reason
// in words rather than failing every login later.
func checkWritable(ctx context.Context, st *sqlstore.Store, dsn string) error {
	err := st.ProbeWrite(ctx, "keygate-start", time.Now())
	if err == nil {
		return nil
	}
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		if e := sqlite.Explain(path, err); e != err {
			return e
		}
	}
	return fmt.Errorf("the database cannot be written: %w", err)
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

// warnFileModes warns about a SQLite database (or its -wal/-shm) that other
// users may read: it holds client secrets, password hashes and, without
// --db-key, the realm signing keys. New files are created 0600; this catches
// files made by older versions or copied around.
func warnFileModes(log *slog.Logger, dsn string) {
	path, ok := strings.CutPrefix(dsn, "sqlite:")
	if !ok || path == ":memory:" {
		return
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if m := fi.Mode().Perm(); m&0o077 != 0 {
			log.Warn("database file is readable by other users; it holds client secrets, password hashes and keys: chmod 600 it",
				"file", p, "mode", fmt.Sprintf("%#o", m))
		}
	}
}
