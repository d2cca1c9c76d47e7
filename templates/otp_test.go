package templates

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// The OTP form: Keycloak's field names, a device choice only for several
// devices (the default checked), every control labelled, the layout
// shared with the login page.
func TestOTPLoginPage(t *testing.T) {
	p := Page{RealmName: "acme", RealmDisplayName: "Acme", Lang: "en", StylesheetURL: "/s.css"}
	one := renderDoc(t, OTPLogin(OTPLoginView{Page: p, FormAction: "/a?x=1", CSRFToken: "tok",
		Credentials: []OTPCredentialOption{{ID: "c1", Label: "phone"}}, Selected: "c1"}))
	checkLayout(t, one, p)
	labelsBound(t, one)
	if n := findAll(one, func(n *html.Node) bool { return attrOf(n, "name") == "selectedCredentialId" }); len(n) != 0 {
		t.Error("a choice of devices for a user with one")
	}
	otp := byID(t, one, "otp")
	wantAttr(t, otp, "name", "otp")
	wantAttr(t, otp, "autocomplete", "one-time-code")
	wantAttr(t, otp, "inputmode", "numeric")
	wantAttr(t, byID(t, one, "kc-otp-login-form"), "method", "post")

	two := renderDoc(t, OTPLogin(OTPLoginView{Page: p, FormAction: "/a", CSRFToken: "tok", Error: "Invalid authenticator code.",
		Credentials: []OTPCredentialOption{{ID: "c1", Label: "phone"}, {ID: "c2"}}, Selected: "c2"}))
	labelsBound(t, two)
	radios := findAll(two, func(n *html.Node) bool { return attrOf(n, "name") == "selectedCredentialId" })
	if len(radios) != 2 {
		t.Fatalf("%d device choices, want 2", len(radios))
	}
	if _, checked := attr(radios[1], "checked"); !checked {
		t.Error("the selected device is not checked")
	}
	wantAttr(t, byID(t, two, "otp"), "aria-invalid", "true")
	if !strings.Contains(render(t, OTPLogin(OTPLoginView{Page: p, Credentials: []OTPCredentialOption{{ID: "c1"}, {ID: "c2"}}})), "Device Name") {
		t.Error("a device without a label is not named")
	}
}

// The setup page: the QR code inline, the key and the policy, Keycloak's
// field names, nothing loaded from elsewhere.
func TestConfigureTOTPPage(t *testing.T) {
	p := Page{RealmName: "acme", Lang: "en", StylesheetURL: "/s.css"}
	v := ConfigureTOTPView{Page: p, FormAction: "/a", CSRFToken: "tok", QRCode: "data:image/png;base64,iVBORw0KGgo=",
		SecretKey: "ABCD EFGH", Type: "hotp", Algorithm: "SHA512", Digits: 8, InitialCounter: 5,
		SupportedApps: []string{"totpAppFreeOTPName", "totpAppGoogleName"}}
	out := render(t, ConfigureTOTP(v))
	doc := parse(t, out)
	checkLayout(t, doc, p)
	labelsBound(t, doc)
	wantAttr(t, byID(t, doc, "kc-totp-secret-qr-code"), "src", v.QRCode)
	for id, want := range map[string]string{"kc-totp-secret-key": "ABCD EFGH", "kc-totp-type": "Counter-based",
		"kc-totp-algorithm": "SHA512", "kc-totp-digits": "8", "kc-totp-counter": "5"} {
		if got := textOf(byID(t, doc, id)); got != want {
			t.Errorf("#%s = %q, want %q", id, got, want)
		}
	}
	wantAttr(t, byID(t, doc, "totp"), "name", "totp")
	wantAttr(t, byID(t, doc, "userLabel"), "name", "userLabel")
	for _, n := range findAll(doc, func(n *html.Node) bool { return attrOf(n, "src") != "" }) {
		if src := attrOf(n, "src"); !strings.HasPrefix(src, "data:") {
			t.Errorf("the page loads %s", src)
		}
	}
	if !strings.Contains(out, "FreeOTP") || !strings.Contains(out, "Google Authenticator") {
		t.Error("the apps are not named")
	}
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}
