package test

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keygate/keygate/federation/ldap/ldaptest"
)

// TestDocs runs the operator guide's runnable blocks (docs/*.md and the
// README) against a real server, so that a command in the documentation
// cannot break silently. docs/README.md says how blocks are marked; in
// short:
//
//   - a fenced block whose info string is "sh test" (or "bash test") runs;
//     "sh test exit=N" runs (in a subshell, without -e) and must exit with
//     N; "sh test needs=a,b" is skipped, with a log line, when command a or
//     b is not on PATH ("ldap": slapd, which the test then starts;
//     "postgres": KEYGATE_TEST_POSTGRES);
//   - a fenced block with the info string "output" right after a runnable
//     block lists texts its output (stdout and stderr) must contain, in
//     order, each within one line;
//   - an HTML comment that starts with "<!-- test" is a block too (for
//     checks a reader need not see).
//
// Every file gets a fresh server on a fresh SQLite store and one bash
// script made of its blocks in order (so variables and files carry from
// one block to the next), run with `set -Eeuo pipefail` in a directory that
// holds the server's keygate.db, bin/keygate, and links to the repository's
// docs/, deploy/ and test/testdata/. The blocks see:
//
//	KEYGATE_URL                  the server, e.g. http://127.0.0.1:41234
//	KC_BOOTSTRAP_ADMIN_USERNAME  admin
//	KC_BOOTSTRAP_ADMIN_PASSWORD  "admin" for the README (make run's); random for docs/
//	PATH                         with keygate first
//	LDAP_*                       with needs=ldap: the directory (see docsLDAP)
//	PG_DSN                       with needs=postgres: a schema of their own
//
// Servers a block starts itself listen on literal loopback addresses
// (127.0.0.1:8081, 127.0.0.1:9000, ...): each such address in a file is
// replaced, in its blocks and its output blocks, by a free port of its own
// before the script runs. A failure names the file and line of the command
// that failed. Whatever the blocks leave running is killed with the
// script's process group.
func TestDocs(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	files, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{"../README.md"}, files...)
	ran := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(f, "../")
		blocks, err := docBlocks(name, string(src))
		if err != nil {
			t.Fatal(err)
		}
		if len(blocks) == 0 {
			continue
		}
		ran++
		t.Run(filepath.Base(name), func(t *testing.T) { runDocFile(t, name, blocks) })
	}
	if ran == 0 {
		t.Fatal("no runnable blocks found in README.md and docs/*.md")
	}
}

// docBlock is one runnable block: its text, where it starts in its file (the
// line of its first command), and what it expects.
type docBlock struct {
	file   string
	line   int // 1-based line of the block's first line of code
	code   string
	exit   int      // expected exit status
	needs  []string // commands that must be on PATH
	output []string // lines the output must contain, in order
	hidden bool
}

func (b docBlock) where() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

var fenceRE = regexp.MustCompile("^(\\s*)(```+|~~~+)\\s*(.*)$")

// docBlocks finds the runnable blocks of a Markdown file.
func docBlocks(file, src string) ([]docBlock, error) {
	lines := strings.Split(src, "\n")
	var blocks []docBlock
	lastRunnable := -1 // index in blocks of the runnable block an "output" block may follow
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.HasPrefix(strings.TrimSpace(line), "<!-- test") {
			// A hidden block: the comment's lines after the opening one.
			start := i + 1
			var body []string
			rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "<!-- test"))
			if strings.HasSuffix(rest, "-->") {
				return nil, fmt.Errorf("%s:%d: a one-line <!-- test --> comment has no code", file, i+1)
			}
			for i++; i < len(lines) && !strings.Contains(lines[i], "-->"); i++ {
				body = append(body, lines[i])
			}
			if i == len(lines) {
				return nil, fmt.Errorf("%s:%d: unterminated <!-- test comment", file, start)
			}
			if before, _, _ := strings.Cut(lines[i], "-->"); strings.TrimSpace(before) != "" {
				body = append(body, before)
			}
			blocks = append(blocks, docBlock{file: file, line: start + 1, code: strings.Join(body, "\n"), hidden: true})
			lastRunnable = len(blocks) - 1
			continue
		}
		m := fenceRE.FindStringSubmatch(line)
		if m == nil {
			if strings.TrimSpace(line) != "" {
				lastRunnable = -1
			}
			continue
		}
		indent, fence, info := m[1], m[2], strings.Fields(m[3])
		start := i + 1
		var body []string
		for i++; i < len(lines); i++ {
			if c := strings.TrimSpace(lines[i]); len(c) >= len(fence) && strings.Trim(c, fence[:1]) == "" {
				break
			}
			body = append(body, strings.TrimPrefix(lines[i], indent))
		}
		if i == len(lines) {
			return nil, fmt.Errorf("%s:%d: unterminated code fence", file, start)
		}
		switch {
		case len(info) >= 2 && (info[0] == "sh" || info[0] == "bash") && info[1] == "test":
			b := docBlock{file: file, line: start + 1, code: strings.Join(body, "\n")}
			for _, opt := range info[2:] {
				k, v, _ := strings.Cut(opt, "=")
				switch k {
				case "exit":
					n, err := strconv.Atoi(v)
					if err != nil {
						return nil, fmt.Errorf("%s:%d: %q: %v", file, start, opt, err)
					}
					b.exit = n
				case "needs":
					b.needs = strings.Split(v, ",")
				default:
					return nil, fmt.Errorf("%s:%d: unknown option %q in %q", file, start, opt, m[3])
				}
			}
			blocks = append(blocks, b)
			lastRunnable = len(blocks) - 1
		case len(info) >= 1 && info[0] == "output":
			if lastRunnable < 0 {
				return nil, fmt.Errorf("%s:%d: an output block must follow a runnable block", file, start)
			}
			for _, l := range body {
				if l = strings.TrimSpace(l); l != "" {
					blocks[lastRunnable].output = append(blocks[lastRunnable].output, l)
				}
			}
			lastRunnable = -1
		default:
			lastRunnable = -1
		}
	}
	return blocks, nil
}

var loopbackAddrRE = regexp.MustCompile(`\b(127\.0\.0\.1|localhost):([0-9]{2,5})\b`)

// docScript is the bash script for one file's blocks and, for each of its
// lines, the block and the Markdown line it came from.
type docScript struct {
	text    string
	origin  map[int][2]int // script line -> block index, Markdown line
	outputs map[int]string // block index -> file its output goes to
}

func buildDocScript(blocks []docBlock, outDir string, ports map[string]string) docScript {
	s := docScript{origin: map[int][2]int{}, outputs: map[int]string{}}
	var b strings.Builder
	n := 0
	emit := func(l string) { b.WriteString(l + "\n"); n++ }
	emit("set -Eeuo pipefail")
	emit(`trap 'echo "@@docs-err $LINENO $?" >&9' ERR`)
	for bi, blk := range blocks {
		emit(fmt.Sprintf("echo '@@docs-block %d' >&9", bi))
		code := loopbackAddrRE.ReplaceAllStringFunc(blk.code, func(a string) string {
			if p, ok := ports[a]; ok {
				return p
			}
			return a
		})
		out := ""
		if len(blk.output) > 0 || blk.exit != 0 {
			out = filepath.Join(outDir, fmt.Sprintf("block%d.out", bi))
			s.outputs[bi] = out
		}
		switch {
		case blk.exit != 0:
			// A block meant to fail runs in a subshell without -e: its
			// status is its last command's.
			emit("set +e")
			emit("(")
		case out != "":
			emit("{")
		}
		for li, l := range strings.Split(code, "\n") {
			emit(l)
			s.origin[n] = [2]int{bi, blk.line + li}
		}
		switch {
		case blk.exit != 0:
			emit(fmt.Sprintf(") >%q 2>&1 </dev/null", out))
			emit(fmt.Sprintf("__docs_rc=$?; set -e; cat %q", out))
			emit(fmt.Sprintf(`[ "$__docs_rc" -eq %d ] || { echo "@@docs-exit $__docs_rc" >&9; exit 1; }`, blk.exit))
		case out != "":
			emit(fmt.Sprintf("} >%q 2>&1", out))
			emit(fmt.Sprintf("cat %q", out))
		}
	}
	emit("echo '@@docs-done' >&9")
	s.text = b.String()
	return s
}

func runDocFile(t *testing.T, name string, blocks []docBlock) {
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	for _, d := range []string{"bin", "test"} {
		if err := os.MkdirAll(filepath.Join(work, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin, err := filepath.Abs(binary)
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"bin/keygate":   bin,
		"docs":          filepath.Join(repo, "docs"),
		"deploy":        filepath.Join(repo, "deploy"),
		"test/testdata": filepath.Join(repo, "test", "testdata"),
	}
	for link, target := range links {
		if err := os.Symlink(target, filepath.Join(work, link)); err != nil {
			t.Fatal(err)
		}
	}

	adminPW := "admin"
	if name != "README.md" {
		var r [12]byte
		_, _ = rand.Read(r[:])
		adminPW = "docs-" + hex.EncodeToString(r[:])
	}
	s := startServer(t, filepath.Join(work, "keygate.db"),
		[]string{"KC_BOOTSTRAP_ADMIN_USERNAME=admin", "KC_BOOTSTRAP_ADMIN_PASSWORD=" + adminPW})

	// Loopback addresses written in the blocks get free ports of their own.
	ports := map[string]string{}
	for _, b := range blocks {
		for _, a := range loopbackAddrRE.FindAllString(b.code, -1) {
			if _, ok := ports[a]; !ok {
				host, _, _ := strings.Cut(a, ":")
				ports[a] = host + ":" + docsFreePort(t)
			}
		}
	}
	if len(ports) > 0 {
		keys := make([]string, 0, len(ports))
		for k := range ports {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.Logf("%s -> %s", k, ports[k])
		}
	}

	ldapEnv, ldapOK := docsLDAP(t, blocks)
	pgEnv, pgOK := docsPostgres(t, blocks)
	var run []docBlock
	for _, b := range blocks {
		missing := ""
		for _, c := range b.needs {
			if c == "ldap" {
				if !ldapOK {
					missing = "slapd"
					break
				}
				continue
			}
			if c == "postgres" {
				if !pgOK {
					missing = "KEYGATE_TEST_POSTGRES"
					break
				}
				continue
			}
			if _, err := exec.LookPath(c); err != nil {
				missing = c
				break
			}
		}
		if missing != "" {
			t.Logf("%s: skipped: no %s", b.where(), missing)
			continue
		}
		run = append(run, b)
	}
	t.Logf("%d of %d blocks run", len(run), len(blocks))
	outDir := t.TempDir()
	script := buildDocScript(run, outDir, ports)
	scriptFile := filepath.Join(outDir, "blocks.sh")
	if err := os.WriteFile(scriptFile, []byte(script.text), 0o600); err != nil {
		t.Fatal(err)
	}

	env := []string{}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "KEYGATE_") || strings.HasPrefix(k, "KC_") || k == "PATH" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"PATH="+filepath.Join(work, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KEYGATE_URL="+s.URL,
		"KC_BOOTSTRAP_ADMIN_USERNAME=admin",
		"KC_BOOTSTRAP_ADMIN_PASSWORD="+adminPW,
	)
	env = append(env, ldapEnv...)
	env = append(env, pgEnv...)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", scriptFile)
	cmd.Dir, cmd.Env = work, env
	// A file, not a pipe: servers the blocks leave running in the
	// background hold it open, and Wait must not wait for them.
	out, err := os.Create(filepath.Join(outDir, "output"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.ExtraFiles = []*os.File{nil, nil, nil, nil, nil, nil, pw} // fd 9
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	// Whatever the blocks left running (servers started with &) goes with
	// the script's process group.
	killGroup := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	t.Cleanup(killGroup)
	events := make(chan []string, 1)
	go func() {
		var ev []string
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			ev = append(ev, sc.Text())
		}
		events <- ev
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var runErr error
	select {
	case runErr = <-waited:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		time.Sleep(time.Second)
		killGroup()
		runErr = fmt.Errorf("timed out after 4 minutes: %w", <-waited)
	}
	// Stop what the blocks started in the background before reading the
	// event pipe: they hold its write end open.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	time.Sleep(100 * time.Millisecond)
	killGroup()
	var ev []string
	select {
	case ev = <-events:
	case <-time.After(10 * time.Second):
		t.Error("the blocks' background processes did not exit")
	}

	current, errLine, exitRC := -1, 0, ""
	done := false
	for _, e := range ev {
		f := strings.Fields(e)
		switch {
		case len(f) == 2 && f[0] == "@@docs-block":
			current, _ = strconv.Atoi(f[1])
			errLine = 0
		case len(f) >= 2 && f[0] == "@@docs-err":
			if errLine == 0 { // the innermost failure comes first
				errLine, _ = strconv.Atoi(f[1])
			}
		case len(f) == 2 && f[0] == "@@docs-exit":
			exitRC = f[1]
		case len(f) == 1 && f[0] == "@@docs-done":
			done = true
		}
	}
	if runErr == nil && done {
		for bi, b := range run {
			if len(b.output) == 0 {
				continue
			}
			got, err := os.ReadFile(script.outputs[bi])
			if err != nil {
				t.Fatal(err)
			}
			want := make([]string, len(b.output))
			for i, l := range b.output {
				want[i] = loopbackAddrRE.ReplaceAllStringFunc(l, func(a string) string {
					if p, ok := ports[a]; ok {
						return p
					}
					return a
				})
			}
			if missing := missingOutput(string(got), want); missing != "" {
				t.Errorf("%s: the output lacks %q (in order); it was:\n%s", b.where(), missing, lastLines(string(got), 40))
			}
		}
		return
	}
	where := "before the first block"
	if current >= 0 && current < len(run) {
		b := run[current]
		where = b.where()
		if o, ok := script.origin[errLine]; ok && o[0] == current {
			where = fmt.Sprintf("%s:%d (the block at %s)", b.file, o[1], b.where())
		}
		if exitRC != "" {
			runErr = fmt.Errorf("the block exited with %s, want %d", exitRC, b.exit)
		}
	}
	all, _ := os.ReadFile(out.Name())
	t.Errorf("%s failed: %v\noutput:\n%s", where, runErr, lastLines(string(all), 60))
}

// docsLDAP starts a directory when a block of the file needs=ldap: slapd
// with three people (user0 in cn=stackstate-admin, user1 in
// cn=stackstate-guest, user2 in neither) and the LDAP_* variables the
// blocks read. Without slapd the blocks are skipped, unless
// KEYGATE_REQUIRE_SLAPD=1.
func docsLDAP(t *testing.T, blocks []docBlock) ([]string, bool) {
	need := false
	for _, b := range blocks {
		need = need || slices.Contains(b.needs, "ldap")
	}
	if !need {
		return nil, false
	}
	found := false
	for _, p := range []string{"slapd", "/usr/sbin/slapd", "/usr/local/sbin/slapd", "/usr/local/libexec/slapd"} {
		if _, err := exec.LookPath(p); err == nil {
			found = true
		}
	}
	if !found && os.Getenv("KEYGATE_REQUIRE_SLAPD") != "1" {
		return nil, false
	}
	const pw = "Directory-pw-42"
	dir := ldaptest.Start(t, ldaptest.Options{Users: 3, UserPassword: pw})
	for _, g := range []struct{ cn, member string }{{"stackstate-admin", dir.UserDN(0)}, {"stackstate-guest", dir.UserDN(1)}} {
		dir.Add(t, fmt.Sprintf("dn: cn=%s,%s\nobjectClass: groupOfNames\ncn: %s\nmember: %s\n", g.cn, dir.GroupsDN, g.cn, g.member))
	}
	return []string{"LDAP_URL=" + dir.URL(), "LDAP_BIND_DN=" + dir.ServiceDN, "LDAP_BIND_CREDENTIAL=" + dir.ServicePassword,
		"LDAP_USERS_DN=" + dir.PeopleDN, "LDAP_GROUPS_DN=" + dir.GroupsDN,
		"LDAP_TEST_USER=" + ldaptest.Username(0), "LDAP_TEST_PASSWORD=" + pw}, true
}

// docsPostgres gives blocks that need=postgres a DSN in PG_DSN: the
// database of KEYGATE_TEST_POSTGRES, in a schema of their own that keygate
// creates and the test drops.
func docsPostgres(t *testing.T, blocks []docBlock) ([]string, bool) {
	need := false
	for _, b := range blocks {
		need = need || slices.Contains(b.needs, "postgres")
	}
	dsn := os.Getenv("KEYGATE_TEST_POSTGRES")
	if !need || dsn == "" {
		return nil, false
	}
	schema := "keygate_docs_" + strings.ToLower(rand.Text()[:10])
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("schema", schema)
	u.RawQuery = q.Encode()
	t.Cleanup(func() {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer db.Close()
		if _, err := db.Exec(`DROP SCHEMA IF EXISTS "` + schema + `" CASCADE`); err != nil {
			t.Error(err)
		}
	})
	return []string{"PG_DSN=" + u.String()}, true
}

// missingOutput returns the first wanted text not found, in order, in out:
// each is a substring of a line, after the previous one (several may be on
// one line).
func missingOutput(out string, want []string) string {
	lines := strings.Split(out, "\n")
	line, col := 0, 0
	for _, w := range want {
		for line < len(lines) {
			if k := strings.Index(lines[line][col:], w); k >= 0 {
				col += k + len(w)
				break
			}
			line, col = line+1, 0
		}
		if line == len(lines) {
			return w
		}
	}
	return ""
}

func docsFreePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// TestDocBlocksParse checks the block syntax itself on a small document.
func TestDocBlocksParse(t *testing.T) {
	doc := strings.Join([]string{
		"# T",
		"```sh",
		"not run",
		"```",
		"```sh test",
		"echo one",
		"```",
		"",
		"```output",
		"one",
		"```",
		"<!-- test",
		"true",
		"-->",
		"```sh test exit=2 needs=bash",
		"exit 2",
		"```",
	}, "\n")
	got, err := docBlocks("t.md", doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].line != 6 || got[0].code != "echo one" || len(got[0].output) != 1 ||
		!got[1].hidden || got[1].code != "true" || got[1].line != 13 ||
		got[2].exit != 2 || len(got[2].needs) != 1 || got[2].line != 16 {
		t.Fatalf("%+v", got)
	}
	if _, err := docBlocks("t.md", "```sh test bogus\n```\n"); err == nil {
		t.Error("an unknown option was accepted")
	}
	if m := missingOutput("a\nb\nc", []string{"a", "c"}); m != "" {
		t.Errorf("in-order lines reported missing: %q", m)
	}
	if m := missingOutput("a b\nc", []string{"a", "b", "c"}); m != "" {
		t.Errorf("two on one line: %q", m)
	}
	if m := missingOutput("a\nb\nc", []string{"c", "a"}); m != "a" {
		t.Errorf("out-of-order lines: %q", m)
	}
}
