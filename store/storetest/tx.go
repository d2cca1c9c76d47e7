package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

func absent(t *testing.T, s store.Store, realmID string) {
	t.Helper()
	_, err := s.GetRealm(t.Context(), realmID)
	isErr(t, err, store.ErrNotFound)
}

func newRealm(id string) store.Realm { return store.Realm{ID: id, Name: id, Created: t0} }

func testTransactions(t *testing.T, s store.Store) {
	ctx := t.Context()
	boom := errors.New("boom")

	err := s.Tx(ctx, func(ctx context.Context) error {
		ok(t, s.CreateRealm(ctx, newRealm("r1")))
		ok(t, s.CreateUser(ctx, store.User{ID: "u1", RealmID: "r1", Username: "alice", Created: t0})) // needs the realm above
		get[store.User](t)(s.GetUserByUsername(ctx, "r1", "alice"))
		return boom
	})
	if err != boom {
		t.Fatalf("Tx returned %v, want fn's error unchanged", err)
	}
	absent(t, s, "r1")

	ok(t, s.Tx(ctx, func(ctx context.Context) error { return s.CreateRealm(ctx, newRealm("r1")) }))
	get[store.Realm](t)(s.GetRealm(ctx, "r1"))

	// A nested Tx joins: it sees the outer writes, and the outer failure
	// undoes its work.
	isErr(t, s.Tx(ctx, func(ctx context.Context) error {
		ok(t, s.CreateRealm(ctx, newRealm("r2")))
		ok(t, s.Tx(ctx, func(ctx context.Context) error {
			get[store.Realm](t)(s.GetRealm(ctx, "r2"))
			return s.CreateRealm(ctx, newRealm("r3"))
		}))
		return boom
	}), boom)
	absent(t, s, "r2")
	absent(t, s, "r3")
	ok(t, s.Tx(ctx, func(ctx context.Context) error {
		return s.Tx(ctx, func(ctx context.Context) error { return s.CreateRealm(ctx, newRealm("r3")) })
	}))
	get[store.Realm](t)(s.GetRealm(ctx, "r3"))

	// A store error inside fn rolls back the earlier writes.
	isErr(t, s.Tx(ctx, func(ctx context.Context) error {
		ok(t, s.CreateRealm(ctx, newRealm("r4")))
		return s.CreateRealm(ctx, newRealm("r1"))
	}), store.ErrConflict)
	absent(t, s, "r4")

	// A panic rolls back, re-panics, and leaves the store usable.
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("Tx swallowed the panic")
			}
		}()
		_ = s.Tx(ctx, func(ctx context.Context) error {
			ok(t, s.CreateRealm(ctx, newRealm("r5")))
			panic("boom")
		})
	}()
	absent(t, s, "r5")
	ok(t, s.CreateRealm(ctx, newRealm("r6")))
}

// testFositeTransactions covers BeginTX/Commit/Rollback, the form fosite's
// handlers use (storage.MaybeBeginTx).
func testFositeTransactions(t *testing.T, s store.Store) {
	tx, isTx := s.(Transactional)
	if !isTx {
		t.Skip("store does not implement BeginTX/Commit/Rollback")
	}
	ctx := t.Context()
	begin := func(ctx context.Context) context.Context {
		t.Helper()
		c, err := tx.BeginTX(ctx)
		ok(t, err)
		return c
	}

	c := begin(ctx)
	ok(t, s.CreateRealm(c, newRealm("r1")))
	get[store.Realm](t)(s.GetRealm(c, "r1"))
	ok(t, tx.Rollback(c))
	absent(t, s, "r1")

	c = begin(ctx)
	ok(t, s.CreateRealm(c, newRealm("r1")))
	ok(t, tx.Commit(c))
	get[store.Realm](t)(s.GetRealm(ctx, "r1"))
	get[store.Realm](t)(s.GetRealm(c, "r1")) // a committed context works on its own
	ok(t, tx.Rollback(c))                    // and rolling it back is a no-op

	// Nested Begin joins: its Commit waits for the outer one...
	outer := begin(ctx)
	inner := begin(outer)
	ok(t, s.CreateRealm(inner, newRealm("r2")))
	ok(t, tx.Commit(inner))
	ok(t, tx.Rollback(outer))
	absent(t, s, "r2")

	// ...and its Rollback dooms the outer transaction.
	outer = begin(ctx)
	inner = begin(outer)
	ok(t, s.CreateRealm(inner, newRealm("r3")))
	ok(t, tx.Rollback(inner))
	if err := tx.Commit(outer); err == nil {
		t.Fatal("Commit succeeded after a nested Rollback")
	}
	absent(t, s, "r3")

	// Tx inside BeginTX joins it.
	outer = begin(ctx)
	ok(t, s.Tx(outer, func(ctx context.Context) error { return s.CreateRealm(ctx, newRealm("r4")) }))
	ok(t, tx.Rollback(outer))
	absent(t, s, "r4")

	if err := tx.Commit(ctx); err == nil {
		t.Fatal("Commit without a transaction succeeded")
	}
}

// testRefreshInTransaction runs fosite's refresh-token rotation in one
// transaction, twenty times in a row, while other goroutines read and write.
// A store method that ignored the transaction in its context would wait for
// a second connection: on SQLite's single writer that is a deadlock, which
// the deadline turns into a failure.
func testRefreshInTransaction(t *testing.T, s store.Store) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	seedRealm(t, s, "r1") // refresh token r1-sig of request r1-req, session r1-session
	ok(t, s.CreateToken(ctx, store.Token{Kind: store.KindAccess, Signature: "at", RequestID: "r1-req", RealmID: "r1",
		ClientID: "app", SessionID: "r1-session", Active: true, Requested: t0, Expires: t0.Add(time.Hour)}))

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		stop = make(chan struct{})
	)
	background := func(fn func(i int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	for range 6 {
		background(func(int) error {
			if _, err := s.GetToken(ctx, store.KindRefresh, "r1-sig"); err != nil {
				return err
			}
			_, err := s.GetUser(ctx, "r1", "r1-user")
			return err
		})
	}
	for w := range 2 {
		background(func(i int) error {
			sig := fmt.Sprintf("bg-%d-%d", w, i)
			if err := s.CreateToken(ctx, store.Token{Kind: store.KindAccess, Signature: sig, RequestID: sig, RealmID: "r1",
				Active: true, Requested: t0, Expires: t0.Add(time.Hour)}); err != nil {
				return err
			}
			return s.DeleteToken(ctx, store.KindAccess, sig)
		})
	}

	sig, at := "r1-sig", "at"
	for i := range 20 {
		newSig, newReq := "rt-"+name(i), "req-"+name(i)
		err := s.Tx(ctx, func(ctx context.Context) error {
			old, err := s.GetToken(ctx, store.KindRefresh, sig)
			if err != nil {
				return err
			}
			if !old.Active {
				return fmt.Errorf("refresh token %s already used", sig)
			}
			if _, err := s.GetSession(ctx, "r1", old.SessionID); err != nil {
				return err
			}
			if err := s.DeactivateToken(ctx, store.KindRefresh, sig); err != nil {
				return err
			}
			if err := s.DeleteToken(ctx, store.KindAccess, at); err != nil {
				return err
			}
			next := old
			next.Kind, next.Signature, next.RequestID, next.Requested = store.KindAccess, "at-"+name(i), newReq, t0
			if err := s.CreateToken(ctx, next); err != nil {
				return err
			}
			next.Kind, next.Signature = store.KindRefresh, newSig
			return s.CreateToken(ctx, next)
		})
		ok(t, err)
		sig, at = newSig, "at-"+name(i)
	}
	close(stop)
	wg.Wait()
	noErrors(t, errs)

	eq(t, "first refresh token active", get[store.Token](t)(s.GetToken(ctx, store.KindRefresh, "r1-sig")).Active, false)
	_, err := s.GetToken(ctx, store.KindAccess, "at")
	isErr(t, err, store.ErrNotFound)
	eq(t, "last refresh token active", get[store.Token](t)(s.GetToken(ctx, store.KindRefresh, sig)).Active, true)
	get[store.Token](t)(s.GetToken(ctx, store.KindAccess, "at-19"))
}
