package ldap

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/ldap/ldaptest"
)

// These tests run against a real slapd (skipped when it is not installed,
// unless KEYGATE_REQUIRE_SLAPD=1).

func slapdConfig(s *ldaptest.Server, urls ...string) Config {
	if len(urls) == 0 {
		urls = []string{s.URL()}
	}
	return Config{Name: "slapd", URLs: urls, ConnectionTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second,
		AuthType: "simple", BindDN: s.ServiceDN, BindCredential: s.ServicePassword, UsersDN: s.PeopleDN,
		Pagination: true, ConnectionPooling: true, PoolSize: 8, BreakerCooldown: time.Second}
}

func newSlapdClient(t testing.TB, cfg Config, env federation.Env) *Client {
	c := NewClient(cfg, env)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestSlapdClient(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 2500, Groups: 3})
	ctx := context.Background()
	env := federation.Env{RootCAs: s.CA.Pool}
	c := newSlapdClient(t, slapdConfig(s), env)
	user := s.UserDN(42)

	t.Run("search", func(t *testing.T) {
		res, err := c.Search(ctx, userSearch(s.PeopleDN, ldaptest.Username(42)))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Entries) != 1 || !strings.EqualFold(res.Entries[0].DN, user) {
			t.Fatalf("entries = %v", res.Entries)
		}
		if res, err := c.Search(ctx, userSearch(s.PeopleDN, "user4*")); err != nil || len(res.Entries) != 0 {
			t.Fatalf("an escaped * matched: %v, %v", res, err)
		}
		_, err = c.Search(ctx, userSearch("ou=nowhere,"+s.BaseDN, "user1"))
		if !IsNoSuchObject(err) || errors.Is(err, federation.ErrUnavailable) {
			t.Fatalf("missing base: %v", err)
		}
	})

	t.Run("paged search", func(t *testing.T) {
		req := goldap.NewSearchRequest(s.PeopleDN, goldap.ScopeSingleLevel, goldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=inetOrgPerson)", []string{"uid", "entryUUID"}, nil)
		var pages []int
		seen := map[string]bool{}
		err := c.SearchPaged(ctx, req, 1000, func(es []*goldap.Entry) error {
			pages = append(pages, len(es))
			for _, e := range es {
				seen[e.GetAttributeValue("entryUUID")] = true
			}
			return nil
		})
		if err != nil || fmt.Sprint(pages) != "[1000 1000 500]" || len(seen) != 2500 {
			t.Fatalf("pages %v, %d distinct entries, err %v", pages, len(seen), err)
		}
	})

	t.Run("bind", func(t *testing.T) {
		for _, tc := range []struct {
			dn, pw string
			ok     bool
		}{
			{user, ldaptest.DefaultUserPassword, true},
			{user, "wrong", false},
			{user, "", false},
			{"uid=nobody," + s.PeopleDN, "x", false},
		} {
			if ok, err := c.Authenticate(ctx, tc.dn, tc.pw); ok != tc.ok || err != nil {
				t.Errorf("Authenticate(%s, %q) = %v, %v; want %v", tc.dn, tc.pw, ok, err, tc.ok)
			}
		}
	})

	t.Run("service connections stay the service account", func(t *testing.T) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var whoami []string
		for i := range 32 {
			wg.Go(func() {
				if i%2 == 0 {
					// Right and wrong user binds, interleaved with service work.
					_, _ = c.Authenticate(ctx, s.UserDN(i), []string{ldaptest.DefaultUserPassword, "wrong"}[i%4/2])
					return
				}
				err := c.do(ctx, c.svc, opSearch, "whoami", nil, func(cn *conn) error {
					r, err := cn.l.WhoAmI(nil)
					if err == nil {
						mu.Lock()
						whoami = append(whoami, r.AuthzID)
						mu.Unlock()
					}
					return err
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for _, w := range whoami {
			if !strings.EqualFold(w, "dn:"+s.ServiceDN) {
				t.Fatalf("a service connection is bound as %q", w)
			}
		}
		// And a search after a failed user bind still reads as the service.
		if ok, err := c.Authenticate(ctx, user, "wrong"); ok || err != nil {
			t.Fatal(ok, err)
		}
		if res, err := c.Search(ctx, userSearch(s.PeopleDN, ldaptest.Username(7))); err != nil || len(res.Entries) != 1 {
			t.Fatalf("search after a failed bind: %v, %v", res, err)
		}
	})

	t.Run("password change", func(t *testing.T) {
		dn := s.UserDN(7)
		s.SetPassword(t, dn, "n3w-Secret")
		if ok, err := c.Authenticate(ctx, dn, ldaptest.DefaultUserPassword); ok || err != nil {
			t.Errorf("old password: %v, %v", ok, err)
		}
		if ok, err := c.Authenticate(ctx, dn, "n3w-Secret"); !ok || err != nil {
			t.Errorf("new password: %v, %v", ok, err)
		}
		// And through the client's RFC 3062 as the rootdn (WRITABLE mode).
		cfg := slapdConfig(s)
		cfg.BindDN, cfg.BindCredential = s.AdminDN, s.AdminPassword
		admin := newSlapdClient(t, cfg, env)
		if err := admin.PasswordModify(ctx, dn, "", "th1rd-Secret"); err != nil {
			t.Fatal(err)
		}
		if ok, err := c.Authenticate(ctx, dn, "th1rd-Secret"); !ok || err != nil {
			t.Errorf("password set by PasswordModify: %v, %v", ok, err)
		}
		// The service account may not write: the directory's refusal is an
		// answer, not an outage.
		err := c.Modify(ctx, &goldap.ModifyRequest{DN: dn, Changes: []goldap.Change{{Operation: goldap.ReplaceAttribute,
			Modification: goldap.PartialAttribute{Type: "sn", Vals: []string{"x"}}}}})
		if !goldap.IsErrorWithCode(err, goldap.LDAPResultInsufficientAccessRights) || errors.Is(err, federation.ErrUnavailable) {
			t.Errorf("read-only service account modify: %v", err)
		}
	})

	t.Run("LDAPS", func(t *testing.T) {
		tc := newSlapdClient(t, slapdConfig(s, s.LDAPSURL()), env)
		if res, err := tc.Search(ctx, userSearch(s.PeopleDN, ldaptest.Username(1))); err != nil || len(res.Entries) != 1 {
			t.Fatalf("search: %v, %v", res, err)
		}
		if ok, err := tc.Authenticate(ctx, s.UserDN(1), ldaptest.DefaultUserPassword); !ok || err != nil {
			t.Fatalf("bind: %v, %v", ok, err)
		}
	})

	t.Run("StartTLS", func(t *testing.T) {
		cfg := slapdConfig(s)
		cfg.StartTLS = true
		tc := newSlapdClient(t, cfg, env)
		if ok, err := tc.Authenticate(ctx, s.UserDN(1), ldaptest.DefaultUserPassword); !ok || err != nil {
			t.Fatalf("bind: %v, %v", ok, err)
		}
		err := tc.do(ctx, tc.svc, opSearch, "tls state", nil, func(cn *conn) error {
			if st, ok := cn.l.TLSConnectionState(); !ok || !st.HandshakeComplete {
				return errors.New("not TLS")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("wrong CA", func(t *testing.T) {
		other := federation.Env{RootCAs: ldaptest.NewCA(t).Pool}
		starttls := slapdConfig(s)
		starttls.StartTLS = true
		for name, cfg := range map[string]Config{"ldaps": slapdConfig(s, s.LDAPSURL()), "starttls": starttls} {
			tc := newSlapdClient(t, cfg, other)
			_, err := tc.Search(ctx, userSearch(s.PeopleDN, ldaptest.Username(1)))
			wantUnavailable(t, name+" search", err)
			ok, err := tc.Authenticate(ctx, s.UserDN(1), ldaptest.DefaultUserPassword)
			if ok {
				t.Fatalf("%s: authenticated over an unverified connection", name)
			}
			wantUnavailable(t, name+" bind", err)
			if err := tc.Test(ctx, false); err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("%s: Test = %v, want the certificate error", name, err)
			}
		}
	})

	t.Run("failover", func(t *testing.T) {
		tc := newSlapdClient(t, slapdConfig(s, ldaptest.ClosedURL(t), s.URL()), env)
		if ok, err := tc.Authenticate(ctx, s.UserDN(3), ldaptest.DefaultUserPassword); !ok || err != nil {
			t.Fatalf("bind: %v, %v", ok, err)
		}
		if res, err := tc.Search(ctx, userSearch(s.PeopleDN, ldaptest.Username(3))); err != nil || len(res.Entries) != 1 {
			t.Fatalf("search: %v, %v", res, err)
		}
	})

	t.Run("test connection and capabilities", func(t *testing.T) {
		if err := c.Test(ctx, true); err != nil {
			t.Fatal(err)
		}
		cfg := slapdConfig(s)
		cfg.BindCredential = "not-it"
		err := newSlapdClient(t, cfg, env).Test(ctx, true)
		if err == nil || !strings.Contains(err.Error(), "Invalid Credentials") || strings.Contains(err.Error(), "not-it") {
			t.Fatalf("wrong credential: %v", err)
		}
		caps, err := c.Capabilities(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !containsCap(caps, Capability{goldap.ControlTypePaging, "CONTROL"}) || !containsCap(caps, Capability{"1.3.6.1.4.1.4203.1.11.1", "EXTENSION"}) {
			t.Fatalf("capabilities: %v", caps)
		}
	})

	t.Run("outage and recovery", func(t *testing.T) {
		s.Stop(t)
		start := time.Now()
		_, err := c.Search(ctx, userSearch(s.PeopleDN, ldaptest.Username(5)))
		wantUnavailable(t, "search while stopped", err)
		ok, err := c.Authenticate(ctx, s.UserDN(5), ldaptest.DefaultUserPassword)
		if ok {
			t.Fatal("authenticated while stopped")
		}
		wantUnavailable(t, "bind while stopped", err)
		within(t, "calls to a stopped slapd", start, time.Second)
		s.Restart(t)
		// Not enough failures to open the circuit: it answers at once.
		if res, err := c.Search(ctx, userSearch(s.PeopleDN, ldaptest.Username(5))); err != nil || len(res.Entries) != 1 {
			t.Fatalf("search after restart: %v, %v", res, err)
		}
		if ok, err := c.Authenticate(ctx, s.UserDN(5), ldaptest.DefaultUserPassword); !ok || err != nil {
			t.Fatalf("bind after restart: %v, %v", ok, err)
		}
	})
}

// BenchmarkSearchAndBind is the raw cost of a login against slapd: look
// the user up on a pooled service connection, then bind as the user on a
// pooled bind connection, at 8 concurrent callers. ops/s is the figure
// make bench compares keygate's LDAP password grants with.
func BenchmarkSearchAndBind(b *testing.B) {
	const users = 2000
	s := ldaptest.Start(b, ldaptest.Options{Users: users})
	for _, pooling := range []bool{true, false} {
		name := "pooled"
		if !pooling {
			name = "unpooled"
		}
		b.Run(name, func(b *testing.B) {
			cfg := slapdConfig(s)
			cfg.ConnectionPooling = pooling
			c := newSlapdClient(b, cfg, federation.Env{})
			ctx := context.Background()
			b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0))) // about 8 callers
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := rand.IntN(users)
					res, err := c.Search(ctx, userSearch(s.PeopleDN, ldaptest.Username(i)))
					if err != nil || len(res.Entries) != 1 {
						b.Errorf("search: %v, %v", res, err)
						return
					}
					if ok, err := c.Authenticate(ctx, res.Entries[0].DN, ldaptest.DefaultUserPassword); !ok || err != nil {
						b.Errorf("bind: %v, %v", ok, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
		})
	}
}
