package sqlstore

import (
	"strings"
	"sync/atomic"
	"testing"
)

// Which writes make the process read the change counters at once: those
// to a cached table, and to users (a deletion's mappings cascade; a
// service account's row moves config), whatever the statement's shape.
func TestWritesCached(t *testing.T) {
	for q, want := range map[string]bool{
		`INSERT INTO roles (id) VALUES (?)`:                                 true,
		"INSERT INTO user_roles (realm_id, user_id, role_id)\n\t\tSELECT ?": true,
		`insert or ignore into group_roles VALUES (?)`:                      true,
		`INSERT INTO keys (id) VALUES (?) ON CONFLICT DO NOTHING`:           true,
		`UPDATE realms SET settings = ? WHERE id = ?`:                       true,
		"WITH RECURSIVE sub (id) AS (SELECT id FROM groups WHERE id = ?)\n\t\tDELETE FROM groups WHERE id IN (SELECT id FROM sub)": true,
		`DELETE FROM users WHERE realm_id = ? AND id = ?`:                                                                          true,
		`UPDATE users SET enabled = ? WHERE id = ?`:                                                                                true,
		`INSERT INTO tokens (signature) VALUES (?) ON CONFLICT (signature) DO UPDATE SET active = FALSE`:                           false,
		`UPDATE tokens SET active = FALSE WHERE request_id = ?`:                                                                    false,
		`INSERT INTO sessions (id, updated_at) VALUES (?, ?)`:                                                                      false,
		`ANALYZE users`: false,
	} {
		if got := writesCached(q); got != want {
			t.Errorf("writesCached(%q) = %v, want %v", q, got, want)
		}
	}
}

// Texts built per call (an IN list as long as its input) are decided but
// not kept: the per-text caches stay bounded whatever the inputs.
func TestWritesCachedKeepsNoLongTexts(t *testing.T) {
	long := "DELETE FROM user_roles WHERE role_id IN (" + strings.Repeat("?, ", maxCachedArgs) + "?)"
	if !writesCached(long) {
		t.Fatal("a long write to a cached table was not recognised")
	}
	if _, kept := writeKinds.Load(long); kept {
		t.Error("a text with more than maxCachedArgs placeholders was kept")
	}
	var n atomic.Int64
	n.Store(maxCachedStmts)
	if cacheable("SELECT 1", &n) {
		t.Error("a full cache took another text")
	}
}
