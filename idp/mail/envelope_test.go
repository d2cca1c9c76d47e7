package mail_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/keygate/keygate/idp/mail"
)

// recordingSMTP is a minimal SMTP server on loopback that accepts every
// command and records the command lines it was sent.
func recordingSMTP(t *testing.T) (port int, cmds func() []string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var mu sync.Mutex
	var got []string
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				r, w := bufio.NewReader(c), bufio.NewWriter(c)
				say := func(s string) { w.WriteString(s + "\r\n"); w.Flush() }
				say("220 test ESMTP")
				inData := false
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					line = strings.TrimRight(line, "\r\n")
					if inData {
						if line == "." {
							inData = false
							say("250 queued")
						}
						continue
					}
					mu.Lock()
					got = append(got, line)
					mu.Unlock()
					switch verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0]); verb {
					case "EHLO", "HELO":
						say("250 test")
					case "DATA":
						inData = true
						say("354 go on")
					case "QUIT":
						say("221 bye")
						return
					default:
						say("250 ok")
					}
				}
			}(c)
		}
	}()
	return l.Addr().(*net.TCPAddr).Port, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// TestSendEnvelopeNotInjectable: a recipient whose local part is a quoted
// string (which net/mail accepts, and which a directory, an identity
// provider or the admin API may hand over) reaches RCPT TO quoted as RFC
// 5321 wants it; unquoted, `"attacker@evil.example> NOTIFY=NEVER"@corp.example`
// would make the server deliver the mail (a verify-email or reset link)
// to attacker@evil.example. A quoted local part with a character SMTP
// cannot carry (a tab) is refused.
func TestSendEnvelopeNotInjectable(t *testing.T) {
	port, cmds := recordingSMTP(t)
	s := mail.Settings{Host: "127.0.0.1", Port: port, From: "idp@example.com"}
	to := `"attacker@evil.example> NOTIFY=NEVER"@corp.example`
	if err := (&mail.Sender{}).Send(context.Background(), s, msg(to)); err != nil {
		t.Fatal(err)
	}
	var rcpt []string
	for _, c := range cmds() {
		if strings.HasPrefix(strings.ToUpper(c), "RCPT") {
			rcpt = append(rcpt, c)
		}
	}
	want := `RCPT TO:<"attacker@evil.example> NOTIFY=NEVER"@corp.example>`
	if len(rcpt) != 1 || rcpt[0] != want {
		t.Fatalf("RCPT commands %q, want [%q]", rcpt, want)
	}
	if err := (&mail.Sender{}).Send(context.Background(), s, msg("\"a\tb\"@corp.example")); err == nil {
		t.Fatal("a recipient with a tab was sent")
	}
}
