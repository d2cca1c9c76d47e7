// Package mailtest runs a real SMTP server for tests: Mailpit
// (github.com/axllent/mailpit), on loopback, read back through its HTTP API.
//
// The binary is MAILPIT_BIN when set (make e2e builds bin/mailpit), else
// bin/mailpit of the repository, else one built once from the Go module
// proxy into the user's cache directory (never into keygate's go.mod).
// Without it and without the proxy, tests skip, saying so, unless
// KEYGATE_REQUIRE_MAILPIT=1.
package mailtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is the Mailpit release tests use (served by the module proxy).
const Version = "v1.33.1"

// Mailpit is a running Mailpit: SMTPHost:SMTPPort takes mail, API reads it.
type Mailpit struct {
	SMTPHost string
	SMTPPort int
	API      string // http://127.0.0.1:port
	cmd      *exec.Cmd
	t        testing.TB
}

// Options are extra Mailpit flags.
type Options struct {
	// Auth makes the server require SMTP AUTH (any user and password is
	// accepted, also over plain connections on loopback).
	Auth bool
	// TLSCert and TLSKey (PEM files) offer STARTTLS; RequireSTARTTLS
	// refuses mail until the client upgrades.
	TLSCert, TLSKey string
	RequireSTARTTLS bool
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary returns the Mailpit binary, building it when needed.
func Binary() (string, error) {
	if p := os.Getenv("MAILPIT_BIN"); p != "" {
		return p, nil
	}
	if root, err := repoRoot(); err == nil {
		if p := filepath.Join(root, "bin", "mailpit"); isExec(p) {
			return p, nil
		}
	}
	buildOnce.Do(func() {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		bin := filepath.Join(dir, "keygate-test", "mailpit-"+Version)
		buildPath = filepath.Join(bin, "mailpit")
		if isExec(buildPath) {
			return
		}
		goBin := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		if !isExec(goBin) {
			goBin = "go"
		}
		cmd := exec.Command(goBin, "install", "github.com/axllent/mailpit@"+Version)
		cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=", "CGO_ENABLED=0")
		cmd.Dir = os.TempDir() // outside keygate's module
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go install mailpit@%s: %v\n%s", Version, err, out)
		}
	})
	return buildPath, buildErr
}

// Start runs a Mailpit for the test, stopped when it ends.
func Start(t testing.TB, o Options) *Mailpit {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("KEYGATE_REQUIRE_MAILPIT") == "1" {
			t.Fatalf("Mailpit: %v", err)
		}
		t.Skipf("no Mailpit (set MAILPIT_BIN or allow the Go module proxy): %v", err)
	}
	// FreePort's ports are free when it answers, not when Mailpit binds
	// them: another test may take one in between. Mailpit then exits, and
	// a fresh pair is tried.
	for attempt := 1; ; attempt++ {
		m, logs, exited := launch(t, bin, o)
		if m != nil {
			return m
		}
		if !exited || attempt == 5 {
			t.Fatalf("Mailpit did not come up (attempt %d):\n%s", attempt, logs)
		}
	}
}

// freePort is FreePort; a test replaces it to hand out a taken port.
var freePort = FreePort

// launch starts one Mailpit on fresh ports and waits until both its API
// and SMTP answer; nil, with its output, when it did not (exited: it
// stopped, as when a port was taken meanwhile).
func launch(t testing.TB, bin string, o Options) (*Mailpit, string, bool) {
	t.Helper()
	smtpPort, httpPort := freePort(t), freePort(t)
	args := []string{
		"--smtp", "127.0.0.1:" + strconv.Itoa(smtpPort), "--listen", "127.0.0.1:" + strconv.Itoa(httpPort),
		"--database", filepath.Join(t.TempDir(), "mailpit.db"), "--disable-version-check", "--quiet",
		"--smtp-disable-rdns",
	}
	if o.Auth {
		args = append(args, "--smtp-auth-accept-any", "--smtp-auth-allow-insecure")
	}
	if o.TLSCert != "" {
		args = append(args, "--smtp-tls-cert", o.TLSCert, "--smtp-tls-key", o.TLSKey)
	}
	if o.RequireSTARTTLS {
		args = append(args, "--smtp-require-starttls")
	}
	cmd := exec.Command(bin, args...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Mailpit: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	m := &Mailpit{SMTPHost: "127.0.0.1", SMTPPort: smtpPort, API: "http://127.0.0.1:" + strconv.Itoa(httpPort), cmd: cmd, t: t}
	up := func(check func() bool) (ok, stopped bool) {
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
			select {
			case <-exited:
				return false, true
			default:
			}
			if check() {
				return true, false
			}
			time.Sleep(50 * time.Millisecond)
		}
		return false, false
	}
	// A port taken by another listener may accept and never answer.
	probe := &http.Client{Timeout: time.Second}
	api := func() bool {
		resp, err := probe.Get(m.API + "/api/v1/messages")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	smtp := func() bool {
		c, err := net.DialTimeout("tcp", m.SMTPAddr(), time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	for _, check := range []func() bool{api, smtp} {
		if ok, stopped := up(check); !ok {
			_ = cmd.Process.Kill()
			return nil, logs.String(), stopped
		}
	}
	// Both answer, and the process is still ours (not another test's
	// listener on a port it failed to bind).
	select {
	case <-exited:
		return nil, logs.String(), true
	default:
	}
	return m, "", false
}

// syncBuffer is a bytes.Buffer the process's output and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// SMTPAddr is host:port of the SMTP listener.
func (m *Mailpit) SMTPAddr() string { return net.JoinHostPort(m.SMTPHost, strconv.Itoa(m.SMTPPort)) }

// Settings is a realm's smtpServer map for this server.
func (m *Mailpit) Settings(from string) map[string]string {
	return map[string]string{"host": m.SMTPHost, "port": strconv.Itoa(m.SMTPPort), "from": from}
}

// Message is what the API says of one mail.
type Message struct {
	ID      string
	Subject string
	From    Address
	To      []Address
	ReplyTo []Address
	Text    string
	HTML    string
}

// Address is a mail address in Mailpit's JSON.
type Address struct {
	Name, Address string
}

// Messages lists the mails to addr, newest first, read whole.
func (m *Mailpit) Messages(addr string) []Message {
	m.t.Helper()
	var list struct {
		Messages []struct{ ID string }
	}
	m.get("/api/v1/search?query="+url.QueryEscape("to:"+addr), &list)
	out := make([]Message, 0, len(list.Messages))
	for _, s := range list.Messages {
		var msg Message
		m.get("/api/v1/message/"+s.ID, &msg)
		out = append(out, msg)
	}
	return out
}

// Wait returns the newest mail to addr once there are at least n, or
// fails the test after timeout.
func (m *Mailpit) Wait(addr string, n int, timeout time.Duration) Message {
	m.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if msgs := m.Messages(addr); len(msgs) >= n {
			return msgs[0]
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("no mail #%d to %s within %s", n, addr, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Count is how many mails addr has.
func (m *Mailpit) Count(addr string) int { return len(m.Messages(addr)) }

func (m *Mailpit) get(path string, v any) {
	m.t.Helper()
	resp, err := http.Get(m.API + path)
	if err != nil {
		m.t.Fatalf("Mailpit API %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		m.t.Fatalf("Mailpit API %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		m.t.Fatalf("Mailpit API %s: %v", path, err)
	}
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+/login-actions/action-token\?[^\s"<>]+`)

// ActionLink is the action-token link in a mail's plain-text part.
func (msg Message) ActionLink() string {
	return strings.ReplaceAll(linkRE.FindString(msg.Text), "&amp;", "&")
}

// FreePort is a loopback TCP port nobody listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// repoRoot is the directory of keygate's go.mod above the working one.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(data), "module github.com/keygate/keygate\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
