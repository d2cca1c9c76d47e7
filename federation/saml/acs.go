package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/store"
)

// refuse wraps a reason for the log in federation.ErrBrokerRefused. The
// reason never holds the message itself.
func refuse(format string, args ...any) error {
	reason := fmt.Sprintf(format, args...)
	if len(reason) > 300 {
		reason = reason[:300] + "…"
	}
	return fmt.Errorf("%w: %s", federation.ErrBrokerRefused, reason)
}

// refusal turns a crewjam/saml error into a refusal: its
// InvalidResponseError carries the whole message in Response, which must
// not reach a log, so only its PrivateErr is kept.
func refusal(err error) error {
	var ire *crewsaml.InvalidResponseError
	if errors.As(err, &ire) && ire.PrivateErr != nil {
		err = ire.PrivateErr
	}
	var bad crewsaml.ErrBadStatus
	if errors.As(err, &bad) {
		return refuse("status %s", bad.Status)
	}
	return refuse("%v", err)
}

// Finish is the assertion consumer service: it validates the Response in
// params (SAMLResponse, by the POST binding, or by the Redirect binding
// when req.RawQuery carries it) for the AuthnRequest that Start made
// (state), and returns who signed in. Every refusal wraps
// federation.ErrBrokerRefused with the reason.
func (b *Broker) Finish(ctx context.Context, req federation.BrokerRequest, state []byte, params url.Values) (federation.BrokeredIdentity, error) {
	requestID, err := decodeState(state)
	if err != nil {
		return federation.BrokeredIdentity{}, refuse("%v", err)
	}
	if req.ID != "" && req.ID != requestID {
		return federation.BrokeredIdentity{}, refuse("the pending request is not the one the state names")
	}
	if params.Has("SAMLart") {
		return federation.BrokeredIdentity{}, refuse("the artifact binding is not supported")
	}
	raw, _, err := readMessage(params, req.RawQuery, "SAMLResponse")
	if err != nil {
		return federation.BrokeredIdentity{}, refuse("%v", err)
	}
	return b.finish(ctx, req, requestID, raw)
}

// finish validates raw, the decoded Response XML.
func (b *Broker) finish(ctx context.Context, req federation.BrokerRequest, requestID string, raw []byte) (federation.BrokeredIdentity, error) {
	var none federation.BrokeredIdentity
	info, err := inspect(raw)
	if err != nil {
		return none, refuse("%v", err)
	}
	if info.root != "Response" || info.rootNS != nsProtocol {
		return none, refuse("not a SAML Response")
	}
	if info.status != crewsaml.StatusSuccess {
		if info.subStatus != "" {
			return none, refuse("status %s (%s)", info.status, info.subStatus)
		}
		return none, refuse("status %s", info.status)
	}
	// CVE-2022-41912 and every signature-wrapping attack put a second
	// assertion somewhere: keygate reads a Response with exactly one,
	// as a child of the Response.
	if info.assertions != 1 || !info.directAssertion {
		return none, refuse("a Response must hold exactly one assertion, not %d", info.assertions)
	}
	// Destination is required (crewjam/saml lets an unsigned Response
	// leave it out).
	if info.destination != req.CallbackURL {
		return none, refuse("Destination is not this endpoint")
	}
	if info.inResponseTo != requestID {
		return none, refuse("InResponseTo is not the pending request")
	}
	if b.cfg.wantAssertionsEncrypted && !info.encrypted {
		return none, refuse("the assertion is not encrypted (wantAssertionsEncrypted)")
	}
	issuer := b.cfg.idpEntityID
	if issuer == "" {
		// Keycloak checks the issuer only when idpEntityId is set; the
		// Response's and the assertion's must still agree.
		issuer = info.issuer
		if issuer == "" {
			issuer = info.assertionIssuer
		}
		if issuer == "" {
			return none, refuse("no Issuer (set idpEntityId to read encrypted assertions without a Response Issuer)")
		}
	}

	certs, err := b.certs.get(ctx)
	if err != nil {
		return none, fmt.Errorf("saml identity provider %q: %w", b.alias, err)
	}
	parsed := raw
	if b.trust != nil {
		if parsed, err = b.trust.resign(raw); err != nil {
			return none, refuse("%v", err)
		}
		certs = []*x509.Certificate{b.trust.cert}
	}
	assertion, signed, err := b.parse(req, certs, issuer, parsed, requestID)
	if err != nil && b.trust == nil && errors.Is(err, crewsaml.ErrInvalidSignature) && b.certs.refresh(ctx) {
		// The IdP may have rolled its key over: its metadata had a new one.
		if certs, err = b.certs.get(ctx); err != nil {
			return none, fmt.Errorf("saml identity provider %q: %w", b.alias, err)
		}
		assertion, signed, err = b.parse(req, certs, issuer, parsed, requestID)
	}
	if err != nil {
		return none, refusal(err)
	}
	if b.trust == nil {
		if len(signed) == 0 {
			return none, refuse("neither the Response nor the assertion is signed")
		}
		if b.cfg.wantAssertionsSigned && !slices.Contains(signed, "Assertion") {
			return none, refuse("the assertion is not signed (wantAssertionsSigned)")
		}
	}
	if err := b.checkAssertion(req, assertion, issuer, requestID); err != nil {
		return none, err
	}
	if err := b.consume(ctx, issuer, assertion); err != nil {
		return none, err
	}
	return b.identity(assertion, raw)
}

// parse runs crewjam/saml's validation of a Response and reports which
// elements carried a signature that verified.
func (b *Broker) parse(req federation.BrokerRequest, certs []*x509.Certificate, issuer string, raw []byte, requestID string) (*crewsaml.Assertion, []string, error) {
	sp, err := b.serviceProvider(req, certs, issuer)
	if err != nil {
		return nil, nil, err
	}
	rec := &recorder{}
	sp.SignatureVerifier = rec
	a, err := sp.ParseXMLResponse(raw, []string{requestID}, sp.AcsURL)
	if err != nil {
		return nil, nil, err
	}
	return a, rec.signed, nil
}

// recorder verifies XML signatures as crewjam/saml does by default, and
// notes the elements (Response, Assertion) whose signature verified, for
// wantAssertionsSigned. One is made for each message.
type recorder struct {
	signed []string
}

var _ crewsaml.SignedElementVerifier = (*recorder)(nil)

func (r *recorder) VerifySignature(ctx *dsig.ValidationContext, el *etree.Element) error {
	_, err := r.VerifySignedElement(ctx, el)
	return err
}

// VerifySignedElement validates el's enveloped signature against the
// trusted certificates of ctx: the one in KeyInfo when the signature
// names one (it must be trusted), else each trusted one in turn.
func (r *recorder) VerifySignedElement(ctx *dsig.ValidationContext, el *etree.Element) (*etree.Element, error) {
	roots, err := ctx.CertificateStore.Certificates()
	if err != nil {
		return nil, err
	}
	var signed *etree.Element
	if len(roots) == 1 || el.FindElement("./Signature/KeyInfo/X509Data/X509Certificate") != nil {
		signed, err = ctx.Validate(el)
	} else {
		err = errors.New("no trusted certificate")
		for _, cert := range roots {
			one := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
			one.IdAttribute, one.Clock = ctx.IdAttribute, ctx.Clock
			if signed, err = one.Validate(el); err == nil {
				break
			}
		}
	}
	if err != nil {
		return nil, err
	}
	r.signed = append(r.signed, el.Tag)
	return signed, nil
}

// checkAssertion re-checks, on what the signature covers, what keygate
// relies on, with keygate's clock and allowedClockSkew (crewjam/saml
// allows its own, larger, skew).
func (b *Broker) checkAssertion(req federation.BrokerRequest, a *crewsaml.Assertion, issuer, requestID string) error {
	now := b.env.Now()
	skew := b.cfg.clockSkew
	if a.Issuer.Value != issuer {
		return refuse("assertion Issuer is not the identity provider")
	}
	if a.Subject == nil || a.Subject.NameID == nil {
		return refuse("assertion has no NameID")
	}
	if a.Conditions == nil {
		return refuse("assertion has no Conditions")
	}
	if c := a.Conditions; !c.NotBefore.IsZero() && now.Add(skew).Before(c.NotBefore) {
		return refuse("assertion not yet valid")
	} else if !c.NotOnOrAfter.IsZero() && !now.Before(c.NotOnOrAfter.Add(skew)) {
		return refuse("assertion expired")
	}
	audience := b.spEntityID(req)
	if len(a.Conditions.AudienceRestrictions) == 0 {
		return refuse("assertion has no Audience")
	}
	for i := range a.Conditions.AudienceRestrictions {
		ok := false
		for _, aud := range a.Conditions.AudienceRestrictions[i].AllAudiences() {
			ok = ok || aud.Value == audience
		}
		if !ok {
			return refuse("assertion Audience is not this service provider")
		}
	}
	for _, sc := range a.Subject.SubjectConfirmations {
		d := sc.SubjectConfirmationData
		if sc.Method != "urn:oasis:names:tc:SAML:2.0:cm:bearer" || d == nil {
			continue
		}
		if d.Recipient != req.CallbackURL || d.InResponseTo != requestID {
			continue
		}
		if !d.NotBefore.IsZero() && now.Add(skew).Before(d.NotBefore) {
			continue
		}
		if d.NotOnOrAfter.IsZero() || !now.Before(d.NotOnOrAfter.Add(skew)) {
			continue
		}
		return nil
	}
	return refuse("no bearer SubjectConfirmation for this endpoint and request is valid now")
}

// consume records the assertion id in the replay store shared by all
// replicas until the assertion cannot be accepted any more.
func (b *Broker) consume(ctx context.Context, issuer string, a *crewsaml.Assertion) error {
	if a.ID == "" {
		return refuse("assertion has no ID")
	}
	if b.env.Replay == nil {
		return fmt.Errorf("saml identity provider %q: no replay store", b.alias)
	}
	err := b.env.Replay(ctx, ReplayKey(issuer, a.ID), b.acceptableUntil(a))
	if errors.Is(err, store.ErrConflict) {
		return refuse("assertion replayed")
	}
	if err != nil {
		return fmt.Errorf("saml identity provider %q: replay store: %w", b.alias, err)
	}
	return nil
}

// ReplayKey is the id under which an assertion is recorded in the replay
// store: an IdP's assertion ids are unique to it.
func ReplayKey(issuer, assertionID string) string {
	return "saml|" + issuer + "|" + assertionID
}

// acceptableUntil is when nothing would accept the assertion any more: the
// latest of its deadlines (with the larger of the two skews), bounded by
// crewjam/saml's limit on IssueInstant.
func (b *Broker) acceptableUntil(a *crewsaml.Assertion) time.Time {
	skew := max(b.cfg.clockSkew, crewsaml.MaxClockSkew)
	until := a.IssueInstant.Add(crewsaml.MaxIssueDelay)
	if a.Conditions != nil && !a.Conditions.NotOnOrAfter.IsZero() {
		if d := a.Conditions.NotOnOrAfter.Add(skew); d.Before(until) {
			until = d
		}
	}
	if until.Before(b.env.Now()) {
		until = b.env.Now().Add(skew)
	}
	return until
}

// Attribute names that hint at the email and names, as LDAP (urn:oid),
// SimpleSAMLphp, ADFS / Entra ID and Keycloak's own IdP send them. They
// are hints only: mappers decide.
var (
	emailAttributes = []string{"email", "mail", "emailAddress", "urn:oid:0.9.2342.19200300.100.1.3",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"}
	firstNameAttributes = []string{"firstName", "givenName", "urn:oid:2.5.4.42",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"}
	lastNameAttributes = []string{"lastName", "sn", "surname", "urn:oid:2.5.4.4",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"}
)

func (b *Broker) identity(a *crewsaml.Assertion, raw []byte) (federation.BrokeredIdentity, error) {
	attrs := map[string][]string{}
	byName := map[string][]string{}
	byFriendly := map[string][]string{}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			var vals []string
			for _, v := range at.Values {
				if v.Nil {
					continue
				}
				if v.NameID != nil {
					vals = append(vals, v.NameID.Value)
					continue
				}
				vals = append(vals, v.Value)
			}
			if at.Name != "" {
				byName[at.Name] = append(byName[at.Name], vals...)
				attrs[at.Name] = append(attrs[at.Name], vals...)
			}
			if at.FriendlyName != "" && at.FriendlyName != at.Name {
				byFriendly[at.FriendlyName] = append(byFriendly[at.FriendlyName], vals...)
				attrs[at.FriendlyName] = append(attrs[at.FriendlyName], vals...)
			}
		}
	}
	nameID := a.Subject.NameID
	var principal string
	switch b.cfg.principalType {
	case principalAttribute, principalFriendlyAttribute:
		src := byName
		if b.cfg.principalType == principalFriendlyAttribute {
			src = byFriendly
		}
		vals := slices.Compact(slices.Sorted(slices.Values(src[b.cfg.principalAttribute])))
		if len(vals) > 1 {
			return federation.BrokeredIdentity{}, refuse("principal attribute %q has %d values", b.cfg.principalAttribute, len(vals))
		}
		if len(vals) == 1 {
			principal = vals[0]
		}
	default:
		principal = nameID.Value
	}
	if strings.TrimSpace(principal) == "" {
		return federation.BrokeredIdentity{}, refuse("no principal (%s)", b.cfg.principalType)
	}
	id := federation.BrokeredIdentity{
		UserID:       principal,
		Username:     principal,
		Attributes:   attrs,
		NameID:       nameID.Value,
		NameIDFormat: nameID.Format,
	}
	if nameID.Format == nameIDEmail {
		id.Email = nameID.Value
	}
	first := func(names []string) string {
		for _, n := range names {
			for _, v := range attrs[n] {
				if v = strings.TrimSpace(v); v != "" {
					return v
				}
			}
		}
		return ""
	}
	if id.Email == "" {
		id.Email = first(emailAttributes)
	}
	id.FirstName = first(firstNameAttributes)
	id.LastName = first(lastNameAttributes)
	for _, st := range a.AuthnStatements {
		if st.SessionIndex != "" {
			id.SessionIndex = st.SessionIndex
			break
		}
	}
	if b.cfg.storeToken {
		id.Token = string(raw)
	}
	return id, nil
}

// readMessage decodes the SAML message param (SAMLResponse, SAMLRequest)
// of a callback: base64, and inflated when it came by the Redirect
// binding (rawQuery, the URL's query as received, carries it). It bounds
// the size before decoding. redirect reports the binding.
func readMessage(params url.Values, rawQuery, param string) (raw []byte, redirect bool, err error) {
	vals := params[param]
	if len(vals) == 0 || vals[0] == "" {
		return nil, false, fmt.Errorf("no %s", param)
	}
	if len(vals) > 1 {
		return nil, false, fmt.Errorf("%s given more than once", param)
	}
	v := vals[0]
	// base64 of maxMessageSize, with room for the line breaks some IdPs
	// put in (the decoder skips them).
	if limit := base64.StdEncoding.EncodedLen(maxMessageSize) * 80 / 76; len(v) > limit {
		return nil, false, fmt.Errorf("%s larger than %d bytes", param, maxMessageSize)
	}
	if rawQuery != "" {
		if q, qerr := url.ParseQuery(rawQuery); qerr == nil && q.Get(param) != "" {
			redirect = true
		}
	}
	decoded, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, false, fmt.Errorf("%s is not base64", param)
	}
	if !redirect && len(bytes.TrimSpace(decoded)) > 0 && bytes.TrimSpace(decoded)[0] == '<' {
		return decoded, false, nil
	}
	// The Redirect binding deflates; so does a GET whose query the caller
	// passed without RawQuery.
	inflated, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(decoded)), maxMessageSize+1))
	if err != nil {
		return nil, false, fmt.Errorf("%s: not deflated XML", param)
	}
	if len(inflated) > maxMessageSize {
		return nil, false, fmt.Errorf("%s larger than %d bytes", param, maxMessageSize)
	}
	return inflated, true, nil
}

// resign makes an unsigned message readable by crewjam/saml when
// validateSignature is "false" (see resigner): its signatures are removed
// and it is signed with the throwaway key.
func (r *resigner) resign(raw []byte) ([]byte, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, err
	}
	root := doc.Root()
	if root == nil {
		return nil, errNoMessage
	}
	var strip func(el *etree.Element)
	strip = func(el *etree.Element) {
		for _, c := range el.ChildElements() {
			if c.Tag == "Signature" && c.NamespaceURI() == dsig.Namespace {
				el.RemoveChild(c)
				continue
			}
			strip(c)
		}
	}
	strip(root)
	ctx, err := dsig.NewSigningContext(r.key, [][]byte{r.cert.Raw})
	if err != nil {
		return nil, err
	}
	if err := ctx.SetSignatureMethod(dsig.ECDSASHA256SignatureMethod); err != nil {
		return nil, err
	}
	signed, err := ctx.SignEnveloped(root)
	if err != nil {
		return nil, err
	}
	// The Signature must follow the Issuer (saml-core schema order).
	sig := signed.Child[len(signed.Child)-1].(*etree.Element)
	signed.RemoveChildAt(len(signed.Child) - 1)
	at := 0
	if iss := signed.SelectElement("Issuer"); iss != nil {
		at = iss.Index() + 1
	}
	signed.InsertChildAt(at, sig)
	out := etree.NewDocument()
	out.SetRoot(signed)
	return out.WriteToBytes()
}
