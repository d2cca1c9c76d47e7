package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
	"github.com/keygate/keygate/store/sqlstore"
)

const benchUsers = 100_000

// usersStore opens a store holding benchUsers users in realm "r", named
// user000000..., written in one transaction.
func usersStore(b *testing.B) *sqlstore.Store {
	b.Helper()
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ctx := b.Context()
	err = s.Tx(ctx, func(ctx context.Context) error {
		if err := s.CreateRealm(ctx, store.Realm{ID: "r", Name: "r", Created: time.Now()}); err != nil {
			return err
		}
		for i := range benchUsers {
			if err := s.CreateUser(ctx, store.User{ID: "id" + strconv.Itoa(i), RealmID: "r",
				Username: fmt.Sprintf("user%06d", i), Email: fmt.Sprintf("user%06d@example.com", i),
				FirstName: fmt.Sprintf("First%d", i), LastName: fmt.Sprintf("Last%d", i), Enabled: true, Created: time.Now(),
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkCreateToken(b *testing.B) {
	s := openFile(b)
	req := []byte(`{"scopes":["openid","profile"],"session":{"subject":"u1","extra":{"sid":"s1"}}}`)
	var n atomic.Int64
	token := func() store.Token {
		sig := "sig-" + strconv.FormatInt(n.Add(1), 10)
		return store.Token{Kind: store.KindAccess, Signature: sig, RequestID: sig, RealmID: "r", ClientID: "app",
			Subject: "u1", SessionID: "s1", Active: true, Requested: time.Now(), Expires: time.Now().Add(time.Hour), Request: req}
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if err := s.CreateToken(b.Context(), token()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.CreateToken(b.Context(), token()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkGetUserByUsername(b *testing.B) {
	s := usersStore(b)
	var n atomic.Int64
	get := func() error {
		_, err := s.GetUserByUsername(b.Context(), "r", fmt.Sprintf("USER%06d", n.Add(7919)%benchUsers))
		return err
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if err := get(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) { // the read pool serves these side by side
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := get(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkListUsersSearch lists one page of 20 users out of 100,000.
// Prefix and exact queries are index range scans; a substring search reads
// the realm's users until the page is full, so its cost runs from one page
// (a common term) to the whole realm (a rare one).
func BenchmarkListUsersSearch(b *testing.B) {
	s := usersStore(b)
	for _, bc := range []struct {
		name string
		q    store.UserQuery
		want int
	}{
		{"prefix", store.UserQuery{Search: "user09999", Prefix: true, Max: 20}, 10},
		{"exact-username", store.UserQuery{Username: "user054321", Exact: true, Max: 20}, 1},
		{"first-page", store.UserQuery{Max: 20}, 20},
		{"deep-page", store.UserQuery{First: 90_000, Max: 20}, 20},
		{"substring-common", store.UserQuery{Search: "example", Max: 20}, 20},
		{"substring-rare", store.UserQuery{Search: "r054321", Max: 20}, 1},
		{"substring-none", store.UserQuery{Search: "nobody", Max: 20}, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				us, err := s.ListUsers(b.Context(), "r", bc.q)
				if err != nil || len(us) != bc.want {
					b.Fatalf("got %d users, %v; want %d", len(us), err, bc.want)
				}
			}
		})
	}
}

// BenchmarkRefreshStore is a refresh grant's store work on SQLite: the one
// read (GetTokenSubject) and the one write (RotateRefresh), round-robin over
// 64 sessions' refresh chains, as make bench's refresh load does it.
func BenchmarkRefreshStore(b *testing.B) {
	s := openFile(b)
	ctx := b.Context()
	now := time.Now()
	req := []byte(`{"scopes":["openid","profile","email"],"granted_scopes":["openid","profile","email"],"session":{"subject":"u1","extra":{"sid":"s1"}}}`)
	const chains = 64
	sigs := make([]string, chains)
	err := s.Tx(ctx, func(ctx context.Context) error {
		if err := s.CreateRealm(ctx, store.Realm{ID: "r", Name: "r", Created: now}); err != nil {
			return err
		}
		if err := s.CreateUser(ctx, store.User{ID: "u1", RealmID: "r", Username: "u1", Enabled: true, Created: now}); err != nil {
			return err
		}
		for i := range chains {
			sid := "s" + strconv.Itoa(i)
			if err := s.CreateSession(ctx, store.Session{ID: sid, RealmID: "r", UserID: "u1", Created: now, LastSeen: now, AuthTime: now}); err != nil {
				return err
			}
			sigs[i] = fmt.Sprintf("sig-%d-0", i)
			if err := s.CreateToken(ctx, store.Token{Kind: store.KindRefresh, Signature: sigs[i], RequestID: "req" + sid, RealmID: "r",
				ClientID: "app", Subject: "u1", SessionID: sid, Active: true, Requested: now, Expires: now.Add(time.Hour), Request: req}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		i := n % chains
		n++
		x, err := s.GetTokenSubject(ctx, sigs[i], store.KindRefresh)
		if err != nil || x.Session == nil || x.User == nil {
			b.Fatalf("GetTokenSubject: %v (session %v, user %v)", err, x.Session != nil, x.User != nil)
		}
		next := x.Token
		next.Signature = fmt.Sprintf("sig-%d-%d", i, n)
		next.Requested, next.Expires = time.Now(), time.Now().Add(time.Hour)
		if err := s.RotateRefresh(ctx, sigs[i], 0, next.Requested, next); err != nil {
			b.Fatal(err)
		}
		sigs[i] = next.Signature
	}
}
