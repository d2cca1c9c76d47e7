package saml

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/keygate/keygate/federation"
)

// Hostile responses: each must be refused (ErrBrokerRefused, no identity).

func parseDoc(t testing.TB, raw []byte) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

func signatureOf(el *etree.Element) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == "Signature" {
			return c
		}
	}
	return nil
}

func withoutSignature(el *etree.Element) *etree.Element {
	c := el.Copy()
	if s := signatureOf(c); s != nil {
		c.RemoveChild(s)
	}
	return c
}

// evilAssertion is an assertion for "admin", as an attacker would write
// it, unsigned.
func evilAssertion(t testing.TB) *etree.Element {
	o := goodOpts()
	o.nameID, o.assertionID, o.signAssertion = "admin", "_evil0001", false
	o.attrs[4].Values[0].Value = "sso-stackstate-admins"
	return o.assertionEl(t)
}

// replaceChild puts repl where old is under parent.
func replaceChild(parent, old, repl *etree.Element) {
	i := old.Index()
	parent.RemoveChildAt(i)
	parent.InsertChildAt(i, repl)
}

func TestHostileResponses(t *testing.T) {
	fixtures(t)
	// A genuine Response signed at the Response level only, and one signed
	// at the assertion level only, for the wrapping attacks.
	respSigned := func(t *testing.T) *etree.Element {
		o := goodOpts()
		o.signAssertion, o.signResponse = false, true
		return parseDoc(t, o.response(t))
	}
	assertionSigned := func(t *testing.T) *etree.Element {
		return parseDoc(t, goodOpts().response(t))
	}
	build := func(edit func(*respOpts)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			o := goodOpts()
			edit(&o)
			return o.response(t)
		}
	}
	type hostile struct {
		name   string
		config func(map[string]string)
		raw    func(t *testing.T) []byte
		params func(t *testing.T) url.Values // instead of raw
	}
	cases := []hostile{
		// Signature wrapping (Somorovsky et al., "On Breaking SAML", XSW1-8).
		{name: "XSW1 signed response copied into its Signature, evil response outside", raw: func(t *testing.T) []byte {
			orig := respSigned(t)
			evil := orig.Copy()
			evil.CreateAttr("ID", "_evilresponse")
			replaceChild(evil, evil.SelectElement("Assertion"), evilAssertion(t))
			signatureOf(evil).AddChild(withoutSignature(orig))
			return docBytes(t, evil)
		}},
		{name: "XSW2 signed response as a sibling of the Signature, evil response outside", raw: func(t *testing.T) []byte {
			orig := respSigned(t)
			evil := orig.Copy()
			evil.CreateAttr("ID", "_evilresponse")
			replaceChild(evil, evil.SelectElement("Assertion"), evilAssertion(t))
			evil.InsertChildAt(signatureOf(evil).Index(), withoutSignature(orig))
			return docBytes(t, evil)
		}},
		{name: "XSW3 evil assertion before the signed one", raw: func(t *testing.T) []byte {
			r := assertionSigned(t)
			r.InsertChildAt(r.SelectElement("Assertion").Index(), evilAssertion(t))
			return docBytes(t, r)
		}},
		{name: "XSW3 evil assertion with the signed one's ID before it", raw: func(t *testing.T) []byte {
			r := assertionSigned(t)
			evil := evilAssertion(t)
			evil.CreateAttr("ID", goodOpts().assertionID)
			r.InsertChildAt(r.SelectElement("Assertion").Index(), evil)
			return docBytes(t, r)
		}},
		{name: "XSW4 signed assertion inside the evil one", raw: func(t *testing.T) []byte {
			r := assertionSigned(t)
			orig := r.SelectElement("Assertion")
			evil := evilAssertion(t)
			evil.AddChild(orig.Copy())
			replaceChild(r, orig, evil)
			return docBytes(t, r)
		}},
		{name: "XSW5 evil assertion carries the signature, original appended", raw: func(t *testing.T) []byte {
			r := assertionSigned(t)
			orig := r.SelectElement("Assertion")
			evil := evilAssertion(t)
			evil.InsertChildAt(1, signatureOf(orig).Copy())
			replaceChild(r, orig, evil)
			r.AddChild(withoutSignature(orig))
			return docBytes(t, r)
		}},
		{name: "XSW6 original assertion inside the evil one's copied Signature", raw: func(t *testing.T) []byte {
			r := assertionSigned(t)
			orig := r.SelectElement("Assertion")
			evil := evilAssertion(t)
			sig := signatureOf(orig).Copy()
			sig.AddChild(withoutSignature(orig))
			evil.InsertChildAt(1, sig)
			replaceChild(r, orig, evil)
			return docBytes(t, r)
		}},
		{name: "XSW7 signed assertion in Extensions, evil assertion in its place", raw: func(t *testing.T) []byte {
			r := assertionSigned(t)
			orig := r.SelectElement("Assertion")
			ext := etree.NewElement("samlp:Extensions")
			ext.AddChild(orig.Copy())
			r.InsertChildAt(r.SelectElement("Status").Index(), ext)
			replaceChild(r, orig, evilAssertion(t))
			return docBytes(t, r)
		}},
		{name: "XSW8 original assertion in an Object of the evil one's Signature", raw: func(t *testing.T) []byte {
			r := assertionSigned(t)
			orig := r.SelectElement("Assertion")
			evil := evilAssertion(t)
			sig := signatureOf(orig).Copy()
			obj := sig.CreateElement("ds:Object")
			obj.AddChild(withoutSignature(orig))
			evil.InsertChildAt(1, sig)
			replaceChild(r, orig, evil)
			return docBytes(t, r)
		}},
		{name: "signed assertion moved into Extensions, none in its place", raw: func(t *testing.T) []byte {
			r := assertionSigned(t)
			orig := r.SelectElement("Assertion")
			ext := etree.NewElement("samlp:Extensions")
			r.RemoveChild(orig)
			ext.AddChild(orig)
			r.InsertChildAt(r.SelectElement("Status").Index(), ext)
			return docBytes(t, r)
		}},

		// CVE-2022-41912: several assertions.
		{name: "two signed assertions in a signed response", raw: func(t *testing.T) []byte {
			o := goodOpts()
			o.signResponse = true
			second := goodOpts()
			second.nameID, second.assertionID = "admin", "_second"
			return docBytes(t, o.responseEl(t, o.assertionEl(t), second.assertionEl(t)))
		}},
		{name: "unsigned evil assertion after a signed one", raw: func(t *testing.T) []byte {
			o := goodOpts()
			return docBytes(t, o.responseEl(t, o.assertionEl(t), evilAssertion(t)))
		}},

		// Comments: "admin@corp.example<!---->.evil.example" signs as the
		// whole value and reads as "admin@corp.example" in a naive parser.
		{name: "comment inside NameID", raw: func(t *testing.T) []byte {
			o := goodOpts()
			o.nameID = "admin@corp.example.evil.example"
			r := parseDoc(t, o.response(t))
			n := r.FindElement("./Assertion/Subject/NameID")
			n.SetText("admin@corp.example")
			n.CreateComment("")
			n.CreateText(".evil.example")
			return docBytes(t, r)
		}},

		// Signatures.
		{name: "unsigned", raw: build(func(o *respOpts) { o.signAssertion = false })},
		{name: "signed by an unknown certificate", raw: build(func(o *respOpts) { o.signer = other })},
		{name: "response signed by an unknown certificate, assertion unsigned", raw: build(func(o *respOpts) {
			o.signer, o.signAssertion, o.signResponse = other, false, true
		})},
		{name: "assertion by the IdP, response by an unknown certificate", raw: func(t *testing.T) []byte {
			o := goodOpts()
			el := o.responseEl(t)
			return docBytes(t, signEl(t, other, el))
		}},
		{name: "attribute changed after signing", raw: func(t *testing.T) []byte {
			r := assertionSigned(t)
			for _, a := range r.FindElements("./Assertion/AttributeStatement/Attribute") {
				if a.SelectAttrValue("Name", "") == "memberOf" {
					a.SelectElement("AttributeValue").SetText("sso-stackstate-admins-2")
				}
			}
			return docBytes(t, r)
		}},
		{name: "NameID changed after signing", raw: func(t *testing.T) []byte {
			r := assertionSigned(t)
			r.FindElement("./Assertion/Subject/NameID").SetText("admin")
			return docBytes(t, r)
		}},
		{name: "signature value removed", raw: func(t *testing.T) []byte {
			r := assertionSigned(t)
			sv := r.FindElement("./Assertion/Signature/SignatureValue")
			sv.SetText("")
			return docBytes(t, r)
		}},
		{name: "wantAssertionsSigned, only the response signed", config: func(c map[string]string) { c["wantAssertionsSigned"] = "true" },
			raw: build(func(o *respOpts) { o.signAssertion, o.signResponse = false, true })},
		{name: "wantAssertionsEncrypted, assertion in the clear", config: func(c map[string]string) { c["wantAssertionsEncrypted"] = "true" },
			raw: build(func(o *respOpts) {})},
		{name: "encrypted unsigned assertion in an unsigned response", raw: build(func(o *respOpts) { o.encrypt, o.signAssertion = true, false })},

		// Addressing.
		{name: "wrong Audience", raw: build(func(o *respOpts) { o.audience = "https://other-sp.example" })},
		{name: "no AudienceRestriction", raw: build(func(o *respOpts) { o.noAudience = true })},
		{name: "wrong Issuer", raw: build(func(o *respOpts) { o.issuer = "https://evil.example" })},
		{name: "wrong assertion Issuer", raw: build(func(o *respOpts) { o.assertionIssuer = "https://evil.example" })},
		{name: "no idpEntityId, Response and assertion issuers differ", config: func(c map[string]string) { delete(c, "idpEntityId") },
			raw: build(func(o *respOpts) { o.assertionIssuer = "https://evil.example" })},
		{name: "wrong Destination", raw: build(func(o *respOpts) { o.destination = "https://keygate.example/realms/other/broker/corp-saml/endpoint" })},
		{name: "no Destination", raw: build(func(o *respOpts) { o.destination = "" })},
		{name: "wrong Recipient", raw: build(func(o *respOpts) { o.recipient = "https://other-sp.example/acs" })},
		{name: "wrong InResponseTo", raw: build(func(o *respOpts) { o.inResponseTo = "id-someone-else" })},
		{name: "wrong assertion InResponseTo", raw: build(func(o *respOpts) { o.scdIRT = "id-someone-else" })},
		{name: "unsolicited (IdP-initiated)", raw: build(func(o *respOpts) { o.inResponseTo, o.scdIRT = "", "" })},

		// Time.
		{name: "expired", raw: build(func(o *respOpts) {
			o.notOnOrAfter, o.scdNotOnOrAfter = testNow.Add(-time.Second), testNow.Add(-time.Second)
		})},
		{name: "subject confirmation expired", raw: build(func(o *respOpts) { o.scdNotOnOrAfter = testNow.Add(-time.Second) })},
		{name: "not yet valid", raw: build(func(o *respOpts) { o.notBefore = testNow.Add(20 * time.Second) })},
		{name: "not yet valid beyond the skew", config: func(c map[string]string) { c["allowedClockSkew"] = "10" },
			raw: build(func(o *respOpts) { o.notBefore = testNow.Add(20 * time.Second) })},
		{name: "issued long ago", raw: build(func(o *respOpts) { o.issueInstant = testNow.Add(-10 * time.Minute) })},

		// Status.
		{name: "status Requester with an assertion", raw: func(t *testing.T) []byte {
			o := goodOpts()
			o.status = "urn:oasis:names:tc:SAML:2.0:status:Requester"
			return docBytes(t, o.responseEl(t, o.assertionEl(t)))
		}},

		// XML.
		{name: "DTD", raw: func(t *testing.T) []byte {
			return append([]byte(`<?xml version="1.0"?><!DOCTYPE Response [<!ELEMENT Response ANY>]>`), goodOpts().response(t)...)
		}},
		{name: "external entity", raw: func(t *testing.T) []byte {
			raw := string(goodOpts().response(t))
			raw = strings.Replace(raw, "alice-persistent-7f3a", "&xxe;", 1)
			return []byte(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` + raw)
		}},
		{name: "entity expansion (billion laughs)", raw: func(t *testing.T) []byte {
			var dtd strings.Builder
			dtd.WriteString(`<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">`)
			dtd.WriteString(`<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">`)
			for i := 2; i <= 9; i++ {
				prev := "&lol" + string(rune('0'+i-1)) + ";"
				dtd.WriteString(`<!ENTITY lol` + string(rune('0'+i)) + ` "` + strings.Repeat(prev, 10) + `">`)
			}
			dtd.WriteString(`]>`)
			raw := strings.Replace(string(goodOpts().response(t)), "alice-persistent-7f3a", "&lol9;", 1)
			return []byte(dtd.String() + raw)
		}},
		{name: "processing instruction inside", raw: func(t *testing.T) []byte {
			r := assertionSigned(t)
			r.InsertChildAt(0, etree.NewProcInst("evil", "x"))
			return docBytes(t, r)
		}},
		{name: "not a Response", raw: func(t *testing.T) []byte {
			return []byte(`<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x" Version="2.0" InResponseTo="` + testReqID + `"/>`)
		}},
		{name: "Response in another namespace", raw: func(t *testing.T) []byte {
			return bytes.Replace(goodOpts().response(t), []byte(nsProtocol), []byte("urn:evil"), 1)
		}},
		{name: "deep nesting", raw: func(t *testing.T) []byte {
			return []byte(strings.Repeat("<a>", 5000) + strings.Repeat("</a>", 5000))
		}},
		{name: "not base64", params: func(t *testing.T) url.Values { return url.Values{"SAMLResponse": {"!!!"}} }},
		{name: "no SAMLResponse", params: func(t *testing.T) url.Values { return url.Values{"RelayState": {"rs-1"}} }},
		{name: "two SAMLResponse values", params: func(t *testing.T) url.Values {
			v := base64.StdEncoding.EncodeToString(goodOpts().response(t))
			return url.Values{"SAMLResponse": {v, v}}
		}},
		{name: "artifact", params: func(t *testing.T) url.Values { return url.Values{"SAMLart": {"AAQAAA=="}} }},
		{name: "garbage", params: func(t *testing.T) url.Values {
			return url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte("\x00\x01garbage"))}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestBroker(t, tc.config)
			var params url.Values
			var raw []byte
			if tc.params != nil {
				params = tc.params(t)
			} else {
				raw = tc.raw(t)
				params = form(raw)
			}
			id, err := b.Finish(context.Background(), testRequest(), encodeState(testReqID), params)
			mustRefuse(t, id, err)
			t.Logf("refused: %v", err)
			// The reason is for the log: it never carries the message.
			for _, secret := range []string{"alice-persistent-7f3a", "alice@corp.example", "sso-stackstate-admins", "PHNhbWxw", "<saml"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the refusal carries %q: %v", secret, err)
				}
			}
			// Defence in depth: without keygate's structural checks,
			// crewjam/saml alone never yields the attacker's assertion.
			if raw != nil && b.trust == nil {
				a, _, err := b.parse(testRequest(), []*x509.Certificate{idpKeys.cert}, testIdP, raw, testReqID)
				if err == nil && a.Subject != nil && a.Subject.NameID != nil && a.Subject.NameID.Value == "admin" {
					t.Errorf("crewjam/saml alone accepted the attacker's assertion")
				}
			}
		})
	}
}

// The comment attack, without keygate's own refusal of comments:
// crewjam/saml reads the NameID from what the signature covers, so the
// principal is the whole signed value, never the truncated one.
func TestCommentInNameIDIsNotTruncatedByCrewjam(t *testing.T) {
	b := newTestBroker(t, nil)
	o := goodOpts()
	o.nameID = "admin@corp.example.evil.example"
	r := parseDoc(t, o.response(t))
	n := r.FindElement("./Assertion/Subject/NameID")
	n.SetText("admin@corp.example")
	n.CreateComment("")
	n.CreateText(".evil.example")
	a, _, err := b.parse(testRequest(), []*x509.Certificate{idpKeys.cert}, testIdP, docBytes(t, r), testReqID)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Subject.NameID.Value; got != "admin@corp.example.evil.example" {
		t.Fatalf("NameID read as %q", got)
	}
}

func TestReplayRefused(t *testing.T) {
	b := newTestBroker(t, nil)
	raw := goodOpts().response(t)
	if _, err := b.finish(t, raw); err != nil {
		t.Fatal(err)
	}
	id, err := b.finish(t, raw)
	mustRefuse(t, id, err)
	if !strings.Contains(err.Error(), "replayed") {
		t.Fatalf("not refused as a replay: %v", err)
	}
	// The same assertion in a new (re-signed) Response is the same
	// assertion.
	o := goodOpts()
	o.signResponse = true
	id, err = b.finish(t, o.response(t))
	mustRefuse(t, id, err)
}

func TestHugeResponseRefusedQuickly(t *testing.T) {
	b := newTestBroker(t, nil)
	huge := bytes.Repeat([]byte("<a>x</a>"), (10<<20)/8)
	params := form(huge)
	// The fastest of three: a loaded machine can deschedule one attempt
	// for longer than the bound, but a broker that decoded or parsed the
	// 10 MB would be slow every time.
	fastest := time.Hour
	for range 3 {
		start := time.Now()
		id, err := b.Finish(context.Background(), testRequest(), encodeState(testReqID), params)
		fastest = min(fastest, time.Since(start))
		mustRefuse(t, id, err)
	}
	if fastest > 50*time.Millisecond {
		t.Fatalf("a 10 MB response took %s to refuse (the fastest of 3)", fastest)
	}
	// Just over the bound after decoding, under it in base64 length.
	big := append([]byte("<r>"), bytes.Repeat([]byte("x"), maxMessageSize)...)
	id, err := b.Finish(context.Background(), testRequest(), encodeState(testReqID), form(big))
	mustRefuse(t, id, err)
}

func TestStateMustMatch(t *testing.T) {
	b := newTestBroker(t, nil)
	raw := goodOpts().response(t)
	req := testRequest()
	req.ID = "id-other"
	id, err := b.Finish(context.Background(), req, encodeState(testReqID), form(raw))
	mustRefuse(t, id, err)
	id, err = b.Finish(context.Background(), testRequest(), []byte("{}"), form(raw))
	mustRefuse(t, id, err)
	var _ = federation.ErrBrokerRefused
}
