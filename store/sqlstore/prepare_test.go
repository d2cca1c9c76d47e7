package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
)

// TestStatementsFirstMetInTransactionsGetPrepared: a statement a
// transaction runs is prepared once the writer is free, so the token paths'
// writes stop being parsed on every call; a statement already cached is not
// prepared again.
func TestStatementsFirstMetInTransactionsGetPrepared(t *testing.T) {
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "prep.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	create := func(i int) {
		t.Helper()
		err := s.Tx(ctx, func(ctx context.Context) error {
			return s.CreateRealm(ctx, store.Realm{ID: fmt.Sprint("r", i), Name: fmt.Sprint("r", i), Created: time.Now()})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	before := s.PreparedStatements()
	create(1)
	deadline := time.Now().Add(5 * time.Second)
	for s.PreparedStatements() == before {
		if time.Now().After(deadline) {
			t.Fatalf("the transaction's statement was never prepared (%d cached before and after)", before)
		}
		time.Sleep(10 * time.Millisecond)
	}
	after := settled(s)
	for i := 2; i < 5; i++ {
		create(i)
	}
	if n := settled(s); n != after {
		t.Fatalf("statements cached grew from %d to %d on repeated transactions of the same statement", after, n)
	}
}

// settled waits until no preparation has finished for 1 s: the
// preparations run in the background, and a loaded machine can hold one
// back for a few hundred milliseconds.
func settled(s interface{ PreparedStatements() int64 }) int64 {
	n := s.PreparedStatements()
	for {
		time.Sleep(time.Second)
		m := s.PreparedStatements()
		if m == n {
			return n
		}
		n = m
	}
}
