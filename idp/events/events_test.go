package events

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// fakeStore records batches; block holds AddEvents until closed.
type fakeStore struct {
	store.EventStore
	mu      sync.Mutex
	batches [][]store.Event
	admin   []store.AdminEvent
	block   chan struct{}
	fail    error
}

func (f *fakeStore) AddEvents(_ context.Context, es []store.Event, as []store.AdminEvent) error {
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.batches = append(f.batches, append([]store.Event(nil), es...))
	f.admin = append(f.admin, as...)
	return nil
}

func (f *fakeStore) count() (batches, events int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.batches {
		events += len(b)
	}
	return len(f.batches), events
}

var on = rep.EventsSettings{ID: "r", EventsEnabled: true, EventsListeners: []string{"jboss-logging"}}

// Events queued together are written in one batch; Flush and Close write
// what is queued.
func TestBatching(t *testing.T) {
	fs := &fakeStore{}
	r := New(fs, slog.New(slog.DiscardHandler), Options{Interval: time.Hour})
	for range 1000 {
		r.Event(on, store.Event{Type: Login})
	}
	r.Flush(t.Context())
	batches, n := fs.count()
	if n != 1000 || batches > 3 {
		t.Errorf("%d events in %d batches", n, batches)
	}
	r.Event(on, store.Event{Type: Login})
	r.Close()
	if _, n := fs.count(); n != 1001 {
		t.Errorf("%d events after Close", n)
	}
}

// A full queue drops events, counts them, and logs once per episode.
func TestOverflowDrops(t *testing.T) {
	fs := &fakeStore{block: make(chan struct{})}
	var log strings.Builder
	var mu sync.Mutex
	r := New(fs, slog.New(slog.NewTextHandler(lockedWriter{&mu, &log}, nil)), Options{Buffer: 10, Batch: 1, Interval: time.Millisecond})
	// The writer takes one event and blocks in AddEvents; 10 fill the queue.
	for range 50 {
		r.Event(rep.EventsSettings{EventsEnabled: true}, store.Event{Type: Login})
	}
	if d := r.Dropped(); d < 39 || d > 40 {
		t.Errorf("dropped %d", d)
	}
	close(fs.block)
	r.Close()
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(log.String(), "event queue full"); n != 1 {
		t.Errorf("%d overflow log lines:\n%s", n, log.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// A batch the store refuses is counted as dropped and logged.
func TestStoreFailure(t *testing.T) {
	fs := &fakeStore{fail: errors.New("disk full")}
	r := New(fs, slog.New(slog.DiscardHandler), Options{})
	r.Event(on, store.Event{Type: Login})
	r.Flush(t.Context())
	if r.Dropped() != 1 {
		t.Errorf("dropped %d", r.Dropped())
	}
	r.Close()
}

// What is stored follows eventsEnabled and enabledEventTypes (Keycloak's
// saved-by-default types when empty); admin events follow
// adminEventsEnabled, their representation adminEventsDetailsEnabled.
func TestStoredTypes(t *testing.T) {
	for _, tc := range []struct {
		s    rep.EventsSettings
		typ  string
		want bool
	}{
		{rep.EventsSettings{}, Login, false},
		{rep.EventsSettings{EventsEnabled: true}, Login, true},
		{rep.EventsSettings{EventsEnabled: true}, RefreshToken, false},
		{rep.EventsSettings{EventsEnabled: true}, IdentityProviderLogin, false},
		{rep.EventsSettings{EventsEnabled: true, EnabledEventTypes: []string{RefreshToken}}, RefreshToken, true},
		{rep.EventsSettings{EventsEnabled: true, EnabledEventTypes: []string{RefreshToken}}, Login, false},
	} {
		if got := Stored(tc.s, tc.typ); got != tc.want {
			t.Errorf("Stored(%+v, %s) = %v", tc.s, tc.typ, got)
		}
	}
	fs := &fakeStore{}
	r := New(fs, slog.New(slog.DiscardHandler), Options{})
	rep := `{"username":"u","credentials":[{"type":"password","value":"pw-123"}]}`
	r.Admin(rep0(false, false), store.AdminEvent{OperationType: "CREATE", Representation: rep})
	r.Admin(rep0(true, false), store.AdminEvent{OperationType: "CREATE", Representation: rep})
	r.Admin(rep0(true, true), store.AdminEvent{OperationType: "CREATE", Representation: rep})
	r.Close()
	if len(fs.admin) != 2 || fs.admin[0].Representation != "" || strings.Contains(fs.admin[1].Representation, "pw-123") ||
		!strings.Contains(fs.admin[1].Representation, `"username":"u"`) {
		t.Errorf("admin events %+v", fs.admin)
	}
}

func rep0(enabled, details bool) rep.EventsSettings {
	return rep.EventsSettings{AdminEventsEnabled: enabled, AdminEventsDetailsEnabled: details}
}

// Secrets are masked wherever Keycloak's representations carry them, and
// details never keep a secret-named key.
func TestMask(t *testing.T) {
	in := `{"clientId":"c","secret":"s3cr3t","attributes":{"client.secret.creation.time":["1"]},
		"credentials":[{"type":"password","value":"pw-1"}],
		"config":{"bindCredential":["ldap-pw"],"clientSecret":"idp-secret","bindDn":["cn=x"]},
		"password":"pw-2","list":["a"]}`
	out := Mask(in)
	for _, s := range []string{"s3cr3t", "pw-1", "ldap-pw", "idp-secret", "pw-2"} {
		if strings.Contains(out, s) {
			t.Errorf("mask kept %s: %s", s, out)
		}
	}
	for _, s := range []string{`"clientId":"c"`, `"bindDn":["cn=x"]`, `"type":"password"`, `"list":["a"]`} {
		if !strings.Contains(out, s) {
			t.Errorf("mask lost %s: %s", s, out)
		}
	}
	if Mask("not json") != "" {
		t.Error("non-JSON kept")
	}
	d := map[string]string{"username": "u", "password": "x", "client_secret": "y", "refresh_token": "z", "refresh_token_id": "id",
		"code_verifier": "v", "token_id": "t"}
	scrubDetails(d)
	if len(d) != 3 || d["username"] != "u" || d["refresh_token_id"] != "id" || d["token_id"] != "t" {
		t.Errorf("details %v", d)
	}
}

// The jboss-logging listener logs login successes at DEBUG and errors at
// WARN, as Keycloak's does by default: at INFO only the error shows.
func TestLogLevels(t *testing.T) {
	for _, tc := range []struct {
		level      slog.Level
		ok, failed bool // which of the two lines appear
	}{{slog.LevelInfo, false, true}, {slog.LevelDebug, true, true}, {slog.LevelError, false, false}} {
		var log strings.Builder
		var mu sync.Mutex
		r := New(&fakeStore{}, slog.New(slog.NewTextHandler(lockedWriter{&mu, &log}, &slog.HandlerOptions{Level: tc.level})), Options{Interval: time.Hour})
		r.Event(rep.EventsSettings{EventsListeners: []string{"jboss-logging"}}, store.Event{Type: "REFRESH_TOKEN", ClientID: "app-ok"})
		r.Event(rep.EventsSettings{EventsListeners: []string{"jboss-logging"}}, store.Event{Type: "LOGIN_ERROR", ClientID: "app-failed", Error: "invalid_user_credentials"})
		r.Close()
		mu.Lock()
		out := log.String()
		mu.Unlock()
		if got := strings.Contains(out, "level=DEBUG msg=event") && strings.Contains(out, "app-ok"); got != tc.ok {
			t.Errorf("logger at %v: success line shown %v, want %v:\n%s", tc.level, got, tc.ok, out)
		}
		if got := strings.Contains(out, "level=WARN msg=event") && strings.Contains(out, "app-failed"); got != tc.failed {
			t.Errorf("logger at %v: error line shown %v, want %v:\n%s", tc.level, got, tc.failed, out)
		}
	}
}

// A failed token request's client_id and username are the caller's text,
// up to a whole form: what is queued, stored and logged is clipped, valid
// UTF-8 and free of NUL (which PostgreSQL refuses in text, failing the
// whole batch and dropping other users' events with it).
func TestCallerTextClipped(t *testing.T) {
	fs := &fakeStore{}
	var log strings.Builder
	var mu sync.Mutex
	r := New(fs, slog.New(slog.NewTextHandler(lockedWriter{&mu, &log}, nil)), Options{Interval: time.Hour})
	long := strings.Repeat("é", 30<<10) + "\x00\xff"
	r.Event(on, store.Event{Type: LoginError, Error: "invalid_client_credentials", ClientID: "\x00app\xff" + long,
		Details: map[string]string{"username": long, "grant_type": "password"}})
	r.Close()
	if len(fs.batches) != 1 || len(fs.batches[0]) != 1 {
		t.Fatalf("batches %v", fs.batches)
	}
	e := fs.batches[0][0]
	for name, v := range map[string]string{"clientId": e.ClientID, "username": e.Details["username"]} {
		if len(v) > maxDetailBytes || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			t.Errorf("%s stored as %d bytes, valid UTF-8 %v, NUL %v", name, len(v), utf8.ValidString(v), strings.ContainsRune(v, 0))
		}
	}
	if !strings.HasPrefix(e.ClientID, "app") || len(e.ClientID) > maxIDBytes {
		t.Errorf("clientId %.40q (%d bytes)", e.ClientID, len(e.ClientID))
	}
	if e.Details["grant_type"] != "password" {
		t.Errorf("details %v", e.Details)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := log.Len(); n > 4<<10 {
		t.Errorf("log line of %d bytes", n)
	}
}
