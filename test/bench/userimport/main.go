// Command userimport benchmarks `keygate users import` and the first login
// of an imported md5 user. It generates md5 users, imports them with the
// real binary ($KEYGATE_BIN, else built) into SQLite and PostgreSQL, and
// prints users/s, wall time and the import process's peak RSS against the
// targets; then it times first logins (md5 verify + re-hash + write)
// against normal PBKDF2 logins in process.
//
//	go run ./test/bench/userimport                # 1,000,000 users (CSV), 100,000 (HOCON)
//	go run ./test/bench/userimport -users 100000 -pg ''
//
// Like the load benchmark it prints figures and exits 0 when a target is
// missed; it exits non-zero only when something fails outright.
package main

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/idp/userimport"
	"github.com/keygate/keygate/store/sqlite"
)

const (
	targetSQLite   = 60 * time.Second
	targetPostgres = 90 * time.Second
	targetRSS      = 512 << 20
	targetFirst    = 1.2 // first login / normal login
)

func main() {
	users := flag.Int("users", 1_000_000, "users in the CSV file")
	hoconUsers := flag.Int("hocon-users", 100_000, "users in the HOCON file (0 skips it)")
	pg := flag.String("pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL server to import into ('' skips it)")
	logins := flag.Int("logins", 40, "logins of each kind for the first-login ratio (0 skips it)")
	flag.Parse()
	if err := run(*users, *hoconUsers, *pg, *logins); err != nil {
		fmt.Fprintln(os.Stderr, "userimport bench:", err)
		os.Exit(1)
	}
}

func run(users, hoconUsers int, pg string, logins int) error {
	dir, err := os.MkdirTemp("", "keygate-userimport-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := keygateBinary(dir)
	if err != nil {
		return err
	}
	realm := filepath.Join(dir, "bench-realm.json")
	if err := os.WriteFile(realm, []byte(`{"realm":"bench","enabled":true}`), 0o600); err != nil {
		return err
	}
	fmt.Printf("%-34s %10s %10s %10s %12s  %s\n", "import", "users", "wall", "users/s", "peak RSS", "verdict")
	if users > 0 {
		csv := filepath.Join(dir, "users.csv")
		if err := writeCSV(csv, users); err != nil {
			return err
		}
		if err := bench(bin, "CSV -> SQLite", "sqlite:"+filepath.Join(dir, "csv.db"), realm, csv, users, targetSQLite); err != nil {
			return err
		}
		if pg != "" {
			dsn, drop, err := scratchSchema(pg)
			if err != nil {
				return err
			}
			err = bench(bin, "CSV -> PostgreSQL", dsn, realm, csv, users, targetPostgres)
			drop()
			if err != nil {
				return err
			}
		}
	}
	if hoconUsers > 0 {
		conf := filepath.Join(dir, "application_stackstate.conf")
		if err := writeHOCON(conf, hoconUsers); err != nil {
			return err
		}
		if err := bench(bin, "HOCON -> SQLite", "sqlite:"+filepath.Join(dir, "hocon.db"), realm, conf, hoconUsers, 0); err != nil {
			return err
		}
	}
	if logins > 0 {
		return firstLogins(dir, logins)
	}
	return nil
}

// bench creates realm bench in db, then times `keygate users import`.
func bench(bin, name, db, realm, file string, n int, target time.Duration) error {
	if out, err := exec.Command(bin, "realm", "import", "--db", db, realm).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: realm import: %v: %s", name, err, out)
	}
	cmd := exec.Command(bin, "users", "import", "--db", db, "--realm", "bench", file)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		return fmt.Errorf("%s: %v: %s", name, err, out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("created %d,", n)) {
		return fmt.Errorf("%s: unexpected result: %s", name, out)
	}
	// ru_maxrss is the child's peak resident set (VmHWM), in KiB on Linux.
	rss := int64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) << 10
	verdict := "-"
	if target > 0 {
		verdict = fmt.Sprintf("%s (≤ %s, ≤ %d MiB)", passFail(wall <= target && rss <= targetRSS), target, targetRSS>>20)
	}
	fmt.Printf("%-34s %10d %9.1fs %10.0f %9d MiB  %s\n", name, n, wall.Seconds(), float64(n)/wall.Seconds(), rss>>20, verdict)
	return nil
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func keygateBinary(dir string) (string, error) {
	if b := os.Getenv("KEYGATE_BIN"); b != "" {
		return b, nil
	}
	b := filepath.Join(dir, "keygate")
	cmd := exec.Command("go", "build", "-o", b, "./cmd/keygate")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return b, cmd.Run()
}

// md5Hex is the unsalted md5 StackState stores; every user gets its own
// password so no two rows are alike.
func md5Hex(i int) string {
	sum := md5.Sum(fmt.Appendf(nil, "password-%d", i))
	return hex.EncodeToString(sum[:])
}

var roles = []string{"stackstate-guest", "stackstate-power-user", "stackstate-admin", "stackstate-k8s-troubleshooter"}

func writeCSV(path string, n int) error {
	return writeFile(path, func(w *bufio.Writer) {
		w.WriteString("username,email,first_name,last_name,password_hash,hash_algorithm,roles\n")
		for i := range n {
			fmt.Fprintf(w, "user%07d,user%07d@example.com,First%d,Last%d,%s,md5,%s\n", i, i, i, i, md5Hex(i), roles[i%len(roles)])
		}
	})
}

func writeHOCON(path string, n int) error {
	return writeFile(path, func(w *bufio.Writer) {
		w.WriteString("stackstate {\n  api {\n    authentication {\n      enabled = true\n      authServer {\n        authServerType = \"stackstateAuthServer\"\n        stackstateAuthServer {\n          logins = [\n")
		for i := range n {
			fmt.Fprintf(w, "            { username = \"user%07d\", password: \"%s\", roles = [\"%s\"] }\n", i, md5Hex(i), roles[i%len(roles)])
		}
		w.WriteString("          ]\n        }\n      }\n    }\n  }\n}\n")
	})
}

func writeFile(path string, fill func(*bufio.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fill(w)
	return errors.Join(w.Flush(), f.Close())
}

// scratchSchema returns a DSN for a fresh schema on server and a func that
// drops it.
func scratchSchema(server string) (string, func(), error) {
	schema := "keygate_bench_" + strings.ToLower(rand.Text()[:10])
	u, err := url.Parse(server)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("schema", schema)
	u.RawQuery = q.Encode()
	drop := func() {
		if db, err := sql.Open("pgx", server); err == nil {
			_, _ = db.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE")
			db.Close()
		}
	}
	return u.String(), drop, nil
}

// firstLogins times, in process on SQLite, n normal logins (PBKDF2 verify)
// and n first logins of imported md5 users (md5 verify, PBKDF2 hash,
// compare-and-swap write), one at a time, and compares the medians.
func firstLogins(dir string, n int) error {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "login.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := rep.CreateRealm(ctx, st, rep.NewRealm("login"), rep.ImportOptions{}); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("username,password_hash\n")
	for i := range n {
		fmt.Fprintf(&b, "legacy%d,%s\nmodern%d,%s\n", i, md5Hex(i), i, md5Hex(i))
	}
	if _, err := userimport.Import(ctx, st, []userimport.File{{Name: "logins.csv", R: strings.NewReader(b.String())}},
		userimport.Options{Realm: "login"}); err != nil {
		return err
	}
	realm, err := st.GetRealmByName(ctx, "login")
	if err != nil {
		return err
	}
	_, settings, err := rep.DecodeRealm(realm)
	if err != nil {
		return err
	}
	a := authn.New(st, password.NewLimiter(0, 0), nil)
	login := func(user string, i int) (time.Duration, error) {
		start := time.Now()
		_, err := a.Authenticate(ctx, realm.ID, settings, fmt.Sprintf("%s%d", user, i), fmt.Sprintf("password-%d", i), "127.0.0.1")
		return time.Since(start), err
	}
	// The modern users log in once first, which re-hashes them: from then
	// on theirs are normal PBKDF2 logins.
	for i := range n {
		if _, err := login("modern", i); err != nil {
			return err
		}
	}
	var normal, first []time.Duration
	for i := range n { // interleaved, so drift in machine load hits both alike
		d, err := login("modern", i)
		if err != nil {
			return err
		}
		normal = append(normal, d)
		if d, err = login("legacy", i); err != nil {
			return err
		}
		first = append(first, d)
	}
	mn, mf := median(normal), median(first)
	ratio := float64(mf) / float64(mn)
	fmt.Printf("\n%-34s %10s %10s %10s  %s\n", "login (median of each)", "normal", "first", "ratio", "verdict")
	fmt.Printf("%-34s %10s %10s %10.2f  %s (≤ %.1f×)\n", "md5 first login vs PBKDF2 login", mn.Round(time.Microsecond),
		mf.Round(time.Microsecond), ratio, passFail(ratio <= targetFirst), targetFirst)
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
