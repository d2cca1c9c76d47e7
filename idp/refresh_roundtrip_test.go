package idp_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/store/postgres"
	"github.com/keygate/keygate/store/sqlstore"
)

// TestRefreshIsOneWriteOnPostgres: a refresh grant's write (spending the
// presented token, the SSO session's activity, the new token) reaches
// PostgreSQL as one statement outside any explicit transaction: one round
// trip, where BEGIN, three statements and COMMIT took five. The rotation
// still refuses the spent token, and a reuse still revokes the chain.
func TestRefreshIsOneWriteOnPostgres(t *testing.T) {
	dsn := os.Getenv("KEYGATE_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("set KEYGATE_TEST_POSTGRES to count a refresh's statements on PostgreSQL")
	}
	ctx := t.Context()
	schema := "keygate_refresh_" + strings.ToLower(strings.ReplaceAll(time.Now().Format("150405.000000"), ".", ""))
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("schema", schema)
	u.RawQuery = q.Encode()
	st, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Close()
		db, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer db.Close(context.Background())
		if _, err := db.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Error(err)
		}
	})
	srv, err := idp.NewServer(st, idp.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.SetReady()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	k := &keygate{URL: ts.URL, st: st, log: &logBuffer{}}
	k.importRealm(t, `{"realm": "rt", "enabled": true, "sslRequired": "none",
		"clients": [{"clientId": "svc", "enabled": true, "secret": "svc-secret-1", "publicClient": false,
			"directAccessGrantsEnabled": true}],
		"users": [{"username": "carol", "enabled": true, "credentials": [{"type": "password", "value": "carol-pass-1"}]}]}`)
	tok := postToken(t, k.URL, "rt", url.Values{"grant_type": {"password"}, "client_id": {"svc"}, "client_secret": {"svc-secret-1"},
		"username": {"carol"}, "password": {"carol-pass-1"}}, 200)
	refresh := func(rt string, want int) map[string]any {
		return postToken(t, k.URL, "rt", url.Values{"grant_type": {"refresh_token"}, "client_id": {"svc"},
			"client_secret": {"svc-secret-1"}, "refresh_token": {rt}}, want)
	}
	// Warm the caches (realm, keys, model), then count one refresh.
	rt := refresh(tok["refresh_token"].(string), 200)["refresh_token"].(string)

	var mu sync.Mutex
	counts := map[string]int{}
	st.ObserveQueries(func(kind string, _ time.Duration, _ error) {
		mu.Lock()
		counts[kind]++
		mu.Unlock()
	})
	next := refresh(rt, 200)["refresh_token"].(string)
	mu.Lock()
	got := map[string]int{}
	for k, v := range counts {
		got[k] = v
	}
	mu.Unlock()
	if got[sqlstore.QueryWrite] != 1 || got[sqlstore.QueryBegin] != 0 {
		t.Errorf("a refresh ran %d writes and %d transactions (all statements: %v), want 1 write and no transaction",
			got[sqlstore.QueryWrite], got[sqlstore.QueryBegin], got)
	}
	// The spent token is refused, and its reuse revokes the chain (RFC 6819
	// 5.2.2.3, fosite): that write goes through a real transaction.
	refresh(rt, 400)
	refresh(next, 400)
}
