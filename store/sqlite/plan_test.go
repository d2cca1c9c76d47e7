package sqlite_test

import (
	"strings"
	"testing"
)

// A user's role and group mappings, read by (realm_id, user_id) on every
// token, must be an index seek on both keys: with an index on realm_id
// alone SQLite chose it and scanned the realm's mappings, a cost that
// grows with the realm's users.
func TestMembershipLookupsSeekByUser(t *testing.T) {
	s := openFile(t)
	for _, q := range []string{
		`SELECT m.role_id FROM user_roles m JOIN roles r ON r.id = m.role_id WHERE m.realm_id = ? AND m.user_id = ? ORDER BY r.client_id, r.name`,
		`SELECT m.group_id FROM user_groups m JOIN groups g ON g.id = m.group_id WHERE m.realm_id = ? AND m.user_id = ? ORDER BY g.name, g.id`,
	} {
		rows, err := s.DB().QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, "r", "u")
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, "; ")
		if !strings.Contains(joined, "realm_id=? AND user_id=?") && !strings.Contains(joined, "user_id=?") {
			t.Errorf("membership lookup does not seek by user: %s", joined)
		}
		if strings.Contains(joined, "(realm_id=?)") {
			t.Errorf("membership lookup uses the realm-only index: %s", joined)
		}
	}
}
