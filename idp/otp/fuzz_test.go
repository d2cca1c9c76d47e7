package otp

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// refCode is RFC 4226's HOTP value, written out here as the oracle.
func refCode(alg string, key []byte, counter uint64, digits int) string {
	h := map[string]func() hash.Hash{rep.OTPHmacSHA1: sha1.New, rep.OTPHmacSHA256: sha256.New, rep.OTPHmacSHA512: sha512.New}[alg]
	mac := hmac.New(h, key)
	_ = binary.Write(mac, binary.BigEndian, counter)
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:]) & 0x7fffffff
	mod := uint32(1_000_000)
	if digits == 8 {
		mod = 100_000_000
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

// refKey is the HMAC key Keycloak reads from secretData: the value's
// bytes, or its base32 decoding with BASE32.
func refKey(cd CredentialData, sd SecretData) ([]byte, bool) {
	if cd.SecretEncoding == "" {
		return []byte(sd.Value), true
	}
	s := strings.TrimRight(strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(sd.Value), " ", "")), "=")
	k, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	return k, err == nil
}

var fuzzOTPNow = time.Unix(1_111_111_111, 0)

// FuzzOTP: a stored or imported otp credential (credentialData and
// secretData, as a realm import carries them) and a code a person typed.
// Parse and Accept never panic and always end, and a code is accepted
// only when it is the RFC 4226 value of a counter (HOTP) or time step
// (TOTP) within the window, in the credential's digits and hash.
func FuzzOTP(f *testing.F) {
	const rfc = `{"value":"12345678901234567890"}`
	for _, s := range []struct{ cd, sd, code string }{
		{`{"subType":"hotp","digits":6,"counter":0,"algorithm":"HmacSHA1"}`, rfc, "755224"},
		{`{"subType":"hotp","digits":6,"counter":1,"algorithm":"HmacSHA1"}`, rfc, "287 082"},
		{`{"subType":"hotp","digits":6,"counter":0,"algorithm":"HmacSHA1","secretEncoding":"BASE32"}`, `{"value":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"}`, "287082"},
		{`{"subType":"totp","digits":8,"period":30,"algorithm":"HmacSHA1"}`, rfc, "07081804"},
		{`{"subType":"totp","digits":8,"period":30,"algorithm":"HmacSHA256"}`, `{"value":"12345678901234567890123456789012"}`, "68084774"},
		{`{"subType":"totp","digits":6,"period":3600,"algorithm":"HmacSHA512"}`, rfc, "000000"},
		{`{"subType":"totp","digits":6,"period":1,"algorithm":"HmacSHA1","secretEncoding":"base32"}`, `{"value":"gezd gnbv=="}`, "123456"},
		{`{"subType":"hotp","digits":6,"counter":9223372036854775807,"algorithm":"HmacSHA1"}`, rfc, "755224"},
		{`{"subType":"hotp","digits":6,"counter":9223372036854775806,"algorithm":"HmacSHA1"}`, rfc, "755224"},
		{`{"subType":"hotp","digits":6,"counter":-1,"algorithm":"HmacSHA1"}`, rfc, "755224"},
		{`{"subType":"totp","digits":6,"period":0,"algorithm":"HmacSHA1"}`, rfc, "755224"},
		{`{"subType":"totp","digits":7,"period":30,"algorithm":"HmacMD5"}`, `{"value":""}`, "１２３４５６"},
		{`{}`, `{}`, ""},
	} {
		for w := range uint8(3) {
			f.Add(s.cd, s.sd, s.code, w)
		}
	}
	f.Fuzz(func(t *testing.T, cdJSON, sdJSON, code string, window uint8) {
		c, err := Parse(store.Credential{ID: "c1", UserID: "u1", Type: Type, CredentialData: cdJSON, SecretData: sdJSON}, nil)
		if err != nil {
			return
		}
		var sd SecretData
		_ = json.Unmarshal([]byte(sdJSON), &sd)
		key, ok := refKey(c.Data, sd)
		if !ok {
			t.Fatalf("%s: a secret Keycloak cannot read was taken", sdJSON)
		}
		p := rep.OTPPolicy{LookAheadWindow: int(window % 11)}
		before := c.Data.Counter
		step, ok := c.Accept(code, fuzzOTPNow, p)
		if !ok {
			return
		}
		typed := strings.ReplaceAll(strings.TrimSpace(code), " ", "")
		if c.Data.SubType == HOTP {
			n := c.Data.Counter - 1
			if n < before || n-before > p.LookAheadWindow {
				t.Fatalf("counter %d accepted from %d with window %d", n, before, p.LookAheadWindow)
			}
			if want := refCode(c.Data.Algorithm, key, uint64(n), c.Data.Digits); typed != want {
				t.Fatalf("%q accepted at counter %d, whose code is %s", code, n, want)
			}
			return
		}
		now := fuzzOTPNow.Unix() / int64(c.Data.Period)
		if step < now-int64(p.LookAheadWindow) || step > now+int64(p.LookAheadWindow) {
			t.Fatalf("step %d accepted at step %d with window %d", step, now, p.LookAheadWindow)
		}
		if want := refCode(c.Data.Algorithm, key, uint64(step), c.Data.Digits); typed != want {
			t.Fatalf("%q accepted at step %d, whose code is %s", code, step, want)
		}
	})
}

// An imported HOTP credential with a counter near the largest int made
// matchHOTP's loop (n <= counter+window) wrap around and never end: every
// code typed for that user spun a CPU forever. Keycloak's counter is a
// Java int, and a larger one is refused now.
func TestHOTPCounterBeyondKeycloakInt(t *testing.T) {
	for _, n := range []string{"9223372036854775807", "9223372036854775806", "2147483648"} {
		_, err := Parse(store.Credential{Type: Type, SecretData: `{"value":"12345678901234567890"}`,
			CredentialData: `{"subType":"hotp","digits":6,"counter":` + n + `,"algorithm":"HmacSHA1"}`}, nil)
		if err == nil || !strings.Contains(err.Error(), "counter") {
			t.Errorf("counter %s: %v", n, err)
		}
	}
	// Near the limit a good code must not store a counter past it, which
	// Parse would then refuse: the credential is used up there instead.
	parse := func(counter int) Credential {
		t.Helper()
		c, err := Parse(store.Credential{Type: Type, SecretData: `{"value":"12345678901234567890"}`,
			CredentialData: fmt.Sprintf(`{"subType":"hotp","digits":6,"counter":%d,"algorithm":"HmacSHA1"}`, counter)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	const top = math.MaxInt32
	c := parse(top - 3)
	if _, ok := c.Accept(c.CodeAt(top-1), fuzzOTPNow, rep.OTPPolicy{LookAheadWindow: 10}); !ok || c.Data.Counter != top {
		t.Errorf("the code at the largest counter but one: %v, counter %d", ok, c.Data.Counter)
	}
	parse(c.Data.Counter) // what was stored still reads
	for _, from := range []int{top - 3, top} {
		c := parse(from)
		if _, ok := c.Accept(c.CodeAt(top), fuzzOTPNow, rep.OTPPolicy{LookAheadWindow: 10}); ok {
			t.Errorf("from %d, the code at the largest counter was accepted and would store %d", from, c.Data.Counter)
		}
	}
}
