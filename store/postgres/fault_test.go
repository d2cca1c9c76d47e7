package postgres_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/postgres"
	"github.com/keygate/keygate/store/sqlstore"
	"github.com/keygate/keygate/store/storetest/tcpproxy"
)

// proxied opens a migrated store in a fresh schema whose connections go
// through a TCP proxy the test can cut; direct is the same schema without
// the proxy.
func proxied(t *testing.T) (st, direct *sqlstore.Store, p *tcpproxy.Proxy) {
	t.Helper()
	d := dsn(t)
	u, err := url.Parse(d)
	if err != nil || u.Host == "" {
		t.Skipf("fault tests need a postgres:// URL in %s", envDSN)
	}
	direct = open(t)
	var schema string
	if err := direct.DB().QueryRowContext(t.Context(), `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	p = tcpproxy.Start(t, u.Host)
	u.Host = p.Addr()
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("application_name", schema) // names this store's backends
	u.RawQuery = q.Encode()
	st, err = postgres.Open(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, direct, p
}

func seedRealm(t *testing.T, st store.Store) store.Realm {
	t.Helper()
	r := store.Realm{ID: "r-" + strings.ToLower(rand.Text()[:8]), Name: "fault", Enabled: true, Settings: []byte(`{}`), Created: time.Now()}
	if err := st.CreateRealm(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

// A read whose connection is killed under it runs once more on a live
// connection; a write is not retried and reports store.ErrUnavailable.
// The raw database/sql read shows what the store hides: the pool hands
// out the dead connection and the statement fails.
func TestReadRetriedAfterConnectionKilled(t *testing.T) {
	st, _, p := proxied(t)
	ctx := t.Context()
	r := seedRealm(t, st)

	var one int
	p.KillNextRequest()
	if err := st.DB().QueryRowContext(ctx, `SELECT 1`).Scan(&one); err == nil {
		t.Fatal("a raw read on a killed connection succeeded: the test does not kill what it means to")
	}

	for i, read := range []func() error{
		func() error { _, err := st.GetRealm(ctx, r.ID); return err },
		func() error { _, err := st.ListRealms(ctx); return err },
		func() error { _, err := st.GetRealmByName(ctx, r.Name); return err },
	} {
		if _, err := st.GetRealm(ctx, r.ID); err != nil { // a live connection in the pool
			t.Fatal(err)
		}
		before := p.Accepted()
		p.KillNextRequest()
		if err := read(); err != nil {
			t.Fatalf("read %d after the connection was killed: %v", i, err)
		}
		if p.Accepted() == before {
			t.Fatalf("read %d: no new connection was made", i)
		}
	}

	if _, err := st.GetRealm(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	p.KillNextRequest()
	r.Name = "renamed"
	err := st.UpdateRealm(ctx, r)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("write on a killed connection: %v, want store.ErrUnavailable (writes are not retried)", err)
	}
}

// A backend the server terminates (pg_terminate_backend: 57P01, as in a
// restart) fails the next read on its connection; the read runs again.
func TestReadRetriedAfterBackendTerminated(t *testing.T) {
	st, direct, _ := proxied(t)
	ctx := t.Context()
	r := seedRealm(t, st)
	if _, err := st.GetRealm(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	// The proxied store's backends only: other packages' tests share the server.
	res, err := direct.DB().ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatal("no backend terminated")
	}
	time.Sleep(50 * time.Millisecond) // the FATAL reaches the client's socket
	if _, err := st.GetRealm(ctx, r.ID); err != nil {
		t.Fatalf("read after the backend was terminated: %v", err)
	}
}

// While the proxy is cut every kind of call is store.ErrUnavailable,
// including readiness's probes; once restored, the same store works again
// without being reopened.
func TestCutIsUnavailable(t *testing.T) {
	st, _, p := proxied(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r := seedRealm(t, st)
	p.Cut()
	calls := map[string]func() error{
		"read":  func() error { _, err := st.GetRealm(ctx, r.ID); return err },
		"list":  func() error { _, err := st.ListRealms(ctx); return err },
		"write": func() error { r.Name = "x"; return st.UpdateRealm(ctx, r) },
		"tx": func() error {
			return st.Tx(ctx, func(ctx context.Context) error { _, err := st.GetRealm(ctx, r.ID); return err })
		},
		"ping":        func() error { return st.Ping(ctx) },
		"probe read":  func() error { return st.ProbeRead(ctx) },
		"probe write": func() error { return st.ProbeWrite(ctx, "test", time.Now()) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s while cut: %v, want store.ErrUnavailable", name, err)
		}
	}
	p.Restore()
	for name, call := range calls {
		if err := call(); err != nil {
			t.Errorf("%s after restore: %v", name, err)
		}
	}
}
