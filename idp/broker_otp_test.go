package idp_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/otp"
	"github.com/keygate/keygate/idp/rep"
)

// Linking an identity provider account to an existing account with an OTP
// device takes the password and then a code (Keycloak's first broker
// login, conditional OTP): the password alone links nothing, a wrong code
// shows the OTP page again, the right one links and signs in.
func TestBrokerFirstLoginReauthOTP(t *testing.T) {
	_, down := brokerPair(t, "oidc", "")
	ctx := t.Context()
	realm, _ := down.st.GetRealmByName(ctx, "down")
	local, err := down.st.GetUserByUsername(ctx, realm.ID, "bob.local")
	if err != nil {
		t.Fatal(err)
	}
	dev, err := otp.New(rep.OTPPolicy{Type: otp.TOTP, Algorithm: rep.OTPHmacSHA1, Digits: 6, Period: 30}, local.ID,
		"0b8f6a3e-5d1c-4e2b-9a7f-3c6d8e1f2a4b", "phone", otp.NewSecret(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := down.st.CreateCredential(ctx, dev.Row); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	at, page := b.startCorp(down)
	status, at, page := b.upstreamLogin(at, page, "bob", "bob-pass-1")
	if status != 200 || !strings.Contains(page, `id="linkAccount"`) {
		t.Fatalf("no confirm page: %d %.400s", status, page)
	}
	action, f := formOf(t, at, page, "kc-register-form")
	f.Set("submitAction", "linkAccount")
	_, at, page = b.do(http.MethodPost, action, f)
	action, f = formOf(t, at, page, "kc-form-login")
	f.Set("password", "bob-local-pass-1")
	status, at, page = b.do(http.MethodPost, action, f)
	if status != 200 || !strings.Contains(page, `id="kc-otp-login-form"`) {
		t.Fatalf("no OTP page after the right password: %d %.400s", status, page)
	}
	if fis, _ := down.st.ListFederatedIdentities(ctx, realm.ID, local.ID); len(fis) != 0 {
		t.Fatalf("linked on the password alone: %+v", fis)
	}
	action, f = formOf(t, at, page, "kc-otp-login-form")
	f.Set("otp", "000000")
	if dev.Code(time.Now()) == "000000" {
		f.Set("otp", "111111")
	}
	status, at, page = b.do(http.MethodPost, action, f)
	if status != 200 || !strings.Contains(page, "Invalid authenticator code") {
		t.Fatalf("wrong code: %d %.300s", status, page)
	}
	if fis, _ := down.st.ListFederatedIdentities(ctx, realm.ID, local.ID); len(fis) != 0 {
		t.Fatalf("linked with a wrong code: %+v", fis)
	}
	action, f = formOf(t, at, page, "kc-otp-login-form")
	f.Set("otp", dev.Code(time.Now()))
	_, cb, page := b.do(http.MethodPost, action, f)
	if cb == nil {
		t.Fatalf("after the code: %.300s", page)
	}
	if c := exchange(t, down, cb); c["sub"] != local.ID {
		t.Errorf("signed in as %v, want %s", c["sub"], local.ID)
	}
	if fis, _ := down.st.ListFederatedIdentities(ctx, realm.ID, local.ID); len(fis) != 1 {
		t.Errorf("links %+v", fis)
	}
}
