package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	crewsaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/keygate/keygate/federation"
)

// An IdP-initiated LogoutRequest, as the IdP would send it.
type logoutOpts struct {
	id, issuer, destination string
	issueInstant            time.Time
	signer                  keyPair
	sign                    bool
}

func goodLogout() logoutOpts {
	return logoutOpts{id: "_lr1", issuer: testIdP, destination: testCallback, issueInstant: testNow.Add(-time.Second), signer: idpKeys, sign: true}
}

func (o logoutOpts) request() *crewsaml.LogoutRequest {
	return &crewsaml.LogoutRequest{
		ID: o.id, Version: "2.0", IssueInstant: o.issueInstant, Destination: o.destination,
		Issuer:       &crewsaml.Issuer{Value: o.issuer},
		NameID:       &crewsaml.NameID{Format: nameIDPersistent, Value: "alice-persistent-7f3a"},
		SessionIndex: &crewsaml.SessionIndex{Value: "_session-42"},
	}
}

// post is the HTTP-POST form of the request, with an enveloped signature.
func (o logoutOpts) post(t *testing.T) url.Values {
	el := o.request().Element()
	if o.sign {
		el = signEl(t, o.signer, el)
	}
	return url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(docBytes(t, el))}, "RelayState": {"idp-rs"}}
}

// redirect is the HTTP-Redirect query, with a query-string signature.
func (o logoutOpts) redirect(t *testing.T) string {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = w.Write(docBytes(t, o.request().Element()))
	_ = w.Close()
	q := "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes())) +
		"&RelayState=idp-rs&SigAlg=" + url.QueryEscape(dsig.RSASHA256SignatureMethod)
	if !o.sign {
		return q
	}
	ctx, err := dsig.NewSigningContext(o.signer.key, [][]byte{o.signer.cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	_ = ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod)
	sig, err := ctx.SignString(q)
	if err != nil {
		t.Fatal(err)
	}
	return q + "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
}

func TestHandleLogoutRequest(t *testing.T) {
	for _, binding := range []string{"post", "redirect"} {
		t.Run(binding, func(t *testing.T) {
			b := newTestBroker(t, func(c map[string]string) {
				c["postBindingLogout"] = map[string]string{"post": "true", "redirect": "false"}[binding]
			})
			req := testRequest()
			var params url.Values
			if binding == "post" {
				params = goodLogout().post(t)
			} else {
				req.RawQuery = goodLogout().redirect(t)
				params, _ = url.ParseQuery(req.RawQuery)
			}
			nameID, session, resp, err := b.HandleLogout(context.Background(), req, params)
			if err != nil {
				t.Fatal(err)
			}
			if nameID != "alice-persistent-7f3a" || session != "_session-42" {
				t.Fatalf("logout of %q %q", nameID, session)
			}
			// The answer: a signed LogoutResponse to the IdP, RelayState back.
			var msg []byte
			if binding == "post" {
				if resp.PostURL != testSLO || resp.PostForm["RelayState"] != "idp-rs" {
					t.Fatalf("response %+v", resp)
				}
				msg, _ = base64.StdEncoding.DecodeString(resp.PostForm["SAMLResponse"])
				if !bytes.Contains(msg, []byte("SignatureValue")) || !bytes.Contains(msg, []byte(`InResponseTo="_lr1"`)) {
					t.Fatalf("LogoutResponse %s", msg)
				}
			} else {
				u, _ := url.Parse(resp.RedirectURL)
				if !strings.HasPrefix(resp.RedirectURL, testSLO+"?") || u.Query().Get("Signature") == "" || u.Query().Get("RelayState") != "idp-rs" {
					t.Fatalf("response %s", resp.RedirectURL)
				}
			}
			// Once only.
			_, _, _, err = b.HandleLogout(context.Background(), req, params)
			mustRefuse(t, federation.BrokeredIdentity{}, err)
		})
	}
}

func TestHandleLogoutRequestRefused(t *testing.T) {
	fixtures(t)
	cases := map[string]func(*logoutOpts){
		"unsigned":            func(o *logoutOpts) { o.sign = false },
		"unknown certificate": func(o *logoutOpts) { o.signer = other },
		"wrong issuer":        func(o *logoutOpts) { o.issuer = "https://evil.example" },
		"wrong destination":   func(o *logoutOpts) { o.destination = "https://keygate.example/realms/other/broker/x/endpoint" },
		"expired":             func(o *logoutOpts) { o.issueInstant = testNow.Add(-time.Hour) },
	}
	for name, edit := range cases {
		for _, binding := range []string{"post", "redirect"} {
			t.Run(name+"/"+binding, func(t *testing.T) {
				b := newTestBroker(t, nil)
				o := goodLogout()
				edit(&o)
				req := testRequest()
				var params url.Values
				if binding == "post" {
					params = o.post(t)
				} else {
					req.RawQuery = o.redirect(t)
					params, _ = url.ParseQuery(req.RawQuery)
				}
				nameID, _, resp, err := b.HandleLogout(context.Background(), req, params)
				mustRefuse(t, federation.BrokeredIdentity{NameID: nameID}, err)
				if resp.RedirectURL != "" || resp.PostURL != "" {
					t.Fatalf("answered %+v", resp)
				}
			})
		}
	}
}

func TestLogoutStart(t *testing.T) {
	b := newTestBroker(t, func(c map[string]string) { c["postBindingLogout"] = "false" })
	id := federation.BrokeredIdentity{NameID: "alice-persistent-7f3a", NameIDFormat: nameIDPersistent, SessionIndex: "_session-42"}
	req := testRequest()
	req.ID = "id-logout-1"
	start, err := b.Logout(context.Background(), req, id)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(start.RedirectURL)
	q := u.Query()
	if !strings.HasPrefix(start.RedirectURL, testSLO+"?") || q.Get("Signature") == "" || q.Get("RelayState") != "rs-1" {
		t.Fatalf("logout %s", start.RedirectURL)
	}
	raw, _ := base64.StdEncoding.DecodeString(q.Get("SAMLRequest"))
	xml, err := readAllInflate(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`ID="id-logout-1"`, "alice-persistent-7f3a", "_session-42", `Destination="` + testSLO + `"`, testRealm} {
		if !strings.Contains(xml, want) {
			t.Fatalf("%q not in %s", want, xml)
		}
	}
	if got, _ := decodeState(start.State); got != "id-logout-1" {
		t.Fatalf("state %q", got)
	}
	// No single logout service: nothing to do.
	nb := newTestBroker(t, func(c map[string]string) { delete(c, "singleLogoutServiceUrl") })
	if start, err := nb.Logout(context.Background(), req, id); err != nil || start.RedirectURL != "" || start.PostURL != "" {
		t.Fatalf("%+v %v", start, err)
	}
}

func readAllInflate(b []byte) (string, error) {
	var out bytes.Buffer
	_, err := out.ReadFrom(flate.NewReader(bytes.NewReader(b)))
	return out.String(), err
}
