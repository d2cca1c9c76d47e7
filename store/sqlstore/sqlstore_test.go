package sqlstore

import "testing"

func TestDollarize(t *testing.T) {
	for in, want := range map[string]string{
		`SELECT 1`: `SELECT 1`,
		`a = ? AND b LIKE ? ESCAPE '\' AND c = ?`: `a = $1 AND b LIKE $2 ESCAPE '\' AND c = $3`,
		`x = '?' AND y = ? AND z = 'it''s ?'`:     `x = '?' AND y = $1 AND z = 'it''s ?'`,
	} {
		if got := dollarize(in); got != want {
			t.Errorf("dollarize(%q) = %q, want %q", in, got, want)
		}
	}
}
