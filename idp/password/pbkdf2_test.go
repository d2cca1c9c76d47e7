package password

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"runtime"
	"strings"
	"testing"
)

// pbkdf2Key must agree with the standard library for every shape we use.
func TestPBKDF2KeyMatchesStdlib(t *testing.T) {
	hashes := map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}
	for name, h := range hashes {
		for _, iter := range []int{1, 2, 511, 512, 513, 1025, 4096} {
			for _, n := range []int{16, 20, 32, 33, 64, 100} {
				pw, salt := fmt.Sprintf("pässwörd-%d", iter), []byte(fmt.Sprintf("salt-%d-%d", iter, n))
				if iter == 513 {
					pw = strings.Repeat("long password, longer than a hash block ", 5) // hashed to a key first
				}
				want, err := pbkdf2.Key(h, pw, salt, iter, n)
				if err != nil {
					t.Fatal(err)
				}
				got, err := pbkdf2Key(h, pw, salt, iter, n, runtime.Gosched)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%s iter=%d len=%d: got %x, want %x (%v)", name, iter, n, got, want, err)
				}
			}
		}
	}
	if _, err := pbkdf2Key(sha256.New, "x", nil, 0, 32, runtime.Gosched); err == nil {
		t.Error("zero iterations accepted")
	}
	// The fast path must be the one taken for the hashes Keycloak uses.
	for name, h := range hashes {
		if sh, ok := h().(stateHash); !ok || !chainable(h, sh) {
			t.Errorf("%s: pbkdf2Chained not used", name)
		}
	}
}

func BenchmarkPBKDF2Stdlib20000(b *testing.B) {
	for b.Loop() {
		_, _ = pbkdf2.Key(sha256.New, "password", []byte("0123456789abcdef"), 20000, 32)
	}
}

func BenchmarkPBKDF2Yielding20000(b *testing.B) {
	for b.Loop() {
		_, _ = pbkdf2Key(sha256.New, "password", []byte("0123456789abcdef"), 20000, 32, runtime.Gosched)
	}
}
