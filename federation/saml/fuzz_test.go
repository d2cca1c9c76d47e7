package saml

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// signedByIdP reports whether raw's Response, or an Assertion directly in
// it, carries a signature that verifies with the IdP's certificate: the
// oracle of FuzzACS, independent of the code under test.
func signedByIdP(raw []byte) bool {
	doc := etree.NewDocument()
	if doc.ReadFromBytes(raw) != nil || doc.Root() == nil {
		return false
	}
	ok := func(el *etree.Element) bool {
		if el.SelectElement("Signature") == nil {
			return false
		}
		ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{idpKeys.cert}})
		ctx.Clock = dsig.NewFakeClockAt(testNow)
		_, err := ctx.Validate(el.Copy())
		return err == nil
	}
	root := doc.Root()
	if ok(root) {
		return true
	}
	for _, a := range root.SelectElements("Assertion") {
		if ok(a) {
			return true
		}
	}
	return false
}

// FuzzACS feeds arbitrary SAMLResponse documents to Finish: it must never
// panic, and never return an identity unless an IdP signature verifies.
func FuzzACS(f *testing.F) {
	fixtures(f)
	good := goodOpts().response(f)
	f.Add(good)
	o := goodOpts()
	o.signAssertion, o.signResponse = false, true
	f.Add(o.response(f))
	o = goodOpts()
	o.signAssertion = false
	f.Add(o.response(f))
	f.Add([]byte(strings.Replace(string(good), "alice-persistent-7f3a", "admin", 1)))
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]><r>&a;</r>`))
	f.Add([]byte{})

	b := newTestBroker(f, nil)
	// Replay would refuse the valid seed after its first run; the fuzzer
	// looks for acceptances of documents that are not the IdP's.
	b.env.Replay = func(context.Context, string, time.Time) error { return nil }
	f.Fuzz(func(t *testing.T, raw []byte) {
		params := url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(raw)}}
		id, err := b.Finish(context.Background(), testRequest(), encodeState(testReqID), params)
		if err != nil {
			if id.UserID != "" || len(id.Attributes) > 0 {
				t.Fatalf("identity with an error: %+v", id)
			}
			return
		}
		if !signedByIdP(raw) {
			t.Fatalf("accepted a document the IdP did not sign: %q", raw)
		}
		if id.NameID != "alice-persistent-7f3a" {
			t.Fatalf("accepted %q", id.NameID)
		}
	})
}
