package events

import (
	"strings"
	"testing"
)

// TestMaskPrivateKeyAttributes: a client's SAML keys travel as attributes
// named "saml.signing.private.key" and "saml.encryption.private.key", and
// tokens under names like accessToken or refresh_token; an admin event's
// representation must not keep them (nor the word "credential" alone be
// the only guard).
func TestMaskPrivateKeyAttributes(t *testing.T) {
	doc := `{"clientId":"app","attributes":{"saml.signing.private.key":"MIIEsigning","saml.encryption.private.key":"MIIEencryption",` +
		`"private_key":"MIIEunderscore","saml.signing.certificate":"CERTpublic"},` +
		`"config":{"accessToken":"AT-secret","refresh_token":"RT-secret","id-token":"ID-secret","tokenUrl":"https://idp.example/token"}}`
	got := Mask(doc)
	for _, leak := range []string{"MIIEsigning", "MIIEencryption", "MIIEunderscore", "AT-secret", "RT-secret", "ID-secret"} {
		if strings.Contains(got, leak) {
			t.Errorf("representation keeps %s: %s", leak, got)
		}
	}
	for _, keep := range []string{"CERTpublic", "https://idp.example/token", `"clientId":"app"`} {
		if !strings.Contains(got, keep) {
			t.Errorf("representation lost %s: %s", keep, got)
		}
	}
}
