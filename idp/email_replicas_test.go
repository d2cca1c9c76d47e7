package idp_test

import (
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/idp/mail/mailtest"
	"github.com/keygate/keygate/store/postgres"
)

// TestActionTokenAcrossReplicas: two keygates on one PostgreSQL schema, as
// behind a load balancer. A reset link mailed by A is confirmed at B, and
// its second use is refused at A: the token is spent in the database, not
// in a replica's memory.
func TestActionTokenAcrossReplicas(t *testing.T) {
	dsn := os.Getenv("KEYGATE_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("PostgreSQL replica test is off: set KEYGATE_TEST_POSTGRES (see README)")
	}
	schema := "keygate_mail_" + strings.ToLower(rand.Text()[:10])
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("schema", schema)
	u.RawQuery = q.Encode()
	t.Cleanup(func() {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer db.Close()
		if _, err := db.Exec(`DROP SCHEMA IF EXISTS "` + schema + `" CASCADE`); err != nil {
			t.Error(err)
		}
	})
	mp := mailtest.Start(t, mailtest.Options{})
	replica := func() *keygate {
		st, err := postgres.Open(t.Context(), u.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return keygateWith(t, st, idp.Config{DBKey: testDBKey})
	}
	a, b := replica(), replica()
	smtp, _ := json.Marshal(mp.Settings("idp@example.com"))
	a.importRealm(t, `{"realm": "down", "enabled": true, "sslRequired": "none", "resetPasswordAllowed": true,
		"smtpServer": `+string(smtp)+`,
		"clients": [{"clientId": "app", "enabled": true, "publicClient": true, "standardFlowEnabled": true,
			"redirectUris": ["`+appRedirect+`"]}],
		"users": [{"username": "alice", "enabled": true, "email": "alice@example.com",
			"credentials": [{"type": "password", "value": "alice-old-pass-1"}]}]}`)
	if status, _, page := newBrowser(t).forgot(a, "alice"); status != 200 {
		t.Fatalf("forgot at A: %d\n%.600s", status, page)
	}
	linkA := mp.Wait("alice@example.com", 1, 10*time.Second).ActionLink()
	// The same link, sent to B (the load balancer's choice).
	linkB := b.URL + strings.TrimPrefix(linkA, a.URL)
	bb := newBrowser(t)
	status, at, page := bb.follow(linkB)
	if status != 200 || !strings.Contains(page, `id="kc-passwd-update-form"`) {
		t.Fatalf("link at B: %d %s\n%.600s", status, at, page)
	}
	if status, _, page := newBrowser(t).follow(linkA); status != 400 || !strings.Contains(page, "Action expired.") {
		t.Fatalf("second use at A: %d\n%.600s", status, page)
	}
	if status, _, page := bb.updatePassword(at, page, "alice-new-pass-9", "alice-new-pass-9"); status != 200 ||
		!strings.Contains(page, "Your password has been updated.") {
		t.Fatalf("new password at B: %d\n%.600s", status, page)
	}
	if status, _, _ := newBrowser(t).passwordLogin(a, "alice", "alice-new-pass-9"); status/100 != 3 {
		t.Fatalf("the new password at A: %d", status)
	}
}
