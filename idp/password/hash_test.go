package password_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/keygate/keygate/idp/password"
)

func TestHash(t *testing.T) {
	argonParams := map[string][]string{"hashLength": {"32"}, "memory": {"7168"}, "type": {"id"}, "version": {"1.3"}, "parallelism": {"1"}}
	for _, tc := range []struct {
		name       string
		p          password.Policy
		alg        string
		iterations int
		keyLen     int
		params     map[string][]string
	}{
		{"zero policy", password.Policy{}, "pbkdf2-sha256", 20000, 32, nil},
		{"default policy", password.DefaultPolicy(), "pbkdf2-sha256", 20000, 32, nil},
		{"pbkdf2-sha256 1000", password.Policy{Algorithm: "pbkdf2-sha256", Iterations: 1000}, "pbkdf2-sha256", 1000, 32, nil},
		{"pbkdf2-sha512", password.Policy{Algorithm: "pbkdf2-sha512", Iterations: 1000}, "pbkdf2-sha512", 1000, 64, nil},
		{"pbkdf2 (sha1)", password.Policy{Algorithm: "pbkdf2", Iterations: 1000}, "pbkdf2", 1000, 64, nil},
		{"argon2 default passes", password.Policy{Algorithm: "argon2"}, "argon2", 5, 32, argonParams},
		{"argon2 policy passes", password.Policy{Algorithm: "argon2", Iterations: 2}, "argon2", 2, 32, argonParams},
		{"argon2 ignores > 100", password.Policy{Algorithm: "argon2", Iterations: 27500}, "argon2", 5, 32, argonParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const pw = "Tr0ub4dor&3 ünïcode"
			c, err := password.Hash(tc.p, pw)
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}
			if c.Algorithm != tc.alg || c.Iterations != tc.iterations || len(c.Value) != tc.keyLen || len(c.Salt) != 16 {
				t.Errorf("Hash = {%s %d key:%d salt:%d}, want {%s %d key:%d salt:16}",
					c.Algorithm, c.Iterations, len(c.Value), len(c.Salt), tc.alg, tc.iterations, tc.keyLen)
			}
			if !reflect.DeepEqual(c.Params, tc.params) {
				t.Errorf("Params = %v, want %v", c.Params, tc.params)
			}
			checkVerify(t, c, pw, "Tr0ub4dor&3 unicode", "tr0ub4dor&3 ünïcode")
			if c.NeedsRehash(tc.p) {
				t.Errorf("a fresh hash needs a rehash under its own policy")
			}
			c2, err := password.Hash(tc.p, pw)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(c.Salt, c2.Salt) || bytes.Equal(c.Value, c2.Value) {
				t.Errorf("two hashes share salt or value")
			}
		})
	}
}

func TestHashRefuses(t *testing.T) {
	for _, p := range []password.Policy{
		{Algorithm: password.MD5},
		{Algorithm: password.Bcrypt},
		{Algorithm: "scrypt"},
	} {
		if c, err := password.Hash(p, "pw"); !errors.Is(err, password.ErrUnsupported) {
			t.Errorf("Hash(%s) = %+v, %v; want ErrUnsupported", p.Algorithm, c, err)
		}
	}
	if _, err := password.Hash(password.Policy{Iterations: 10_000_001}, "pw"); err == nil {
		t.Errorf("Hash with 10,000,001 iterations succeeded; Verify would refuse the result")
	}
}

// Keycloak right-pads PBKDF2 passwords shorter than 14 chars with NULs. HMAC
// zero-pads short keys to its block size, so the padded and unpadded
// derivations agree and keygate need not pad. This test proves the claim.
func TestKeycloakNulPaddingIsIrrelevant(t *testing.T) {
	for _, alg := range []string{password.PBKDF2SHA1, password.PBKDF2SHA256, password.PBKDF2SHA512} {
		c, err := password.Hash(password.Policy{Algorithm: alg, Iterations: 100}, "abc")
		if err != nil {
			t.Fatal(err)
		}
		padded := "abc" + strings.Repeat("\x00", 11)
		if ok, err := password.Verify(c, padded); !ok || err != nil {
			t.Errorf("%s: Keycloak-padded password does not verify: %v, %v", alg, ok, err)
		}
	}
}

func TestNeedsRehash(t *testing.T) {
	pbkdf2 := func(alg string, iter, keyLen int) password.Credential {
		return password.Credential{Algorithm: alg, Iterations: iter, Value: make([]byte, keyLen), Salt: make([]byte, 16)}
	}
	argon := func(t int, mutate func(map[string][]string)) password.Credential {
		p := map[string][]string{"hashLength": {"32"}, "memory": {"7168"}, "type": {"id"}, "version": {"1.3"}, "parallelism": {"1"}}
		if mutate != nil {
			mutate(p)
		}
		return password.Credential{Algorithm: password.Argon2, Iterations: t, Value: make([]byte, 32), Salt: make([]byte, 16), Params: p}
	}
	md5c, _ := password.FromMD5Hex("5f4dcc3b5aa765d61d8327deb882cf99")
	bc, _ := password.FromBcrypt(bcryptHash10)
	def := password.DefaultPolicy()
	sha512 := password.Policy{Algorithm: password.PBKDF2SHA512, Iterations: 210000}
	sha1 := password.Policy{Algorithm: password.PBKDF2SHA1, Iterations: 20000}
	argonP := password.Policy{Algorithm: password.Argon2}
	for _, tc := range []struct {
		name string
		c    password.Credential
		p    password.Policy
		want bool
	}{
		{"current default", pbkdf2("pbkdf2-sha256", 20000, 32), def, false},
		{"zero policy is the default", pbkdf2("pbkdf2-sha256", 20000, 32), password.Policy{}, false},
		{"old iteration count", pbkdf2("pbkdf2-sha256", 27500, 32), def, true},
		{"fewer iterations", pbkdf2("pbkdf2-sha256", 1, 32), def, true},
		{"old 64-byte sha256 key", pbkdf2("pbkdf2-sha256", 20000, 64), def, true},
		{"sha512 under sha256 policy", pbkdf2("pbkdf2-sha512", 20000, 64), def, true},
		{"sha512 current", pbkdf2("pbkdf2-sha512", 210000, 64), sha512, false},
		{"sha512 short key", pbkdf2("pbkdf2-sha512", 210000, 32), sha512, true},
		{"sha256 under sha512 policy", pbkdf2("pbkdf2-sha256", 210000, 64), sha512, true},
		{"sha1 current", pbkdf2("pbkdf2", 20000, 64), sha1, false},
		{"sha1 under default", pbkdf2("pbkdf2", 20000, 64), def, true},
		{"md5 always", md5c, def, true},
		{"md5 even under an md5 policy", md5c, password.Policy{Algorithm: password.MD5, Iterations: 1}, true},
		{"bcrypt always", bc, def, true},
		{"bcrypt even under a bcrypt policy", bc, password.Policy{Algorithm: password.Bcrypt, Iterations: 10}, true},
		{"argon2 current", argon(5, nil), argonP, false},
		{"argon2, policy iterations > 100 ignored", argon(5, nil), password.Policy{Algorithm: password.Argon2, Iterations: 20000}, false},
		{"argon2 policy iterations", argon(3, nil), password.Policy{Algorithm: password.Argon2, Iterations: 3}, false},
		{"argon2 fewer passes", argon(3, nil), argonP, true},
		{"argon2 more memory", argon(5, func(p map[string][]string) { p["memory"] = []string{"65536"} }), argonP, true},
		{"argon2i", argon(5, func(p map[string][]string) { p["type"] = []string{"i"} }), argonP, true},
		{"argon2 parallelism 2", argon(5, func(p map[string][]string) { p["parallelism"] = []string{"2"} }), argonP, true},
		{"argon2 malformed params", argon(5, func(p map[string][]string) { delete(p, "memory") }), argonP, true},
		{"argon2 under pbkdf2 policy", argon(5, nil), def, true},
		{"pbkdf2 under argon2 policy", pbkdf2("pbkdf2-sha256", 5, 32), argonP, true},
	} {
		if got := tc.c.NeedsRehash(tc.p); got != tc.want {
			t.Errorf("%s: NeedsRehash = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDummyCredential(t *testing.T) {
	d1 := password.DummyCredential(password.DefaultPolicy())
	if d1.Algorithm != password.PBKDF2SHA256 || d1.Iterations != 20000 || len(d1.Value) != 32 {
		t.Errorf("dummy = {%s %d %d}, want the default policy's shape", d1.Algorithm, d1.Iterations, len(d1.Value))
	}
	// Computed once: the same salt and key every time, also for an equal policy value.
	d2 := password.DummyCredential(password.Policy{})
	if !bytes.Equal(d1.Value, d2.Value) || !bytes.Equal(d1.Salt, d2.Salt) {
		t.Errorf("dummy credential recomputed")
	}
	// Callers cannot corrupt the cached copy.
	d1.Value[0] ^= 0xff
	if d3 := password.DummyCredential(password.DefaultPolicy()); bytes.Equal(d3.Value, d1.Value) {
		t.Errorf("mutating a returned dummy changed the cache")
	}
	for _, pw := range []string{"", "password", "admin"} {
		if ok, err := password.Verify(d2, pw); ok || err != nil {
			t.Errorf("Verify(dummy, %q) = %v, %v; want false, nil", pw, ok, err)
		}
	}

	fast := password.Policy{Algorithm: password.PBKDF2SHA512, Iterations: 1000}
	if d := password.DummyCredential(fast); d.Algorithm != password.PBKDF2SHA512 || d.Iterations != 1000 || len(d.Value) != 64 {
		t.Errorf("dummy under %v = {%s %d %d}", fast, d.Algorithm, d.Iterations, len(d.Value))
	}
	if d := password.DummyCredential(password.Policy{Algorithm: password.Argon2, Iterations: 1}); d.Algorithm != password.Argon2 || d.Iterations != 1 {
		t.Errorf("argon2 dummy = {%s %d}", d.Algorithm, d.Iterations)
	}
	// A policy that cannot hash falls back to the default policy's cost.
	if d := password.DummyCredential(password.Policy{Algorithm: password.MD5}); d.Algorithm != password.PBKDF2SHA256 || d.Iterations != 20000 {
		t.Errorf("md5-policy dummy = {%s %d}, want the default", d.Algorithm, d.Iterations)
	}

	// Concurrent first use computes a single value.
	p := password.Policy{Algorithm: password.PBKDF2SHA1, Iterations: 1234}
	var wg sync.WaitGroup
	got := make([][]byte, 16)
	for i := range got {
		wg.Go(func() { got[i] = password.DummyCredential(p).Value })
	}
	wg.Wait()
	for i := range got {
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("concurrent DummyCredential calls returned different credentials")
		}
	}
}
