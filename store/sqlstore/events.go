package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/keygate/keygate/store"
)

const (
	eventCols      = `id, realm_id, time, type, client_id, user_id, session_id, ip_address, error, details`
	adminEventCols = `id, realm_id, time, operation_type, resource_type, resource_path, auth_realm_id, auth_client_id, auth_user_id, auth_ip_address, representation, error`
)

func scanEvent(r scanner) (e store.Event, err error) {
	err = r.Scan(&e.ID, &e.RealmID, msTime{&e.Time}, &e.Type, &e.ClientID, &e.UserID, &e.SessionID, &e.IPAddress, &e.Error, jsonCol{&e.Details})
	return e, err
}

func scanAdminEvent(r scanner) (e store.AdminEvent, err error) {
	err = r.Scan(&e.ID, &e.RealmID, msTime{&e.Time}, &e.OperationType, &e.ResourceType, &e.ResourcePath, &e.AuthRealmID,
		&e.AuthClientID, &e.AuthUserID, &e.AuthIPAddress, &e.Representation, &e.Error)
	return e, err
}

// AddEvents inserts the batch in one transaction, one prepared statement
// per table.
func (s *Store) AddEvents(ctx context.Context, events []store.Event, admin []store.AdminEvent) error {
	if len(events) == 0 && len(admin) == 0 {
		return nil
	}
	return wrap(s.Tx(ctx, func(ctx context.Context) error {
		for _, e := range events {
			if _, err := s.exec(ctx, `INSERT INTO events (`+eventCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				e.ID, e.RealmID, ms(e.Time), e.Type, e.ClientID, e.UserID, e.SessionID, e.IPAddress, e.Error, jsonText(e.Details)); err != nil {
				return err
			}
		}
		for _, e := range admin {
			if _, err := s.exec(ctx, `INSERT INTO admin_events (`+adminEventCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				e.ID, e.RealmID, ms(e.Time), e.OperationType, e.ResourceType, e.ResourcePath, e.AuthRealmID, e.AuthClientID,
				e.AuthUserID, e.AuthIPAddress, e.Representation, e.Error); err != nil {
				return err
			}
		}
		return nil
	}), "add events")
}

// where builds a conjunction of conditions with their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) eq(col, v string) {
	if v != "" {
		w.conds = append(w.conds, col+" = ?")
		w.args = append(w.args, v)
	}
}

func (w *where) in(col string, vs []string) {
	if len(vs) == 0 {
		return
	}
	w.conds = append(w.conds, col+" IN (?"+strings.Repeat(", ?", len(vs)-1)+")")
	for _, v := range vs {
		w.args = append(w.args, v)
	}
}

func (w *where) add(cond string, arg any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, arg)
}

func (w *where) sql(first, max int) string {
	q := " WHERE " + strings.Join(w.conds, " AND ") + " ORDER BY time DESC, id DESC"
	if max > 0 {
		q += " LIMIT ?"
		w.args = append(w.args, max)
	} else if first > 0 {
		q += " LIMIT -1"
	}
	if first > 0 {
		q += " OFFSET ?"
		w.args = append(w.args, first)
	}
	return q
}

func (s *Store) ListEvents(ctx context.Context, realmID string, q store.EventQuery) ([]store.Event, error) {
	w := &where{}
	w.eq("realm_id", realmID)
	w.in("type", q.Types)
	w.eq("client_id", q.Client)
	w.eq("user_id", q.User)
	w.eq("ip_address", q.IPAddress)
	if !q.From.IsZero() {
		w.add("time >= ?", ms(q.From))
	}
	if !q.To.IsZero() {
		w.add("time <= ?", ms(q.To))
	}
	query := `SELECT ` + eventCols + ` FROM events` + w.sql(q.First, s.limit(q.First, q.Max))
	es, err := list(ctx, s, scanEvent, query, w.args...)
	return es, wrap(err, "list events")
}

func (s *Store) ListAdminEvents(ctx context.Context, realmID string, q store.AdminEventQuery) ([]store.AdminEvent, error) {
	w := &where{}
	w.eq("realm_id", realmID)
	w.in("operation_type", q.OperationTypes)
	w.in("resource_type", q.ResourceTypes)
	if p := q.ResourcePath; p != "" {
		if strings.Contains(p, "*") {
			// Keycloak's wildcard; LIKE's own wildcards in the path are literal.
			r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`, `*`, `%`)
			w.add(`resource_path LIKE ? ESCAPE '\'`, r.Replace(p))
		} else {
			w.eq("resource_path", p)
		}
	}
	w.eq("auth_realm_id", q.AuthRealm)
	w.eq("auth_client_id", q.AuthClient)
	w.eq("auth_user_id", q.AuthUser)
	w.eq("auth_ip_address", q.AuthIPAddress)
	if !q.From.IsZero() {
		w.add("time >= ?", ms(q.From))
	}
	if !q.To.IsZero() {
		w.add("time <= ?", ms(q.To))
	}
	query := `SELECT ` + adminEventCols + ` FROM admin_events` + w.sql(q.First, s.limit(q.First, q.Max))
	es, err := list(ctx, s, scanAdminEvent, query, w.args...)
	return es, wrap(err, "list admin events")
}

// limit is max, or for an offset without a limit on PostgreSQL (which has
// no LIMIT -1) a limit large enough to mean none.
func (s *Store) limit(first, max int) int {
	if max <= 0 && first > 0 && s.d.Dollar {
		return 1 << 62
	}
	return max
}

func (s *Store) DeleteEvents(ctx context.Context, realmID string) error {
	_, err := s.exec(ctx, `DELETE FROM events WHERE realm_id = ?`, realmID)
	return wrap(err, "delete events")
}

func (s *Store) DeleteAdminEvents(ctx context.Context, realmID string) error {
	_, err := s.exec(ctx, `DELETE FROM admin_events WHERE realm_id = ?`, realmID)
	return wrap(err, "delete admin events")
}

func (s *Store) DeleteExpiredEvents(ctx context.Context, realmID string, before time.Time) (int, error) {
	n, err := s.exec(ctx, `DELETE FROM events WHERE realm_id = ? AND time < ?`, realmID, ms(before))
	return int(n), wrap(err, "delete expired events")
}
