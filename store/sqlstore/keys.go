package sqlstore

import (
	"context"
	"errors"

	"github.com/keygate/keygate/store"
)

const keyCols = `id, realm_id, algorithm, key_use, active, private_key, created`

func scanKey(r scanner) (k store.Key, err error) {
	err = r.Scan(&k.ID, &k.RealmID, &k.Algorithm, &k.Use, &k.Active, &k.Private, msTime{&k.Created})
	return k, err
}

const insertKey = `INSERT INTO keys (` + keyCols + `) VALUES (?, ?, ?, ?, TRUE, ?, ?)`

// ListKeys lists the realm's keys by algorithm, the active one first, then
// newest first.
func (s *Store) ListKeys(ctx context.Context, realmID string) ([]store.Key, error) {
	ks, err := list(ctx, s, scanKey, `SELECT `+keyCols+` FROM keys WHERE realm_id = ?
		ORDER BY algorithm, active DESC, created DESC, id`, realmID)
	return ks, wrap(err, "list keys")
}

// CreateActiveKey inserts k as active unless the partial unique index on
// (realm_id, algorithm) WHERE active already holds a key; ON CONFLICT DO
// NOTHING waits for a concurrent inserter on PostgreSQL and never fails, so
// every caller then reads the one winner.
func (s *Store) CreateActiveKey(ctx context.Context, k store.Key) (store.Key, error) {
	if _, err := s.exec(ctx, insertKey+` ON CONFLICT DO NOTHING`,
		k.ID, k.RealmID, k.Algorithm, k.Use, k.Private, ms(k.Created)); err != nil {
		return store.Key{}, wrap(err, "create %s key", k.Algorithm)
	}
	active, err := get(ctx, s, scanKey, `SELECT `+keyCols+` FROM keys WHERE realm_id = ? AND algorithm = ? AND active`,
		k.RealmID, k.Algorithm)
	if errors.Is(err, store.ErrNotFound) { // k.ID was taken by a key of another realm or algorithm
		err = store.ErrConflict
	}
	return active, wrap(err, "create %s key", k.Algorithm)
}

// RotateKey makes k the active key of its (realm, algorithm) and the old one
// passive, in one transaction. Two concurrent rotations may end in
// ErrConflict for one of them on PostgreSQL; retrying is safe.
func (s *Store) RotateKey(ctx context.Context, k store.Key) error {
	return wrap(s.Tx(ctx, func(ctx context.Context) error {
		if _, err := s.exec(ctx, `UPDATE keys SET active = FALSE WHERE realm_id = ? AND algorithm = ? AND active`,
			k.RealmID, k.Algorithm); err != nil {
			return err
		}
		_, err := s.exec(ctx, insertKey, k.ID, k.RealmID, k.Algorithm, k.Use, k.Private, ms(k.Created))
		return err
	}), "rotate %s key", k.Algorithm)
}

func (s *Store) DeleteKey(ctx context.Context, realmID, id string) error {
	err := s.execOne(ctx, `DELETE FROM keys WHERE realm_id = ? AND id = ?`, realmID, id)
	return wrap(err, "delete key %s", id)
}

// ReplaceKeyPrivate replaces the stored private part of one key if it still
// holds old (compare-and-swap; ErrNotFound otherwise). `keygate keys seal`
// seals keys in place with it, inside one transaction.
func (s *Store) ReplaceKeyPrivate(ctx context.Context, realmID, id string, old, updated []byte) error {
	err := s.execOne(ctx, `UPDATE keys SET private_key = ? WHERE realm_id = ? AND id = ? AND private_key = ?`,
		updated, realmID, id, old)
	return wrap(err, "replace key %s", id)
}
