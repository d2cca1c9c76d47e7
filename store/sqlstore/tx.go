package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// txKey is the context key under which a *txFrame travels.
type txKey struct{}

// txn is one database transaction shared by every frame that joined it.
type txn struct {
	s            *Store
	tx           *sql.Tx
	done         atomic.Bool // committed or rolled back
	rollbackOnly atomic.Bool // a joined frame rolled back
	bulk         bulkState   // bulk writes in this transaction (bulk.go)
	cached       atomic.Bool // it wrote a cached table (versions.go)
	wrote        atomic.Bool // it wrote anything (Dialect.Wrote at its Commit)
}

// txFrame is one Begin of a transaction: the outermost owns it, nested ones
// join it.
type txFrame struct {
	t     *txn
	owner bool
}

// txOf returns the live transaction of this store carried by ctx, if any. A
// finished transaction is ignored, so a context kept after Commit runs later
// statements on their own instead of failing with sql.ErrTxDone.
func (s *Store) txOf(ctx context.Context) *txn {
	f, _ := ctx.Value(txKey{}).(*txFrame)
	if f == nil || f.t.s != s || f.t.done.Load() {
		return nil
	}
	return f.t
}

// Tx runs fn in one transaction. A nested call joins the outer transaction
// and only returns fn's error: the outermost Tx decides. fn's error rolls the
// transaction back and is returned unchanged; a panic rolls back and
// re-panics.
//
// On PostgreSQL a failed statement aborts the whole transaction, so treat
// any store error inside fn as fatal to it.
func (s *Store) Tx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if s.txOf(ctx) != nil {
		return fn(ctx)
	}
	ctx, err = s.BeginTX(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			_ = s.Rollback(ctx)
			panic(p)
		}
	}()
	if err := fn(ctx); err != nil {
		_ = s.Rollback(ctx)
		return err
	}
	return s.Commit(ctx)
}

// BeginTX starts a transaction and returns a context carrying it (fosite's
// storage.Transactional). If ctx already carries one, the new context joins
// it: its Commit does nothing and its Rollback makes the outer Commit fail.
// On SQLite the transaction holds the single writer connection from BEGIN
// (BEGIN IMMEDIATE) until Commit or Rollback.
func (s *Store) BeginTX(ctx context.Context) (_ context.Context, err error) {
	if t := s.txOf(ctx); t != nil {
		return context.WithValue(ctx, txKey{}, &txFrame{t: t}), nil
	}
	defer s.observed(QueryBegin, time.Now(), &err)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return ctx, fmt.Errorf("sqlstore: begin: %w", s.classify(err))
	}
	return context.WithValue(ctx, txKey{}, &txFrame{t: &txn{s: s, tx: tx}, owner: true}), nil
}

// errRolledBack reports a Commit of a transaction a joined frame rolled back.
var errRolledBack = errors.New("sqlstore: transaction was rolled back by a nested Rollback")

// Commit commits the transaction ctx carries if ctx's frame began it.
func (s *Store) Commit(ctx context.Context) error {
	f, err := s.frame(ctx)
	if err != nil || !f.owner {
		return err
	}
	if !f.t.done.CompareAndSwap(false, true) {
		return fmt.Errorf("sqlstore: commit: %w", sql.ErrTxDone)
	}
	if f.t.rollbackOnly.Load() {
		_ = f.t.tx.Rollback()
		return errRolledBack
	}
	start := time.Now()
	err = s.classify(f.t.tx.Commit())
	s.observed(QueryCommit, start, &err)
	if err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	s.committed(f.t)
	return nil
}

// Rollback rolls back the transaction ctx carries; from a joined frame it
// marks the transaction so that the owner's Commit rolls back instead.
// Rolling back a finished transaction is a no-op.
func (s *Store) Rollback(ctx context.Context) error {
	f, err := s.frame(ctx)
	if err != nil {
		return err
	}
	if !f.owner {
		f.t.rollbackOnly.Store(true)
		return nil
	}
	if !f.t.done.CompareAndSwap(false, true) {
		return nil
	}
	if err := f.t.tx.Rollback(); err != nil {
		return fmt.Errorf("sqlstore: rollback: %w", err)
	}
	return nil
}

func (s *Store) frame(ctx context.Context) (*txFrame, error) {
	f, _ := ctx.Value(txKey{}).(*txFrame)
	if f == nil || f.t.s != s {
		return nil, errors.New("sqlstore: no transaction in context")
	}
	return f, nil
}
