package postgres_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/postgres"
)

// silentServer accepts connections and never answers, as a hung or
// blackholed PostgreSQL behind a load balancer does; with a target it is a
// plain proxy until it goes silent.
type silentServer struct {
	ln     net.Listener
	target string
	silent atomic.Bool
	mu     sync.Mutex
	open   []net.Conn
}

func startSilent(t *testing.T, target string) *silentServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silentServer{ln: ln, target: target}
	s.silent.Store(target == "")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.open = append(s.open, c)
			s.mu.Unlock()
			if s.silent.Load() {
				go func() { _, _ = io.Copy(io.Discard, c) }() // read, never answer
				continue
			}
			up, err := net.Dial("tcp", s.target)
			if err != nil {
				c.Close()
				continue
			}
			s.mu.Lock()
			s.open = append(s.open, up)
			s.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.open {
			c.Close()
		}
		s.mu.Unlock()
	})
	return s
}

// goSilent drops the open connections and answers nothing from now on.
func (s *silentServer) goSilent() {
	s.silent.Store(true)
	s.mu.Lock()
	for _, c := range s.open {
		c.Close()
	}
	s.open = nil
	s.mu.Unlock()
}

// A server that accepts and never answers is store.ErrUnavailable within
// the connect timeout, whether or not the DSN sets one, and with no
// deadline on the caller's context.
func TestConnectToSilentServerIsUnavailable(t *testing.T) {
	srv := startSilent(t, "")
	for _, tc := range []struct {
		name  string
		query string
		limit time.Duration
	}{
		{"default timeout", "sslmode=disable", postgres.ConnectTimeout + 2*time.Second},
		{"connect_timeout=1", "sslmode=disable&connect_timeout=1", time.Second + 2*time.Second},
		{"sslmode=prefer", "", 2*postgres.ConnectTimeout + 2*time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn := "postgres://keygate@" + srv.ln.Addr().String() + "/keygate?" + tc.query
			start := time.Now()
			st, err := postgres.Open(context.Background(), dsn)
			took := time.Since(start)
			if err == nil {
				st.Close()
				t.Fatal("opened a store on a server that never answers")
			}
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("error %v, want store.ErrUnavailable", err)
			}
			if took > tc.limit {
				t.Errorf("took %v, want at most %v", took, tc.limit)
			}
			t.Logf("%s: %v after %v", tc.name, err, took.Round(10*time.Millisecond))
		})
	}
}

// A running store whose server goes silent (its connections dropped, new
// ones accepted and never answered) answers every read, concurrent ones
// included, with store.ErrUnavailable within seconds rather than hanging.
func TestRunningStoreServerGoesSilent(t *testing.T) {
	d := dsn(t)
	u, err := url.Parse(d)
	if err != nil || u.Host == "" {
		t.Skipf("needs a postgres:// URL in %s", envDSN)
	}
	direct := open(t)
	var schema string
	if err := direct.DB().QueryRowContext(t.Context(), `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	srv := startSilent(t, u.Host)
	u.Host = srv.ln.Addr().String()
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	st, err := postgres.Open(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := seedRealm(t, st)
	if _, err := st.GetRealm(t.Context(), r.ID); err != nil {
		t.Fatal(err)
	}

	srv.goSilent()
	const readers = 2 * postgres.MaxConns
	start := time.Now()
	errs := make(chan error, readers)
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			_, err := st.GetRealm(context.Background(), r.ID)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	took := time.Since(start)
	for err := range errs {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("a read on a silent server: %v, want store.ErrUnavailable", err)
		}
	}
	// Every reader dials (or waits for a slot a dial frees) once or twice.
	if limit := 3*postgres.ConnectTimeout + 2*time.Second; took > limit {
		t.Errorf("%d concurrent reads took %v, want at most %v", readers, took, limit)
	}
	t.Logf("%d concurrent reads on a silent server: store.ErrUnavailable within %v", readers, took.Round(10*time.Millisecond))
}
