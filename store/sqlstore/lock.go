package sqlstore

import (
	"context"
	"hash/fnv"
)

// TryLock takes a lock named key that every replica sharing the store sees
// (PostgreSQL's session advisory locks, on a connection held until
// unlock), or reports false when another holder has it. SQLite has one
// process per database file in practice; there it always succeeds and the
// caller's own in-process exclusion is what counts.
func (s *Store) TryLock(ctx context.Context, key string) (unlock func(), ok bool, err error) {
	if s.d.Name != "postgres" {
		return func() {}, true, nil
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	id := int64(h.Sum64())
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, false, wrap(err, "lock %s", key)
	}
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, id).Scan(&ok); err != nil || !ok {
		conn.Close()
		return nil, false, wrap(err, "lock %s", key)
	}
	return func() {
		// Unlock on a context of its own: the caller's may be done.
		_, _ = conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, id)
		conn.Close()
	}, true, nil
}
