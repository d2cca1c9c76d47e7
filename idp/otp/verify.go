package otp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// Store is what checking codes needs: the credentials, compare-and-swap on
// one (HOTP counters), and replay records (TOTP steps).
type Store interface {
	ListCredentials(ctx context.Context, userID string) ([]store.Credential, error)
	UpdateCredential(ctx context.Context, userID, id string, fn func(old store.Credential) (store.Credential, error)) error
	CreateToken(ctx context.Context, t store.Token) error
}

// Verifier checks codes against stored credentials.
type Verifier struct {
	st     Store
	sealer Sealer
	now    func() time.Time
}

// NewVerifier returns a Verifier over st; sealer (nil: none) reveals
// sealed secrets.
func NewVerifier(st Store, sealer Sealer) *Verifier {
	return &Verifier{st: st, sealer: sealer, now: time.Now}
}

// SetClock replaces the clock (tests).
func (v *Verifier) SetClock(now func() time.Time) { v.now = now }

// Sealer returns the sealer secrets are sealed with (nil: none).
func (v *Verifier) Sealer() Sealer { return v.sealer }

// Of returns the OTP credentials among creds, in the store's order
// (priority, then age): the first is the user's default device.
func Of(creds []store.Credential) []store.Credential {
	var out []store.Credential
	for _, c := range creds {
		if c.Type == Type {
			out = append(out, c)
		}
	}
	return out
}

// Verify checks code for the user's OTP credential credID among creds
// (their default one, the first, when credID is ""), as Keycloak's
// OTPCredentialProvider.isValid does, and spends it: a TOTP step is
// recorded as used (unless the policy lets codes be reused), a HOTP
// counter moves past the code. It reports false for a wrong, replayed or
// malformed code and for an unknown credID; an error only when the store
// cannot answer (or a sealed secret cannot be opened).
func (v *Verifier) Verify(ctx context.Context, realmID string, p rep.OTPPolicy, creds []store.Credential, credID, code string) (bool, error) {
	otps := Of(creds)
	if len(otps) == 0 {
		return false, nil
	}
	row := otps[0]
	if credID != "" {
		found := false
		for _, c := range otps {
			if c.ID == credID {
				row, found = c, true
			}
		}
		if !found {
			return false, nil
		}
	}
	cred, err := Parse(row, v.sealer)
	if errors.Is(err, ErrMalformed) {
		return false, err
	}
	if err != nil {
		return false, err
	}
	code = normalize(code)
	if len(code) != cred.Data.Digits {
		return false, nil
	}
	if cred.Data.SubType == HOTP {
		return v.spendHOTP(ctx, p, cred, code)
	}
	now := v.now()
	step, ok := cred.matchTOTP(code, now, p.LookAheadWindow)
	if !ok {
		return false, nil
	}
	if p.CodeReusable {
		return true, nil
	}
	switch err := v.recordStep(ctx, realmID, p, cred, step, now); {
	case errors.Is(err, store.ErrConflict):
		return false, nil // this step's code was used already
	case err != nil:
		return false, err
	}
	return true, nil
}

// replaySignature names the use of one step of one credential; hashed so
// that the record says nothing about the credential or the code.
func replaySignature(credID string, step int64) string {
	s := sha256.Sum256([]byte("otp\x00" + credID + "\x00" + strconv.FormatInt(step, 10)))
	return "otp:" + hex.EncodeToString(s[:])
}

// spendHOTP checks code against the counter as stored now, under the
// credential's row lock, and stores the next counter: of two logins with
// one code, on any replicas, one wins.
func (v *Verifier) spendHOTP(ctx context.Context, p rep.OTPPolicy, cred Credential, code string) (bool, error) {
	ok := false
	err := v.st.UpdateCredential(ctx, cred.Row.UserID, cred.Row.ID, func(cur store.Credential) (store.Credential, error) {
		c, err := Parse(cur, v.sealer)
		if err != nil {
			return cur, err
		}
		next, match := c.matchHOTP(code, p.LookAheadWindow)
		if !match {
			return cur, store.ErrAbort
		}
		c.Data.Counter = next
		cd, err := json.Marshal(c.Data)
		if err != nil {
			return cur, err
		}
		cur.CredentialData = string(cd)
		ok = true
		return cur, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return false, nil // deleted meanwhile
	}
	if err != nil {
		return false, err
	}
	return ok, nil
}

// normalize drops the spaces people type in codes.
func normalize(code string) string {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	for _, r := range code {
		if r < '0' || r > '9' {
			return ""
		}
	}
	return code
}

// Accept checks code against a credential not stored yet (CONFIGURE_TOTP's
// check before it stores the device) under policy p's window, and moves a
// HOTP credential's counter past the code. It returns the TOTP step the
// code matched, for Spend.
func (c *Credential) Accept(code string, now time.Time, p rep.OTPPolicy) (int64, bool) {
	code = normalize(code)
	if len(code) != c.Data.Digits {
		return 0, false
	}
	if c.Data.SubType == HOTP {
		next, ok := c.matchHOTP(code, p.LookAheadWindow)
		if ok {
			c.Data.Counter = next
			cd, _ := json.Marshal(c.Data)
			c.Row.CredentialData = string(cd)
		}
		return 0, ok
	}
	return c.matchTOTP(code, now, p.LookAheadWindow)
}

// Spend records that c's TOTP step was used (Accept's), so the code that
// set up a device cannot also sign in. HOTP needs nothing: the stored
// counter is past it.
func (v *Verifier) Spend(ctx context.Context, realmID string, p rep.OTPPolicy, c Credential, step int64) error {
	if c.Data.SubType == HOTP || p.CodeReusable {
		return nil
	}
	if err := v.recordStep(ctx, realmID, p, c, step, v.now()); !errors.Is(err, store.ErrConflict) {
		return err
	}
	return nil
}

// recordStep stores the replay record of c's TOTP step (store.ErrConflict
// when it is there already). The step stays acceptable until it leaves
// the window: the record lives that long, on every replica.
func (v *Verifier) recordStep(ctx context.Context, realmID string, p rep.OTPPolicy, c Credential, step int64, now time.Time) error {
	until := time.Unix((step+int64(p.LookAheadWindow)+1)*int64(c.Data.Period), 0)
	sig := replaySignature(c.Row.ID, step)
	return v.st.CreateToken(ctx, store.Token{Kind: store.KindReplay, Signature: sig, RequestID: sig, RealmID: realmID,
		Subject: c.Row.UserID, Active: true, Requested: now, Expires: until.Add(time.Second)})
}

// Now is the verifier's clock.
func (v *Verifier) Now() time.Time { return v.now() }
