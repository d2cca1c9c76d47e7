package oidc

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
	"github.com/keygate/keygate/store/sqlstore"
)

// syncBuffer is a log sink safe for the sender's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

// TestBackchannelQueueOverflow: with the queue full, notices are dropped
// (each counted) rather than waited for, and one log line tells of the
// episode, not one per notice; what was queued is still sent.
func TestBackchannelQueueOverflow(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bcl.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := rep.CreateRealm(ctx, st, rep.Realm{Realm: "r", Enabled: new(true)}, rep.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	row, err := st.GetRealmByName(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	p, err := New(st, nil, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	arrived, release := make(chan struct{}, 10), make(chan struct{})
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	defer rp.Close()
	var mu sync.Mutex
	outcomes := map[string]int{}
	p.StartBackchannelLogout(BackchannelOptions{Queue: 1, Workers: 1, Timeout: 5 * time.Second, Observe: func(o string) {
		mu.Lock()
		outcomes[o]++
		mu.Unlock()
	}})
	b := p.bcl.Load()
	n := logoutNotice{realmID: row.ID, iss: "https://sso.example.com/realms/r", clientID: "rp", url: rp.URL + "/logout?secret=s3cr3t", sub: "u1", sid: "s1"}
	b.enqueue([]logoutNotice{n})
	<-arrived                             // the worker is busy with it
	b.enqueue([]logoutNotice{n, n, n, n}) // one waits, three go
	close(release)
	<-arrived
	p.CloseBackchannelLogout()
	mu.Lock()
	defer mu.Unlock()
	if outcomes[BackchannelSent] != 2 || outcomes[BackchannelDropped] != 3 {
		t.Errorf("outcomes %v, want 2 sent and 3 dropped", outcomes)
	}
	if c := strings.Count(logs.String(), "queue full"); c != 1 {
		t.Errorf("%d overflow log lines, want 1:\n%s", c, logs)
	}
	if strings.Contains(logs.String(), "s3cr3t") {
		t.Errorf("the URL's query in the log:\n%s", logs)
	}
}

// realmReads counts the realm reads made through it.
type realmReads struct {
	*sqlstore.Store
	mu           sync.Mutex
	byID, byName int
}

func (s *realmReads) GetRealm(ctx context.Context, id string) (store.Realm, error) {
	s.mu.Lock()
	s.byID++
	s.mu.Unlock()
	return s.Store.GetRealm(ctx, id)
}

func (s *realmReads) GetRealmByName(ctx context.Context, name string) (store.Realm, error) {
	s.mu.Lock()
	s.byName++
	s.mu.Unlock()
	return s.Store.GetRealmByName(ctx, name)
}

// TestLogoutTokensReadTheRealmOnce: a realm's logout sends a notice per
// session and client; their logout tokens take the realm from the realm
// cache, not a read and decode each. An issuer whose name leads to
// another realm still signs with the notice's own realm.
func TestLogoutTokensReadTheRealmOnce(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bcl.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, name := range []string{"r", "other"} {
		if _, err := rep.CreateRealm(ctx, st, rep.Realm{Realm: name, Enabled: new(true)}, rep.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	row, err := st.GetRealmByName(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	counted := &realmReads{Store: st}
	p, err := New(counted, nil, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	rk, err := p.keys.get(ctx, row.ID, "RS256")
	if err != nil {
		t.Fatal(err)
	}
	counted.byID, counted.byName = 0, 0
	for i := range 50 {
		n := logoutNotice{realmID: row.ID, iss: "https://sso.example.com/realms/r", clientID: "rp", sub: "u1", sid: "s" + strings.Repeat("x", i)}
		tok, err := p.logoutToken(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verify(rk, tok, "RS256", time.Now()); err != nil {
			t.Fatalf("logout token %d does not verify with the realm's key: %v", i, err)
		}
	}
	if counted.byID != 0 || counted.byName > 1 {
		t.Errorf("50 logout tokens read the realm %d times by id and %d by name, want at most one read", counted.byID, counted.byName)
	}
	// The issuer names another realm: the notice's realm is read by id.
	n := logoutNotice{realmID: row.ID, iss: "https://sso.example.com/realms/other", clientID: "rp", sub: "u1"}
	tok, err := p.logoutToken(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(rk, tok, "RS256", time.Now()); err != nil || counted.byID != 1 {
		t.Errorf("an issuer of another realm: %v, %d reads by id", err, counted.byID)
	}
}
