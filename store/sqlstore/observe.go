package sqlstore

import "time"

// Kinds of statement ObserveQueries reports.
const (
	QueryRead   = "read"   // a query outside or inside a transaction
	QueryWrite  = "write"  // an INSERT, UPDATE or DELETE
	QueryBegin  = "begin"  // starting a transaction: on SQLite, the wait for the single writer
	QueryCommit = "commit" // committing one
)

// ObserveQueries has fn told of every statement the store runs through its
// query helpers, and of every transaction's begin and commit: the kind
// (QueryRead, ...), how long it took and its error (classified: errors.Is
// with store.ErrNotFound, ErrConflict, ErrUnavailable works). The server
// exports it as metrics. fn runs on the caller's goroutine and must be
// quick. Migrations, readiness probes and backups are not reported.
func (s *Store) ObserveQueries(fn func(kind string, d time.Duration, err error)) {
	s.observer.Store(&fn)
}

// observed reports a statement of kind that started at start and ended
// with *err; used as `defer s.observed(kind, time.Now(), &err)`.
func (s *Store) observed(kind string, start time.Time, err *error) {
	if fn := s.observer.Load(); fn != nil {
		(*fn)(kind, time.Since(start), *err)
	}
}
