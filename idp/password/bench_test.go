package password_test

import (
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
