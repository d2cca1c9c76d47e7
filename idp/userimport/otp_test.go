package userimport

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/keygate/keygate/store"
)

// prefixSealer stands in for oidc.SecretSealer: reversible, and refusing
// what it did not seal.
type prefixSealer struct{}

func (prefixSealer) seal(v string) (string, error) {
	return "kgsealed:" + base64.StdEncoding.EncodeToString([]byte(v)), nil
}

func (prefixSealer) reveal(v string) (string, error) {
	if !strings.HasPrefix(v, "kgsealed:") {
		return v, nil
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(v, "kgsealed:"))
	if err != nil {
		return "", errors.New("not sealed")
	}
	return string(b), nil
}

const otpUsersFile = `{"realm":"acme","users":[{"username":"olga","enabled":true,"credentials":[
  {"type":"otp","userLabel":"phone","secretData":"{\"value\":\"olga-secret-1\"}",
   "credentialData":"{\"subType\":\"totp\",\"digits\":6,\"counter\":0,\"period\":30,\"algorithm\":\"HmacSHA1\"}"}%s]}]}`

const otpSecond = `,{"type":"otp","userLabel":"token","secretData":"{\"value\":\"olga-secret-2\"}",
   "credentialData":"{\"subType\":\"hotp\",\"digits\":8,\"counter\":3,\"period\":0,\"algorithm\":\"HmacSHA512\"}"}`

func otpCreds(t *testing.T, st store.Store, realmID string) []store.Credential {
	t.Helper()
	u, err := st.GetUserByUsername(t.Context(), realmID, "olga")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := st.ListCredentials(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

// Keycloak otp credentials are imported sealed; an update adds the
// devices a user lacks and never doubles one; a malformed one is an
// invalid record naming the field.
func TestImportOTPCredentials(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		realm := newRealm(t, st, "acme")
		var s prefixSealer
		opts := Options{Realm: "acme", SealSecret: s.seal, RevealSecret: s.reveal}
		if _, err := importData(t, st, opts, "acme-users-0.json", strings.Replace(otpUsersFile, "%s", "", 1)); err != nil {
			t.Fatal(err)
		}
		creds := otpCreds(t, st, realm.ID)
		if len(creds) != 1 || creds[0].Type != "otp" || creds[0].UserLabel != "phone" ||
			strings.Contains(creds[0].SecretData, "olga-secret-1") || !strings.Contains(creds[0].SecretData, "kgsealed:") {
			t.Fatalf("imported: %+v", creds)
		}
		opts.OnConflict = ConflictUpdate
		res, err := importData(t, st, opts, "acme-users-0.json", strings.Replace(otpUsersFile, "%s", otpSecond, 1))
		if err != nil {
			t.Fatal(err)
		}
		if creds := otpCreds(t, st, realm.ID); len(creds) != 2 || res.Updated != 1 {
			t.Fatalf("update: %d devices, %+v", len(creds), res)
		}
		res, err = importData(t, st, opts, "acme-users-0.json", strings.Replace(otpUsersFile, "%s", otpSecond, 1))
		if err != nil {
			t.Fatal(err)
		}
		if creds := otpCreds(t, st, realm.ID); len(creds) != 2 || res.Updated != 0 {
			t.Fatalf("the same file again: %d devices, %+v", len(creds), res)
		}
		bad := strings.Replace(strings.Replace(otpUsersFile, "%s", "", 1), `\"digits\":6`, `\"digits\":7`, 1)
		res, err = importData(t, st, opts, "bad.json", bad)
		if !errors.Is(err, ErrInvalid) || len(res.Problems) != 1 || !strings.Contains(res.Problems[0], "credentialData.digits") {
			t.Fatalf("digits 7: %v %+v", err, res.Problems)
		}
	})
}
