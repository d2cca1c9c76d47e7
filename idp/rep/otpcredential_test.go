package rep

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func sealTest(v string) (string, error) {
	return "kgsealed:" + base64.StdEncoding.EncodeToString([]byte(v)), nil
}

func revealTest(v string) (string, error) {
	if !strings.HasPrefix(v, "kgsealed:") {
		return v, nil
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(v, "kgsealed:"))
	return string(b), err
}

const otpRealmJSON = `{"realm":"otp","enabled":true,"otpPolicyDigits":8,"otpPolicyAlgorithm":"HmacSHA256",
 "users":[{"username":"olga","enabled":true,"credentials":[
  {"type":"otp","userLabel":"phone","createdDate":1700000000000,"secretData":"{\"value\":\"olga-secret\"}",
   "credentialData":"{\"subType\":\"totp\",\"digits\":6,\"counter\":0,\"period\":30,\"algorithm\":\"HmacSHA1\"}"}]}]}`

// An otp credential imports sealed, exports as Keycloak's only when it can
// be opened, and a malformed one fails the import naming the field; the
// realm's otpPolicy* fields resolve, and a realm keygate writes carries
// Keycloak's defaults.
func TestOTPCredentialImportExport(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	mustImport(t, st, otpRealmJSON, ImportOptions{SealSecret: sealTest})
	row, s := mustRealm(t, st, "otp")
	if s.OTP.Digits != 8 || s.OTP.Algorithm != OTPHmacSHA256 || s.OTP.Period != 30 || s.OTP.LookAheadWindow != 1 || s.OTP.Type != "totp" {
		t.Errorf("policy: %+v", s.OTP)
	}
	u, err := st.GetUserByUsername(ctx, row.ID, "olga")
	if err != nil {
		t.Fatal(err)
	}
	creds, _ := st.ListCredentials(ctx, u.ID)
	if len(creds) != 1 || strings.Contains(creds[0].SecretData, "olga-secret") {
		t.Fatalf("stored: %+v", creds)
	}
	if _, err := Export(ctx, st, "otp", ExportOptions{Users: true}); !errors.Is(err, errOTPSealed) {
		t.Errorf("export without the key: %v", err)
	}
	r, err := Export(ctx, st, "otp", ExportOptions{Users: true, Reveal: revealTest})
	if err != nil {
		t.Fatal(err)
	}
	c := r.Users[0].Credentials[0]
	if c.SecretData != `{"value":"olga-secret"}` || c.UserLabel != "phone" || c.CreatedDate != 1700000000000 || r.Users[0].Totp == nil || !*r.Users[0].Totp {
		t.Errorf("exported: %+v", c)
	}
	if r.OTPPolicyDigits == nil || *r.OTPPolicyDigits != 8 || r.OTPPolicyPeriod == nil || *r.OTPPolicyPeriod != 30 {
		t.Errorf("exported policy: digits %v period %v", r.OTPPolicyDigits, r.OTPPolicyPeriod)
	}
	for _, tc := range []struct{ from, to, want string }{
		{`\"digits\":6`, `\"digits\":7`, "users[0].credentials[0].credentialData.digits"},
		{`\"algorithm\":\"HmacSHA1\"`, `\"algorithm\":\"HmacMD5\"`, "credentialData.algorithm"},
		{`\"subType\":\"totp\"`, `\"subType\":\"sms\"`, "credentialData.subType"},
		{`{\"value\":\"olga-secret\"}`, `{\"value\":\"\"}`, "secretData.value"},
	} {
		bad := strings.Replace(strings.Replace(otpRealmJSON, `"realm":"otp"`, `"realm":"bad"`, 1), tc.from, tc.to, 1)
		_, err := ImportRealm(ctx, st, []byte(bad), ImportOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "olga-secret") {
			t.Errorf("%s: %v, want an error naming %s", tc.to, err, tc.want)
		}
	}
}
