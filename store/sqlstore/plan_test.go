package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
)

// TestUserQueryPlans pins which index SQLite uses for each kind of user
// query (on analysed statistics, two realms of 1,000 users).
func TestUserQueryPlans(t *testing.T) {
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "plans.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Tx(ctx, func(ctx context.Context) error {
		for _, r := range []string{"r1", "r2"} {
			if err := s.CreateRealm(ctx, store.Realm{ID: r, Name: r, Created: time.Now()}); err != nil {
				return err
			}
			for i := range 1000 {
				if err := s.CreateUser(ctx, store.User{ID: fmt.Sprint(r, i), RealmID: r, Username: fmt.Sprintf("user%04d", i),
					Email: fmt.Sprintf("u%d@example.com", i), FirstName: fmt.Sprint("F", i), LastName: fmt.Sprint("L", i),
					Created: time.Now()}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		q    store.UserQuery
		want []string // each must appear in the plan
	}{
		{store.UserQuery{Username: "user01", Prefix: true, Max: 20},
			[]string{"users_username (realm_id=? AND username>? AND username<?)"}},
		{store.UserQuery{Search: "user01", Prefix: true, Max: 20}, []string{
			"users_username (realm_id=? AND username>? AND username<?)", "users_email (realm_id=? AND email>? AND email<?)",
			"users_first (realm_id=? AND first_lower>? AND first_lower<?)", "users_last (realm_id=? AND last_lower>? AND last_lower<?)",
		}},
		{store.UserQuery{Username: "USER0001", Exact: true}, []string{"users_username (realm_id=? AND username=?)"}},
		{store.UserQuery{Email: "u1@example.com", Exact: true}, []string{"users_email (realm_id=? AND email=?)"}},
		{store.UserQuery{LastName: "l1", Exact: true}, []string{"users_last (realm_id=? AND last_lower=?)"}},
		{store.UserQuery{Max: 20}, []string{"users_username (realm_id=?)"}}, // in order, no sort
	} {
		query, args := s.ListUsersSQL("r1", tc.q)
		rows, err := s.DB().QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, w := range tc.want {
			if !strings.Contains(strings.Join(plan, "\n"), w) {
				t.Errorf("%+v: plan lacks %q:\n  %s", tc.q, w, strings.Join(plan, "\n  "))
			}
		}
	}
}

// TestTokenQueryPlans checks that revoking a long refresh chain seeks to the
// chain's active refresh token instead of reading every row the chain left
// behind (a refresh cost O(rotations) before 0003).
func TestTokenQueryPlans(t *testing.T) {
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "plans.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	err = s.Tx(ctx, func(ctx context.Context) error {
		for i := range 2000 { // one chain, rotated 2,000 times
			if err := s.CreateToken(ctx, store.Token{Kind: store.KindRefresh, Signature: fmt.Sprint("sig", i), RequestID: "chain",
				RealmID: "r", ClientID: "c", Active: i == 1999, Requested: now, Expires: now.Add(time.Hour)}); err != nil {
				return err
			}
		}
		return s.CreateToken(ctx, store.Token{Kind: store.KindAccess, Signature: "at", RequestID: "chain",
			RealmID: "r", ClientID: "c", Active: true, Requested: now, Expires: now.Add(time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	const want = "SEARCH tokens USING INDEX tokens_request (request_id=? AND kind=? AND active=?)"
	query := s.DeactivateRequestSQL()
	var id, parent, unused int
	var detail string
	if err := s.DB().QueryRowContext(ctx, "EXPLAIN QUERY PLAN "+query, "chain", "refresh").Scan(&id, &parent, &unused, &detail); err != nil {
		t.Fatal(err)
	}
	if detail != want {
		t.Errorf("%s\n  plan %q, want %q", query, detail, want)
	}
	// And the rotation itself: only the one active row changes.
	if err := s.DeactivateRequest(ctx, store.KindRefresh, "chain"); err != nil {
		t.Fatal(err)
	}
	var active int
	if err := s.DB().QueryRowContext(ctx, "SELECT count(*) FROM tokens WHERE request_id = 'chain' AND kind = 'refresh' AND active").Scan(&active); err != nil || active != 0 {
		t.Errorf("active refresh tokens after DeactivateRequest: %d, %v", active, err)
	}
}

// TestAdminSessionQueryPlans: the admin API's session reads never scan the
// tokens table (one row per live token and spent refresh, realm-wide):
// client sessions probe tokens by session (walking the realm's sessions,
// by index or not as the planner sees fit), offline ones by user.
func TestAdminSessionQueryPlans(t *testing.T) {
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "plans.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	err = s.Tx(ctx, func(ctx context.Context) error {
		for _, r := range []string{"r1", "r2"} {
			if err := s.CreateRealm(ctx, store.Realm{ID: r, Name: r, Created: now}); err != nil {
				return err
			}
			for i := range 300 {
				u, sid := fmt.Sprint(r, "u", i), fmt.Sprint(r, "s", i)
				if err := s.CreateUser(ctx, store.User{ID: u, RealmID: r, Username: u, Created: now}); err != nil {
					return err
				}
				if err := s.CreateSession(ctx, store.Session{ID: sid, RealmID: r, UserID: u, Created: now, LastSeen: now, AuthTime: now}); err != nil {
					return err
				}
				for j, kind := range []store.TokenKind{store.KindRefresh, store.KindRefresh, store.KindOffline, store.KindCode} {
					if err := s.CreateToken(ctx, store.Token{Kind: kind, Signature: fmt.Sprint(sid, j), RequestID: sid + string(kind),
						RealmID: r, ClientID: fmt.Sprint("c", i%7), Subject: u, SessionID: sid, Active: j > 0,
						Requested: now, Expires: now.Add(time.Hour)}); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	q := s.AdminSessionsSQL()
	for _, tc := range []struct {
		name string
		args []any
		want []string
	}{
		{"list", []any{"r1", "c1", now.UnixMilli(), 100, 0}, []string{"tokens_session (session_id=?)"}},
		{"count", []any{"r1", now.UnixMilli()}, []string{"tokens_session (session_id=?)"}},
		{"offline", []any{"r1", now.UnixMilli(), "r1u7"}, []string{"tokens_offline (realm_id=? AND subject=?)"}},
		{"offlineClient", []any{"r1", now.UnixMilli(), "r1", "c1", now.UnixMilli()}, []string{"tokens_offline (realm_id=?)"}},
		{"offlineCount", []any{"r1", now.UnixMilli()}, []string{"tokens_offline (realm_id=?)"}},
		{"offlineSession", []any{"r1s7", "r1", now.UnixMilli()}, []string{"tokens_session (session_id=?)"}},
	} {
		rows, err := s.DB().QueryContext(ctx, "EXPLAIN QUERY PLAN "+q[tc.name], tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, "\n")
		for _, w := range tc.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: plan lacks %q:\n%s", tc.name, w, all)
			}
		}
		if strings.Contains(all, "SCAN tokens") || strings.Contains(all, "SCAN t ") || strings.HasSuffix(all, "SCAN t") {
			t.Errorf("%s: scans tokens:\n%s", tc.name, all)
		}
	}
}
