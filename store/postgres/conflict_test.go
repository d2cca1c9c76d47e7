package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlstore"
)

// deadlock makes the store's next two-row write on request "req" the
// victim of a deadlock: another transaction locks the second row, waits
// until the store's statement holds the first and waits for the second,
// then asks for the first. PostgreSQL aborts the store's statement (its
// deadlock_timeout runs out first: the other side waits 30 s), the other
// transaction commits. It reports how many deadlocks the database counted
// meanwhile, and what the store answered.
func deadlock(t *testing.T, st *sqlstore.Store, write func(ctx context.Context) error) (int64, error) {
	t.Helper()
	ctx := t.Context()
	r := seedRealm(t, st)
	now := time.Now()
	for _, sig := range []string{"a", "b"} { // a first: the statement locks it first
		tok := store.Token{Kind: store.KindRefresh, Signature: sig, RequestID: "req", RealmID: r.ID, ClientID: "c",
			Subject: "u", Active: true, Requested: now, Expires: now.Add(time.Hour), Request: []byte(`{}`)}
		if err := st.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	deadlocks := func() (n int64) {
		if err := st.DB().QueryRowContext(ctx, `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := deadlocks()

	other, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	var pid int
	if err := other.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := other.ExecContext(ctx, `SET LOCAL deadlock_timeout = '30s'`); err != nil {
		t.Fatal(err)
	}
	if _, err := other.ExecContext(ctx, `UPDATE tokens SET uses = uses WHERE signature = 'b'`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- write(ctx) }()
	waitBlockedBy(t, st.DB(), pid)
	// The store's statement holds a and waits for b: asking for a closes
	// the cycle. This returns once PostgreSQL has aborted the statement.
	if _, err := other.ExecContext(ctx, `UPDATE tokens SET uses = uses WHERE signature = 'a'`); err != nil {
		t.Fatal(err)
	}
	if err := other.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the store's write never returned")
	}
	// The victim's backend reports its statistics when it next goes idle,
	// not at once.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if n := deadlocks() - before; n > 0 {
			return n, err
		}
	}
	return 0, err
}

// waitBlockedBy waits until some backend waits for a lock pid holds.
func waitBlockedBy(t *testing.T, db *sql.DB, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var n int
		if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, pid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
	}
	t.Fatal("the store's write never waited for the other transaction's lock")
}

// A write made outside a transaction that PostgreSQL aborts to break a
// deadlock applied nothing, so the store runs it again: the caller sees
// its write done, not an error (which answered 500 before).
func TestDeadlockedWriteRunsAgain(t *testing.T) {
	st := open(t)
	n, err := deadlock(t, st, func(ctx context.Context) error {
		return st.DeactivateRequest(ctx, store.KindRefresh, "req")
	})
	if n < 1 {
		t.Fatalf("no deadlock happened (%d); the test did not set one up", n)
	}
	if err != nil {
		t.Fatalf("deadlocked write outside a transaction: %v, want it run again and done", err)
	}
	for _, sig := range []string{"a", "b"} {
		tok, err := st.GetToken(t.Context(), store.KindRefresh, sig)
		if err != nil || tok.Active {
			t.Fatalf("token %s after the write: active=%v, %v; want inactive", sig, tok.Active, err)
		}
	}
}

// Inside a transaction the deadlock lost the whole transaction: nothing is
// run again, and the error is store.ErrUnavailable (a 503 with Retry-After
// at the HTTP layer), not an unclassified 500.
func TestDeadlockInTransactionIsUnavailable(t *testing.T) {
	st := open(t)
	n, err := deadlock(t, st, func(ctx context.Context) error {
		return st.Tx(ctx, func(ctx context.Context) error { return st.DeactivateRequest(ctx, store.KindRefresh, "req") })
	})
	if n < 1 {
		t.Fatalf("no deadlock happened (%d); the test did not set one up", n)
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("deadlocked transaction: %v, want store.ErrUnavailable", err)
	}
	for _, sig := range []string{"a", "b"} {
		tok, err := st.GetToken(t.Context(), store.KindRefresh, sig)
		if err != nil || !tok.Active {
			t.Fatalf("token %s after the lost transaction: active=%v, %v; want still active", sig, tok.Active, err)
		}
	}
}
