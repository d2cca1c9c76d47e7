package ldaptest

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"
)

// Fake is an in-process directory for fast tests: a gldap server with a
// small in-memory tree, simple binds against userPassword (plain or
// {SSHA}), RFC 4515 filters (and, or, not, equality, substrings, >=, <=,
// present, Active Directory's in-chain rule 1.2.840.113556.1.4.1941),
// base/one/sub scopes, size limits, RFC 2696 paging, StartTLS, and hooks
// to answer anything else. Clients reach it through a TCP relay the Fake
// owns, so a test can count connections, and Down drops them all.
type Fake struct {
	BaseDN        string
	AdminDN       string // bind DN the fake always accepts with AdminPassword
	AdminPassword string
	CA            *CA // StartTLS certificate

	t       testing.TB
	srv     *gldap.Server
	backend string // gldap's own address

	mu      sync.Mutex
	entries []*goldap.Entry // in insertion order
	onBind  func(dn, password string) (code int, diag string, handled bool)
	onSrch  func(w *gldap.ResponseWriter, r *gldap.Request, m *gldap.SearchMessage) bool
	stalled bool
	log     []SearchLog
	binds   map[string]int // by normalised DN

	release chan struct{} // closed at cleanup: every Block returns
	relMu   sync.Mutex
	stallCh chan struct{} // closed by Stall(false)

	ln     net.Listener
	addr   string
	conns  map[net.Conn]bool
	open   atomic.Int64
	peak   atomic.Int64
	total  atomic.Int64
	closed bool
	wg     sync.WaitGroup
}

// SearchLog is one search the fake received.
type SearchLog struct {
	BaseDN     string
	Scope      int
	Filter     string
	Attributes []string
	SizeLimit  int64
	Paged      bool
}

// FakeOptions configure NewFake.
type FakeOptions struct {
	BaseDN string // "dc=example,dc=org" by default
	// LDIF entries to start with (the base and ou=people, ou=groups are
	// always there).
	LDIF string
}

// NewFake starts a fake directory, stopped when the test ends.
func NewFake(t testing.TB, opts FakeOptions) *Fake {
	t.Helper()
	if opts.BaseDN == "" {
		opts.BaseDN = "dc=example,dc=org"
	}
	f := &Fake{BaseDN: opts.BaseDN, AdminDN: "cn=admin," + opts.BaseDN, AdminPassword: randomPassword(),
		CA: NewCA(t), t: t, binds: map[string]int{}, release: make(chan struct{}), conns: map[net.Conn]bool{}}
	f.AddLDIF(fmt.Sprintf("dn: %[1]s\nobjectClass: top\n\ndn: ou=people,%[1]s\nobjectClass: organizationalUnit\nou: people\n\n"+
		"dn: ou=groups,%[1]s\nobjectClass: organizationalUnit\nou: groups\n", opts.BaseDN))
	if opts.LDIF != "" {
		f.AddLDIF(opts.LDIF)
	}
	srv, err := gldap.NewServer(gldap.WithLogger(hclog.NewNullLogger()))
	if err != nil {
		t.Fatal(err)
	}
	mux, _ := gldap.NewMux()
	_ = mux.Bind(f.handleBind)
	_ = mux.Search(f.handleSearch)
	_ = mux.ExtendedOperation(f.handleStartTLS, gldap.ExtendedOperationStartTLS)
	_ = mux.Add(f.handleAdd)
	_ = mux.Delete(f.handleDelete)
	_ = mux.Modify(f.handleModify)
	_ = mux.DefaultRoute(func(w *gldap.ResponseWriter, r *gldap.Request) {
		f.wait()
		_ = w.Write(r.NewResponse(gldap.WithResponseCode(gldap.ResultUnwillingToPerform), gldap.WithDiagnosticMessage("not supported by the fake")))
	})
	_ = srv.Router(mux)
	// gldap listens on an address it is given and does not report it: try
	// free ports until one takes.
	for range 20 {
		f.backend = "127.0.0.1:" + strconv.Itoa(freePort(t))
		done := make(chan error, 1)
		go func() { done <- srv.Run(f.backend) }()
		if waitListening(f.backend, done) {
			break
		}
		f.backend = ""
	}
	if f.backend == "" {
		t.Fatal("fake: gldap does not listen")
	}
	f.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.ln, f.addr = ln, ln.Addr().String()
	f.wg.Add(1)
	go f.accept(ln)
	t.Cleanup(f.close)
	return f
}

func waitListening(addr string, done <-chan error) bool {
	for range 200 {
		select {
		case <-done:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			_ = c.Close()
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// URL is the fake's ldap:// URL.
func (f *Fake) URL() string { return "ldap://" + f.addr }

// AddLDIF adds entries (changetype add records).
func (f *Fake) AddLDIF(ldif string) {
	recs, err := ParseLDIF(ldif, "add")
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range recs {
		e := &goldap.Entry{DN: r.DN}
		for _, a := range r.Attrs {
			e.Attributes = append(e.Attributes, &goldap.EntryAttribute{Name: a.Type, Values: a.Vals})
		}
		f.putLocked(e)
	}
}

// AddEntry adds (or replaces) the entry dn with attrs; values may be
// binary (e.g. an objectGUID).
func (f *Fake) AddEntry(dn string, attrs map[string][]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.putLocked(goldap.NewEntry(dn, attrs))
}

// DeleteEntry removes the entry dn.
func (f *Fake) DeleteEntry(dn string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleteLocked(dn)
}

func (f *Fake) putLocked(e *goldap.Entry) {
	f.deleteLocked(e.DN)
	f.entries = append(f.entries, e)
}

func (f *Fake) deleteLocked(dn string) bool {
	n := normDN(dn)
	for i, e := range f.entries {
		if normDN(e.DN) == n {
			f.entries = append(f.entries[:i:i], f.entries[i+1:]...)
			return true
		}
	}
	return false
}

// OnBind sets a hook asked first for every bind; handled false falls
// through to the default (userPassword). nil removes it.
func (f *Fake) OnBind(fn func(dn, password string) (code int, diag string, handled bool)) {
	f.mu.Lock()
	f.onBind = fn
	f.mu.Unlock()
}

// OnSearch sets a hook asked first for every search; it writes its own
// answer and returns true, or returns false for the default. nil removes
// it.
func (f *Fake) OnSearch(fn func(w *gldap.ResponseWriter, r *gldap.Request, m *gldap.SearchMessage) bool) {
	f.mu.Lock()
	f.onSrch = fn
	f.mu.Unlock()
}

// Stall makes every request that arrives wait without an answer (a
// directory that accepts connections and never answers) until Stall(false).
func (f *Fake) Stall(on bool) {
	f.relMu.Lock()
	defer f.relMu.Unlock()
	f.mu.Lock()
	f.stalled = on
	f.mu.Unlock()
	if on && f.stallCh == nil {
		f.stallCh = make(chan struct{})
	}
	if !on && f.stallCh != nil {
		close(f.stallCh)
		f.stallCh = nil
	}
}

// Block waits until the test ends: a hook calls it to never answer (e.g.
// after some entries, a search that times out midway).
func (f *Fake) Block() { <-f.release }

// wait holds a request while the fake is stalled.
func (f *Fake) wait() {
	f.relMu.Lock()
	ch := f.stallCh
	f.relMu.Unlock()
	if ch == nil {
		return
	}
	select {
	case <-ch:
	case <-f.release:
	}
}

// Binds counts the bind requests that arrived for dn ("" for all).
func (f *Fake) Binds(dn string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if dn == "" {
		n := 0
		for _, c := range f.binds {
			n += c
		}
		return n
	}
	return f.binds[normDN(dn)]
}

// Searches returns the searches received so far.
func (f *Fake) Searches() []SearchLog {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]SearchLog(nil), f.log...)
}

// Conns reports the client connections open now, the most that were
// open at once, and how many were accepted in all.
func (f *Fake) Conns() (open, peak, total int) {
	return int(f.open.Load()), int(f.peak.Load()), int(f.total.Load())
}

// Down closes the fake's port and every client connection: the directory
// is gone (connection refused) until Up.
func (f *Fake) Down() {
	f.mu.Lock()
	ln := f.ln
	f.ln = nil
	conns := f.conns
	f.conns = map[net.Conn]bool{}
	f.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	for c := range conns {
		_ = c.Close()
	}
}

// Up listens again on the same port after Down.
func (f *Fake) Up() {
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", f.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		f.t.Fatalf("fake: listen again on %s: %v", f.addr, err)
	}
	f.mu.Lock()
	f.ln = ln
	f.mu.Unlock()
	f.wg.Add(1)
	go f.accept(ln)
}

func (f *Fake) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	close(f.release)
	f.Down()
	f.wg.Wait()
	_ = f.srv.Stop()
}

// accept relays each client connection to gldap, counting them.
func (f *Fake) accept(ln net.Listener) {
	defer f.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		if f.closed || f.ln != ln {
			f.mu.Unlock()
			_ = c.Close()
			continue
		}
		f.conns[c] = true
		f.mu.Unlock()
		n := f.open.Add(1)
		f.total.Add(1)
		for p := f.peak.Load(); n > p && !f.peak.CompareAndSwap(p, n); p = f.peak.Load() {
		}
		f.wg.Add(1)
		go f.relay(c)
	}
}

func (f *Fake) relay(c net.Conn) {
	defer f.wg.Done()
	defer f.open.Add(-1)
	defer func() {
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
	}()
	b, err := net.Dial("tcp", f.backend)
	if err != nil {
		_ = c.Close()
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(b, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, b); done <- struct{}{} }()
	<-done
	_ = c.Close()
	_ = b.Close()
	<-done
}

func (f *Fake) handleBind(w *gldap.ResponseWriter, r *gldap.Request) {
	f.wait()
	m, err := r.GetSimpleBindMessage()
	if err != nil {
		_ = w.Write(r.NewBindResponse(gldap.WithResponseCode(gldap.ResultProtocolError)))
		return
	}
	dn, pw := m.UserName, string(m.Password)
	f.mu.Lock()
	f.binds[normDN(dn)]++
	hook := f.onBind
	f.mu.Unlock()
	code, diag := gldap.ResultInvalidCredentials, ""
	handled := false
	if hook != nil {
		code, diag, handled = hook(dn, pw)
	}
	if !handled {
		code = f.checkPassword(dn, pw)
	}
	resp := r.NewBindResponse(gldap.WithResponseCode(code))
	resp.SetDiagnosticMessage(diag)
	_ = w.Write(resp)
}

func (f *Fake) checkPassword(dn, pw string) int {
	switch {
	case dn == "" && pw == "":
		return gldap.ResultSuccess // anonymous
	case pw == "":
		return gldap.ResultUnwillingToPerform // as slapd answers an unauthenticated bind
	case normDN(dn) == normDN(f.AdminDN):
		if pw == f.AdminPassword {
			return gldap.ResultSuccess
		}
		return gldap.ResultInvalidCredentials
	}
	f.mu.Lock()
	e := f.findLocked(dn)
	f.mu.Unlock()
	if e != nil {
		for _, v := range e.GetAttributeValues("userPassword") {
			if passwordMatches(v, pw) {
				return gldap.ResultSuccess
			}
		}
	}
	return gldap.ResultInvalidCredentials
}

func passwordMatches(stored, pw string) bool {
	if rest, ok := strings.CutPrefix(stored, "{SSHA}"); ok {
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil || len(raw) < sha1.Size {
			return false
		}
		h := sha1.Sum(append([]byte(pw), raw[sha1.Size:]...))
		return subtle.ConstantTimeCompare(h[:], raw[:sha1.Size]) == 1
	}
	return subtle.ConstantTimeCompare([]byte(stored), []byte(pw)) == 1
}

func (f *Fake) handleStartTLS(w *gldap.ResponseWriter, r *gldap.Request) {
	resp := r.NewExtendedResponse(gldap.WithResponseCode(gldap.ResultSuccess))
	resp.SetResponseName(gldap.ExtendedOperationStartTLS)
	_ = w.Write(resp)
	_ = r.StartTLS(f.CA.ServerTLS.Clone())
}

// rootDSE is what the fake's RootDSE says it supports.
var rootDSE = map[string][]string{
	"objectClass":          {"top"},
	"supportedLDAPVersion": {"3"},
	"supportedControl":     {goldap.ControlTypePaging},
	"supportedExtension":   {"1.3.6.1.4.1.1466.20037", "1.3.6.1.4.1.4203.1.11.1"},
	"supportedFeatures":    {"1.3.6.1.4.1.4203.1.5.1"},
}

func (f *Fake) handleSearch(w *gldap.ResponseWriter, r *gldap.Request) {
	f.wait()
	m, err := r.GetSearchMessage()
	if err != nil {
		_ = w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultProtocolError)))
		return
	}
	var paging *gldap.ControlPaging
	for _, c := range m.Controls {
		if p, ok := c.(*gldap.ControlPaging); ok {
			paging = p
		}
	}
	f.mu.Lock()
	f.log = append(f.log, SearchLog{BaseDN: m.BaseDN, Scope: int(m.Scope), Filter: m.Filter,
		Attributes: m.Attributes, SizeLimit: m.SizeLimit, Paged: paging != nil})
	hook := f.onSrch
	f.mu.Unlock()
	if hook != nil && hook(w, r, m) {
		return
	}
	done := func(code int, diag string) {
		resp := r.NewSearchDoneResponse(gldap.WithResponseCode(code))
		resp.SetDiagnosticMessage(diag)
		_ = w.Write(resp)
	}
	if m.BaseDN == "" && m.Scope == gldap.BaseObject {
		_ = w.Write(r.NewSearchResponseEntry("", gldap.WithAttributes(selectAttrs(goldap.NewEntry("", rootDSE), m.Attributes))))
		done(gldap.ResultSuccess, "")
		return
	}
	filter, err := goldap.CompileFilter(m.Filter)
	if err != nil {
		done(gldap.ResultProtocolError, err.Error())
		return
	}
	f.mu.Lock()
	if f.findLocked(m.BaseDN) == nil {
		f.mu.Unlock()
		done(gldap.ResultNoSuchObject, "")
		return
	}
	var hits []*goldap.Entry
	base := normDN(m.BaseDN)
	for _, e := range f.entries {
		if inScope(normDN(e.DN), base, m.Scope) && f.matchLocked(filter, e, 0) {
			hits = append(hits, e)
		}
	}
	f.mu.Unlock()
	code := gldap.ResultSuccess
	if paging != nil {
		if paging.PagingSize == 0 { // abandon
			done(gldap.ResultSuccess, "")
			return
		}
		// The cookie is the offset of the next page.
		off, _ := strconv.Atoi(string(paging.Cookie))
		off = min(max(off, 0), len(hits))
		end := min(off+int(paging.PagingSize), len(hits))
		next := ""
		if end < len(hits) {
			next = strconv.Itoa(end)
		}
		for _, e := range hits[off:end] {
			_ = w.Write(r.NewSearchResponseEntry(e.DN, gldap.WithAttributes(selectAttrs(e, m.Attributes))))
		}
		resp := r.NewSearchDoneResponse(gldap.WithResponseCode(code))
		resp.SetControls(&gldap.ControlPaging{Cookie: []byte(next)})
		_ = w.Write(resp)
		return
	}
	if m.SizeLimit > 0 && int64(len(hits)) > m.SizeLimit {
		hits, code = hits[:m.SizeLimit], gldap.ResultSizeLimitExceeded
	}
	for _, e := range hits {
		_ = w.Write(r.NewSearchResponseEntry(e.DN, gldap.WithAttributes(selectAttrs(e, m.Attributes))))
	}
	done(code, "")
}

func (f *Fake) handleAdd(w *gldap.ResponseWriter, r *gldap.Request) {
	f.wait()
	m, err := r.GetAddMessage()
	if err != nil {
		_ = w.Write(r.NewResponse(gldap.WithApplicationCode(gldap.ApplicationAddResponse), gldap.WithResponseCode(gldap.ResultProtocolError)))
		return
	}
	e := &goldap.Entry{DN: m.DN}
	for _, a := range m.Attributes {
		e.Attributes = append(e.Attributes, &goldap.EntryAttribute{Name: a.Type, Values: a.Vals})
	}
	code := gldap.ResultSuccess
	f.mu.Lock()
	if f.findLocked(m.DN) != nil {
		code = gldap.ResultEntryAlreadyExists
	} else {
		f.putLocked(e)
	}
	f.mu.Unlock()
	_ = w.Write(r.NewResponse(gldap.WithApplicationCode(gldap.ApplicationAddResponse), gldap.WithResponseCode(code)))
}

func (f *Fake) handleDelete(w *gldap.ResponseWriter, r *gldap.Request) {
	f.wait()
	m, err := r.GetDeleteMessage()
	code := gldap.ResultSuccess
	if err != nil {
		code = gldap.ResultProtocolError
	} else {
		f.mu.Lock()
		if !f.deleteLocked(m.DN) {
			code = gldap.ResultNoSuchObject
		}
		f.mu.Unlock()
	}
	_ = w.Write(r.NewResponse(gldap.WithApplicationCode(gldap.ApplicationDelResponse), gldap.WithResponseCode(code)))
}

func (f *Fake) handleModify(w *gldap.ResponseWriter, r *gldap.Request) {
	f.wait()
	m, err := r.GetModifyMessage()
	if err != nil {
		_ = w.Write(r.NewModifyResponse(gldap.WithResponseCode(gldap.ResultProtocolError)))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.findLocked(m.DN)
	if e == nil {
		_ = w.Write(r.NewModifyResponse(gldap.WithResponseCode(gldap.ResultNoSuchObject)))
		return
	}
	// Copy on write: entries already handed to a search stay as they were.
	ne := &goldap.Entry{DN: e.DN}
	for _, a := range e.Attributes {
		ne.Attributes = append(ne.Attributes, &goldap.EntryAttribute{Name: a.Name, Values: append([]string(nil), a.Values...)})
	}
	for _, c := range m.Changes {
		c.Modification.Vals = modifyValues(c.Modification.Vals)
		applyChange(ne, c)
	}
	f.putLocked(ne)
	_ = w.Write(r.NewModifyResponse(gldap.WithResponseCode(gldap.ResultSuccess)))
}

// modifyValues works around gldap v0.1.14, which hands a modify's values
// over as the encoded SET OF them (tag and length bytes included): it
// decodes them when they parse as such.
func modifyValues(vals []string) []string {
	var out []string
	for _, v := range vals {
		b := []byte(v)
		var dec []string
		for len(b) > 0 {
			p, err := ber.DecodePacketErr(b)
			if err != nil || p.Tag != ber.TagOctetString {
				return vals
			}
			dec = append(dec, p.Data.String())
			b = b[len(p.Bytes()):]
		}
		out = append(out, dec...)
	}
	return out
}

func applyChange(e *goldap.Entry, c gldap.Change) {
	name := c.Modification.Type
	var a *goldap.EntryAttribute
	for _, x := range e.Attributes {
		if strings.EqualFold(x.Name, name) {
			a = x
		}
	}
	if a == nil {
		a = &goldap.EntryAttribute{Name: name}
		e.Attributes = append(e.Attributes, a)
	}
	switch c.Operation {
	case goldap.AddAttribute:
		a.Values = append(a.Values, c.Modification.Vals...)
	case goldap.ReplaceAttribute:
		a.Values = append([]string(nil), c.Modification.Vals...)
	case goldap.DeleteAttribute:
		if len(c.Modification.Vals) == 0 {
			a.Values = nil
		}
		for _, v := range c.Modification.Vals {
			for i := 0; i < len(a.Values); i++ {
				if strings.EqualFold(a.Values[i], v) {
					a.Values = append(a.Values[:i], a.Values[i+1:]...)
					i--
				}
			}
		}
	}
}

func (f *Fake) findLocked(dn string) *goldap.Entry {
	n := normDN(dn)
	for _, e := range f.entries {
		if normDN(e.DN) == n {
			return e
		}
	}
	return nil
}

func selectAttrs(e *goldap.Entry, want []string) map[string][]string {
	all := len(want) == 0
	wanted := map[string]bool{}
	for _, w := range want {
		if w == "*" {
			all = true
		}
		wanted[strings.ToLower(w)] = true
	}
	out := map[string][]string{}
	for _, a := range e.Attributes {
		if len(a.Values) > 0 && (all || wanted[strings.ToLower(a.Name)]) {
			out[a.Name] = a.Values
		}
	}
	return out
}

// normDN is dn in a form for comparison: lower case, no spaces between
// RDNs, escapes resolved.
func normDN(dn string) string {
	p, err := goldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(dn))
	}
	rdns := make([]string, len(p.RDNs))
	for i, r := range p.RDNs {
		avas := make([]string, len(r.Attributes))
		for j, a := range r.Attributes {
			avas[j] = strings.ToLower(a.Type) + "=" + strings.ToLower(a.Value)
		}
		rdns[i] = strings.Join(avas, "+")
	}
	return strings.Join(rdns, ",")
}

func inScope(dn, base string, scope gldap.Scope) bool {
	switch scope {
	case gldap.BaseObject:
		return dn == base
	case gldap.SingleLevel:
		_, parent, ok := strings.Cut(dn, ",")
		return ok && parent == base
	}
	return dn == base || base == "" || strings.HasSuffix(dn, ","+base)
}

// inChain is Active Directory's LDAP_MATCHING_RULE_IN_CHAIN.
const inChain = "1.2.840.113556.1.4.1941"

func (f *Fake) matchLocked(p *ber.Packet, e *goldap.Entry, depth int) bool {
	switch p.Tag {
	case goldap.FilterAnd:
		for _, c := range p.Children {
			if !f.matchLocked(c, e, depth) {
				return false
			}
		}
		return true
	case goldap.FilterOr:
		for _, c := range p.Children {
			if f.matchLocked(c, e, depth) {
				return true
			}
		}
		return false
	case goldap.FilterNot:
		return len(p.Children) == 1 && !f.matchLocked(p.Children[0], e, depth)
	case goldap.FilterPresent:
		return len(values(e, str(p))) > 0
	case goldap.FilterEqualityMatch, goldap.FilterApproxMatch:
		if len(p.Children) != 2 {
			return false
		}
		for _, v := range values(e, str(p.Children[0])) {
			if equalValue(v, str(p.Children[1])) {
				return true
			}
		}
		return false
	case goldap.FilterGreaterOrEqual, goldap.FilterLessOrEqual:
		if len(p.Children) != 2 {
			return false
		}
		want := strings.ToLower(str(p.Children[1]))
		for _, v := range values(e, str(p.Children[0])) {
			v = strings.ToLower(v)
			if (p.Tag == goldap.FilterGreaterOrEqual && v >= want) || (p.Tag == goldap.FilterLessOrEqual && v <= want) {
				return true
			}
		}
		return false
	case goldap.FilterSubstrings:
		if len(p.Children) != 2 {
			return false
		}
		for _, v := range values(e, str(p.Children[0])) {
			if substringsMatch(strings.ToLower(v), p.Children[1].Children) {
				return true
			}
		}
		return false
	case goldap.FilterExtensibleMatch:
		var rule, attr, val string
		for _, c := range p.Children {
			switch c.Tag {
			case goldap.MatchingRuleAssertionMatchingRule:
				rule = str(c)
			case goldap.MatchingRuleAssertionType:
				attr = str(c)
			case goldap.MatchingRuleAssertionMatchValue:
				val = str(c)
			}
		}
		if rule == inChain {
			return f.chainLocked(e, attr, normDN(val), depth, map[string]bool{})
		}
		for _, v := range values(e, attr) {
			if equalValue(v, val) {
				return true
			}
		}
	}
	return false
}

// chainLocked: e's attr holds target, directly or through entries it
// names (nested groups), cycles ignored.
func (f *Fake) chainLocked(e *goldap.Entry, attr, target string, depth int, seen map[string]bool) bool {
	n := normDN(e.DN)
	if seen[n] || depth > 32 {
		return false
	}
	seen[n] = true
	for _, v := range values(e, attr) {
		if normDN(v) == target {
			return true
		}
		if sub := f.findLocked(v); sub != nil && f.chainLocked(sub, attr, target, depth+1, seen) {
			return true
		}
	}
	return false
}

func substringsMatch(v string, parts []*ber.Packet) bool {
	for _, part := range parts {
		s := strings.ToLower(str(part))
		switch part.Tag {
		case goldap.FilterSubstringsInitial:
			if !strings.HasPrefix(v, s) {
				return false
			}
			v = v[len(s):]
		case goldap.FilterSubstringsAny:
			j := strings.Index(v, s)
			if j < 0 {
				return false
			}
			v = v[j+len(s):]
		case goldap.FilterSubstringsFinal:
			if !strings.HasSuffix(v, s) {
				return false
			}
			v = ""
		}
	}
	return true
}

func equalValue(have, want string) bool {
	if strings.EqualFold(have, want) {
		return true
	}
	return strings.Contains(want, "=") && normDN(have) == normDN(want)
}

func values(e *goldap.Entry, attr string) []string {
	for _, a := range e.Attributes {
		if strings.EqualFold(a.Name, attr) {
			return a.Values
		}
	}
	return nil
}

// str is a filter component's value: go-ldap's compiled filter keeps it
// in Value (string) and the raw bytes in Data.
func str(p *ber.Packet) string {
	if s, ok := p.Value.(string); ok {
		return s
	}
	if p.Data != nil {
		return p.Data.String()
	}
	return ""
}
