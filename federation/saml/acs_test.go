package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	crewsaml "github.com/crewjam/saml"
)

func TestFinishAccepts(t *testing.T) {
	fixtures(t)
	cases := []struct {
		name string
		edit func(map[string]string)
		opts func(*respOpts)
		want string // principal
	}{
		{name: "assertion signed", want: "alice-persistent-7f3a"},
		{name: "response signed only", opts: func(o *respOpts) { o.signAssertion, o.signResponse = false, true }, want: "alice-persistent-7f3a"},
		{name: "both signed", opts: func(o *respOpts) { o.signResponse = true }, want: "alice-persistent-7f3a"},
		{name: "wantAssertionsSigned with a signed assertion", edit: func(c map[string]string) { c["wantAssertionsSigned"] = "true" }, want: "alice-persistent-7f3a"},
		{name: "encrypted assertion", edit: func(c map[string]string) { c["wantAssertionsEncrypted"] = "true" }, opts: func(o *respOpts) { o.encrypt = true }, want: "alice-persistent-7f3a"},
		{name: "encrypted assertion in a signed response", edit: func(c map[string]string) { c["wantAssertionsEncrypted"] = "true"; c["wantAssertionsSigned"] = "true" },
			opts: func(o *respOpts) { o.encrypt, o.signResponse = true, true }, want: "alice-persistent-7f3a"},
		{name: "principal by attribute name", edit: func(c map[string]string) {
			c["principalType"], c["principalAttribute"] = "ATTRIBUTE", "urn:oid:0.9.2342.19200300.100.1.1"
		}, want: "alice"},
		{name: "principal by friendly name", edit: func(c map[string]string) {
			c["principalType"], c["principalAttribute"] = "FRIENDLY_ATTRIBUTE", "uid"
		}, want: "alice"},
		{name: "second certificate of a rotation", edit: func(c map[string]string) {
			c["signingCertificate"] = certB64(other.cert) + ", " + certB64(idpKeys.cert)
		}, want: "alice-persistent-7f3a"},
		{name: "no idpEntityId: the issuer is not pinned", edit: func(c map[string]string) { delete(c, "idpEntityId") }, want: "alice-persistent-7f3a"},
		{name: "clock skew allows a NotBefore 20s ahead", edit: func(c map[string]string) { c["allowedClockSkew"] = "30" },
			opts: func(o *respOpts) { o.notBefore = testNow.Add(20 * time.Second) }, want: "alice-persistent-7f3a"},
		{name: "validateSignature false takes an unsigned response", edit: func(c map[string]string) { c["validateSignature"] = "false"; delete(c, "signingCertificate") },
			opts: func(o *respOpts) { o.signAssertion = false }, want: "alice-persistent-7f3a"},
		{name: "validateSignature false ignores a bad signature", edit: func(c map[string]string) { c["validateSignature"] = "false"; delete(c, "signingCertificate") },
			opts: func(o *respOpts) { o.signer = other }, want: "alice-persistent-7f3a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestBroker(t, tc.edit)
			o := goodOpts()
			if tc.opts != nil {
				tc.opts(&o)
			}
			id, err := b.finish(t, o.response(t))
			if err != nil {
				t.Fatal(err)
			}
			if id.UserID != tc.want || id.Username != tc.want {
				t.Fatalf("principal %q / %q, want %q", id.UserID, id.Username, tc.want)
			}
			if id.NameID != "alice-persistent-7f3a" || id.NameIDFormat != nameIDPersistent || id.SessionIndex != "_session-42" {
				t.Fatalf("SLO data: %q %q %q", id.NameID, id.NameIDFormat, id.SessionIndex)
			}
			if id.Email != "alice@corp.example" || id.FirstName != "Alice" || id.LastName != "Liddell" {
				t.Fatalf("hints: %q %q %q", id.Email, id.FirstName, id.LastName)
			}
			for _, k := range []string{"uid", "urn:oid:0.9.2342.19200300.100.1.1", "mail", "urn:oid:0.9.2342.19200300.100.1.3"} {
				if len(id.Attributes[k]) != 1 {
					t.Fatalf("attribute %s: %v", k, id.Attributes[k])
				}
			}
			if got := id.Attributes["memberOf"]; !slices.Equal(got, []string{"sso-sre", "sso-stackstate-admins"}) {
				t.Fatalf("memberOf %v", got)
			}
			if id.Token != "" {
				t.Fatal("token kept without storeToken")
			}
		})
	}
}

func TestFinishRedirectBinding(t *testing.T) {
	b := newTestBroker(t, nil)
	raw := goodOpts().response(t)
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = w.Write(raw)
	_ = w.Close()
	q := url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(buf.Bytes())}, "RelayState": {"rs-1"}}
	req := testRequest()
	req.RawQuery = q.Encode()
	id, err := b.Finish(context.Background(), req, encodeState(testReqID), q)
	if err != nil {
		t.Fatal(err)
	}
	if id.UserID != "alice-persistent-7f3a" {
		t.Fatal(id.UserID)
	}
}

func TestFinishEmailNameIDAndStoreToken(t *testing.T) {
	fixtures(t)
	cfg := baseConfig()
	b := newTestBroker(t, nil)
	// storeToken is a top-level field of the representation.
	rep := identityProvider(t, cfg)
	rep.Config = []byte(strings.Replace(string(rep.Config), `"enabled":true`, `"enabled":true,"storeToken":true`, 1))
	bb, err := open(context.Background(), b.env, rep)
	if err != nil {
		t.Fatal(err)
	}
	o := goodOpts()
	o.nameID, o.nameIDFormat = "Alice@Corp.Example", nameIDEmail
	o.attrs = nil
	raw := o.response(t)
	id, err := bb.Finish(context.Background(), testRequest(), encodeState(testReqID), form(raw))
	if err != nil {
		t.Fatal(err)
	}
	if id.Email != "Alice@Corp.Example" || id.Token != string(raw) {
		t.Fatalf("email %q, token kept %v", id.Email, id.Token != "")
	}
}

func TestFinishStatusIsReported(t *testing.T) {
	b := newTestBroker(t, nil)
	o := goodOpts()
	o.status = "urn:oasis:names:tc:SAML:2.0:status:Responder"
	id, err := b.finish(t, o.response(t))
	mustRefuse(t, id, err)
	if !strings.Contains(err.Error(), "status:Responder") {
		t.Fatalf("status not in the reason: %v", err)
	}
}

func TestReplayUntil(t *testing.T) {
	b := newTestBroker(t, nil)
	o := goodOpts()
	if _, err := b.finish(t, o.response(t)); err != nil {
		t.Fatal(err)
	}
	until, ok := b.replay.seen[ReplayKey(testIdP, o.assertionID)]
	if !ok {
		t.Fatalf("assertion not recorded: %v", b.replay.seen)
	}
	// Remembered at least as long as crewjam/saml would accept it.
	if want := o.issueInstant.Add(crewsaml.MaxIssueDelay); until.Before(want) {
		t.Fatalf("remembered until %s, accepted until %s", until, want)
	}
}
