package oidc

import (
	"net/url"
	"slices"
	"testing"
)

// The password grant takes the one-time code as Keycloak's direct grant
// does: `otp`, else `totp`. A client sending `otp` (what Keycloak documents)
// got "Invalid user credentials" for a right password and a right code.
// Either field is a secret and never reaches a stored token's request.
func TestDirectGrantCodeParams(t *testing.T) {
	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"otp": {"123456"}}, "123456"},
		{url.Values{"totp": {"654321"}}, "654321"},
		{url.Values{"otp": {"123456"}, "totp": {"654321"}}, "123456"},
		{url.Values{}, ""},
	} {
		if got := directGrantCode(tc.form); got != tc.want {
			t.Errorf("%v: code %q, want %q", tc.form, got, tc.want)
		}
	}
	for _, f := range []string{"otp", "totp"} {
		if !slices.Contains(secretFormFields, f) {
			t.Errorf("%s is kept with stored token requests", f)
		}
	}
}
