package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/keygate/keygate/store/sqlite"
)

// cli runs keygate with args in-process and returns stdout, stderr, the
// error main would print (describe) and the exit code main would use.
func cli(t *testing.T, in string, args ...string) (stdout, stderr, errMsg string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	old := stdin
	stdin = strings.NewReader(in)
	defer func() { stdin = old }()
	err := run(context.Background(), args, &out, &errb)
	if err != nil {
		return out.String(), errb.String(), describe(err), exitCode(err)
	}
	return out.String(), errb.String(), "", 0
}

// Every command and group answers -h, -help and --help on stdout with exit
// 0; a command's help names the variable of every flag, and serve's the
// bootstrap admin's.
func TestCLIHelp(t *testing.T) {
	flagLine := regexp.MustCompile(`^  --([a-z0-9-]+)`)
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"serve"}, []string{"Usage: keygate serve", "$KEYGATE_DB\n", "$KEYGATE_METRICS_ADDR", "$KEYGATE_DB_KEY", "KC_BOOTSTRAP_ADMIN_USERNAME", "KC_BOOTSTRAP_ADMIN_PASSWORD", "KEYGATE_BOOTSTRAP_ADMIN_USERNAME", "KEYGATE_BOOTSTRAP_ADMIN_PASSWORD"}},
		{[]string{"migrate"}, []string{"Usage: keygate migrate", "$KEYGATE_DB"}},
		{[]string{"realm", "import"}, []string{"Usage: keygate realm import", "$KEYGATE_DB", "$KEYGATE_SKIP_EXISTING", "$KEYGATE_DB_KEY", "reads stdin"}},
		{[]string{"realm", "export"}, []string{"Usage: keygate realm export", "$KEYGATE_USERS", "$KEYGATE_INCLUDE_SECRETS"}},
		{[]string{"backup"}, []string{"Usage: keygate backup", "$KEYGATE_OUT", "stdout"}},
		{[]string{"keys", "seal"}, []string{"Usage: keygate keys seal", "$KEYGATE_DB_KEY"}},
		{[]string{"users", "import"}, []string{"Usage: keygate users import", "$KEYGATE_REALM", "$KEYGATE_ON_CONFLICT", "$KEYGATE_SKIP_INVALID"}},
		{[]string{"users", "sync"}, []string{"Usage: keygate users sync", "$KEYGATE_REALM", "$KEYGATE_TRUSTSTORE_PATHS"}},
		{[]string{"version"}, []string{"Usage: keygate version"}},
		{[]string{"realm"}, []string{"keygate realm import", "keygate realm export"}},
		{[]string{"users"}, []string{"keygate users import", "keygate users sync"}},
		{[]string{"keys"}, []string{"keygate keys seal"}},
	} {
		for _, h := range []string{"--help", "-h", "-help"} {
			args := append(append([]string{}, c.args...), h)
			out, errOut, msg, code := cli(t, "", args...)
			if code != 0 || msg != "" {
				t.Errorf("%v: exit %d, %s", args, code, msg)
				continue
			}
			if errOut != "" {
				t.Errorf("%v: stderr %q", args, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("%v: help lacks %q:\n%s", args, w, out)
				}
			}
			for _, line := range strings.Split(out, "\n") {
				if m := flagLine.FindStringSubmatch(line); m != nil && !strings.Contains(line, "$"+envName(m[1])) {
					t.Errorf("%v: flag line without its variable: %q", args, line)
				}
			}
		}
	}
	// keygate help COMMAND is COMMAND --help.
	a, _, _, _ := cli(t, "", "help", "users", "import")
	b, _, _, _ := cli(t, "", "users", "import", "--help")
	if a != b || a == "" {
		t.Errorf("help users import differs from users import --help")
	}
	if out, _, msg, code := cli(t, "", "--help"); code != 0 || msg != "" || !strings.Contains(out, "keygate serve") {
		t.Errorf("--help: %d %s %q", code, msg, out)
	}
}

// Unknown flags and commands are usage errors (exit 2) naming the nearest.
func TestCLIUnknown(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--dbb", "x"}, "unknown flag --dbb; did you mean --db?"},
		{[]string{"serve", "--metrics", "x"}, "did you mean --metrics-addr?"},
		{[]string{"serve", "-http-adr", "x"}, "did you mean --http-addr?"},
		{[]string{"migrate", "--bd", "x"}, "did you mean --db?"},
		{[]string{"realm", "import", "--skip-exsting"}, "did you mean --skip-existing?"},
		{[]string{"realm", "export", "--user", "r"}, "did you mean --users?"},
		{[]string{"realm", "export", "r", "--inclde-secrets"}, "did you mean --include-secrets?"},
		{[]string{"backup", "--ot", "x"}, "did you mean --out?"},
		{[]string{"keys", "seal", "--dbkey", "x"}, "did you mean --db-key?"},
		{[]string{"users", "import", "--relm", "x"}, "did you mean --realm?"},
		{[]string{"users", "sync", "--ful"}, "did you mean --full?"},
		{[]string{"serve", "--zzzzzz"}, `unknown flag --zzzzzz (see "keygate serve --help")`},
		{[]string{"serve", "--shutdown-timeout", "soon"}, `invalid value "soon" for flag --shutdown-timeout`},
		{[]string{"serv"}, `did you mean "serve"?`},
		{[]string{"realm", "exprt"}, `did you mean "realm export"?`},
		{[]string{"users", "sinc"}, `did you mean "users sync"?`},
		{[]string{"version", "extra"}, "version takes no arguments"},
	} {
		_, _, msg, code := cli(t, "", c.args...)
		if code != 2 || !strings.Contains(msg, c.want) {
			t.Errorf("%v: exit %d, %q; want exit 2 and %q", c.args, code, msg, c.want)
		}
	}
}

// internalWords are the package prefixes no message may show.
var internalWords = regexp.MustCompile(`\b(sqlstore|store|rep|userimport|sqlite): `)

// Failures say what happened in words, without internal prefixes, and a
// failed import never claims to have created anything.
func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "k.db")
	realm, err := os.ReadFile("../../test/testdata/realm-test.json")
	if err != nil {
		t.Fatal(err)
	}
	if out, _, msg, _ := cli(t, string(realm), "realm", "import", "--db", db, "-"); msg != "" || !strings.Contains(out, "stdin: created 1 realm(s)") {
		t.Fatalf("realm import -: %q %s", out, msg)
	}
	badUsers := filepath.Join(dir, "users.csv")
	if err := os.WriteFile(badUsers, []byte("username,email\nok1,ok1@example.com\nok2,ok2@example.com\n,no-username@example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(dir, "exists.db")
	if err := os.WriteFile(existing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		in   string
		args []string
		want string
	}{
		{"export of a missing realm", "", []string{"realm", "export", "--db", db, "nosuch"}, `realm "nosuch" does not exist`},
		{"users import into a missing realm", "", []string{"users", "import", "--db", db, "--realm", "nosuch", badUsers}, `realm "nosuch" does not exist`},
		{"users sync of a missing realm", "", []string{"users", "sync", "--db", db, "--realm", "nosuch"}, `realm "nosuch" does not exist`},
		{"invalid users", "", []string{"users", "import", "--db", db, "--realm", "test", badUsers}, "1 invalid record(s); nothing was written"},
		{"invalid users from stdin", "username\nfine\n\"broken\n", []string{"users", "import", "--db", db, "--realm", "test", "--format", "csv", "-"}, "nothing was written"},
		{"a realm that exists", string(realm), []string{"realm", "import", "--db", db, "-"}, `stdin: nothing imported: realm: realm "test" already exists (pass --skip-existing`},
		{"a realm with duplicate users", `{"realm":"dup","users":[{"username":"x"},{"username":"x"}]}`, []string{"realm", "import", "--db", db, "-"}, `duplicate username "x"`},
		{"backup over a file", "", []string{"backup", "--db", db, "--out", existing}, "already exists; name a new file"},
		{"no hostname on every interface", "", []string{"serve", "--db", db, "--http-addr", ":0"}, "--hostname is not set and keygate would listen on :0"},
		{"no hostname on a public HTTPS address", "", []string{"serve", "--db", db, "--http-addr", "127.0.0.1:0", "--https-addr", "0.0.0.0:0", "--https-self-signed"}, "--hostname-strict=false"},
		{"a database that cannot be opened", "", []string{"migrate", "--db", "sqlite:" + filepath.Join(dir, "no", "such", "dir.db")}, "cannot open the database"},
	} {
		out, _, msg, code := cli(t, c.in, c.args...)
		if code == 0 || !strings.Contains(msg, c.want) {
			t.Errorf("%s: exit %d, %q; want %q", c.name, code, msg, c.want)
		}
		if internalWords.MatchString(msg) {
			t.Errorf("%s: internal prefix in %q", c.name, msg)
		}
		if strings.Contains(out, "created") {
			t.Errorf("%s: a failed command printed %q", c.name, out)
		}
	}
	// Nothing of the failed users imports was written.
	st, err := sqlite.Open(t.Context(), strings.TrimPrefix(db, "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.GetRealmByName(t.Context(), "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"ok1", "ok2", "fine"} {
		if _, err := st.GetUserByUsername(t.Context(), r.ID, u); err == nil {
			t.Errorf("user %s of a failed import exists", u)
		}
	}
}

// backup --out - writes the backup, and nothing else, to stdout; realm
// import - reads stdin.
func TestCLIBackupToStdout(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "k.db")
	realm, err := os.ReadFile("../../test/testdata/realm-test.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, msg, _ := cli(t, string(realm), "realm", "import", "--db", db, "-"); msg != "" {
		t.Fatal(msg)
	}
	out, errOut, msg, code := cli(t, "", "backup", "--db", db, "--out", "-")
	if code != 0 {
		t.Fatalf("backup --out -: %d %s", code, msg)
	}
	if !strings.HasPrefix(out, "SQLite format 3\x00") {
		t.Fatalf("stdout is not a SQLite database: %q", out[:min(len(out), 32)])
	}
	if !strings.Contains(errOut, "written to stdout") {
		t.Errorf("stderr %q", errOut)
	}
	copyPath := filepath.Join(dir, "copy.db")
	if err := os.WriteFile(copyPath, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), copyPath)
	if err != nil {
		t.Fatalf("the backup does not open: %v", err)
	}
	defer st.Close()
	r, err := st.GetRealmByName(t.Context(), "test")
	if err != nil {
		t.Fatalf("the backup lacks the realm: %v", err)
	}
	if _, err := st.GetUserByUsername(t.Context(), r.ID, "alice"); err != nil {
		t.Fatalf("the backup lacks user alice: %v", err)
	}
	if _, _, msg, code := cli(t, "", "backup", "--db", db); code != 2 || !strings.Contains(msg, "--out - for stdout") {
		t.Errorf("backup without --out: %d %q", code, msg)
	}
}

// checkHostname: without --hostname only a loopback listener starts,
// unless --hostname-strict=false says otherwise.
func TestCheckHostname(t *testing.T) {
	for _, c := range []struct {
		hostname string
		strict   bool
		addrs    []string
		ok       bool
	}{
		{"", true, []string{"127.0.0.1:8080", ""}, true},
		{"", true, []string{"localhost:8080"}, true},
		{"", true, []string{"[::1]:8443"}, true},
		{"", true, []string{":8080"}, false},
		{"", true, []string{"0.0.0.0:8080"}, false},
		{"", true, []string{"192.0.2.7:8080"}, false},
		{"", true, []string{"127.0.0.1:8080", "[::]:8443"}, false},
		{"", true, []string{"sso.internal:8080"}, false}, // a name may resolve anywhere
		{"", false, []string{":8080"}, true},
		{"https://sso.example.com", true, []string{":8080"}, true},
	} {
		if err := checkHostname(c.hostname, c.strict, c.addrs...); (err == nil) != c.ok {
			t.Errorf("checkHostname(%q, %v, %q) = %v, want ok %v", c.hostname, c.strict, c.addrs, err, c.ok)
		}
	}
}
