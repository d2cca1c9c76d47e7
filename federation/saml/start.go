package saml

import (
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"

	"github.com/keygate/keygate/federation"
)

// Start makes the AuthnRequest of a login: ID req.ID, Issuer our entity
// id, AssertionConsumerServiceURL the callback, with nameIDPolicyFormat,
// allowCreate, forceAuthn (or req.ForceAuthn), the requested
// authentication context and, with loginHint, the login hint as Subject;
// sent by the Redirect binding, or the POST binding with
// postBindingAuthnRequest, and signed with the realm key when
// wantAuthnRequestsSigned (the query string for Redirect, an enveloped
// signature for POST). The state to keep is the request id.
func (b *Broker) Start(_ context.Context, req federation.BrokerRequest) (federation.BrokerStart, error) {
	if req.ID == "" {
		return federation.BrokerStart{}, errors.New("saml: a login needs a request id")
	}
	sp, err := b.serviceProvider(req, nil, b.cfg.idpEntityID)
	if err != nil {
		return federation.BrokerStart{}, err
	}
	signMethod := sp.SignatureMethod
	sp.SignatureMethod = "" // sign below, once the request is complete
	resultBinding := crewsaml.HTTPRedirectBinding
	if b.cfg.postBindingResponse {
		resultBinding = crewsaml.HTTPPostBinding
	}
	ar, err := sp.MakeAuthenticationRequest(b.cfg.ssoURL, crewsaml.HTTPRedirectBinding, resultBinding)
	if err != nil {
		return federation.BrokerStart{}, err
	}
	ar.ID = req.ID
	format := b.cfg.nameIDPolicyFormat
	allowCreate := b.cfg.allowCreate
	ar.NameIDPolicy = &crewsaml.NameIDPolicy{Format: &format, AllowCreate: &allowCreate}
	if b.cfg.forceAuthn || req.ForceAuthn {
		t := true
		ar.ForceAuthn = &t
	} else {
		ar.ForceAuthn = nil
	}
	if len(b.cfg.authnContextClassRefs) > 0 {
		ar.RequestedAuthnContext = &crewsaml.RequestedAuthnContext{
			Comparison:            b.cfg.authnContextComparison,
			AuthnContextClassRefs: b.cfg.authnContextClassRefs,
		}
	}
	if b.cfg.attributeConsumingIndex != nil {
		ar.AttributeConsumingServiceIndex = fmt.Sprint(*b.cfg.attributeConsumingIndex)
	}
	if b.cfg.loginHint && req.LoginHint != "" {
		ar.Subject = &crewsaml.Subject{NameID: &crewsaml.NameID{Value: req.LoginHint, Format: format}}
	}
	start := federation.BrokerStart{State: encodeState(req.ID)}

	if b.cfg.postBindingAuthnRequest {
		if signMethod != "" {
			sp.SignatureMethod = signMethod
			if err := sp.SignAuthnRequest(ar); err != nil {
				return federation.BrokerStart{}, fmt.Errorf("saml: signing the AuthnRequest: %w", err)
			}
		}
		msg, err := elementBytes(ar.Element())
		if err != nil {
			return federation.BrokerStart{}, err
		}
		start.PostURL = b.cfg.ssoURL
		start.PostForm = map[string]string{"SAMLRequest": base64.StdEncoding.EncodeToString(msg)}
		if req.RelayState != "" {
			start.PostForm["RelayState"] = req.RelayState
		}
		return start, nil
	}
	if signMethod == "" {
		// Unsigned: the same URL crewjam builds, without its fresh level-9
		// compressor per request (a large buffer allocated and cleared each
		// time: most of this endpoint's CPU).
		u, err := unsignedRedirect(b.cfg.ssoURL, ar.Element(), req.RelayState)
		if err != nil {
			return federation.BrokerStart{}, fmt.Errorf("saml: the AuthnRequest redirect: %w", err)
		}
		start.RedirectURL = u
		return start, nil
	}
	sp.SignatureMethod = signMethod
	u, err := ar.Redirect(req.RelayState, sp)
	if err != nil {
		return federation.BrokerStart{}, fmt.Errorf("saml: the AuthnRequest redirect: %w", err)
	}
	start.RedirectURL = u.String()
	return start, nil
}

var deflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(io.Discard, flate.DefaultCompression)
	return w
}}

// unsignedRedirect is destination with the HTTP-Redirect binding's
// SAMLRequest (deflated, base64) and RelayState appended
// (saml-bindings-2.0-os §3.4.4.1).
func unsignedRedirect(destination string, el *etree.Element, relayState string) (string, error) {
	u, err := url.Parse(destination)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	enc := base64.NewEncoder(base64.StdEncoding, &b)
	w := deflaters.Get().(*flate.Writer)
	defer deflaters.Put(w)
	w.Reset(enc)
	doc := etree.NewDocument()
	doc.SetRoot(el)
	if _, err := doc.WriteTo(w); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	q := "SAMLRequest=" + url.QueryEscape(b.String())
	if relayState != "" {
		q += "&RelayState=" + url.QueryEscape(relayState)
	}
	if u.RawQuery != "" {
		q = u.RawQuery + "&" + q
	}
	u.RawQuery = q
	return u.String(), nil
}

func elementBytes(el *etree.Element) ([]byte, error) {
	doc := etree.NewDocument()
	doc.SetRoot(el)
	return doc.WriteToBytes()
}

// Metadata is the SP descriptor keygate publishes at
// /broker/{alias}/endpoint/descriptor, shaped as Keycloak's: our entity
// id, the endpoint as AssertionConsumerService (POST, then Redirect) and
// SingleLogoutService (POST and Redirect), the realm certificate for
// signing (and for encryption when wantAssertionsEncrypted),
// AuthnRequestsSigned and WantAssertionsSigned as configured and the
// NameID format; signed with signSpMetadata.
//
// The document depends only on the configuration, the realm key (a change
// of either opens a new Broker) and the request's issuer and callback, so
// it is built once per issuer and callback: a signed one costs an RSA
// signature, which an unauthenticated GET must not buy each time. At most
// maxCachedMetadata are kept (the issuer follows the Host header when no
// frontend URL is set); beyond that each is built and not kept.
func (b *Broker) Metadata(_ context.Context, req federation.BrokerRequest) ([]byte, error) {
	key := req.RealmIssuer + "\x00" + req.CallbackURL
	b.mdMu.Lock()
	doc, ok := b.md[key]
	b.mdMu.Unlock()
	if ok {
		return doc, nil
	}
	doc, err := b.buildMetadata(req)
	if err != nil {
		return nil, err
	}
	b.mdMu.Lock()
	defer b.mdMu.Unlock()
	b.mdBuilt++
	if len(b.md) < maxCachedMetadata {
		if b.md == nil {
			b.md = map[string][]byte{}
		}
		b.md[key] = doc
	}
	return doc, nil
}

const maxCachedMetadata = 16

func (b *Broker) buildMetadata(req federation.BrokerRequest) ([]byte, error) {
	sp, err := b.serviceProvider(req, nil, b.cfg.idpEntityID)
	if err != nil {
		return nil, err
	}
	ed := sp.Metadata()
	sso := &ed.SPSSODescriptors[0]
	keys := sso.KeyDescriptors[:0]
	for _, k := range sso.KeyDescriptors {
		if k.Use == "encryption" && !b.cfg.wantAssertionsEncrypted {
			continue
		}
		keys = append(keys, k)
	}
	sso.KeyDescriptors = keys
	authnSigned, assertionsSigned := b.cfg.wantAuthnRequestsSigned, b.cfg.wantAssertionsSigned
	sso.AuthnRequestsSigned = &authnSigned
	sso.WantAssertionsSigned = &assertionsSigned
	sso.NameIDFormats = []crewsaml.NameIDFormat{crewsaml.NameIDFormat(b.cfg.nameIDPolicyFormat)}
	if !b.cfg.postBindingResponse {
		// The binding the AuthnRequest asks for comes first.
		acs := sso.AssertionConsumerServices
		acs[0].Binding, acs[1].Binding = acs[1].Binding, acs[0].Binding
	}
	if b.cfg.attributeConsumingName != "" {
		index := 0
		if b.cfg.attributeConsumingIndex != nil {
			index = *b.cfg.attributeConsumingIndex
		}
		yes := true
		sso.AttributeConsumingServices = []crewsaml.AttributeConsumingService{{
			Index:        index,
			IsDefault:    &yes,
			ServiceNames: []crewsaml.LocalizedName{{Lang: "en", Value: b.cfg.attributeConsumingName}},
		}}
	}
	if !b.cfg.signSpMetadata {
		out, err := xml.MarshalIndent(ed, "", "  ")
		if err != nil {
			return nil, err
		}
		return append([]byte(xml.Header), out...), nil
	}
	sum := sha256.Sum256([]byte(ed.EntityID))
	ed.ID = "_" + hex.EncodeToString(sum[:16])
	out, err := xml.Marshal(ed)
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(out); err != nil {
		return nil, err
	}
	sp.SignatureMethod = b.sigMethod
	signer, err := crewsaml.GetSigningContext(sp)
	if err != nil {
		return nil, err
	}
	signed, err := signer.SignEnveloped(doc.Root())
	if err != nil {
		return nil, fmt.Errorf("saml: signing the metadata: %w", err)
	}
	// The Signature is the first child of EntityDescriptor.
	sig := signed.Child[len(signed.Child)-1]
	signed.RemoveChildAt(len(signed.Child) - 1)
	signed.InsertChildAt(0, sig)
	return elementBytesWithHeader(signed)
}

func elementBytesWithHeader(el *etree.Element) ([]byte, error) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	doc.SetRoot(el)
	return doc.WriteToBytes()
}
