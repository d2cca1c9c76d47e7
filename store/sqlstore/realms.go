package sqlstore

import (
	"context"

	"github.com/keygate/keygate/store"
)

const realmCols = `id, name, enabled, settings, created, duplicate_emails`

func scanRealm(r scanner) (x store.Realm, err error) {
	err = r.Scan(&x.ID, &x.Name, &x.Enabled, rawCol{&x.Settings}, msTime{&x.Created}, &x.DuplicateEmailsAllowed)
	return x, err
}

func (s *Store) CreateRealm(ctx context.Context, r store.Realm) error {
	_, err := s.exec(ctx, `INSERT INTO realms (`+realmCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		r.ID, r.Name, r.Enabled, string(r.Settings), ms(r.Created), r.DuplicateEmailsAllowed)
	return wrap(err, "create realm %q", r.Name)
}

func (s *Store) GetRealm(ctx context.Context, id string) (store.Realm, error) {
	r, err := get(ctx, s, scanRealm, `SELECT `+realmCols+` FROM realms WHERE id = ?`, id)
	return r, wrap(err, "get realm %s", id)
}

func (s *Store) GetRealmByName(ctx context.Context, name string) (store.Realm, error) {
	r, err := get(ctx, s, scanRealm, `SELECT `+realmCols+` FROM realms WHERE name = ?`, name)
	return r, wrap(err, "get realm %q", name)
}

func (s *Store) ListRealms(ctx context.Context) ([]store.Realm, error) {
	rs, err := list(ctx, s, scanRealm, `SELECT `+realmCols+` FROM realms ORDER BY name`)
	return rs, wrap(err, "list realms")
}

// UpdateRealm writes the realm row in one statement. A change of
// duplicate_emails rewrites the copy on each of the realm's users in that
// statement (PostgreSQL: ON UPDATE CASCADE, SQLite: a trigger; migration
// 0010), so turning duplicates off while users share an email violates
// users_email_unique: ErrConflict, and nothing is written.
func (s *Store) UpdateRealm(ctx context.Context, r store.Realm) error {
	err := s.execOne(ctx, `UPDATE realms SET name = ?, enabled = ?, settings = ?, duplicate_emails = ? WHERE id = ?`,
		r.Name, r.Enabled, string(r.Settings), r.DuplicateEmailsAllowed, r.ID)
	return wrap(err, "update realm %s", r.ID)
}

// DeleteRealm deletes the realm; foreign keys cascade to every realm-owned
// row. Tokens have no foreign key (they are the hottest table) and are
// deleted first, by a scan: realm deletion is rare.
func (s *Store) DeleteRealm(ctx context.Context, id string) error {
	return wrap(s.Tx(ctx, func(ctx context.Context) error {
		for _, t := range []string{"tokens", "events", "admin_events"} {
			if _, err := s.exec(ctx, `DELETE FROM `+t+` WHERE realm_id = ?`, id); err != nil {
				return err
			}
		}
		return s.execOne(ctx, `DELETE FROM realms WHERE id = ?`, id)
	}), "delete realm %s", id)
}

// TouchRealmVersions implements store.Store.
func (s *Store) TouchRealmVersions(ctx context.Context, id string) error {
	err := s.execOne(ctx, `UPDATE realm_versions SET config = config + 1, grants = grants + 1, components = components + 1
		WHERE realm_id = ?`, id)
	return wrap(err, "touch cache versions of realm %s", id)
}
