package login_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/mail/mailtest"
)

// A name nobody has costs the store what a real user's does (a cooldown
// record, kept under a hash of the name): the answer then takes as long,
// and fails alike. Before, only a real user's request touched the store,
// so its timing, and its answer while the store could not be read (a 503
// for "alice", "an email is on its way" for "nobody"), told which names
// exist.
func TestForgotPasswordUnknownNameSameStoreWork(t *testing.T) {
	mp := mailtest.Start(t, mailtest.Options{})
	e, fs := newMailEnv(t, mp.Settings("idp@example.com"), nil)
	b := e.browser()
	for _, name := range []string{"alice", "nobody", "nobody@example.com"} {
		if p := b.forgot(name); p.status != http.StatusOK || !strings.Contains(p.body, sentText) {
			t.Fatalf("%s: %d\n%.800s", name, p.status, p.body)
		}
	}
	mp.Wait("alice@example.com", 1, 10*time.Second)
	fs.replayDown.Store(true)
	var answers []int
	for _, name := range []string{"alice", "nobody", "NoBody@example.com"} {
		p := b.forgot(name)
		answers = append(answers, p.status)
		if !is503(p) {
			t.Errorf("%s with the cooldown unreadable: %d", name, p.status)
		}
	}
	fs.replayDown.Store(false)
	if answers[0] != answers[1] || answers[0] != answers[2] {
		t.Fatalf("known and unknown names answered %v", answers)
	}
	// The records of unknown names mail nothing.
	if n := mp.Count("nobody@example.com"); n != 0 {
		t.Fatalf("%d mails to an unknown address", n)
	}
}
