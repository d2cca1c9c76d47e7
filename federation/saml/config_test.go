package saml

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestValidateConfig(t *testing.T) {
	fixtures(t)
	cases := []struct {
		key  string
		edit func(map[string]string)
	}{
		{"singleSignOnServiceUrl", func(c map[string]string) { delete(c, "singleSignOnServiceUrl") }},
		{"singleSignOnServiceUrl", func(c map[string]string) { c["singleSignOnServiceUrl"] = "idp.example/sso" }},
		{"singleLogoutServiceUrl", func(c map[string]string) { c["singleLogoutServiceUrl"] = "javascript:alert(1)" }},
		{"validateSignature", func(c map[string]string) { c["validateSignature"] = "no" }},
		{"wantAssertionsSigned", func(c map[string]string) { c["wantAssertionsSigned"] = "1" }},
		{"signingCertificate", func(c map[string]string) { c["signingCertificate"] = "bm90IGEgY2VydA==" }},
		{"signingCertificate", func(c map[string]string) { delete(c, "signingCertificate") }},
		{"principalType", func(c map[string]string) { c["principalType"] = "EMAIL" }},
		{"principalAttribute", func(c map[string]string) { c["principalType"] = "ATTRIBUTE" }},
		{"nameIDPolicyFormat", func(c map[string]string) { c["nameIDPolicyFormat"] = nameIDTransient }},
		{"nameIDPolicyFormat", func(c map[string]string) { c["nameIDPolicyFormat"] = "persistent" }},
		{"signatureAlgorithm", func(c map[string]string) { c["signatureAlgorithm"] = "HS256" }},
		{"allowedClockSkew", func(c map[string]string) { c["allowedClockSkew"] = "-1" }},
		{"allowedClockSkew", func(c map[string]string) { c["allowedClockSkew"] = "3600" }},
		{"authnContextComparisonType", func(c map[string]string) { c["authnContextComparisonType"] = "best" }},
		{"authnContextClassRefs", func(c map[string]string) { c["authnContextClassRefs"] = "urn:x" }},
		{"attributeConsumingServiceIndex", func(c map[string]string) { c["attributeConsumingServiceIndex"] = "x" }},
		{"metadataDescriptorUrl", func(c map[string]string) { c["useMetadataDescriptorUrl"] = "true" }},
		{"xmlSigKeyInfoKeyNameTransformer", func(c map[string]string) { c["xmlSigKeyInfoKeyNameTransformer"] = "X" }},
		{"syncMode", func(c map[string]string) { c["syncMode"] = "ALWAYS" }},
	}
	for _, tc := range cases {
		c := baseConfig()
		tc.edit(c)
		err := ValidateConfig(c)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Key != tc.key {
			t.Errorf("%v: got %v, want a ValidationError on %s", c, err, tc.key)
		}
	}
	// Keycloak's B.7 example, with every key, is valid.
	c := baseConfig()
	for k, v := range map[string]string{
		"entityId": testRealm, "metadataDescriptorUrl": "https://idp.example/saml/metadata", "useMetadataDescriptorUrl": "false",
		"principalType": "ATTRIBUTE", "principalAttribute": "uid", "postBindingAuthnRequest": "true", "postBindingLogout": "true",
		"wantAuthnRequestsSigned": "true", "signatureAlgorithm": "RSA_SHA256", "xmlSigKeyInfoKeyNameTransformer": "KEY_ID",
		"validateSignature": "true", "wantAssertionsSigned": "true", "wantAssertionsEncrypted": "false", "forceAuthn": "false",
		"allowCreate": "true", "allowedClockSkew": "30", "syncMode": "FORCE", "guiOrder": "1",
		"authnContextClassRefs": `["urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"]`, "authnContextComparisonType": "minimum",
	} {
		c[k] = v
	}
	if err := ValidateConfig(c); err != nil {
		t.Fatal(err)
	}
	// Two certificates, PEM and base64 with line breaks.
	pem := "-----BEGIN CERTIFICATE-----\n" + certB64(other.cert) + "\n-----END CERTIFICATE-----"
	c["signingCertificate"] = pem + "," + certB64(idpKeys.cert)[:40] + "\n" + certB64(idpKeys.cert)[40:]
	cfg, err := parseConfig(c)
	if err != nil || len(cfg.signingCerts) != 2 {
		t.Fatalf("%v %v", cfg, err)
	}
}

func TestDefaults(t *testing.T) {
	fixtures(t)
	cfg, err := parseConfig(map[string]string{"singleSignOnServiceUrl": testSSO, "signingCertificate": certB64(idpKeys.cert), "postBindingResponse": "true"})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.validateSignature || cfg.principalType != principalSubject || cfg.nameIDPolicyFormat != nameIDPersistent ||
		!cfg.postBindingLogout || cfg.postBindingAuthnRequest || cfg.wantAuthnRequestsSigned || cfg.allowCreate ||
		cfg.clockSkew != 0 || cfg.signatureAlgorithm != "RSA_SHA256" || cfg.authnContextComparison != "exact" {
		t.Fatalf("defaults %+v", cfg)
	}
}

func TestUnimplemented(t *testing.T) {
	fixtures(t)
	c := baseConfig()
	c["artifactBindingResponse"] = "true"
	c["xmlSigKeyInfoKeyNameTransformer"] = "KEY_ID"
	c["signatureAlgorithm"] = "RSA_SHA256_MGF1"
	c["backchannelSupported"] = "true"
	c["authnContextDeclRefs"] = `["urn:decl"]`
	c["someFutureKey"] = "x"
	c["guiOrder"] = "2"
	got := Unimplemented(identityProvider(t, c))
	want := []string{"artifactBindingResponse", "authnContextDeclRefs", "backchannelSupported", "signatureAlgorithm", "someFutureKey (unknown key)", "xmlSigKeyInfoKeyNameTransformer"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v", got)
	}
	if got := Unimplemented(identityProvider(t, baseConfig())); len(got) != 0 {
		t.Fatalf("a plain config: %v", got)
	}
}

func TestStartPostBinding(t *testing.T) {
	b := newTestBroker(t, func(c map[string]string) {
		c["postBindingAuthnRequest"], c["wantAuthnRequestsSigned"], c["allowCreate"] = "true", "true", "true"
		c["authnContextClassRefs"] = `["urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"]`
		c["loginHint"] = "true"
	})
	req := testRequest()
	req.ForceAuthn, req.LoginHint = true, "alice@corp.example"
	start, err := b.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if start.PostURL != testSSO || start.PostForm["RelayState"] != "rs-1" || start.RedirectURL != "" {
		t.Fatalf("%+v", start)
	}
	raw, _ := base64.StdEncoding.DecodeString(start.PostForm["SAMLRequest"])
	xml := string(raw)
	for _, want := range []string{`ID="` + testReqID + `"`, `AssertionConsumerServiceURL="` + testCallback + `"`, `Destination="` + testSSO + `"`,
		`>` + testRealm + `</saml:Issuer>`, `Format="` + nameIDPersistent + `"`, `AllowCreate="true"`, `ForceAuthn="true"`,
		`ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"`, "SignatureValue", "rsa-sha256",
		"PasswordProtectedTransport", "alice@corp.example"} {
		if !strings.Contains(xml, want) {
			t.Errorf("%q not in %s", want, xml)
		}
	}
	if id, _ := decodeState(start.State); id != testReqID {
		t.Fatal(id)
	}
	// The entityId setting wins over the realm issuer.
	b = newTestBroker(t, func(c map[string]string) { c["entityId"] = "urn:keygate:sp"; c["postBindingAuthnRequest"] = "true" })
	start, _ = b.Start(context.Background(), testRequest())
	raw, _ = base64.StdEncoding.DecodeString(start.PostForm["SAMLRequest"])
	if !strings.Contains(string(raw), ">urn:keygate:sp</saml:Issuer>") || strings.Contains(string(raw), "SignatureValue") {
		t.Fatalf("%s", raw)
	}
}

func TestSPMetadata(t *testing.T) {
	b := newTestBroker(t, func(c map[string]string) { c["wantAuthnRequestsSigned"], c["wantAssertionsSigned"] = "true", "true" })
	md, err := b.Metadata(context.Background(), testRequest())
	if err != nil {
		t.Fatal(err)
	}
	s := string(md)
	for _, want := range []string{`entityID="` + testRealm + `"`, `AuthnRequestsSigned="true"`, `WantAssertionsSigned="true"`,
		`Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="` + testCallback + `"`,
		`Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="` + testCallback + `"`,
		"SingleLogoutService", `use="signing"`, certB64(spKeys.cert), nameIDPersistent} {
		if !strings.Contains(s, want) {
			t.Errorf("%q not in %s", want, s)
		}
	}
	if strings.Contains(s, `use="encryption"`) {
		t.Error("encryption key published without wantAssertionsEncrypted")
	}
	// The metadata round-trips through the import parser of an SP? It is
	// an SP descriptor: ParseIdPMetadata refuses it.
	if _, err := ParseIdPMetadata(md); err == nil {
		t.Error("an SP descriptor read as an IdP")
	}
	b = newTestBroker(t, func(c map[string]string) { c["wantAssertionsEncrypted"], c["signSpMetadata"] = "true", "true" })
	md, err = b.Metadata(context.Background(), testRequest())
	if err != nil {
		t.Fatal(err)
	}
	if s := string(md); !strings.Contains(s, `use="encryption"`) || !strings.Contains(s, "SignatureValue") {
		t.Fatalf("%s", md)
	}
}

const idpMetadataXML = `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example/saml/metadata">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>
CERT1
    </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>CERT2</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/saml/slo"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/saml/sso-redirect"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example/saml/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`

func idpMetadata(cert1, cert2 string) []byte {
	return []byte(strings.NewReplacer("CERT1", cert1, "CERT2", cert2).Replace(idpMetadataXML))
}

func TestParseIdPMetadata(t *testing.T) {
	fixtures(t)
	m, err := ParseIdPMetadata(idpMetadata(certB64(idpKeys.cert), certB64(other.cert)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"idpEntityId": testIdP, "singleSignOnServiceUrl": testSSO, "singleLogoutServiceUrl": testSLO,
		"postBindingResponse": "true", "postBindingAuthnRequest": "true", "postBindingLogout": "false",
		"wantAuthnRequestsSigned": "true", "validateSignature": "true", "nameIDPolicyFormat": nameIDEmail,
		"signingCertificate": certB64(idpKeys.cert) + "," + certB64(other.cert), "enabledFromMetadata": "true",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	// What it returns opens.
	m["principalType"] = "SUBJECT"
	if err := ValidateConfig(m); err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string]string{
		"DTD":  `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>` + idpMetadataXML[strings.Index(idpMetadataXML, "<md:"):],
		"huge": "<x>" + strings.Repeat(" ", maxMetadataSize) + "</x>",
		"junk": "not xml",
	} {
		if _, err := ParseIdPMetadata([]byte(doc)); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// useMetadataDescriptorUrl: the certificates come from the IdP's
// metadata, fetched on first need, and again when a signature fails
// (key rollover).
func TestMetadataDescriptorURL(t *testing.T) {
	fixtures(t)
	var current atomic.Value
	current.Store(certB64(other.cert))
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		_, _ = w.Write(idpMetadata(current.Load().(string), current.Load().(string)))
	}))
	defer srv.Close()
	b := newTestBroker(t, func(c map[string]string) {
		delete(c, "signingCertificate")
		c["metadataDescriptorUrl"], c["useMetadataDescriptorUrl"] = srv.URL, "true"
	})
	b.env.HTTP = srv.Client()
	b.certs.client = srv.Client()
	if fetches.Load() != 0 {
		t.Fatal("fetched at open")
	}
	// The IdP signs with a key its metadata does not name: refused; the
	// metadata was fetched a moment ago, so not again.
	_, err := b.finish(t, goodOpts().response(t))
	mustRefuse(t, b.zero(), err)
	if fetches.Load() != 1 {
		t.Fatalf("%d fetches", fetches.Load())
	}
	// Rolled over: two minutes later the cached key fails, the metadata
	// is fetched again and the new key accepted.
	current.Store(certB64(idpKeys.cert))
	*b.now = b.now.Add(2 * time.Minute)
	o := goodOpts()
	o.issueInstant, o.notBefore = *b.now, b.now.Add(-time.Second)
	o.notOnOrAfter, o.scdNotOnOrAfter = b.now.Add(time.Minute), b.now.Add(time.Minute)
	if _, err := b.finish(t, o.response(t)); err != nil {
		t.Fatal(err)
	}
	if fetches.Load() != 2 {
		t.Fatalf("%d fetches", fetches.Load())
	}
}

// TestSPMetadataBuiltOnce: a signed descriptor costs an RSA signature, so
// unauthenticated GETs get the document built for their issuer and
// callback; another callback gets its own, and the kept set is bounded.
func TestSPMetadataBuiltOnce(t *testing.T) {
	b := newTestBroker(t, func(c map[string]string) { c["signSpMetadata"] = "true" })
	first, err := b.Metadata(context.Background(), testRequest())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		again, err := b.Metadata(context.Background(), testRequest())
		if err != nil || !bytes.Equal(again, first) {
			t.Fatalf("metadata changed between GETs (%v)", err)
		}
	}
	if b.mdBuilt != 1 {
		t.Fatalf("built %d times for one issuer and callback", b.mdBuilt)
	}
	other := testRequest()
	other.CallbackURL = "https://other.example/realms/r/broker/idp/endpoint"
	md, err := b.Metadata(context.Background(), other)
	if err != nil || !strings.Contains(string(md), other.CallbackURL) || b.mdBuilt != 2 {
		t.Fatalf("another callback: built %d, err %v", b.mdBuilt, err)
	}
	for i := range 3 * maxCachedMetadata {
		req := testRequest()
		req.CallbackURL = fmt.Sprintf("https://h%d.example/realms/r/broker/idp/endpoint", i)
		if _, err := b.Metadata(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	if len(b.md) > maxCachedMetadata {
		t.Fatalf("%d documents kept", len(b.md))
	}
}
