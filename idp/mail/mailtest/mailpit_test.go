package mailtest

import (
	"net"
	"testing"
)

// TestStartRetriesATakenPort: a port taken between FreePort and Mailpit's
// bind (another test's listener) makes Mailpit exit; Start tries fresh
// ports instead of waiting out its deadline and failing.
func TestStartRetriesATakenPort(t *testing.T) {
	if _, err := Binary(); err != nil {
		t.Skipf("no Mailpit: %v", err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	calls := 0
	freePort = func(t testing.TB) int {
		calls++
		if calls == 2 { // the first attempt's API port
			return taken.Addr().(*net.TCPAddr).Port
		}
		return FreePort(t)
	}
	defer func() { freePort = FreePort }()
	m := Start(t, Options{})
	if calls < 4 {
		t.Fatalf("Start did not try again: %d ports asked for", calls)
	}
	if m.SMTPPort == taken.Addr().(*net.TCPAddr).Port {
		t.Fatal("Mailpit runs on the taken port")
	}
}
