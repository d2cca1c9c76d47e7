package saml

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// xmlShape is the oracle's own reading of a document, with the
// standard decoder's Token (which checks that tags match): whether it
// holds a directive (a DTD), how deep it nests, and whether it is well
// formed at all.
func xmlShape(doc []byte) (directive bool, depth int, ok bool) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	cur := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return directive, depth, true
		}
		if err != nil {
			return directive, depth, false
		}
		switch tok.(type) {
		case xml.Directive:
			directive = true
		case xml.StartElement:
			cur++
			depth = max(depth, cur)
		case xml.EndElement:
			cur--
		}
	}
}

// FuzzParseIdPMetadata: IdP metadata (import-config, or fetched from the
// metadata URL) never panics; a document with a DTD, nested deeper than
// maxDepth, or larger than maxMetadataSize is refused; what is accepted
// names an SSO binding of POST or Redirect, and its signing certificates
// are comma-separated base64 without blanks.
func FuzzParseIdPMetadata(f *testing.F) {
	fixtures(f)
	good := idpMetadata(certB64(idpKeys.cert), certB64(other.cert))
	f.Add(good)
	f.Add(idpMetadata(certB64(idpKeys.cert), "A,B"))
	f.Add(idpMetadata("", ""))
	body := string(good[bytes.Index(good, []byte("<md:EntityDescriptor")):])
	f.Add([]byte(`<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" validUntil="2001-01-01T00:00:00Z">` + body + `</md:EntitiesDescriptor>`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>` + body))
	f.Add([]byte(`<?xml-stylesheet href="x"?>` + body))
	f.Add([]byte(body + `<x/>`))
	f.Add([]byte(`<md:EntityDescriptor></a></a>` + strings.Repeat("<a>", 70) + strings.Repeat("</a>", 70) + `</md:EntityDescriptor>`))
	f.Add([]byte(strings.Repeat("<EntitiesDescriptor>", 70) + strings.Repeat("</EntitiesDescriptor>", 70)))
	f.Add([]byte("not xml"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		m, err := ParseIdPMetadata(doc)
		if err != nil {
			return
		}
		if len(doc) > maxMetadataSize {
			t.Fatalf("a document of %d bytes accepted", len(doc))
		}
		if directive, depth, ok := xmlShape(doc); directive || (ok && depth > maxDepth) {
			t.Fatalf("%q accepted: directive %v, depth %d", doc, directive, depth)
		}
		for _, k := range []string{keyPostBindingResponse, keyPostBindingAuthnRequest, keyPostBindingLogout, keyWantAuthnRequestsSigned,
			keyValidateSignature, keyEnabledFromMetadata} {
			if v := m[k]; v != "true" && v != "false" {
				t.Fatalf("%s = %q", k, v)
			}
		}
		if certs, ok := m[keySigningCertificate]; ok {
			if m[keyValidateSignature] != "true" {
				t.Fatalf("signing certificates %q, but validateSignature %s", certs, m[keyValidateSignature])
			}
			for _, c := range strings.Split(certs, ",") {
				if c == "" || strings.ContainsAny(c, " \t\r\n") {
					t.Fatalf("signingCertificate %q: a blank or empty certificate", certs)
				}
			}
		} else if m[keyValidateSignature] != "false" {
			t.Fatalf("no signing certificate, but validateSignature %s", m[keyValidateSignature])
		}
	})
}

// FuzzParseCertificates: signingCertificate (an administrator's paste, or
// metadata's) yields one RSA or EC certificate per non-empty
// comma-separated part, each the DER the part holds, or an error.
func FuzzParseCertificates(f *testing.F) {
	fixtures(f)
	b64 := certB64(idpKeys.cert)
	pemCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: idpKeys.cert.Raw}))
	for _, s := range []string{b64, b64 + "," + certB64(other.cert), " " + b64[:40] + "\n " + b64[40:] + " ,", pemCert, pemCert + "," + b64,
		"", ",", "not base64", "QUJD", b64[:len(b64)-4], "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		certs, err := ParseCertificates(v)
		if err != nil {
			return
		}
		var parts []string
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		if len(certs) != len(parts) || len(certs) == 0 {
			t.Fatalf("%q: %d certificates from %d parts", v, len(certs), len(parts))
		}
		for i, c := range certs {
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(parts[i]), ""))
			if block, _ := pem.Decode([]byte(parts[i])); block != nil {
				der, err = block.Bytes, nil
			}
			if err != nil || !bytes.Equal(der, c.Raw) {
				t.Fatalf("%q: certificate %d is not the part's DER", v, i+1)
			}
		}
	})
}

// Empty X509Certificate elements made signingCertificate "," (and
// validateSignature true with no key to validate with, so that the
// imported config did not open); they are skipped now.
func TestParseIdPMetadataSkipsEmptyCertificates(t *testing.T) {
	fixtures(t)
	m, err := ParseIdPMetadata(idpMetadata("", "  \n "))
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := m[keySigningCertificate]; ok || m[keyValidateSignature] != "false" {
		t.Errorf("signingCertificate %q (%v), validateSignature %s", c, ok, m[keyValidateSignature])
	}
	m, err = ParseIdPMetadata(idpMetadata("", certB64(other.cert)))
	if err != nil {
		t.Fatal(err)
	}
	if m[keySigningCertificate] != certB64(other.cert) {
		t.Errorf("signingCertificate %q", m[keySigningCertificate])
	}
}
