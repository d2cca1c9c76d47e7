package saml

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/store"
)

// Test fixtures: the realm's key (our SP), the IdP's, and an attacker's.
type keyPair struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

var (
	fixturesOnce           sync.Once
	spKeys, idpKeys, other keyPair
)

func fixtures(t testing.TB) {
	t.Helper()
	fixturesOnce.Do(func() {
		spKeys = newKeyPair("keygate realm")
		idpKeys = newKeyPair("idp.example")
		other = newKeyPair("attacker.example")
	})
}

func newKeyPair(cn string) keyPair {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return keyPair{key: key, cert: cert}
}

func certB64(c *x509.Certificate) string { return base64.StdEncoding.EncodeToString(c.Raw) }

const (
	testRealm    = "https://keygate.example/realms/corp"
	testCallback = testRealm + "/broker/corp-saml/endpoint"
	testIdP      = "https://idp.example/saml/metadata"
	testSSO      = "https://idp.example/saml/sso"
	testSLO      = "https://idp.example/saml/slo"
	testReqID    = "id-4f1c2a9be0d7"
)

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// memReplay is an in-memory Replay func (the store's table across
// replicas is the lead's test).
type memReplay struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (m *memReplay) replay(_ context.Context, id string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]time.Time{}
	}
	if _, ok := m.seen[id]; ok {
		return store.ErrConflict
	}
	m.seen[id] = until
	return nil
}

func baseConfig() map[string]string {
	return map[string]string{
		"idpEntityId":            testIdP,
		"singleSignOnServiceUrl": testSSO,
		"singleLogoutServiceUrl": testSLO,
		"signingCertificate":     certB64(idpKeys.cert),
		"postBindingResponse":    "true",
		"nameIDPolicyFormat":     nameIDPersistent,
	}
}

func identityProvider(t testing.TB, cfg map[string]string) store.IdentityProvider {
	t.Helper()
	rep := map[string]any{"alias": "corp-saml", "providerId": "saml", "enabled": true, "config": cfg}
	raw, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	return store.IdentityProvider{Alias: "corp-saml", ProviderID: "saml", Enabled: true, Config: raw}
}

type testBroker struct {
	*Broker
	replay *memReplay
	now    *time.Time
}

func newTestBroker(t testing.TB, edit func(map[string]string)) *testBroker {
	t.Helper()
	fixtures(t)
	cfg := baseConfig()
	if edit != nil {
		edit(cfg)
	}
	now := testNow
	tb := &testBroker{replay: &memReplay{}, now: &now}
	env := federation.BrokerEnv{
		Logger: slog.New(slog.DiscardHandler),
		Key:    spKeys.key,
		Cert:   spKeys.cert,
		Replay: tb.replay.replay,
		Now:    func() time.Time { return *tb.now },
	}
	b, err := open(context.Background(), env, identityProvider(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	tb.Broker = b
	return tb
}

func testRequest() federation.BrokerRequest {
	return federation.BrokerRequest{ID: testReqID, RelayState: "rs-1", CallbackURL: testCallback, RealmIssuer: testRealm}
}

// respOpts describe a Response the test IdP sends.
type respOpts struct {
	issuer, assertionIssuer string
	destination             string
	inResponseTo, scdIRT    string
	recipient, audience     string
	nameID, nameIDFormat    string
	assertionID             string
	issueInstant            time.Time
	notBefore, notOnOrAfter time.Time
	scdNotOnOrAfter         time.Time
	status                  string
	attrs                   []crewsaml.Attribute
	signAssertion           bool
	signResponse            bool
	signer                  keyPair
	encrypt                 bool
	noAudience              bool
}

func goodOpts() respOpts {
	return respOpts{
		issuer:          testIdP,
		destination:     testCallback,
		inResponseTo:    testReqID,
		recipient:       testCallback,
		audience:        testRealm,
		nameID:          "alice-persistent-7f3a",
		nameIDFormat:    nameIDPersistent,
		assertionID:     "_a1b2c3d4e5f6",
		issueInstant:    testNow.Add(-2 * time.Second),
		notBefore:       testNow.Add(-30 * time.Second),
		notOnOrAfter:    testNow.Add(5 * time.Minute),
		scdNotOnOrAfter: testNow.Add(5 * time.Minute),
		status:          crewsaml.StatusSuccess,
		attrs: []crewsaml.Attribute{
			{Name: "urn:oid:0.9.2342.19200300.100.1.1", FriendlyName: "uid", Values: []crewsaml.AttributeValue{{Type: "xs:string", Value: "alice"}}},
			{Name: "urn:oid:0.9.2342.19200300.100.1.3", FriendlyName: "mail", Values: []crewsaml.AttributeValue{{Type: "xs:string", Value: "alice@corp.example"}}},
			{Name: "givenName", Values: []crewsaml.AttributeValue{{Type: "xs:string", Value: "Alice"}}},
			{Name: "sn", Values: []crewsaml.AttributeValue{{Type: "xs:string", Value: "Liddell"}}},
			{Name: "memberOf", Values: []crewsaml.AttributeValue{{Type: "xs:string", Value: "sso-sre"}, {Type: "xs:string", Value: "sso-stackstate-admins"}}},
		},
		signAssertion: true,
		signer:        idpKeys,
	}
}

func (o respOpts) assertion() *crewsaml.Assertion {
	issuer := o.assertionIssuer
	if issuer == "" {
		issuer = o.issuer
	}
	irt := o.scdIRT
	if irt == "" {
		irt = o.inResponseTo
	}
	a := &crewsaml.Assertion{
		ID:           o.assertionID,
		IssueInstant: o.issueInstant,
		Version:      "2.0",
		Issuer:       crewsaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: issuer},
		Subject: &crewsaml.Subject{
			NameID: &crewsaml.NameID{Format: o.nameIDFormat, Value: o.nameID},
			SubjectConfirmations: []crewsaml.SubjectConfirmation{{
				Method: "urn:oasis:names:tc:SAML:2.0:cm:bearer",
				SubjectConfirmationData: &crewsaml.SubjectConfirmationData{
					InResponseTo: irt,
					NotOnOrAfter: o.scdNotOnOrAfter,
					Recipient:    o.recipient,
				},
			}},
		},
		Conditions: &crewsaml.Conditions{
			NotBefore:    o.notBefore,
			NotOnOrAfter: o.notOnOrAfter,
		},
		AuthnStatements: []crewsaml.AuthnStatement{{
			AuthnInstant: o.issueInstant,
			SessionIndex: "_session-42",
			AuthnContext: crewsaml.AuthnContext{AuthnContextClassRef: &crewsaml.AuthnContextClassRef{Value: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}},
		}},
		AttributeStatements: []crewsaml.AttributeStatement{{Attributes: o.attrs}},
	}
	if !o.noAudience {
		a.Conditions.AudienceRestrictions = []crewsaml.AudienceRestriction{{Audience: crewsaml.Audience{Value: o.audience}}}
	}
	return a
}

// signEl signs el (enveloped) with kp and puts the Signature after its
// Issuer, as SAML's schema orders it.
func signEl(t testing.TB, kp keyPair, el *etree.Element) *etree.Element {
	t.Helper()
	ctx, err := dsig.NewSigningContext(kp.key, [][]byte{kp.cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		t.Fatal(err)
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		t.Fatal(err)
	}
	sig := signed.Child[len(signed.Child)-1]
	signed.RemoveChildAt(len(signed.Child) - 1)
	at := 0
	if iss := signed.SelectElement("Issuer"); iss != nil {
		at = iss.Index() + 1
	}
	signed.InsertChildAt(at, sig)
	return signed
}

func docBytes(t testing.TB, el *etree.Element) []byte {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el)
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertionEl is the (signed, encrypted) assertion element of o.
func (o respOpts) assertionEl(t testing.TB) *etree.Element {
	t.Helper()
	el := o.assertion().Element()
	if o.signAssertion {
		el = signEl(t, o.signer, el)
	}
	if !o.encrypt {
		return el
	}
	enc := xmlenc.OAEP()
	enc.BlockCipher = xmlenc.AES256GCM
	data, err := enc.Encrypt(spKeys.cert, docBytes(t, el), nil)
	if err != nil {
		t.Fatal(err)
	}
	data.CreateAttr("Type", "http://www.w3.org/2001/04/xmlenc#Element")
	ea := etree.NewElement("saml:EncryptedAssertion")
	ea.CreateAttr("xmlns:saml", nsAssertion)
	ea.AddChild(data)
	return ea
}

// responseEl builds the Response element of o around assertions (none:
// o's own).
func (o respOpts) responseEl(t testing.TB, assertions ...*etree.Element) *etree.Element {
	t.Helper()
	r := &crewsaml.Response{
		ID:           "_r" + o.assertionID,
		InResponseTo: o.inResponseTo,
		Version:      "2.0",
		IssueInstant: o.issueInstant,
		Destination:  o.destination,
		Status:       crewsaml.Status{StatusCode: crewsaml.StatusCode{Value: o.status}},
	}
	if o.issuer != "" {
		r.Issuer = &crewsaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: o.issuer}
	}
	el := r.Element()
	if len(assertions) == 0 && o.status == crewsaml.StatusSuccess {
		assertions = []*etree.Element{o.assertionEl(t)}
	}
	for _, a := range assertions {
		el.AddChild(a)
	}
	if o.signResponse {
		el = signEl(t, o.signer, el)
	}
	return el
}

func (o respOpts) response(t testing.TB) []byte {
	t.Helper()
	return docBytes(t, o.responseEl(t))
}

func form(raw []byte) url.Values {
	return url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(raw)}, "RelayState": {"rs-1"}}
}

func (tb *testBroker) finish(t testing.TB, raw []byte) (federation.BrokeredIdentity, error) {
	t.Helper()
	return tb.Finish(context.Background(), testRequest(), encodeState(testReqID), form(raw))
}

func mustRefuse(t *testing.T, id federation.BrokeredIdentity, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted: %+v", id)
	}
	if !errors.Is(err, federation.ErrBrokerRefused) {
		t.Fatalf("error does not wrap ErrBrokerRefused: %v", err)
	}
	if id.UserID != "" || id.NameID != "" || len(id.Attributes) > 0 {
		t.Fatalf("an identity came with the refusal: %+v", id)
	}
}

func (tb *testBroker) zero() federation.BrokeredIdentity { return federation.BrokeredIdentity{} }
