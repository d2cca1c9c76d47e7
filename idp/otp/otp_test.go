package otp

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/storetest/backends"
)

func cred(t *testing.T, subType, alg string, digits, period, counter int, secret, encoding string) Credential {
	t.Helper()
	cd, _ := json.Marshal(CredentialData{SubType: subType, Digits: digits, Period: period, Counter: counter, Algorithm: alg, SecretEncoding: encoding})
	sd, _ := json.Marshal(SecretData{Value: secret})
	c, err := Parse(store.Credential{ID: "c1", UserID: "u1", Type: Type, CredentialData: string(cd), SecretData: string(sd)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// RFC 4226 appendix D: HOTP-SHA1, 6 digits, counters 0 to 9.
func TestRFC4226Vectors(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	c := cred(t, HOTP, rep.OTPHmacSHA1, 6, 0, 0, "12345678901234567890", "")
	for i, w := range want {
		if got := c.CodeAt(uint64(i)); got != w {
			t.Errorf("counter %d: %s, want %s", i, got, w)
		}
	}
	// The same key given in base32, as Keycloak's secretEncoding BASE32 reads it.
	b := cred(t, HOTP, rep.OTPHmacSHA1, 6, 0, 0, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "BASE32")
	if got := b.CodeAt(1); got != want[1] {
		t.Errorf("base32 key: %s, want %s", got, want[1])
	}
}

// RFC 6238 appendix B: TOTP with SHA1, SHA256 and SHA512 at 8 digits, and
// the same values' last six digits at 6.
func TestRFC6238Vectors(t *testing.T) {
	seeds := map[string]string{
		rep.OTPHmacSHA1:   "12345678901234567890",
		rep.OTPHmacSHA256: "12345678901234567890123456789012",
		rep.OTPHmacSHA512: "1234567890123456789012345678901234567890123456789012345678901234",
	}
	vectors := []struct {
		t    int64
		want map[string]string
	}{
		{59, map[string]string{rep.OTPHmacSHA1: "94287082", rep.OTPHmacSHA256: "46119246", rep.OTPHmacSHA512: "90693936"}},
		{1111111109, map[string]string{rep.OTPHmacSHA1: "07081804", rep.OTPHmacSHA256: "68084774", rep.OTPHmacSHA512: "25091201"}},
		{1111111111, map[string]string{rep.OTPHmacSHA1: "14050471", rep.OTPHmacSHA256: "67062674", rep.OTPHmacSHA512: "99943326"}},
		{1234567890, map[string]string{rep.OTPHmacSHA1: "89005924", rep.OTPHmacSHA256: "91819424", rep.OTPHmacSHA512: "93441116"}},
		{2000000000, map[string]string{rep.OTPHmacSHA1: "69279037", rep.OTPHmacSHA256: "90698825", rep.OTPHmacSHA512: "38618901"}},
		{20000000000, map[string]string{rep.OTPHmacSHA1: "65353130", rep.OTPHmacSHA256: "77737706", rep.OTPHmacSHA512: "47863826"}},
	}
	for alg, seed := range seeds {
		c8 := cred(t, TOTP, alg, 8, 30, 0, seed, "")
		c6 := cred(t, TOTP, alg, 6, 30, 0, seed, "")
		for _, v := range vectors {
			at := time.Unix(v.t, 0)
			if got := c8.Code(at); got != v.want[alg] {
				t.Errorf("%s t=%d 8 digits: %s, want %s", alg, v.t, got, v.want[alg])
			}
			if got, w := c6.Code(at), v.want[alg][2:]; got != w {
				t.Errorf("%s t=%d 6 digits: %s, want %s", alg, v.t, got, w)
			}
			if _, ok := c8.matchTOTP(v.want[alg], at, 0); !ok {
				t.Errorf("%s t=%d: own code refused", alg, v.t)
			}
		}
	}
}

// Keycloak's look-around window: steps now-w .. now+w; nothing further.
func TestTOTPWindow(t *testing.T) {
	c := cred(t, TOTP, rep.OTPHmacSHA1, 6, 30, 0, "window-secret-12345", "")
	now := time.Unix(1_700_000_000, 0)
	step := c.Step(now)
	for d := int64(-3); d <= 3; d++ {
		code := c.CodeAt(uint64(step + d))
		for w := 0; w <= 2; w++ {
			got, ok := c.matchTOTP(code, now, w)
			want := d >= -int64(w) && d <= int64(w)
			// A code of a step outside the window may collide with one
			// inside it (one in a million); the test's secret has none.
			if ok != want || (ok && got != step+d) {
				t.Errorf("offset %d window %d: ok=%v step=%d, want ok=%v", d, w, ok, got-step, want)
			}
		}
	}
}

// Keycloak's look-ahead on HOTP: counters c .. c+w, none behind; the
// next counter is the one after the match.
func TestHOTPLookAhead(t *testing.T) {
	c := cred(t, HOTP, rep.OTPHmacSHA1, 6, 0, 5, "12345678901234567890", "")
	for n := 3; n <= 9; n++ {
		next, ok := c.matchHOTP(c.CodeAt(uint64(n)), 2)
		want := n >= 5 && n <= 7
		if ok != want || (ok && next != n+1) {
			t.Errorf("counter %d: ok=%v next=%d, want ok=%v", n, ok, next, want)
		}
	}
}

func TestCheckRejects(t *testing.T) {
	for _, tc := range []struct {
		cd   CredentialData
		sd   SecretData
		want string
	}{
		{CredentialData{SubType: "sms", Digits: 6, Period: 30, Algorithm: "HmacSHA1"}, SecretData{"x"}, "subType"},
		{CredentialData{SubType: TOTP, Digits: 7, Period: 30, Algorithm: "HmacSHA1"}, SecretData{"x"}, "digits"},
		{CredentialData{SubType: TOTP, Digits: 6, Period: 30, Algorithm: "HmacMD5"}, SecretData{"x"}, "algorithm"},
		{CredentialData{SubType: TOTP, Digits: 6, Period: 0, Algorithm: "HmacSHA1"}, SecretData{"x"}, "period"},
		{CredentialData{SubType: TOTP, Digits: 6, Period: 30, Algorithm: "HmacSHA1"}, SecretData{""}, "secretData.value"},
		{CredentialData{SubType: TOTP, Digits: 6, Period: 30, Algorithm: "HmacSHA1", SecretEncoding: "BASE32"}, SecretData{"not base32!"}, "base32"},
		{CredentialData{SubType: TOTP, Digits: 6, Period: 30, Algorithm: "HmacSHA1", SecretEncoding: "HEX"}, SecretData{"00"}, "secretEncoding"},
	} {
		_, err := Check(tc.cd, tc.sd)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", tc.cd, err, tc.want)
		}
	}
}

func TestNewSecret(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if len(a) != 20 || a == b || strings.Trim(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != "" {
		t.Fatalf("secrets %q %q", a, b)
	}
}

// newUserWith creates realm, user and the user's otp credential in st.
func newUserWith(t *testing.T, st store.Store, name string, c Credential, sealer Sealer) (realmID string, row store.Credential) {
	t.Helper()
	ctx := t.Context()
	if _, err := rep.CreateRealm(ctx, st, rep.NewRealm(name), rep.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := st.GetRealmByName(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	u := store.User{ID: name + "-user", RealmID: r.ID, Username: "otp-user", Enabled: true, Created: time.Now()}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	row = c.Row
	row.ID, row.UserID = name+"-cred", u.ID
	if row.SecretData, err = SealSecretData(row.SecretData, sealer); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateCredential(ctx, row); err != nil {
		t.Fatal(err)
	}
	return r.ID, row
}

// A TOTP code is accepted once per step, also by a second verifier over
// the same database (another replica), and at once again when the policy
// lets codes be reused. Runs on SQLite and, with KEYGATE_TEST_POSTGRES, on
// PostgreSQL.
func TestTOTPReplayRefused(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		c := cred(t, TOTP, rep.OTPHmacSHA256, 8, 30, 0, "replay-secret-0123456789", "")
		realmID, row := newUserWith(t, st, "replay", c, nil)
		c.Row = row
		now := time.Unix(1_800_000_015, 0)
		a, b := NewVerifier(st, nil), NewVerifier(st, nil)
		a.SetClock(func() time.Time { return now })
		b.SetClock(func() time.Time { return now })
		p := rep.OTPPolicy{Type: TOTP, LookAheadWindow: 1}
		code := c.Code(now)
		creds, _ := st.ListCredentials(ctx, row.UserID)
		if ok, err := a.Verify(ctx, realmID, p, creds, "", code); err != nil || !ok {
			t.Fatalf("first use: %v %v", ok, err)
		}
		if ok, err := b.Verify(ctx, realmID, p, creds, "", code); err != nil || ok {
			t.Fatalf("replay on another verifier: %v %v, want refused", ok, err)
		}
		// The next step's code is a new code; the previous step's, used
		// after a later one, is still unused and so accepted.
		later := now.Add(30 * time.Second)
		a.SetClock(func() time.Time { return later })
		if ok, err := a.Verify(ctx, realmID, p, creds, row.ID, c.Code(later)); err != nil || !ok {
			t.Fatalf("next step: %v %v", ok, err)
		}
		if ok, _ := a.Verify(ctx, realmID, p, creds, row.ID, code); ok {
			t.Fatal("first step's code accepted twice")
		}
		// Many logins racing with one fresh code: exactly one wins.
		fresh := now.Add(90 * time.Second)
		a.SetClock(func() time.Time { return fresh })
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if ok, err := a.Verify(ctx, realmID, p, creds, "", c.Code(fresh)); err == nil && ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d concurrent uses of one code accepted, want 1", wins.Load())
		}
		p.CodeReusable = true
		if ok, err := a.Verify(ctx, realmID, p, creds, "", c.Code(fresh)); err != nil || !ok {
			t.Fatalf("otpPolicyCodeReusable: %v %v", ok, err)
		}
		if ok, _ := a.Verify(ctx, realmID, p, creds, "no-such-credential", c.Code(fresh)); ok {
			t.Fatal("unknown selectedCredentialId accepted")
		}
		if ok, _ := a.Verify(ctx, realmID, p, creds, "", "12345678"); ok {
			t.Fatal("a wrong code accepted")
		}
	})
}

// HOTP: the counter advances in the store, a code is spent once, and a
// code within the look-ahead resynchronises.
func TestHOTPCounterAdvances(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		sealer := testSealer{}
		c := cred(t, HOTP, rep.OTPHmacSHA512, 6, 0, 10, "hotp-secret", "")
		realmID, row := newUserWith(t, st, "hotp", c, sealer)
		if strings.Contains(row.SecretData, "hotp-secret") || !strings.Contains(row.SecretData, "kgsealed:") {
			t.Fatalf("secret stored in the clear: %s", row.SecretData)
		}
		v := NewVerifier(st, sealer)
		p := rep.OTPPolicy{Type: HOTP, LookAheadWindow: 1}
		list := func() []store.Credential {
			creds, err := st.ListCredentials(ctx, row.UserID)
			if err != nil {
				t.Fatal(err)
			}
			return creds
		}
		if ok, err := v.Verify(ctx, realmID, p, list(), "", c.CodeAt(10)); err != nil || !ok {
			t.Fatalf("counter 10: %v %v", ok, err)
		}
		if ok, _ := v.Verify(ctx, realmID, p, list(), "", c.CodeAt(10)); ok {
			t.Fatal("counter 10's code accepted twice")
		}
		if ok, _ := v.Verify(ctx, realmID, p, list(), "", c.CodeAt(13)); ok {
			t.Fatal("code beyond the look-ahead accepted")
		}
		if ok, err := v.Verify(ctx, realmID, p, list(), "", c.CodeAt(12)); err != nil || !ok {
			t.Fatalf("code within the look-ahead: %v %v", ok, err)
		}
		var cd CredentialData
		_ = json.Unmarshal([]byte(list()[0].CredentialData), &cd)
		if cd.Counter != 13 {
			t.Fatalf("stored counter %d, want 13", cd.Counter)
		}
		// Without the database key the sealed secret cannot be used.
		if _, err := NewVerifier(st, nil).Verify(ctx, realmID, p, list(), "", c.CodeAt(13)); err == nil {
			t.Fatal("a sealed secret verified without the database key")
		}
	})
}

// testSealer stands in for oidc.SecretSealer (which imports this package
// through authn): reversible, and refusing what it did not seal.
type testSealer struct{}

func (testSealer) Seal(v string) (string, error) {
	return "kgsealed:" + base64.StdEncoding.EncodeToString([]byte(v)), nil
}

func (testSealer) Reveal(v string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(v, "kgsealed:"))
	if err != nil || !strings.HasPrefix(v, "kgsealed:") {
		return "", errors.New("not sealed")
	}
	return string(b), nil
}

// A device made under a HOTP policy starts at the policy's initial
// counter; Accept (the setup's check) moves it past the code, a TOTP one
// reports the step to spend.
func TestNewAndAccept(t *testing.T) {
	p := rep.OTPPolicy{Type: HOTP, Algorithm: rep.OTPHmacSHA256, Digits: 8, InitialCounter: 7, LookAheadWindow: 1}
	c, err := New(p, "u1", "c1", "token", NewSecret(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c.Data.Counter != 7 || c.Data.Period != 0 || c.Data.Digits != 8 || c.Data.Algorithm != rep.OTPHmacSHA256 {
		t.Fatalf("new HOTP device: %+v", c.Data)
	}
	if _, ok := c.Accept(c.CodeAt(6), time.Now(), p); ok {
		t.Fatal("a code behind the counter accepted")
	}
	if _, ok := c.Accept(c.CodeAt(8), time.Now(), p); !ok || c.Data.Counter != 9 || !strings.Contains(c.Row.CredentialData, `"counter":9`) {
		t.Fatalf("within the look-ahead: counter %d, row %s", c.Data.Counter, c.Row.CredentialData)
	}
	tp := rep.OTPPolicy{Type: TOTP, Algorithm: rep.OTPHmacSHA512, Digits: 6, Period: 60, LookAheadWindow: 0}
	tc, err := New(tp, "u1", "c2", "", NewSecret(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if step, ok := tc.Accept(tc.Code(now), now, tp); !ok || step != now.Unix()/60 {
		t.Fatalf("TOTP accept: %d %v", step, ok)
	}
	if !strings.Contains(tc.Row.CredentialData, `"period":60`) || strings.Contains(tc.Row.CredentialData, "secretEncoding") {
		t.Fatalf("TOTP credentialData %s", tc.Row.CredentialData)
	}
}
