package oidc

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store/sqlite"
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
