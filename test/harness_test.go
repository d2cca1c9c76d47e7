// Package test drives the real keygate binary over HTTP with real client
// libraries. `make test` runs it; the browser and npm suites carry the e2e
// build tag and run under `make e2e`.
package test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// binary is the keygate executable under test: $KEYGATE_BIN, or built once
// by TestMain.
var binary string

func TestMain(m *testing.M) {
	code, err := runMain(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runMain(m *testing.M) (int, error) {
	binary = os.Getenv("KEYGATE_BIN")
	if binary == "" {
		dir, err := os.MkdirTemp("", "keygate-bin")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "keygate")
		cmd := exec.Command("go", "build", "-o", binary, "../cmd/keygate")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("build keygate: %w", err)
		}
	}
	return m.Run(), nil
}

// server is one running keygate process.
type server struct {
	URL  string // http://127.0.0.1:PORT
	DB   string // the SQLite file
	cmd  *exec.Cmd
	logs *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var listenRE = regexp.MustCompile(`msg=listening addr=(\S+) scheme=http\b`)

// startServer runs `keygate serve` on a free loopback port with a fresh
// SQLite store (unless db is given) and stops it when the test ends.
func startServer(t testing.TB, db string, extraEnv []string, args ...string) *server {
	t.Helper()
	if db == "" {
		db = filepath.Join(t.TempDir(), "keygate.db")
	}
	dbArg := "sqlite:" + db
	if strings.HasPrefix(db, "postgres") {
		dbArg = db // a replica on a shared PostgreSQL database
	}
	full := append([]string{"serve", "--http-addr", "127.0.0.1:0", "--db", dbArg, "--log-level", "debug"}, args...)
	cmd := exec.Command(binary, full...)
	cmd.Env = append(os.Environ(), extraEnv...)
	logs := &syncBuffer{}
	pr, pw := io.Pipe()
	cmd.Stdout = logs
	cmd.Stderr = io.MultiWriter(logs, pw)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{DB: db, cmd: cmd, logs: logs}
	t.Cleanup(func() { s.stop(t) })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case a := <-addr:
		s.URL = "http://" + a
	case <-time.After(15 * time.Second):
		t.Fatalf("keygate did not start; log:\n%s", logs.String())
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("keygate not ready; log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) stop(t testing.TB) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	if t.Failed() {
		t.Logf("keygate log:\n%s", lastLines(s.logs.String(), 60))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
