package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"io"
	"net/url"
	"strings"
	"testing"
)

// The unsigned Redirect binding: SAMLRequest deflated and base64'd, then
// RelayState, after the SSO URL's own query; an IdP inflates the request
// keygate made (and keeps doing so when the pooled compressor is reused).
func TestStartRedirectBinding(t *testing.T) {
	b := newTestBroker(t, func(c map[string]string) {
		c["singleSignOnServiceUrl"] = testSSO + "?tenant=a%20b"
	})
	for i := range 3 {
		req := testRequest()
		req.ID = testReqID + string(rune('a'+i))
		start, err := b.Start(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(start.RedirectURL)
		if err != nil || start.PostURL != "" {
			t.Fatalf("%+v %v", start, err)
		}
		if !strings.HasPrefix(u.RawQuery, "tenant=a%20b&SAMLRequest=") || u.Query().Get("RelayState") != "rs-1" || u.Query().Has("Signature") {
			t.Fatalf("query %s", u.RawQuery)
		}
		raw, err := base64.StdEncoding.DecodeString(u.Query().Get("SAMLRequest"))
		if err != nil {
			t.Fatal(err)
		}
		xml, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`ID="` + req.ID + `"`, `AssertionConsumerServiceURL="` + testCallback + `"`,
			`>` + testRealm + `</saml:Issuer>`, `Format="` + nameIDPersistent + `"`} {
			if !strings.Contains(string(xml), want) {
				t.Errorf("%q not in %s", want, xml)
			}
		}
	}
}
