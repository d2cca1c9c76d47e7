package userimport

import (
	"context"
	"encoding/json"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// addOTP gives an existing user the record's OTP devices it does not hold
// yet (the same secret and credentialData, counter aside): an update never
// drops a device, nor doubles one a previous run imported.
func (im *importer) addOTP(ctx context.Context, userID string, r Record) (bool, error) {
	var want []store.Credential
	for _, c := range r.Credentials {
		if c.Type == rep.OTPCredentialType {
			want = append(want, c)
		}
	}
	if len(want) == 0 {
		return false, nil
	}
	creds, err := im.st.ListCredentials(ctx, userID)
	if err != nil {
		return false, err
	}
	have := map[string]bool{}
	for _, c := range creds {
		if c.Type == rep.OTPCredentialType {
			have[im.otpIdentity(c)] = true
		}
	}
	added := false
	for _, c := range want {
		id := im.otpIdentity(c)
		if have[id] {
			continue
		}
		have[id] = true
		row := []store.Credential{c}
		if err := rep.SealOTPSecrets(row, im.opts.SealSecret); err != nil {
			return false, err
		}
		row[0].ID, row[0].UserID = newID(), userID
		if row[0].Created.IsZero() {
			row[0].Created = im.now
		}
		if err := im.st.CreateCredential(ctx, row[0]); err != nil {
			return false, err
		}
		added = true
	}
	return added, nil
}

// otpIdentity is what tells two OTP devices apart: the secret in the
// clear and the credentialData without its counter ("" for one that
// cannot be read, which then never matches a file's).
func (im *importer) otpIdentity(c store.Credential) string {
	var sd struct {
		Value string `json:"value"`
	}
	var cd map[string]any
	if json.Unmarshal([]byte(c.SecretData), &sd) != nil || json.Unmarshal([]byte(c.CredentialData), &cd) != nil {
		return ""
	}
	if im.opts.RevealSecret != nil {
		v, err := im.opts.RevealSecret(sd.Value)
		if err != nil {
			return ""
		}
		sd.Value = v
	}
	delete(cd, "counter")
	b, _ := json.Marshal([]any{sd.Value, cd})
	return string(b)
}
