package idp

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
)

// The sweep removes tokens expired longer than sweepSkew ago and sessions
// past the realm's limits, and nothing else.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := NewServer(st, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rep.CreateRealm(ctx, st, rep.NewRealm("r"), rep.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	realm, _ := st.GetRealmByName(ctx, "r")
	u := store.User{ID: "u1", RealmID: realm.ID, Username: "u", Enabled: true, Created: time.Now()}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	old := store.Session{ID: "old", RealmID: realm.ID, UserID: "u1", Created: now.Add(-11 * time.Hour), LastSeen: now.Add(-time.Hour), AuthTime: now.Add(-11 * time.Hour)}
	live := store.Session{ID: "live", RealmID: realm.ID, UserID: "u1", Created: now.Add(-time.Minute), LastSeen: now, AuthTime: now}
	for _, s := range []store.Session{old, live} {
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	// a: expired past the clock-skew margin; b: live; c: expired within it.
	for i, exp := range []time.Time{now.Add(-sweepSkew - time.Second), now.Add(time.Hour), now.Add(-time.Second)} {
		tok := store.Token{Kind: store.KindAccess, Signature: string(rune('a' + i)), RequestID: "r", RealmID: realm.ID, Active: true, Requested: now, Expires: exp, Request: []byte("{}")}
		if err := st.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.sweep(ctx, now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetSession(ctx, realm.ID, "old"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session kept: %v", err)
	}
	if _, err := st.GetSession(ctx, realm.ID, "live"); err != nil {
		t.Errorf("live session removed: %v", err)
	}
	if _, err := st.GetToken(ctx, store.KindAccess, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired token kept: %v", err)
	}
	if _, err := st.GetToken(ctx, store.KindAccess, "b"); err != nil {
		t.Errorf("live token removed: %v", err)
	}
	if _, err := st.GetToken(ctx, store.KindAccess, "c"); err != nil {
		t.Errorf("token expired within the clock-skew margin removed: %v", err)
	}
}

// The sweep deletes login events older than the realm's eventsExpiration,
// and keeps everything in realms without one.
func TestSweepExpiresEvents(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := NewServer(st, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	exp := int64(3600)
	r := rep.NewRealm("r")
	r.EventsExpiration = &exp
	for _, realm := range []rep.Realm{r, rep.NewRealm("keep")} {
		if _, err := rep.CreateRealm(ctx, st, realm, rep.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	var evs []store.Event
	for _, name := range []string{"r", "keep"} {
		realm, _ := st.GetRealmByName(ctx, name)
		evs = append(evs, store.Event{ID: name + "-old", RealmID: realm.ID, Type: "LOGIN", Time: now.Add(-2 * time.Hour)},
			store.Event{ID: name + "-new", RealmID: realm.ID, Type: "LOGIN", Time: now.Add(-time.Minute)})
	}
	if err := st.AddEvents(ctx, evs, nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.sweep(ctx, now); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{"r": 1, "keep": 2} {
		realm, _ := st.GetRealmByName(ctx, name)
		es, err := st.ListEvents(ctx, realm.ID, store.EventQuery{})
		if err != nil || len(es) != want {
			t.Errorf("realm %s: %d events, want %d (%v)", name, len(es), want, err)
		}
	}
}
