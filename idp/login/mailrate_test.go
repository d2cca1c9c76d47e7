package login

import (
	"fmt"
	"testing"
	"time"
)

// The reset requests counted per address: one IPv6 client holds a whole
// /64 and could otherwise send each request from a fresh address (each an
// SMTP session for the realm's mail server), and however many addresses
// ask, the counts stay bounded and each request costs the same.
func TestMailRateByNetwork(t *testing.T) {
	if time.Now().Second() >= 55 { // the counts start over each minute
		time.Sleep(6 * time.Second)
	}
	m := newMailFlow(nil)
	for i := range mailsPerIP {
		if !m.allowIP(fmt.Sprintf("2001:db8:1:2::%x", i+1)) {
			t.Fatalf("request %d from one /64 refused", i+1)
		}
	}
	if m.allowIP("2001:db8:1:2:ffff::1") {
		t.Error("an eleventh request from the same /64, from another address, allowed")
	}
	if !m.allowIP("2001:db8:1:3::1") || !m.allowIP("192.0.2.1") || !m.allowIP("::ffff:192.0.2.2") {
		t.Error("other networks refused")
	}
	for i := range mailsPerIP - 1 {
		if !m.allowIP("192.0.2.1") {
			t.Fatalf("IPv4 request %d refused", i+2)
		}
	}
	if m.allowIP("192.0.2.1") {
		t.Error("an eleventh IPv4 request allowed")
	}

	// A flood from many networks: memory stays bounded, and the work per
	// request does not grow with the addresses seen.
	m = newMailFlow(nil)
	for i := range 3 * maxMailAddrs {
		m.allowIP(fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff))
	}
	if n := len(m.perIP); n > maxMailAddrs {
		t.Errorf("%d addresses counted, cap %d", n, maxMailAddrs)
	}
	start := time.Now()
	for i := range 2000 {
		m.allowIP(fmt.Sprintf("2001:db8:ffff:%x::1", i))
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("2000 requests past the cap took %v", d)
	}
}
