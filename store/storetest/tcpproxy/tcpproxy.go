// Package tcpproxy is a TCP proxy for fault tests: it sits between keygate
// and its database, and the test cuts it (every connection reset, new ones
// closed at once) and restores it, or kills the open connections only.
package tcpproxy

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy forwards connections from Addr to a target address.
type Proxy struct {
	ln       net.Listener
	target   string
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	cut      bool
	accepted atomic.Int64
	armed    atomic.Bool // KillNextRequest
}

// Start listens on a free loopback port and forwards to target until t
// ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.KillAll()
	})
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepted counts the connections the proxy forwarded.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// Cut resets every open connection and closes new ones at once, as a
// network partition or a stopped server would look to the client.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	p.mu.Unlock()
	p.KillAll()
}

// Restore lets new connections through again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// KillNextRequest resets the next connection that sends anything, after
// the client sent it and before the server sees it: the client's
// statement is on its way, and its connection dies under it.
func (p *Proxy) KillNextRequest() { p.armed.Store(true) }

// KillAll resets the open connections; new ones go through unless cut.
func (p *Proxy) KillAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST, as a dead peer's kernel answers
		}
		c.Close()
		delete(p.conns, c)
	}
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			c.Close()
			continue
		}
		go p.forward(c)
	}
}

func (p *Proxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	p.accepted.Add(1)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go func() { // client to server, watching for KillNextRequest
		buf := make([]byte, 32<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 && p.armed.CompareAndSwap(true, false) {
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetLinger(0)
				}
				break
			}
			if n > 0 {
				if _, werr := up.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}()
	go pipe(c, up)
	<-done
	p.mu.Lock()
	for _, x := range []net.Conn{c, up} {
		x.Close()
		delete(p.conns, x)
	}
	p.mu.Unlock()
}
