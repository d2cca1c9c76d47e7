package ldaptest

import (
	"bufio"
	"net"
	"strconv"
	"sync"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
)

// ClosedURL is an ldap:// URL on a loopback port nothing listens on:
// connections are refused.
func ClosedURL(t testing.TB) string {
	t.Helper()
	return "ldap://127.0.0.1:" + strconv.Itoa(freePort(t))
}

// Blackhole listens on a loopback port, accepts connections and never
// reads or writes (a directory that hangs, or a TLS handshake that never
// completes); it returns the host:port. Use it as ldap:// or ldaps://.
func Blackhole(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// RawRequest is one request a Raw server received.
type RawRequest struct {
	MessageID int64
	Op        ber.Tag // application tag: goldap.ApplicationBindRequest, ApplicationSearchRequest, ...
	Packet    *ber.Packet
}

// Raw is an LDAP server that answers each request with whatever bytes its
// handler returns, for answers no real server (and no gldap) gives:
// malformed packets, search continuation references, referrals with URLs.
type Raw struct {
	URL string
}

// NewRaw serves handler on a loopback port until the test ends. For each
// request the handler returns the responses to write (nil: no answer),
// built with RawResult, RawEntry, RawReference or by hand; an empty one
// (RawHangUp) closes the connection.
func NewRaw(t testing.TB, handler func(RawRequest) [][]byte) *Raw {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go serveRaw(c, handler)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return &Raw{URL: "ldap://" + ln.Addr().String()}
}

func serveRaw(c net.Conn, handler func(RawRequest) [][]byte) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		p, err := ber.ReadPacket(r)
		if err != nil || len(p.Children) < 2 {
			return
		}
		id, _ := p.Children[0].Value.(int64)
		op := p.Children[1].Tag
		if op == goldap.ApplicationUnbindRequest {
			return
		}
		for _, b := range handler(RawRequest{MessageID: id, Op: op, Packet: p}) {
			if len(b) == 0 {
				return
			}
			if _, err := c.Write(b); err != nil {
				return
			}
		}
	}
}

func envelope(id int64, op *ber.Packet) []byte {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Response")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "MessageID"))
	p.AppendChild(op)
	return p.Bytes()
}

// RawResult is an LDAPResult response (bind, search done, modify, ...):
// op is its application tag (goldap.ApplicationBindResponse,
// ApplicationSearchResultDone, ...). Referral URLs, if any, go in the
// result's referral field (as a directory that refers elsewhere sends).
func RawResult(id int64, op ber.Tag, code uint16, diag string, referrals ...string) []byte {
	res := ber.Encode(ber.ClassApplication, ber.TypeConstructed, op, nil, "Result")
	res.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(code), "resultCode"))
	res.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "matchedDN"))
	res.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, diag, "diagnosticMessage"))
	if len(referrals) > 0 {
		ref := ber.Encode(ber.ClassContext, ber.TypeConstructed, 3, nil, "Referral")
		for _, u := range referrals {
			ref.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, u, "URI"))
		}
		res.AppendChild(ref)
	}
	return envelope(id, res)
}

// RawEntry is a SearchResultEntry.
func RawEntry(id int64, dn string, attrs map[string][]string) []byte {
	e := ber.Encode(ber.ClassApplication, ber.TypeConstructed, goldap.ApplicationSearchResultEntry, nil, "Entry")
	e.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, "DN"))
	list := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attributes")
	for name, vals := range attrs {
		a := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attribute")
		a.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, name, "Type"))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "Values")
		for _, v := range vals {
			set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, "Value"))
		}
		a.AppendChild(set)
		list.AppendChild(a)
	}
	e.AppendChild(list)
	return envelope(id, e)
}

// RawEntryWithoutAttributes is a malformed SearchResultEntry: RFC 4511
// requires the attribute list, even empty.
func RawEntryWithoutAttributes(id int64, dn string) []byte {
	e := ber.Encode(ber.ClassApplication, ber.TypeConstructed, goldap.ApplicationSearchResultEntry, nil, "Entry")
	e.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, "DN"))
	return envelope(id, e)
}

// RawReference is a SearchResultReference (a continuation reference).
func RawReference(id int64, urls ...string) []byte {
	ref := ber.Encode(ber.ClassApplication, ber.TypeConstructed, goldap.ApplicationSearchResultReference, nil, "Reference")
	for _, u := range urls {
		ref.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, u, "URI"))
	}
	return envelope(id, ref)
}

// Garbage is bytes that are not LDAP (an HTTP answer); send RawHangUp
// after it so the client sees a truncated packet rather than waiting.
var Garbage = []byte("HTTP/1.1 400 Bad Request\r\n\r\n")

// RawHangUp, returned among a handler's responses, closes the connection
// there.
var RawHangUp = []byte{}
