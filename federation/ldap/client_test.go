package ldap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/jimlambrt/gldap"
	dto "github.com/prometheus/client_model/go"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/ldap/ldaptest"
)

// Timeouts of the fault tests: short, so a test that waits for one is
// quick, with slack for a loaded 2-core machine.
const (
	tConnect = 300 * time.Millisecond
	tRead    = 400 * time.Millisecond
	slack    = time.Second
)

// logRecorder keeps what a client logs.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	rec.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	r.mu.Lock()
	r.lines = append(r.lines, b.String())
	r.mu.Unlock()
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

func (r *logRecorder) count(substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lines {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

func (r *logRecorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

func fakeConfig(f *ldaptest.Fake, urls ...string) Config {
	if len(urls) == 0 {
		urls = []string{f.URL()}
	}
	return Config{Name: "fake-" + strings.ReplaceAll(urls[0], "/", ""), URLs: urls, ConnectionTimeout: tConnect, ReadTimeout: tRead,
		AuthType: "simple", BindDN: f.AdminDN, BindCredential: f.AdminPassword, UsersDN: "ou=people," + f.BaseDN,
		Pagination: true, ConnectionPooling: true, PoolSize: 4, BreakerFailures: 3, BreakerCooldown: 300 * time.Millisecond}
}

func newFakeClient(t *testing.T, cfg Config) (*Client, *logRecorder) {
	t.Helper()
	rec := &logRecorder{}
	c := NewClient(cfg, federation.Env{Logger: slog.New(rec)})
	t.Cleanup(func() { _ = c.Close() })
	return c, rec
}

const fakeUsers = `dn: uid=alice,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
userPassword: wonderland

dn: uid=bob,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Builder
userPassword: canwefixit
`

func userSearch(base, uid string) *goldap.SearchRequest {
	return goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
		fmt.Sprintf("(&(objectClass=inetOrgPerson)(uid=%s))", goldap.EscapeFilter(uid)), []string{"uid", "cn"}, nil)
}

func within(t *testing.T, what string, start time.Time, limit time.Duration) {
	t.Helper()
	if d := time.Since(start); d > limit {
		t.Errorf("%s took %v, want at most %v", what, d, limit)
	}
}

func wantUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, federation.ErrUnavailable) {
		t.Fatalf("%s: err = %v, want ErrUnavailable", what, err)
	}
	if IsNoSuchObject(err) {
		t.Fatalf("%s: an unavailable directory reads as no such object: %v", what, err)
	}
}

func TestClientSearchAndAuthenticate(t *testing.T) {
	f := ldaptest.NewFake(t, ldaptest.FakeOptions{LDIF: fakeUsers})
	c, rec := newFakeClient(t, fakeConfig(f))
	ctx := context.Background()

	res, err := c.Search(ctx, userSearch(f.BaseDN, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("cn") != "Alice Liddell" {
		t.Fatalf("entries = %v", res.Entries)
	}
	dn := res.Entries[0].DN
	// An injection attempt matches nothing once escaped.
	if res, err := c.Search(ctx, userSearch(f.BaseDN, "*)(uid=*")); err != nil || len(res.Entries) != 0 {
		t.Fatalf("escaped metacharacters: %v, %v", res, err)
	}

	for _, tc := range []struct {
		dn, pw string
		ok     bool
	}{{dn, "wonderland", true}, {dn, "wrong", false}, {"uid=nobody,ou=people,dc=example,dc=org", "x", false}} {
		ok, err := c.Authenticate(ctx, tc.dn, tc.pw)
		if err != nil || ok != tc.ok {
			t.Errorf("Authenticate(%s, %q) = %v, %v; want %v, nil", tc.dn, tc.pw, ok, err, tc.ok)
		}
	}
	before := f.Binds(dn)
	if ok, err := c.Authenticate(ctx, dn, ""); ok || err != nil {
		t.Errorf("empty password: %v, %v; want false, nil", ok, err)
	}
	if ok, err := c.Authenticate(ctx, "", "x"); ok || err != nil {
		t.Errorf("empty DN: %v, %v; want false, nil", ok, err)
	}
	if n := f.Binds(dn); n != before {
		t.Errorf("an empty password reached the directory: %d binds, want %d", n, before)
	}
	// The service account's connection still searches after user binds.
	if res, err := c.Search(ctx, userSearch(f.BaseDN, "bob")); err != nil || len(res.Entries) != 1 {
		t.Fatalf("search after binds: %v, %v", res, err)
	}
	if strings.Contains(rec.all(), "wonderland") || strings.Contains(rec.all(), f.AdminPassword) {
		t.Error("a password is in the log")
	}
}

func TestClientNoSuchObjectIsAnAnswer(t *testing.T) {
	f := ldaptest.NewFake(t, ldaptest.FakeOptions{})
	c, _ := newFakeClient(t, fakeConfig(f))
	_, err := c.Search(context.Background(), userSearch("ou=nowhere,dc=example,dc=org", "alice"))
	if !IsNoSuchObject(err) || errors.Is(err, federation.ErrUnavailable) {
		t.Fatalf("err = %v, want no such object and not unavailable", err)
	}
}

func TestClientActiveDirectoryBindCodes(t *testing.T) {
	f := ldaptest.NewFake(t, ldaptest.FakeOptions{})
	c, _ := newFakeClient(t, fakeConfig(f))
	const user = "cn=jdoe,ou=people,dc=example,dc=org"
	ad := func(data string) string {
		return "80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data " + data + ", v3839"
	}
	for _, tc := range []struct {
		code    int
		diag    string
		ok      bool
		wantErr error
	}{
		{gldap.ResultSuccess, "", true, nil},
		{gldap.ResultInvalidCredentials, "", false, nil},
		{gldap.ResultInvalidCredentials, ad("52e"), false, nil},
		{gldap.ResultInvalidCredentials, ad("525"), false, nil},
		{gldap.ResultInvalidCredentials, ad("530"), false, federation.ErrAccountDisabled},
		{gldap.ResultInvalidCredentials, ad("531"), false, federation.ErrAccountDisabled},
		{gldap.ResultInvalidCredentials, ad("533"), false, federation.ErrAccountDisabled},
		{gldap.ResultInvalidCredentials, ad("701"), false, federation.ErrAccountDisabled},
		{gldap.ResultInvalidCredentials, ad("775"), false, federation.ErrAccountDisabled},
		{gldap.ResultInvalidCredentials, ad("532"), false, federation.ErrMustChangePassword},
		{gldap.ResultInvalidCredentials, ad("773"), false, federation.ErrMustChangePassword},
		{gldap.ResultUnwillingToPerform, "", false, federation.ErrUnavailable},
		{gldap.ResultBusy, "", false, federation.ErrUnavailable},
		{gldap.ResultUnavailable, "", false, federation.ErrUnavailable},
	} {
		f.OnBind(func(dn, _ string) (int, string, bool) {
			if dn == user {
				return tc.code, tc.diag, true
			}
			return 0, "", false
		})
		ok, err := c.Authenticate(context.Background(), user, "Secret1!")
		if ok != tc.ok || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
			t.Errorf("bind answered %d %q: got %v, %v; want %v, %v", tc.code, tc.diag, ok, err, tc.ok, tc.wantErr)
		}
		if tc.wantErr != nil && errors.Is(err, federation.ErrUnavailable) != errors.Is(tc.wantErr, federation.ErrUnavailable) {
			t.Errorf("bind answered %d %q: %v", tc.code, tc.diag, err)
		}
	}
}

func TestClientRefusedAndFailover(t *testing.T) {
	f := ldaptest.NewFake(t, ldaptest.FakeOptions{LDIF: fakeUsers})
	dead := ldaptest.ClosedURL(t)

	c, _ := newFakeClient(t, fakeConfig(f, dead))
	start := time.Now()
	_, err := c.Search(context.Background(), userSearch(f.BaseDN, "alice"))
	wantUnavailable(t, "refused", err)
	within(t, "a refused connection", start, slack)
	if ok, err := c.Authenticate(context.Background(), "uid=alice,ou=people,dc=example,dc=org", "wonderland"); ok || !errors.Is(err, federation.ErrUnavailable) {
		t.Fatalf("bind against a dead directory = %v, %v; want ErrUnavailable", ok, err)
	}
	if err := c.Test(context.Background(), false); !errors.Is(err, federation.ErrUnavailable) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Test = %v, want the refusal", err)
	}

	// A dead first URL, then a live one.
	c2, _ := newFakeClient(t, fakeConfig(f, dead, f.URL()))
	if res, err := c2.Search(context.Background(), userSearch(f.BaseDN, "alice")); err != nil || len(res.Entries) != 1 {
		t.Fatalf("failover: %v, %v", res, err)
	}
	if ok, err := c2.Authenticate(context.Background(), "uid=alice,ou=people,dc=example,dc=org", "wonderland"); !ok || err != nil {
		t.Fatalf("failover bind: %v, %v", ok, err)
	}

	// A blackholed first URL costs the connection timeout once; then it is
	// tried last for a while.
	hole := "ldap://" + ldaptest.Blackhole(t)
	c3, _ := newFakeClient(t, fakeConfig(f, hole, f.URL()))
	start = time.Now()
	if _, err := c3.Search(context.Background(), userSearch(f.BaseDN, "alice")); err != nil {
		t.Fatalf("failover from a blackhole: %v", err)
	}
	within(t, "failover from a blackhole", start, tConnect+slack)
	start = time.Now()
	if ok, err := c3.Authenticate(context.Background(), "uid=alice,ou=people,dc=example,dc=org", "wonderland"); !ok || err != nil {
		t.Fatalf("bind after failover: %v, %v", ok, err)
	}
	within(t, "a bind after failover", start, tConnect/2)
}

func TestClientNeverAnswers(t *testing.T) {
	hole := ldaptest.Blackhole(t)
	for _, tc := range []struct {
		url   string
		limit time.Duration
	}{
		{"ldap://" + hole, max(tConnect, tRead) + slack}, // connects; the bind never comes back
		{"ldaps://" + hole, tConnect + slack},            // the TLS handshake never completes
	} {
		c, _ := newFakeClient(t, Config{URLs: []string{tc.url}, ConnectionTimeout: tConnect, ReadTimeout: tRead,
			BindDN: "cn=admin", BindCredential: "x", Pagination: true, ConnectionPooling: true, PoolSize: 2})
		start := time.Now()
		_, err := c.Search(context.Background(), userSearch("dc=example,dc=org", "alice"))
		wantUnavailable(t, tc.url+" search", err)
		within(t, tc.url+" search", start, tc.limit)
		start = time.Now()
		ok, err := c.Authenticate(context.Background(), "uid=alice,dc=example,dc=org", "pw")
		if ok {
			t.Fatal("authenticated against a blackhole")
		}
		wantUnavailable(t, tc.url+" bind", err)
		within(t, tc.url+" bind", start, tc.limit)
		start = time.Now()
		err = c.Test(context.Background(), true)
		wantUnavailable(t, tc.url+" test", err)
		within(t, tc.url+" test", start, tc.limit)
	}
	// A login starts with the lookup: against a directory that accepts and
	// never answers it fails within the connection timeout, however long
	// the read timeout.
	c, _ := newFakeClient(t, Config{URLs: []string{"ldap://" + hole}, ConnectionTimeout: tConnect, ReadTimeout: time.Minute,
		BindDN: "cn=admin", BindCredential: "x", ConnectionPooling: true, PoolSize: 2})
	start := time.Now()
	_, err := c.Search(context.Background(), userSearch("dc=example,dc=org", "alice"))
	wantUnavailable(t, "lookup", err)
	within(t, "lookup against a blackhole", start, tConnect+slack)
}

func TestClientStalledAndMidSearchTimeouts(t *testing.T) {
	f := ldaptest.NewFake(t, ldaptest.FakeOptions{LDIF: fakeUsers})
	cfg := fakeConfig(f)
	cfg.BreakerFailures = 100
	c, _ := newFakeClient(t, cfg)
	ctx := context.Background()
	if _, err := c.Search(ctx, userSearch(f.BaseDN, "alice")); err != nil {
		t.Fatal(err)
	}
	// A directory that stops answering on an open, bound connection.
	f.Stall(true)
	start := time.Now()
	_, err := c.Search(ctx, userSearch(f.BaseDN, "alice"))
	wantUnavailable(t, "stalled search", err)
	within(t, "stalled search", start, tRead+slack)
	// The caller's deadline wins when it is sooner.
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	start = time.Now()
	_, err = c.Search(dctx, userSearch(f.BaseDN, "alice"))
	cancel()
	wantUnavailable(t, "search with a deadline", err)
	within(t, "search with a short deadline", start, 100*time.Millisecond+slack/2)
	f.Stall(false)

	// Entries, then silence: no partial result.
	f.OnSearch(func(w *gldap.ResponseWriter, r *gldap.Request, m *gldap.SearchMessage) bool {
		_ = w.Write(r.NewSearchResponseEntry("uid=alice,ou=people,dc=example,dc=org", gldap.WithAttributes(map[string][]string{"uid": {"alice"}})))
		f.Block()
		return true
	})
	start = time.Now()
	res, err := c.Search(ctx, userSearch(f.BaseDN, "alice"))
	wantUnavailable(t, "mid-search timeout", err)
	if res != nil {
		t.Fatalf("partial result returned: %v", res.Entries)
	}
	within(t, "mid-search timeout", start, tRead+slack)
	f.OnSearch(nil)
	if res, err := c.Search(ctx, userSearch(f.BaseDN, "alice")); err != nil || len(res.Entries) != 1 {
		t.Fatalf("after the timeouts: %v, %v", res, err)
	}
}

func TestClientDirectoryRefusals(t *testing.T) {
	f := ldaptest.NewFake(t, ldaptest.FakeOptions{LDIF: fakeUsers})
	cfg := fakeConfig(f)
	cfg.BreakerFailures = 100
	c, _ := newFakeClient(t, cfg)
	for _, code := range []int{gldap.ResultReferral, gldap.ResultBusy, gldap.ResultUnavailable,
		gldap.ResultInsufficientAccessRights, gldap.ResultOperationsError, gldap.ResultUnwillingToPerform} {
		f.OnSearch(func(w *gldap.ResponseWriter, r *gldap.Request, m *gldap.SearchMessage) bool {
			_ = w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(code)))
			return true
		})
		_, err := c.Search(context.Background(), userSearch(f.BaseDN, "alice"))
		wantUnavailable(t, fmt.Sprintf("search answered %d", code), err)
	}
	// A size limit is an answer: the entries that came, and the code.
	f.OnSearch(nil)
	req := userSearch(f.BaseDN, "*")
	req.Filter, req.SizeLimit = "(objectClass=inetOrgPerson)", 1
	res, err := c.Search(context.Background(), req)
	if err != nil || len(res.Entries) != 1 || res.ResultCode != goldap.LDAPResultSizeLimitExceeded {
		t.Fatalf("size limit: %v, %v", res, err)
	}
}

func TestClientReferralsAndMalformedAnswers(t *testing.T) {
	const user = "uid=alice,ou=people,dc=example,dc=org"
	search := func(t *testing.T, answer func(id int64) [][]byte) (*goldap.SearchResult, error) {
		raw := ldaptest.NewRaw(t, func(r ldaptest.RawRequest) [][]byte {
			if r.Op == goldap.ApplicationBindRequest {
				return [][]byte{ldaptest.RawResult(r.MessageID, goldap.ApplicationBindResponse, 0, "")}
			}
			return answer(r.MessageID)
		})
		c, _ := newFakeClient(t, Config{URLs: []string{raw.URL}, ConnectionTimeout: tConnect, ReadTimeout: tRead,
			BindDN: "cn=admin", BindCredential: "x", ConnectionPooling: true, PoolSize: 1})
		return c.Search(context.Background(), userSearch("dc=example,dc=org", "alice"))
	}
	t.Run("continuation reference", func(t *testing.T) {
		res, err := search(t, func(id int64) [][]byte {
			return [][]byte{
				ldaptest.RawEntry(id, user, map[string][]string{"uid": {"alice"}}),
				ldaptest.RawReference(id, "ldap://dc2.example.org/DC=DomainDnsZones,DC=example,DC=org"),
				ldaptest.RawResult(id, goldap.ApplicationSearchResultDone, 0, ""),
			}
		})
		if err != nil || len(res.Entries) != 1 || len(res.Referrals) != 1 {
			t.Fatalf("got %v, %v; want the entry and the reference, not followed", res, err)
		}
	})
	t.Run("referral instead of an answer", func(t *testing.T) {
		_, err := search(t, func(id int64) [][]byte {
			return [][]byte{ldaptest.RawResult(id, goldap.ApplicationSearchResultDone, goldap.LDAPResultReferral, "", "ldap://other.example.org/dc=example,dc=org")}
		})
		wantUnavailable(t, "referral", err)
		if !strings.Contains(err.Error(), "referral") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("entry without attributes", func(t *testing.T) {
		_, err := search(t, func(id int64) [][]byte {
			return [][]byte{ldaptest.RawEntryWithoutAttributes(id, user), ldaptest.RawResult(id, goldap.ApplicationSearchResultDone, 0, "")}
		})
		wantUnavailable(t, "malformed entry", err)
	})
	t.Run("garbage", func(t *testing.T) {
		start := time.Now()
		_, err := search(t, func(int64) [][]byte { return [][]byte{ldaptest.Garbage, ldaptest.RawHangUp} })
		wantUnavailable(t, "garbage", err)
		within(t, "garbage", start, tRead+slack)
	})
	t.Run("answer with the wrong shape", func(t *testing.T) {
		_, err := search(t, func(id int64) [][]byte {
			// A bind response where the search's result belongs.
			return [][]byte{ldaptest.RawResult(id, goldap.ApplicationBindResponse, 0, "")}
		})
		if err == nil {
			return // go-ldap may accept any LDAPResult as the end of a search
		}
		wantUnavailable(t, "wrong shape", err)
	})
}

func TestClientPagedSearchFake(t *testing.T) {
	var b strings.Builder
	for i := range 25 {
		fmt.Fprintf(&b, "dn: uid=u%d,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: u%d\ncn: U\nsn: U\n\n", i, i)
	}
	f := ldaptest.NewFake(t, ldaptest.FakeOptions{LDIF: b.String()})
	c, _ := newFakeClient(t, fakeConfig(f))
	req := goldap.NewSearchRequest(f.BaseDN, goldap.ScopeWholeSubtree, 0, 0, 0, false, "(objectClass=inetOrgPerson)", []string{"uid"}, nil)
	var pages []int
	err := c.SearchPaged(context.Background(), req, 10, func(es []*goldap.Entry) error { pages = append(pages, len(es)); return nil })
	if err != nil || fmt.Sprint(pages) != "[10 10 5]" {
		t.Fatalf("pages = %v, err %v", pages, err)
	}
	if len(req.Controls) != 0 {
		t.Error("SearchPaged changed the caller's request")
	}
	// The callback's error stops the search and comes back as it is.
	stop := errors.New("enough")
	calls := 0
	err = c.SearchPaged(context.Background(), req, 10, func([]*goldap.Entry) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("err = %v after %d calls; want the callback's error after 1", err, calls)
	}
	logs := f.Searches()
	if last := logs[len(logs)-1]; !last.Paged {
		t.Errorf("the abandon was not a paged search: %+v", last)
	}
	// Without pagination: one search, one call.
	cfg := fakeConfig(f)
	cfg.Pagination = false
	c2, _ := newFakeClient(t, cfg)
	pages = nil
	if err := c2.SearchPaged(context.Background(), req, 10, func(es []*goldap.Entry) error { pages = append(pages, len(es)); return nil }); err != nil || fmt.Sprint(pages) != "[25]" {
		t.Fatalf("unpaged: %v, %v", pages, err)
	}
}

func TestClientCircuitBreaker(t *testing.T) {
	f := ldaptest.NewFake(t, ldaptest.FakeOptions{LDIF: fakeUsers})
	cfg := fakeConfig(f)
	c, rec := newFakeClient(t, cfg)
	ctx := context.Background()
	if _, err := c.Search(ctx, userSearch(f.BaseDN, "alice")); err != nil {
		t.Fatal(err)
	}
	gauge := func() float64 {
		var m dto.Metric
		if err := circuitOpen.WithLabelValues(cfg.Name).Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetGauge().GetValue()
	}

	f.Down()
	for i := range cfg.BreakerFailures {
		_, err := c.Search(ctx, userSearch(f.BaseDN, "alice"))
		wantUnavailable(t, fmt.Sprintf("failure %d", i), err)
	}
	if !c.br.open() || gauge() != 1 {
		t.Fatalf("circuit open %v, gauge %v after %d failures", c.br.open(), gauge(), cfg.BreakerFailures)
	}
	// Open: fail fast without touching the network, for search and bind.
	f.Up()
	_, _, before := f.Conns()
	start := time.Now()
	for range 20 {
		_, err := c.Search(ctx, userSearch(f.BaseDN, "alice"))
		wantUnavailable(t, "open circuit", err)
		ok, err := c.Authenticate(ctx, "uid=alice,ou=people,dc=example,dc=org", "wonderland")
		if ok {
			t.Fatal("authenticated through an open circuit")
		}
		wantUnavailable(t, "open circuit bind", err)
	}
	// Microseconds each; the bound leaves a loaded machine room to
	// deschedule the test, and the dial count below is the strict check.
	within(t, "40 calls on an open circuit", start, 500*time.Millisecond)
	if _, _, after := f.Conns(); after != before {
		t.Errorf("an open circuit dialled %d connections", after-before)
	}
	// After the cool-down one probe goes through and closes it.
	time.Sleep(cfg.BreakerCooldown + 50*time.Millisecond)
	if res, err := c.Search(ctx, userSearch(f.BaseDN, "alice")); err != nil || len(res.Entries) != 1 {
		t.Fatalf("probe: %v, %v", res, err)
	}
	if c.br.open() || gauge() != 0 {
		t.Fatalf("circuit still open after a good probe")
	}
	// A failed probe keeps it open, quietly.
	f.Down()
	for range cfg.BreakerFailures {
		_, _ = c.Search(ctx, userSearch(f.BaseDN, "alice"))
	}
	time.Sleep(cfg.BreakerCooldown + 50*time.Millisecond)
	_, err := c.Search(ctx, userSearch(f.BaseDN, "alice"))
	wantUnavailable(t, "failed probe", err)
	if !c.br.open() {
		t.Fatal("a failed probe closed the circuit")
	}
	f.Up()
	time.Sleep(cfg.BreakerCooldown + 50*time.Millisecond)
	if _, err := c.Search(ctx, userSearch(f.BaseDN, "alice")); err != nil {
		t.Fatal(err)
	}
	if o, cl := rec.count("circuit open"), rec.count("circuit closed"); o != 2 || cl != 2 {
		t.Errorf("log lines: %d open, %d closed; want one of each per outage (2, 2):\n%s", o, cl, rec.all())
	}
	// Wrong passwords are answers, not failures.
	for range 2 * cfg.BreakerFailures {
		if ok, err := c.Authenticate(ctx, "uid=alice,ou=people,dc=example,dc=org", "wrong"); ok || err != nil {
			t.Fatalf("wrong password: %v, %v", ok, err)
		}
	}
	if c.br.open() {
		t.Fatal("wrong passwords opened the circuit")
	}
}

func TestClientRetriesStaleIdleConnection(t *testing.T) {
	f := ldaptest.NewFake(t, ldaptest.FakeOptions{LDIF: fakeUsers})
	cfg := fakeConfig(f)
	cfg.BreakerFailures = 1
	c, _ := newFakeClient(t, cfg)
	ctx := context.Background()
	if _, err := c.Search(ctx, userSearch(f.BaseDN, "alice")); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.Authenticate(ctx, "uid=alice,ou=people,dc=example,dc=org", "wonderland"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	// The directory restarts: every pooled connection is dead.
	f.Down()
	f.Up()
	time.Sleep(20 * time.Millisecond)
	if _, err := c.Search(ctx, userSearch(f.BaseDN, "alice")); err != nil {
		t.Fatalf("search after a restart: %v", err)
	}
	if ok, err := c.Authenticate(ctx, "uid=alice,ou=people,dc=example,dc=org", "wonderland"); !ok || err != nil {
		t.Fatalf("bind after a restart: %v, %v", ok, err)
	}
	if c.br.open() {
		t.Fatal("stale pooled connections opened the circuit")
	}

	// Stale connections to the first URL do not send traffic to the second.
	second := ldaptest.NewFake(t, ldaptest.FakeOptions{LDIF: fakeUsers})
	c2, _ := newFakeClient(t, fakeConfig(f, f.URL(), second.URL()))
	if _, err := c2.Search(ctx, userSearch(f.BaseDN, "alice")); err != nil {
		t.Fatal(err)
	}
	f.Down()
	f.Up()
	time.Sleep(20 * time.Millisecond)
	if _, err := c2.Search(ctx, userSearch(f.BaseDN, "alice")); err != nil {
		t.Fatal(err)
	}
	if _, _, total := second.Conns(); total != 0 {
		t.Errorf("a stale connection sent %d connections to the second URL", total)
	}
}

func TestClientBoundsConcurrentBinds(t *testing.T) {
	f := ldaptest.NewFake(t, ldaptest.FakeOptions{LDIF: fakeUsers})
	// Slow binds, so that the callers really pile up.
	f.OnBind(func(string, string) (int, string, bool) {
		time.Sleep(5 * time.Millisecond)
		return 0, "", false
	})
	for _, pooling := range []bool{true, false} {
		cfg := fakeConfig(f)
		cfg.ConnectionPooling = pooling
		c, _ := newFakeClient(t, cfg)
		_, _, before := f.Conns()
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for i := range 100 {
			wg.Go(func() {
				pw := "wonderland"
				if i%2 == 1 {
					pw = "wrong"
				}
				ok, err := c.Authenticate(context.Background(), "uid=alice,ou=people,dc=example,dc=org", pw)
				if err != nil || ok != (i%2 == 0) {
					errs <- fmt.Errorf("bind %d: %v, %v", i, ok, err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		_, peak, total := f.Conns()
		// Unpooled, a closed connection may still count on the server side
		// while its successor is accepted: there, only the client's count
		// is exact.
		if pooling && peak > cfg.PoolSize {
			t.Errorf("pooled: %d connections open at once, want at most %d", peak, cfg.PoolSize)
		}
		if pooling && total-before > cfg.PoolSize {
			t.Errorf("pooled: %d connections dialled for 100 binds, want at most %d", total-before, cfg.PoolSize)
		}
		if !pooling && total-before != 100 {
			t.Errorf("unpooled: %d connections for 100 binds", total-before)
		}
		if n := c.auth.peak.Load(); n > int64(cfg.PoolSize) {
			t.Errorf("client side: %d bind connections at once", n)
		}
		_ = c.Close()
		// Let the closed connections go before the next round's count.
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if open, _, _ := f.Conns(); open == 0 {
				break
			}
		}
	}
}

func TestClientTestConnection(t *testing.T) {
	f := ldaptest.NewFake(t, ldaptest.FakeOptions{})
	cfg := fakeConfig(f)
	c, _ := newFakeClient(t, cfg)
	if err := c.Test(context.Background(), false); err != nil {
		t.Fatalf("connect: %v", err)
	}
	if err := c.Test(context.Background(), true); err != nil {
		t.Fatalf("bind: %v", err)
	}
	cfg.BindCredential = "wrong"
	bad, rec := newFakeClient(t, cfg)
	err := bad.Test(context.Background(), true)
	if err == nil || errors.Is(err, federation.ErrUnavailable) || !strings.Contains(err.Error(), "Invalid Credentials") {
		t.Fatalf("wrong bind credential: %v; want the directory's reason", err)
	}
	if strings.Contains(err.Error(), "wrong") || strings.Contains(rec.all(), "wrong") {
		t.Fatalf("the credential leaked: %v", err)
	}
	// A refused service bind fails searches as unavailable.
	_, err = bad.Search(context.Background(), userSearch(f.BaseDN, "alice"))
	wantUnavailable(t, "search with a wrong bind credential", err)
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("the credential leaked: %v", err)
	}

	caps, err := c.Capabilities(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !containsCap(caps, Capability{goldap.ControlTypePaging, "CONTROL"}) || !containsCap(caps, Capability{"1.3.6.1.4.1.4203.1.11.1", "EXTENSION"}) ||
		!containsCap(caps, Capability{"1.3.6.1.4.1.4203.1.5.1", "FEATURE"}) {
		t.Fatalf("capabilities = %v", caps)
	}
}

func containsCap(caps []Capability, c Capability) bool {
	for _, x := range caps {
		if x == c {
			return true
		}
	}
	return false
}

func TestClientStartTLSFake(t *testing.T) {
	f := ldaptest.NewFake(t, ldaptest.FakeOptions{LDIF: fakeUsers})
	cfg := fakeConfig(f)
	cfg.StartTLS = true
	c := NewClient(cfg, federation.Env{RootCAs: f.CA.Pool})
	t.Cleanup(func() { _ = c.Close() })
	if res, err := c.Search(context.Background(), userSearch(f.BaseDN, "alice")); err != nil || len(res.Entries) != 1 {
		t.Fatalf("StartTLS search: %v, %v", res, err)
	}
	// Another CA: the handshake fails, and that is not a wrong password.
	other := ldaptest.NewCA(t)
	c2 := NewClient(cfg, federation.Env{RootCAs: other.Pool})
	t.Cleanup(func() { _ = c2.Close() })
	ok, err := c2.Authenticate(context.Background(), "uid=alice,ou=people,dc=example,dc=org", "wonderland")
	if ok {
		t.Fatal("authenticated over an unverified connection")
	}
	wantUnavailable(t, "StartTLS with the wrong CA", err)
}

func TestBindVerdictAndErrors(t *testing.T) {
	if IsNoSuchObject(nil) || IsNoSuchObject(errors.New("x")) {
		t.Fatal("IsNoSuchObject of a non-LDAP error")
	}
	nso := goldap.NewError(goldap.LDAPResultNoSuchObject, errors.New(""))
	if !IsNoSuchObject(fmt.Errorf("wrapped: %w", nso)) || IsNoSuchObject(unavailable("x", nso)) {
		t.Fatal("IsNoSuchObject")
	}
	if ok, err := bindVerdict(goldap.NewError(goldap.ErrorNetwork, errors.New("ldap: connection timed out"))); ok || !errors.Is(err, federation.ErrUnavailable) {
		t.Fatal("a network error read as a verdict")
	}
	if r := reason(goldap.NewError(goldap.LDAPResultInvalidCredentials, errors.New("80090308: data 52e"))); r != "Invalid Credentials: 80090308: data 52e" {
		t.Fatalf("reason = %q", r)
	}
}
