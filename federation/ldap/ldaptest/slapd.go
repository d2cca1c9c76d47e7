// Package ldaptest runs directories for tests: OpenLDAP's slapd as the
// test's own process (Start), and in-process fakes for faults (NewFake,
// NewRaw, Blackhole, ClosedURL).
//
// A test that needs slapd calls Start; when slapd is not installed the
// test is skipped, or fails when KEYGATE_REQUIRE_SLAPD=1 (CI sets it).
// Install it with: apt-get install -y slapd ldap-utils (no system
// instance is used; the test runs its own on free loopback ports).
package ldaptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// DefaultUserPassword is the password of every generated user.
const DefaultUserPassword = "password"

// Options configure Start.
type Options struct {
	// BaseDN is the suffix, "dc=example,dc=org" by default; its first RDN
	// must be dc=, o= or ou=.
	BaseDN string
	// Users generated users (uid=userN,ou=people,<base>), loaded with
	// slapadd: 100,000 load in seconds.
	Users int
	// Groups generated groups (cn=groupJ,ou=groups,<base>, groupOfNames),
	// user i in group i % Groups. They are added after start so that the
	// memberof overlay sets memberOf on their members, unless GroupsOffline
	// (slapadd: fast, but no memberOf).
	Groups        int
	GroupsOffline bool
	// UserPassword of the generated users; DefaultUserPassword if empty.
	UserPassword string
	// LDIF is more entries, loaded with slapadd before start (no memberOf
	// for groups among them: use Add after start for that).
	LDIF string
	// SizeLimit is the limit of unpaged searches for every account but
	// the rootdn (0: unlimited); paged searches are not limited, as in
	// Active Directory.
	SizeLimit int
	// Log shows slapd's log (connections and operations) in the test log.
	Log bool
}

// Server is a running slapd of one test.
type Server struct {
	BaseDN          string
	AdminDN         string // the rootdn: bypasses access control and limits
	AdminPassword   string
	ServiceDN       string // an ordinary account that may read everything but passwords
	ServicePassword string
	PeopleDN        string
	GroupsDN        string
	CA              *CA

	opts    Options
	dir     string
	conf    string
	slapd   string
	port    int // ldap://
	tlsPort int // ldaps://
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	stderr  *logWriter
}

// Start starts slapd with its own configuration and database in a new
// temporary directory, on free loopback ports (ldap:// and ldaps://, with a
// CA made for the test), and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	slapd, slapadd := findBinary("slapd"), findBinary("slapadd")
	if slapd == "" || slapadd == "" {
		msg := "slapd not installed (apt-get install -y slapd ldap-utils)"
		if os.Getenv("KEYGATE_REQUIRE_SLAPD") == "1" {
			t.Fatal(msg + " and KEYGATE_REQUIRE_SLAPD=1")
		}
		t.Skip(msg)
	}
	if opts.BaseDN == "" {
		opts.BaseDN = "dc=example,dc=org"
	}
	if opts.UserPassword == "" {
		opts.UserPassword = DefaultUserPassword
	}
	// A short path of our own rather than t.TempDir(): slapd's paths
	// (and an ldapi socket, if one is ever added) stay well within limits.
	dir, err := os.MkdirTemp("", "kgslapd")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		BaseDN: opts.BaseDN, AdminDN: "cn=admin," + opts.BaseDN, AdminPassword: randomPassword(),
		ServiceDN: "cn=keygate,ou=services," + opts.BaseDN, ServicePassword: randomPassword(),
		PeopleDN: "ou=people," + opts.BaseDN, GroupsDN: "ou=groups," + opts.BaseDN,
		CA: NewCA(t), opts: opts, dir: dir, conf: filepath.Join(dir, "slapd.conf"), slapd: slapd,
		stderr: &logWriter{t: t, on: opts.Log},
	}
	t.Cleanup(func() {
		s.stop()
		s.stderr.off()
		_ = os.RemoveAll(dir)
	})
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"ca.pem": s.CA.CertPEM, "server.pem": s.CA.ServerCertPEM, "server.key": s.CA.ServerKeyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(s.conf, []byte(s.config()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.load(slapadd); err != nil {
		t.Fatal(err)
	}
	var startErr error
	for range 5 { // a free port can be taken between finding and binding it
		s.port, s.tlsPort = freePort(t), freePort(t)
		if startErr = s.start(); startErr == nil {
			break
		}
	}
	if startErr != nil {
		t.Fatalf("slapd: %v", startErr)
	}
	if opts.Groups > 0 && !opts.GroupsOffline {
		var b bytes.Buffer
		if err := WriteGroups(&b, s.GroupsDN, s.PeopleDN, opts.Groups, opts.Users); err != nil {
			t.Fatal(err)
		}
		s.Add(t, b.String())
	}
	return s
}

// URL is the ldap:// URL (StartTLS works on it).
func (s *Server) URL() string { return "ldap://127.0.0.1:" + strconv.Itoa(s.port) }

// LDAPSURL is the ldaps:// URL, with a certificate for 127.0.0.1 and
// localhost signed by s.CA.
func (s *Server) LDAPSURL() string { return "ldaps://127.0.0.1:" + strconv.Itoa(s.tlsPort) }

// CACertPEM is the CA certificate that signed the server's.
func (s *Server) CACertPEM() []byte { return s.CA.CertPEM }

// UserDN is the DN of generated user i.
func (s *Server) UserDN(i int) string { return "uid=" + Username(i) + "," + s.PeopleDN }

// GroupDN is the DN of generated group j.
func (s *Server) GroupDN(j int) string { return "cn=" + GroupName(j) + "," + s.GroupsDN }

// Conn returns a connection bound as the rootdn, closed when the test ends.
func (s *Server) Conn(t testing.TB) *goldap.Conn {
	t.Helper()
	l, err := goldap.DialURL(s.URL(), goldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		t.Fatalf("slapd: %v", err)
	}
	l.SetTimeout(30 * time.Second)
	t.Cleanup(func() { _ = l.Close() })
	if err := l.Bind(s.AdminDN, s.AdminPassword); err != nil {
		t.Fatalf("slapd: bind as %s: %v", s.AdminDN, err)
	}
	return l
}

// Add adds the LDIF's entries online (so memberOf is maintained), as the
// rootdn. Records may also carry changetype modify or delete.
func (s *Server) Add(t testing.TB, ldif string) { t.Helper(); s.apply(t, ldif, "add") }

// Modify applies LDIF change records (changetype modify by default:
// "dn: ...", then "replace: mail" / "mail: x" / "-" blocks) as the rootdn.
func (s *Server) Modify(t testing.TB, ldif string) { t.Helper(); s.apply(t, ldif, "modify") }

// Delete deletes the entry dn as the rootdn.
func (s *Server) Delete(t testing.TB, dn string) {
	t.Helper()
	if err := s.Conn(t).Del(goldap.NewDelRequest(dn, nil)); err != nil {
		t.Fatalf("slapd: delete %s: %v", dn, err)
	}
}

// SetPassword sets dn's password as ldappasswd does (RFC 3062 password
// modify, as the rootdn).
func (s *Server) SetPassword(t testing.TB, dn, password string) {
	t.Helper()
	if _, err := s.Conn(t).PasswordModify(goldap.NewPasswordModifyRequest(dn, "", password)); err != nil {
		t.Fatalf("slapd: set password of %s: %v", dn, err)
	}
}

func (s *Server) apply(t testing.TB, ldif, defaultType string) {
	t.Helper()
	recs, err := ParseLDIF(ldif, defaultType)
	if err != nil {
		t.Fatal(err)
	}
	l := s.Conn(t)
	for _, r := range recs {
		switch r.ChangeType {
		case "add":
			err = l.Add(&goldap.AddRequest{DN: r.DN, Attributes: r.Attrs})
		case "modify":
			err = l.Modify(&goldap.ModifyRequest{DN: r.DN, Changes: r.Mods})
		case "delete":
			err = l.Del(goldap.NewDelRequest(r.DN, nil))
		default:
			err = fmt.Errorf("changetype %q not supported", r.ChangeType)
		}
		if err != nil {
			t.Fatalf("slapd: %s %s: %v", r.ChangeType, r.DN, err)
		}
	}
}

// Stop stops slapd (an outage); Restart starts it again on the same ports
// with the same data.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Fatalf("slapd: stop: %v", err)
	}
}

// Restart starts a stopped slapd again.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	var err error
	for range 50 { // the old socket may linger for a moment
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("slapd: restart: %v", err)
}

// load runs slapadd with the base entries, the generated users (and
// groups when offline) and opts.LDIF, streamed on its stdin.
func (s *Server) load(slapadd string) error {
	cmd := exec.Command(slapadd, "-q", "-f", s.conf)
	w, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	werr := s.writeInitial(w)
	_ = w.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("slapadd: %v: %s", err, out.String())
	}
	return werr
}

func (s *Server) writeInitial(w io.Writer) error {
	o := s.opts
	rdn, val, _ := strings.Cut(strings.SplitN(o.BaseDN, ",", 2)[0], "=")
	fmt.Fprintf(w, "dn: %s\n", o.BaseDN)
	switch strings.ToLower(rdn) {
	case "dc":
		fmt.Fprintf(w, "objectClass: dcObject\nobjectClass: organization\ndc: %s\no: %s\n\n", val, val)
	case "o":
		fmt.Fprintf(w, "objectClass: organization\no: %s\n\n", val)
	case "ou":
		fmt.Fprintf(w, "objectClass: organizationalUnit\nou: %s\n\n", val)
	default:
		return fmt.Errorf("base DN %q: first RDN must be dc=, o= or ou=", o.BaseDN)
	}
	for _, ou := range []string{"people", "groups", "services"} {
		fmt.Fprintf(w, "dn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n\n", ou, o.BaseDN, ou)
	}
	fmt.Fprintf(w, "dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: keygate\nuserPassword: %s\n\n",
		s.ServiceDN, SSHA(s.ServicePassword))
	if err := WriteUsers(w, s.PeopleDN, 0, o.Users, o.UserPassword); err != nil {
		return err
	}
	if o.Groups > 0 && o.GroupsOffline {
		if err := WriteGroups(w, s.GroupsDN, s.PeopleDN, o.Groups, o.Users); err != nil {
			return err
		}
	}
	if o.LDIF != "" {
		_, err := io.WriteString(w, "\n"+strings.TrimSpace(o.LDIF)+"\n\n")
		return err
	}
	return nil
}

func (s *Server) config() string {
	d := s.dir
	limits := "sizelimit unlimited\ntimelimit unlimited\n"
	dbLimits := ""
	if s.opts.SizeLimit > 0 {
		limits = "timelimit unlimited\n"
		dbLimits = fmt.Sprintf("limits * size.soft=%d size.hard=%d size.prtotal=unlimited\n", s.opts.SizeLimit, s.opts.SizeLimit)
	}
	return fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload refint
pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
TLSCACertificateFile %[1]s/ca.pem
TLSCertificateFile %[1]s/server.pem
TLSCertificateKeyFile %[1]s/server.key
%[5]s
database mdb
maxsize 4294967296
suffix "%[2]s"
rootdn "%[3]s"
rootpw %[4]s
directory %[1]s/db
%[6]sindex objectClass eq
index uid,cn,mail eq
index member,memberOf,entryUUID eq
index createTimestamp,modifyTimestamp eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
overlay refint
refint_attributes member
`, d, s.BaseDN, s.AdminDN, SSHA(s.AdminPassword), limits, dbLimits)
}

// start runs slapd in the foreground (-d: it does not daemonise, so it
// stays this process's child) and waits until it answers.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("already running")
	}
	level := "0"
	if s.opts.Log {
		level = "256" // stats: connections and operations
	}
	urls := fmt.Sprintf("ldap://127.0.0.1:%d/ ldaps://127.0.0.1:%d/", s.port, s.tlsPort)
	cmd := exec.Command(s.slapd, "-f", s.conf, "-h", urls, "-d", level)
	cmd.Stdout, cmd.Stderr = s.stderr, s.stderr
	// If the test binary dies, so does slapd: no daemon left behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			s.cmd = nil
			return fmt.Errorf("slapd exited at start: %s", s.stderr.tail())
		default:
		}
		if err := s.ping(); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			s.killLocked()
			return fmt.Errorf("slapd does not answer: %v: %s", err, s.stderr.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, u := range []string{s.URL(), s.LDAPSURL()} {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(strings.TrimPrefix(u, "ldaps://"), "ldap://"))
		if err != nil {
			return err
		}
		_ = c.Close()
	}
	l, err := goldap.DialURL(s.URL(), goldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return err
	}
	defer l.Close()
	l.SetTimeout(time.Second)
	_, err = l.Search(goldap.NewSearchRequest(s.BaseDN, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"dn"}, nil))
	return err
}

// stop ends slapd: SIGTERM (it syncs the database), SIGKILL if it takes
// longer than 10 s. It also kills by the pid file, should a slapd of this
// directory ever have been left running.
func (s *Server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.killPidfile()
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.killLocked()
		return errors.New("slapd did not stop on SIGTERM; killed")
	}
	s.cmd = nil
	return nil
}

func (s *Server) killLocked() {
	if s.cmd == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

func (s *Server) killPidfile() {
	b, err := os.ReadFile(filepath.Join(s.dir, "slapd.pid"))
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
		// Only a slapd started on this test's configuration.
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && bytes.Contains(cmdline, []byte(s.conf)) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func findBinary(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/libexec"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// logWriter passes slapd's output to the test log while the test runs and
// keeps its tail for error messages.
type logWriter struct {
	t  testing.TB
	on bool

	mu   sync.Mutex
	done bool
	last []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = append(w.last, p...)
	if len(w.last) > 4096 {
		w.last = w.last[len(w.last)-4096:]
	}
	if w.on && !w.done {
		w.t.Logf("slapd: %s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *logWriter) off() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

func (w *logWriter) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.TrimSpace(string(w.last))
}
