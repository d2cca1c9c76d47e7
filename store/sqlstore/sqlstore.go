// Package sqlstore implements store.Store over database/sql with hand-written
// SQL shared by SQLite and PostgreSQL. The few differences between the two
// live in a Dialect; the sqlite and postgres packages open the databases and
// supply it.
//
// Queries are written once with `?` placeholders; for PostgreSQL each text is
// rewritten to `$n` the first time it is used and cached. Every method takes
// the transaction from its context when there is one (see Tx and BeginTX), so
// a caller holding a transaction never waits for a second connection.
package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/cache"
)

// Dialect carries what differs between the SQL databases.
type Dialect struct {
	// Name selects the migrations directory: "sqlite" or "postgres".
	Name string
	// Dollar numbers placeholders $1, $2, ... instead of ?.
	Dollar bool
	// ForUpdate keeps the " FOR UPDATE" suffix of row-locking reads. SQLite
	// has no row locks and drops it: its BEGIN IMMEDIATE transactions on the
	// single writer connection already serialize read-modify-write cycles.
	ForUpdate bool
	// MigrationLock, when set, runs first in every migration transaction so
	// that two processes starting at once migrate one after the other.
	MigrationLock string
	// IsUnique and IsForeignKey recognise constraint violations; they become
	// store.ErrConflict and store.ErrNotFound (a referenced row is missing).
	IsUnique     func(error) bool
	IsForeignKey func(error) bool
	// IsUnavailable recognises the database's own ways of saying it cannot
	// answer now (SQLite: disk full, read-only, I/O error, busy beyond the
	// timeout; PostgreSQL: connection and resource SQLSTATEs, shutdown).
	// They become store.ErrUnavailable, as lost connections and deadlines
	// do for every dialect (see classify).
	IsUnavailable func(error) bool
	// ConnLost, when set, says err lost the connection under a statement:
	// a read made outside a transaction is then run once more, on a
	// connection checked alive first (see Retrying). Nil: never retried.
	ConnLost func(error) bool
	// Conflicted, when set, says the database aborted err's statement to
	// break a deadlock or a serialization conflict with another
	// transaction: nothing of it was applied. A write outside a
	// transaction then runs again (see conflictRetries); inside one the
	// whole transaction is lost, and the error is store.ErrUnavailable.
	Conflicted func(error) bool
	// FreeSpace, when set, reports the bytes free for the database's files;
	// ProbeWrite fails below MinFreeSpace.
	FreeSpace func() (uint64, error)
	// Backup writes a consistent copy of the database to path.
	Backup func(ctx context.Context, path string) error
	// Maintain, when set, keeps the database's files from only growing
	// (SQLite: WAL checkpoints and incremental vacuum); the server runs it
	// on its sweep. It returns a line worth logging, or "".
	Maintain func(ctx context.Context) (string, error)
	// Wrote, when set, is told after each write committed: a statement
	// outside a transaction, or the Commit of one that wrote (SQLite: its
	// background checkpoint). It must not block.
	Wrote func()
	// Close, when set, runs first in Store.Close.
	Close func() error
	// Migrations is the embedded migrations tree; nil means migrations.FS.
	Migrations fs.FS
}

// Store is the SQL implementation of store.Store. It also offers fosite's
// transaction trio BeginTX, Commit and Rollback over the same context key as
// Tx.
type Store struct {
	db, rdb *sql.DB // writer, read pool (the same *sql.DB for PostgreSQL)
	// probeR and probeW are readiness's own connections (SetProbes); nil
	// means rdb and db.
	probeR, probeW *sql.DB
	d              Dialect
	queries        sync.Map // query text as written -> text for this dialect
	nqueries       atomic.Int64
	stmts          sync.Map // stmtKey -> *sql.Stmt
	preparing      sync.Map // stmtKey -> struct{}: first seen inside a transaction, being prepared
	nstmts         atomic.Int64
	observer       atomic.Pointer[func(kind string, d time.Duration, err error)] // ObserveQueries
	// localWrites counts committed writes to cached tables; versions
	// follows the change counters for the process's caches (versions.go).
	localWrites atomic.Uint64
	versions    *cache.Versions
}

var _ store.Store = (*Store)(nil)

// New returns a Store that writes through db and runs reads made outside a
// transaction on rdb (pass db twice when there is no separate read pool). It
// does not migrate; call Migrate.
func New(db, rdb *sql.DB, d Dialect) *Store {
	if rdb == nil {
		rdb = db
	}
	s := &Store{db: db, rdb: rdb, d: d}
	s.versions = s.newVersions()
	return s
}

// DB returns the writer database, for tools and tests that need raw SQL.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect returns the dialect the store was opened with.
func (s *Store) Dialect() Dialect { return s.d }

// Remote says the database is reached over the network (PostgreSQL): a
// wait on it is idle time for this process, not its CPU work.
func (s *Store) Remote() bool { return s.d.Name == "postgres" }

func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", s.classify(err))
	}
	if s.rdb != s.db {
		if err := s.rdb.PingContext(ctx); err != nil {
			return fmt.Errorf("sqlstore: ping read pool: %w", s.classify(err))
		}
	}
	return nil
}

func (s *Store) Backup(ctx context.Context, path string) error {
	if s.d.Backup == nil {
		return fmt.Errorf("sqlstore: backup is not supported by %s", s.d.Name)
	}
	return s.d.Backup(ctx, path)
}

// Maintain runs the dialect's housekeeping of the database's files (see
// Dialect.Maintain); a no-op for a dialect without any.
func (s *Store) Maintain(ctx context.Context) (string, error) {
	if s.d.Maintain == nil {
		return "", nil
	}
	note, err := s.d.Maintain(ctx)
	if err != nil {
		err = s.classify(err)
	}
	return note, err
}

func (s *Store) Close() error {
	var err error
	if s.d.Close != nil {
		err = s.d.Close()
	}
	s.stmts.Range(func(k, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	err = errors.Join(err, s.db.Close())
	if s.rdb != s.db {
		err = errors.Join(err, s.rdb.Close())
	}
	for _, p := range []*sql.DB{s.probeR, s.probeW} {
		if p != nil && p != s.db && p != s.rdb {
			err = errors.Join(err, p.Close())
		}
	}
	return err
}

// q returns query in this dialect's form; $n numbering is done once per text.
func (s *Store) q(query string) string {
	if !s.d.ForUpdate {
		query = strings.TrimSuffix(query, " FOR UPDATE")
	}
	if !s.d.Dollar {
		return query
	}
	if v, ok := s.queries.Load(query); ok {
		return v.(string)
	}
	out := dollarize(query)
	if cacheable(query, &s.nqueries) {
		if _, loaded := s.queries.LoadOrStore(query, out); !loaded {
			s.nqueries.Add(1)
		}
	}
	return out
}

// cacheable says a per-text cache may keep query: texts built per call
// (IN lists of any length) would grow it without bound, so, as for
// prepared statements, only texts with few placeholders are kept, and only
// the first maxCachedStmts of them (n counts the cache's entries).
func cacheable(query string, n *atomic.Int64) bool {
	return strings.Count(query, "?") <= maxCachedArgs && n.Load() < maxCachedStmts
}

// dollarize numbers the ? placeholders of q outside string literals.
func dollarize(q string) string {
	var b strings.Builder
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == '\'':
			quoted = !quoted
			b.WriteByte(c)
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// stmtKey names a statement prepared on one *sql.DB.
type stmtKey struct {
	db    *sql.DB
	query string
}

// Bounds on the statement cache: multi-row INSERTs and long IN lists come
// in many shapes that are rarely reused, and each cached statement lives on
// every connection of its pool.
const (
	maxCachedArgs  = 64
	maxCachedStmts = 1024
)

// querier is a prepared *sql.Stmt, or a textQuery.
type querier interface {
	ExecContext(ctx context.Context, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, args ...any) *sql.Row
}

// prepare returns query, prepared, for where it runs: the context's
// transaction, else the writer for writes and the read pool for reads.
//
// Statements are prepared once per *sql.DB (database/sql then prepares them
// on each connection as it needs) and rebound to a transaction's connection:
// SQLite's parser is close to half the cost of a point read. A statement is
// never first prepared from inside a transaction: preparing on a *sql.DB
// takes a pool connection, and SQLite's only writer is the transaction's.
func (s *Store) prepare(ctx context.Context, write bool, query string) (querier, error) {
	t := s.txOf(ctx)
	db := s.rdb
	if write || t != nil {
		db = s.db
	}
	key := stmtKey{db, query}
	v, cached := s.stmts.Load(key)
	switch {
	case cached && t != nil:
		return t.tx.StmtContext(ctx, v.(*sql.Stmt)), nil
	case cached:
		return v.(*sql.Stmt), nil
	case t != nil:
		if cacheable(query, &s.nstmts) {
			s.prepareLater(key)
		}
		return textQuery{t.tx, s.q(query)}, nil
	case !cacheable(query, &s.nstmts):
		return textQuery{db, s.q(query)}, nil
	}
	st, err := db.PrepareContext(ctx, s.q(query))
	if err != nil {
		return nil, s.classify(err)
	}
	if v, cached = s.stmts.LoadOrStore(key, st); cached {
		st.Close() // another goroutine prepared it first
	} else {
		s.nstmts.Add(1)
	}
	return v.(*sql.Stmt), nil
}

// prepareLater prepares a statement first met inside a transaction once the
// writer is free again, so that the next transaction finds it cached (the
// token paths run most of their writes in transactions, and parsing is a
// large part of a short SQLite statement's cost). On SQLite the single
// writer connection is the transaction's until it ends, so the preparation
// waits for it in its own goroutine instead of deadlocking.
func (s *Store) prepareLater(key stmtKey) {
	if _, busy := s.preparing.LoadOrStore(key, struct{}{}); busy {
		return
	}
	go func() {
		// No deadline: it waits for a connection like any query, and
		// closing the pool ends the wait.
		st, err := key.db.PrepareContext(context.Background(), s.q(key.query))
		if err != nil {
			s.preparing.Delete(key) // try again on a later use
			return
		}
		if _, cached := s.stmts.LoadOrStore(key, st); cached {
			st.Close()
		} else {
			s.nstmts.Add(1)
		}
	}()
}

// textQuery runs one statement text on a *sql.DB or *sql.Tx, unprepared.
type textQuery struct {
	c interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
	q string
}

func (t textQuery) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return t.c.ExecContext(ctx, t.q, args...)
}

func (t textQuery) QueryContext(ctx context.Context, args ...any) (*sql.Rows, error) {
	return t.c.QueryContext(ctx, t.q, args...)
}

func (t textQuery) QueryRowContext(ctx context.Context, args ...any) *sql.Row {
	return t.c.QueryRowContext(ctx, t.q, args...)
}

// classify turns driver errors into the store's typed errors, keeping the
// driver error in the chain. It is the one place that decides what is
// store.ErrUnavailable; see unavailable.
func (s *Store) classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrUnavailable):
		return err // classified already
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case s.d.IsUnique != nil && s.d.IsUnique(err):
		return fmt.Errorf("%w (%w)", store.ErrConflict, err)
	case s.d.IsForeignKey != nil && s.d.IsForeignKey(err):
		return fmt.Errorf("%w: referenced row missing (%w)", store.ErrNotFound, err)
	case s.unavailable(err):
		return fmt.Errorf("%w (%w)", store.ErrUnavailable, err)
	case s.conflicted(err):
		return fmt.Errorf("%w: aborted by a conflict with another transaction (%w)", store.ErrUnavailable, err)
	}
	return err
}

func (s *Store) conflicted(err error) bool { return s.d.Conflicted != nil && s.d.Conflicted(err) }

// conflictRetries is how often a write made outside a transaction runs
// again after the database aborted it to break a conflict (Conflicted). The
// aborted statement applied nothing, so running it again is safe; the other
// side holds its locks only until it commits.
const conflictRetries = 3

// retryConflict says a write that failed with err may run again (attempt
// counts from 1): the database aborted it whole, it was not part of a
// transaction, and the caller is still waiting.
func (s *Store) retryConflict(ctx context.Context, err error, attempt int) bool {
	return err != nil && attempt <= conflictRetries && s.txOf(ctx) == nil && ctx.Err() == nil && s.conflicted(err)
}

// unavailable says err means the database could not answer, whatever the
// statement: a connection refused, reset or closed under it, a pool
// connection gone bad, a deadline that ran out while the database worked,
// or what the dialect reports as such. A context the caller cancelled
// (the client hung up) is not: nobody is left to answer.
func (s *Store) unavailable(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, net.ErrClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &ne):
		return true
	}
	return s.d.IsUnavailable != nil && s.d.IsUnavailable(err)
}

// retryKey marks a context whose read is the one retry (see Retrying).
type retryKey struct{}

// Retrying says ctx carries the second attempt of a read whose connection
// was lost. A driver that can check a pooled connection before handing it
// out (pgx's ShouldPing) checks it then, so the retry runs on a live one.
func Retrying(ctx context.Context) bool { return ctx.Value(retryKey{}) != nil }

// retryRead says a read that failed with err may run once more: it ran
// outside a transaction (nothing else depends on its connection), the
// caller is still waiting, and the connection was lost under it.
func (s *Store) retryRead(ctx context.Context, err error) (context.Context, bool) {
	if err == nil || s.d.ConnLost == nil || Retrying(ctx) || s.txOf(ctx) != nil || ctx.Err() != nil || !s.d.ConnLost(err) {
		return ctx, false
	}
	return context.WithValue(ctx, retryKey{}, true), true
}

// exec runs a write and returns the number of rows it affected.
//
// The statement runs detached from ctx's cancellation (a transaction still
// ends with its context): the drivers start a watcher goroutine per
// cancellable statement, and on SQLite's single writer that hand-off parks
// the writer behind CPU-bound work (RSA, PBKDF2) while every other write
// queues. Writes are short; a client that hangs up mid-write gets its write
// finished rather than interrupted. Measured: client_credentials +5-9%.
func (s *Store) exec(ctx context.Context, query string, args ...any) (int64, error) {
	n, err := s.exec1(ctx, query, args...)
	for i := 1; s.retryConflict(ctx, err, i); i++ {
		n, err = s.exec1(ctx, query, args...)
	}
	return n, err
}

func (s *Store) exec1(ctx context.Context, query string, args ...any) (_ int64, err error) {
	defer s.observed(QueryWrite, time.Now(), &err)
	st, err := s.prepare(ctx, true, query)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(context.WithoutCancel(ctx), args...)
	if err != nil {
		return 0, s.classify(err)
	}
	s.wrote(ctx, query)
	n, err := res.RowsAffected()
	return n, s.classify(err)
}

// execOne runs a write that must hit a row: none is store.ErrNotFound.
func (s *Store) execOne(ctx context.Context, query string, args ...any) error {
	n, err := s.exec(ctx, query, args...)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return err
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// get runs a one-row query; no row is store.ErrNotFound. Outside a
// transaction, a read whose connection was lost runs once more.
func get[T any](ctx context.Context, s *Store, scan func(scanner) (T, error), query string, args ...any) (T, error) {
	v, err := get1(ctx, s, scan, query, args...)
	if rctx, again := s.retryRead(ctx, err); again {
		v, err = get1(rctx, s, scan, query, args...)
	}
	return v, err
}

func get1[T any](ctx context.Context, s *Store, scan func(scanner) (T, error), query string, args ...any) (_ T, err error) {
	defer s.observed(QueryRead, time.Now(), &err)
	st, err := s.prepare(ctx, false, query)
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := scan(st.QueryRowContext(ctx, args...))
	return v, s.classify(err)
}

// list runs a query and scans every row. It returns an empty, non-nil slice
// when nothing matches so that JSON encodes [] rather than null. Outside a
// transaction, a read whose connection was lost runs once more.
func list[T any](ctx context.Context, s *Store, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	out, err := list1(ctx, s, scan, query, args...)
	if rctx, again := s.retryRead(ctx, err); again {
		out, err = list1(rctx, s, scan, query, args...)
	}
	return out, err
}

func list1[T any](ctx context.Context, s *Store, scan func(scanner) (T, error), query string, args ...any) (_ []T, err error) {
	defer s.observed(QueryRead, time.Now(), &err)
	st, err := s.prepare(ctx, false, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, s.classify(err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, s.classify(err)
		}
		out = append(out, v)
	}
	return out, s.classify(rows.Err())
}

// wrap adds what was being done to err, keeping it matchable with errors.Is.
func wrap(err error, format string, a ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlstore: "+format+": %w", append(a, err)...)
}

// realmTables lists every table with a realm_id column, for CountRealmRows.
var realmTables = []string{
	"clients", "client_scopes", "roles", "role_composites", "groups", "group_roles",
	"users", "user_roles", "user_groups", "credentials", "sessions", "tokens", "keys",
	"login_failures", "components", "identity_providers", "identity_provider_mappers", "initial_access_tokens",
	"federated_identities", "events", "admin_events", "user_consents",
}

// CountRealmRows counts the rows each table holds for realmID (the realms
// table counts the realm itself). The conformance suite uses it to prove that
// DeleteRealm leaves nothing behind.
func (s *Store) CountRealmRows(ctx context.Context, realmID string) (map[string]int, error) {
	counts := map[string]int{}
	count := func(table, col string) error {
		n, err := get(ctx, s, scanInt, "SELECT COUNT(*) FROM "+table+" WHERE "+col+" = ?", realmID)
		counts[table] = n
		return wrap(err, "count %s", table)
	}
	if err := count("realms", "id"); err != nil {
		return nil, err
	}
	for _, t := range realmTables {
		if err := count(t, "realm_id"); err != nil {
			return nil, err
		}
	}
	return counts, nil
}

// link inserts the mapping rows (realmID, a, b) for every b with ins, an
// INSERT ... SELECT taking realm, a and b that selects nothing unless both
// sides exist in the realm and does nothing when the row exists. When it
// inserts nothing, has (taking the same arguments) tells "already there"
// from store.ErrNotFound.
func (s *Store) link(ctx context.Context, ins, has, realmID, a string, bs []string) error {
	return s.Tx(ctx, func(ctx context.Context) error {
		for _, b := range bs {
			n, err := s.exec(ctx, ins, realmID, a, b)
			if err == nil && n == 0 {
				_, err = get(ctx, s, scanInt, has, realmID, a, b)
			}
			if err != nil {
				return fmt.Errorf("%s -> %s: %w", a, b, err)
			}
		}
		return nil
	})
}

// unlink deletes the mapping rows (realmID, a, b) for every b with del.
func (s *Store) unlink(ctx context.Context, del, realmID, a string, bs []string) error {
	return s.Tx(ctx, func(ctx context.Context) error {
		for _, b := range bs {
			if _, err := s.exec(ctx, del, realmID, a, b); err != nil {
				return err
			}
		}
		return nil
	})
}
