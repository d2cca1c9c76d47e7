package rep

import (
	"strings"
	"testing"
	"time"
)

// TestDecodeAtReReadBudget: a document that nests its bulk deep (here 1 MiB
// of attribute under 60 levels of subGroups) is refused instead of being
// copied and re-read once per level (before: 120 MiB of copies for 1 MiB of
// input, 4 GiB for the 32 MiB POST /admin/realms takes); a real export,
// shallow as Keycloak's are, is read as before.
func TestDecodeAtReReadBudget(t *testing.T) {
	doc := `{"name":"g","attributes":{"x":["` + strings.Repeat("a", 1<<20) + `"]}}`
	for range 60 {
		doc = `{"name":"g","subGroups":[` + doc + `]}`
	}
	doc = `{"realm":"x","groups":[` + doc + `]}`
	start := time.Now()
	var r Realm
	err := Decode([]byte(doc), &r)
	if err == nil || !strings.Contains(err.Error(), "too much data nested too deep") {
		t.Fatalf("deeply nested bulk: %v, want it refused", err)
	}
	t.Logf("refused in %v: %v", time.Since(start), err)
	// The same bulk near the top is fine.
	flat := `{"realm":"x","groups":[{"name":"g","attributes":{"x":["` + strings.Repeat("a", 4<<20) + `"]}}]}`
	if err := Decode([]byte(flat), &r); err != nil {
		t.Fatalf("shallow bulk: %v", err)
	}
	if err := Decode(readTestdata(t), &r); err != nil {
		t.Fatalf("test export: %v", err)
	}
}
