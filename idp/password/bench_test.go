package password_test

import (
	"strconv"
	"testing"

	"github.com/keygate/keygate/idp/password"
)

func BenchmarkHashPBKDF2SHA256_20000(b *testing.B) {
	p := password.DefaultPolicy()
	for b.Loop() {
		if _, err := password.Hash(p, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyPBKDF2SHA256_20000(b *testing.B) {
	c, err := password.Hash(password.DefaultPolicy(), "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	benchVerify(b, c, "correct horse battery staple")
}

func BenchmarkVerifyMD5(b *testing.B) {
	c, err := password.FromMD5Hex("5f4dcc3b5aa765d61d8327deb882cf99")
	if err != nil {
		b.Fatal(err)
	}
	benchVerify(b, c, "password")
}

func BenchmarkVerifyBcrypt10(b *testing.B) {
	c, err := password.FromBcrypt(bcryptHash10) // htpasswd -bnBC 10 "" password
	if err != nil {
		b.Fatal(err)
	}
	benchVerify(b, c, "password")
}

func BenchmarkVerifyArgon2Default(b *testing.B) {
	c, err := password.Hash(password.Policy{Algorithm: password.Argon2}, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	benchVerify(b, c, "correct horse battery staple")
}

func benchVerify(b *testing.B, c password.Credential, pw string) {
	b.Helper()
	for b.Loop() {
		if ok, err := password.Verify(c, pw); !ok || err != nil {
			b.Fatalf("Verify = %v, %v", ok, err)
		}
	}
}

// BenchmarkVerifyAtCap is the costliest single verify keygate accepts, per
// algorithm (the caps in the package documentation): what one login against
// a hostile import or policy can cost. Run with -benchtime 3x.
func BenchmarkVerifyAtCap(b *testing.B) {
	salt := []byte("0123456789abcdef")
	argon := func(memory, passes, par int) password.Credential {
		return password.Credential{Algorithm: password.Argon2, Iterations: passes, Value: make([]byte, 32), Salt: salt,
			Params: map[string][]string{"hashLength": {"32"}, "memory": {strconv.Itoa(memory)}, "type": {"id"}, "version": {"1.3"}, "parallelism": {strconv.Itoa(par)}}}
	}
	bc, err := password.FromBcrypt("$2y$12$" + bcryptHash10[7:])
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		c    password.Credential
	}{
		{"pbkdf2-sha1-1500000x64B", password.Credential{Algorithm: password.PBKDF2SHA1, Iterations: 1_500_000, Value: make([]byte, 64), Salt: salt}},
		{"pbkdf2-sha256-1000000x64B", password.Credential{Algorithm: password.PBKDF2SHA256, Iterations: 1_000_000, Value: make([]byte, 64), Salt: salt}},
		{"pbkdf2-sha512-300000x64B", password.Credential{Algorithm: password.PBKDF2SHA512, Iterations: 300_000, Value: make([]byte, 64), Salt: salt}},
		{"argon2-7168KiBx10", argon(7168, 10, 1)},
		{"argon2-65536KiBx1-p4", argon(65536, 1, 4)},
		{"bcrypt-12", bc},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := password.Verify(tc.c, "wrong"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
