package main

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"math/big"
	"net/url"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// The benchmark is the SAML identity provider of the brokered logins:
// it reads keygate's AuthnRequest from the redirect (or the auto-submitted
// form) the browser is sent to, and answers with a Response whose
// assertion it signs with its own key, as SimpleSAMLphp and most IdPs do
// by default (RSA-SHA256, exclusive c14n, the certificate in KeyInfo).

const (
	nsSAMLAssertion  = "urn:oasis:names:tc:SAML:2.0:assertion"
	nameIDPersistent = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	bearerMethod     = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
)

// benchIdP is the in-process identity provider.
type benchIdP struct {
	entityID string
	ssoURL   string
	key      *rsa.PrivateKey
	cert     *x509.Certificate
}

func newBenchIdP(entityID, ssoURL string) (*benchIdP, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "keygate bench IdP"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &benchIdP{entityID: entityID, ssoURL: ssoURL, key: key, cert: cert}, nil
}

// certBase64 is the signingCertificate config value: base64 DER.
func (p *benchIdP) certBase64() string { return base64.StdEncoding.EncodeToString(p.cert.Raw) }

// authnRequest is what the IdP reads from keygate's AuthnRequest.
type authnRequest struct {
	ID, RelayState   string
	Issuer           string // keygate's SP entity id: the assertion's Audience
	ACS              string // AssertionConsumerServiceURL: Destination and Recipient
	Destination      string
	NameIDFormat     string
	Binding          string // crewsaml.HTTPRedirectBinding or HTTPPostBinding
	ProtocolBinding  string // how keygate wants the Response
	IssueInstant     time.Time
	SignedByRedirect bool // the Redirect binding carried SigAlg and Signature
}

// readAuthnRequestRedirect decodes the Redirect binding: SAMLRequest in
// loc's query, base64 of the raw-deflated XML, and RelayState.
func readAuthnRequestRedirect(loc *url.URL) (authnRequest, error) {
	q := loc.Query()
	v := q.Get("SAMLRequest")
	if v == "" {
		return authnRequest{}, fmt.Errorf("no SAMLRequest in the redirect to %s://%s%s", loc.Scheme, loc.Host, loc.Path)
	}
	deflated, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return authnRequest{}, fmt.Errorf("SAMLRequest is not base64: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(deflated)), 1<<20))
	if err != nil {
		return authnRequest{}, fmt.Errorf("SAMLRequest is not deflated: %w", err)
	}
	ar, err := parseAuthnRequest(raw)
	ar.RelayState, ar.Binding = q.Get("RelayState"), crewsaml.HTTPRedirectBinding
	ar.SignedByRedirect = q.Get("Signature") != ""
	return ar, err
}

// readAuthnRequestPost decodes the POST binding from the auto-submitting
// page keygate answered: the form's action and its hidden fields.
func readAuthnRequestPost(page []byte) (action string, ar authnRequest, err error) {
	m := formActionRE.FindSubmatch(page)
	if m == nil {
		return "", authnRequest{}, fmt.Errorf("no <form action> in the page: %.200s", page)
	}
	action = html.UnescapeString(string(m[1]))
	fields := map[string]string{}
	for _, in := range inputRE.FindAll(page, -1) {
		name, value := attrRE("name").FindSubmatch(in), attrRE("value").FindSubmatch(in)
		if name != nil && value != nil {
			fields[html.UnescapeString(string(name[1]))] = html.UnescapeString(string(value[1]))
		}
	}
	if fields["SAMLRequest"] == "" {
		return "", authnRequest{}, fmt.Errorf("no SAMLRequest field in the form: %.200s", page)
	}
	raw, err := base64.StdEncoding.DecodeString(fields["SAMLRequest"])
	if err != nil {
		return "", authnRequest{}, fmt.Errorf("SAMLRequest is not base64: %w", err)
	}
	ar, err = parseAuthnRequest(raw)
	ar.RelayState, ar.Binding = fields["RelayState"], crewsaml.HTTPPostBinding
	return action, ar, err
}

var (
	formActionRE = regexp.MustCompile(`(?is)<form[^>]*\saction="([^"]*)"`)
	inputRE      = regexp.MustCompile(`(?is)<input[^>]*>`)
	attrCache    sync.Map
)

func attrRE(name string) *regexp.Regexp {
	if re, ok := attrCache.Load(name); ok {
		return re.(*regexp.Regexp)
	}
	re := regexp.MustCompile(`(?is)\s` + name + `="([^"]*)"`)
	attrCache.Store(name, re)
	return re
}

func parseAuthnRequest(raw []byte) (authnRequest, error) {
	var req crewsaml.AuthnRequest
	if err := xml.Unmarshal(raw, &req); err != nil {
		return authnRequest{}, fmt.Errorf("AuthnRequest: %w: %.200s", err, raw)
	}
	ar := authnRequest{ID: req.ID, ACS: req.AssertionConsumerServiceURL, Destination: req.Destination,
		ProtocolBinding: req.ProtocolBinding, IssueInstant: req.IssueInstant}
	if req.Issuer != nil {
		ar.Issuer = req.Issuer.Value
	}
	if req.NameIDPolicy != nil && req.NameIDPolicy.Format != nil {
		ar.NameIDFormat = *req.NameIDPolicy.Format
	}
	switch {
	case ar.ID == "":
		return ar, errors.New("AuthnRequest without an ID")
	case ar.ACS == "":
		return ar, errors.New("AuthnRequest without an AssertionConsumerServiceURL")
	case ar.Issuer == "":
		return ar, errors.New("AuthnRequest without an Issuer")
	}
	return ar, nil
}

// brokerUser is who signs in at the IdP.
type brokerUser struct {
	NameID, Email, FirstName, LastName string
	Groups                             []string
}

// respond is the Response to ar for u: a fresh Response and assertion id,
// InResponseTo ar.ID, Destination and Recipient ar.ACS, Audience
// ar.Issuer, valid from now-30 s for 5 minutes, the assertion signed.
// The SAMLResponse form value is its base64.
func (p *benchIdP) respond(ar authnRequest, u brokerUser, now time.Time) ([]byte, error) {
	format := ar.NameIDFormat
	if format == "" || format == "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified" {
		format = nameIDPersistent
	}
	str := func(name, friendly string, vals ...string) crewsaml.Attribute {
		a := crewsaml.Attribute{Name: name, FriendlyName: friendly, NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"}
		for _, v := range vals {
			a.Values = append(a.Values, crewsaml.AttributeValue{Type: "xs:string", Value: v})
		}
		return a
	}
	a := &crewsaml.Assertion{
		ID:           newSAMLID(),
		IssueInstant: now,
		Version:      "2.0",
		Issuer:       crewsaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: p.entityID},
		Subject: &crewsaml.Subject{
			NameID: &crewsaml.NameID{Format: format, NameQualifier: p.entityID, SPNameQualifier: ar.Issuer, Value: u.NameID},
			SubjectConfirmations: []crewsaml.SubjectConfirmation{{
				Method: bearerMethod,
				SubjectConfirmationData: &crewsaml.SubjectConfirmationData{
					InResponseTo: ar.ID, NotOnOrAfter: now.Add(5 * time.Minute), Recipient: ar.ACS,
				},
			}},
		},
		Conditions: &crewsaml.Conditions{
			NotBefore: now.Add(-30 * time.Second), NotOnOrAfter: now.Add(5 * time.Minute),
			AudienceRestrictions: []crewsaml.AudienceRestriction{{Audience: crewsaml.Audience{Value: ar.Issuer}}},
		},
		AuthnStatements: []crewsaml.AuthnStatement{{
			AuthnInstant: now, SessionIndex: newSAMLID(), SessionNotOnOrAfter: ptr(now.Add(8 * time.Hour)),
			AuthnContext: crewsaml.AuthnContext{AuthnContextClassRef: &crewsaml.AuthnContextClassRef{
				Value: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}},
		}},
		AttributeStatements: []crewsaml.AttributeStatement{{Attributes: []crewsaml.Attribute{
			str("urn:oid:0.9.2342.19200300.100.1.1", "uid", u.NameID),
			str("urn:oid:0.9.2342.19200300.100.1.3", "mail", u.Email),
			str("urn:oid:2.5.4.42", "givenName", u.FirstName),
			str("urn:oid:2.5.4.4", "sn", u.LastName),
			str("memberOf", "", u.Groups...),
		}}},
	}
	signed, err := p.sign(a.Element())
	if err != nil {
		return nil, err
	}
	r := &crewsaml.Response{
		ID: newSAMLID(), InResponseTo: ar.ID, Version: "2.0", IssueInstant: now, Destination: ar.ACS,
		Issuer: &crewsaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: p.entityID},
		Status: crewsaml.Status{StatusCode: crewsaml.StatusCode{Value: crewsaml.StatusSuccess}},
	}
	el := r.Element()
	el.AddChild(signed)
	doc := etree.NewDocument()
	doc.SetRoot(el)
	return doc.WriteToBytes()
}

// sign signs el (enveloped) and moves the Signature right after the
// Issuer, where the SAML schema wants it.
func (p *benchIdP) sign(el *etree.Element) (*etree.Element, error) {
	ctx, err := dsig.NewSigningContext(p.key, [][]byte{p.cert.Raw})
	if err != nil {
		return nil, err
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		return nil, err
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		return nil, err
	}
	sig := signed.Child[len(signed.Child)-1]
	signed.RemoveChildAt(len(signed.Child) - 1)
	at := 0
	if iss := signed.SelectElement("Issuer"); iss != nil {
		at = iss.Index() + 1
	}
	signed.InsertChildAt(at, sig)
	return signed, nil
}

func newSAMLID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "_" + hex.EncodeToString(b)
}

func ptr[T any](v T) *T { return &v }

// verifier is crewjam/saml's service provider configured as keygate's
// SAML broker configures it for this IdP (federation/saml
// serviceProvider): the IdP described by a metadata holding the signing
// certificate, certificate dates ignored, our entity id and ACS URL.
func (p *benchIdP) verifier(spEntityID, acs string) (*crewsaml.ServiceProvider, error) {
	u, err := url.Parse(acs)
	if err != nil {
		return nil, err
	}
	loc := []crewsaml.Endpoint{{Binding: crewsaml.HTTPPostBinding, Location: p.ssoURL}, {Binding: crewsaml.HTTPRedirectBinding, Location: p.ssoURL}}
	return &crewsaml.ServiceProvider{
		EntityID: spEntityID, AcsURL: *u, SloURL: *u, MetadataURL: *u,
		IgnoreCertificateExpiry:          true,
		AssertionConsumerServiceBindings: []string{crewsaml.HTTPPostBinding, crewsaml.HTTPRedirectBinding},
		IDPMetadata: &crewsaml.EntityDescriptor{EntityID: p.entityID, IDPSSODescriptors: []crewsaml.IDPSSODescriptor{{
			SSODescriptor: crewsaml.SSODescriptor{RoleDescriptor: crewsaml.RoleDescriptor{
				ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
				KeyDescriptors: []crewsaml.KeyDescriptor{{Use: "signing", KeyInfo: crewsaml.KeyInfo{X509Data: crewsaml.X509Data{
					X509Certificates: []crewsaml.X509Certificate{{Data: p.certBase64()}}}}}},
			}},
			SingleSignOnServices: loc,
		}}},
	}, nil
}

// rawVerify is the raw rate of what keygate's ACS must do at least:
// crewjam/saml's ParseXMLResponse of one signed Response (XML parse,
// signature check, conditions), on conc goroutines.
type rawVerify struct {
	rate   float64         // verifications a second
	lat    []time.Duration // each call's, sorted
	cpu    time.Duration   // this process's CPU time per verification (GC included)
	others float64         // cores the rest of the machine used meanwhile
}

// rawVerifyRate measures rawVerify on conc goroutines for d after a
// warm-up of d/5.
func rawVerifyRate(ctx context.Context, sp *crewsaml.ServiceProvider, raw []byte, requestID string, conc int, d time.Duration) (rawVerify, error) {
	if _, err := sp.ParseXMLResponse(raw, []string{requestID}, sp.AcsURL); err != nil {
		return rawVerify{}, verifyErr(err)
	}
	var n atomic.Int64
	var first atomic.Value
	var mu sync.Mutex
	var all []time.Duration
	from := time.Now().Add(d / 5)
	end := from.Add(d)
	var wg sync.WaitGroup
	var cpu0, cpu1, all0, all1 time.Duration
	wg.Go(func() {
		if sleepUntil(ctx, from) {
			cpu0, all0 = selfCPU(), machineCPU()
		}
		if sleepUntil(ctx, end) {
			cpu1, all1 = selfCPU(), machineCPU()
		}
	})
	for range conc {
		wg.Go(func() {
			var lat []time.Duration
			for ctx.Err() == nil {
				t0 := time.Now()
				_, err := sp.ParseXMLResponse(raw, []string{requestID}, sp.AcsURL)
				t1 := time.Now()
				if t1.After(end) {
					break
				}
				if err != nil {
					first.CompareAndSwap(nil, verifyErr(err))
					continue
				}
				if !t1.Before(from) {
					n.Add(1)
					lat = append(lat, t1.Sub(t0))
				}
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if e, _ := first.Load().(error); e != nil {
		return rawVerify{}, e
	}
	slices.Sort(all)
	r := rawVerify{rate: float64(n.Load()) / d.Seconds(), lat: all}
	if n.Load() > 0 {
		r.cpu = (cpu1 - cpu0) / time.Duration(n.Load())
	}
	r.others = max((all1-all0-(cpu1-cpu0)).Seconds()/d.Seconds(), 0)
	return r, ctx.Err()
}

// verifyErr keeps crewjam's reason (its error's Error() says only "Authentication failed").
func verifyErr(err error) error {
	var ire *crewsaml.InvalidResponseError
	if errors.As(err, &ire) && ire.PrivateErr != nil {
		return fmt.Errorf("crewjam/saml refused the response: %w", ire.PrivateErr)
	}
	return err
}

// TestBrokerIdP checks the bench IdP without a server: keygate's
// AuthnRequest as crewjam/saml makes it (Redirect and POST bindings)
// is read back, and the Response verifies with crewjam/saml as keygate
// configures it, once (a second assertion id each time).
func TestBrokerIdP(t *testing.T) {
	const realm = "http://127.0.0.1:1/realms/broker"
	acs := realm + "/broker/corp/endpoint"
	p, err := newBenchIdP("http://127.0.0.1:9/idp", "http://127.0.0.1:9/idp/sso")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := p.verifier(realm, acs)
	if err != nil {
		t.Fatal(err)
	}
	req, err := sp.MakeAuthenticationRequest(p.ssoURL, crewsaml.HTTPRedirectBinding, crewsaml.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := req.Redirect("relay-1", sp)
	if err != nil {
		t.Fatal(err)
	}
	ar, err := readAuthnRequestRedirect(loc)
	if err != nil {
		t.Fatal(err)
	}
	if ar.ID != req.ID || ar.RelayState != "relay-1" || ar.ACS != acs || ar.Issuer != realm {
		t.Fatalf("read back %+v from %s", ar, loc)
	}
	page := []byte(`<html><body><form method="post" action="http://127.0.0.1:9/idp/sso?a=1&amp;b=2">` +
		`<input type="hidden" name="SAMLRequest" value="` + base64.StdEncoding.EncodeToString(mustElementBytes(t, req.Element())) + `"/>` +
		`<input type="hidden" name="RelayState" value="relay&amp;2"/></form></body></html>`)
	action, par, err := readAuthnRequestPost(page)
	if err != nil || action != "http://127.0.0.1:9/idp/sso?a=1&b=2" || par.ID != req.ID || par.RelayState != "relay&2" {
		t.Fatalf("POST binding: %q %+v %v", action, par, err)
	}
	u := brokerUser{NameID: "bk-1", Email: "bk-1@corp.example", FirstName: "B", LastName: "K", Groups: []string{"ops"}}
	raw, err := p.respond(ar, u, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	a, err := sp.ParseXMLResponse(raw, []string{ar.ID}, sp.AcsURL)
	if err != nil {
		t.Fatal(verifyErr(err))
	}
	if a.Subject.NameID.Value != "bk-1" {
		t.Fatalf("NameID %q", a.Subject.NameID.Value)
	}
	raw2, err := p.respond(ar, u, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	a2, err := sp.ParseXMLResponse(raw2, []string{ar.ID}, sp.AcsURL)
	if err != nil || a2.ID == a.ID {
		t.Fatalf("second response: %v, ids %s %s", verifyErr(err), a.ID, a2.ID)
	}
	// A response signed by another key is refused.
	q, err := newBenchIdP(p.entityID, p.ssoURL)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := q.respond(ar, u, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.ParseXMLResponse(bad, []string{ar.ID}, sp.AcsURL); err == nil {
		t.Fatal("a response signed by another key verified")
	}
	rv, err := rawVerifyRate(t.Context(), sp, raw, ar.ID, 2, 500*time.Millisecond)
	if err != nil || rv.rate <= 0 || len(rv.lat) == 0 {
		t.Fatalf("raw verify: %+v, %v", rv, err)
	}
	t.Logf("raw verify %.0f/s (c=2), %v CPU each, response %d bytes", rv.rate, rv.cpu, len(raw))
}

func mustElementBytes(t *testing.T, el *etree.Element) []byte {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el)
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
