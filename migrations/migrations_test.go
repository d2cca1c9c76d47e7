package migrations_test

import (
	"io/fs"
	"os"
	"path"
	"regexp"
	"testing"

	"github.com/keygate/keygate/migrations"
)

var testdata = os.DirFS("testdata")

// Both dialects carry the same numbered steps under the same names, each
// with a seed fixture for the migration test (store/storetest.RunMigrations).
func TestDialectsInStep(t *testing.T) {
	valid := regexp.MustCompile(`^[0-9]{4}_[a-z0-9_]+\.up\.sql$`)
	steps := map[string][]string{}
	for _, d := range []string{"sqlite", "postgres"} {
		files, err := fs.Glob(migrations.FS, d+"/*")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			name := path.Base(f)
			if !valid.MatchString(name) {
				t.Errorf("%s: want NNNN_name.up.sql", f)
			}
			steps[d] = append(steps[d], name)
			if _, err := fs.Stat(testdata, d+"/"+name[:4]+".sql"); err != nil {
				t.Errorf("%s has no seed fixture: %v", f, err)
			}
		}
	}
	if len(steps["sqlite"]) == 0 || len(steps["sqlite"]) != len(steps["postgres"]) {
		t.Fatalf("migrations out of step: %v", steps)
	}
	for i := range steps["sqlite"] {
		if steps["sqlite"][i] != steps["postgres"][i] {
			t.Errorf("step %d: sqlite has %s, postgres %s", i, steps["sqlite"][i], steps["postgres"][i])
		}
	}
}
