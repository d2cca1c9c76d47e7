package password

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"log/slog"
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
	CheckFastPBKDF2(slog.Default())
	for name, h := range hashes {
		if !fastPBKDF2.digests[shapeOf(h())] {
			t.Errorf("%s: pbkdf2Chained not used", name)
		}
	}
}

// A chained path that disagrees with crypto/pbkdf2 (as a Go release that
// changed the hashes' state layout would make it) is switched off for
// every digest with one log line, and hashes still equal crypto/pbkdf2's.
func TestPBKDF2FallbackWhenSelfCheckFails(t *testing.T) {
	CheckFastPBKDF2(slog.Default())
	saved, savedImpl := fastPBKDF2.digests, chainedPBKDF2
	t.Cleanup(func() { fastPBKDF2.digests, chainedPBKDF2 = saved, savedImpl })
	chainedPBKDF2 = func(h stateHash, password string, salt []byte, iter, keyLen int, yield func()) []byte {
		dk := savedImpl(h, password, salt, iter, keyLen, yield)
		dk[len(dk)-1] ^= 1 // the kind of error a changed layout gives: plausible bytes, wrong
		return dk
	}
	var logs bytes.Buffer
	fastPBKDF2.digests = checkFastPBKDF2(slog.New(slog.NewTextHandler(&logs, nil)))
	if lines := strings.Count(logs.String(), "\n"); lines != 1 || !strings.Contains(logs.String(), "SHA-1,SHA-256,SHA-512") {
		t.Errorf("want one log line naming the three digests, got %d:\n%s", lines, logs.String())
	}
	hashes := map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}
	for name, h := range hashes {
		if fastPBKDF2.digests[shapeOf(h())] {
			t.Errorf("%s: the failed fast path is still used", name)
		}
		want, _ := pbkdf2.Key(h, "fallback", []byte("salt"), 1000, 40)
		got, err := pbkdf2Key(h, "fallback", []byte("salt"), 1000, 40, runtime.Gosched)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s fallback: got %x, want %x (%v)", name, got, want, err)
		}
	}
	// The check itself passes with the real chained path.
	chainedPBKDF2 = savedImpl
	logs.Reset()
	if d := checkFastPBKDF2(slog.New(slog.NewTextHandler(&logs, nil))); len(d) != 3 || logs.Len() != 0 {
		t.Errorf("self-check with the real path: %v, log %q", d, logs.String())
	}
	for _, ok := range checkFastPBKDF2(slog.New(slog.NewTextHandler(&logs, nil))) {
		if !ok {
			t.Error("the real chained path failed its self-check")
		}
	}
}

// BenchmarkPBKDF2 is the figure that justifies pbkdf2Chained (make bench):
// a 27500-iteration hash (Keycloak's PBKDF2-SHA256 count before version
// 24) per digest, by the standard library and by keygate's chained path.
func BenchmarkPBKDF2(b *testing.B) {
	CheckFastPBKDF2(slog.Default())
	for _, d := range []struct {
		name string
		h    func() hash.Hash
	}{{"SHA-1", sha1.New}, {"SHA-256", sha256.New}, {"SHA-512", sha512.New}} {
		salt := []byte("0123456789abcdef")
		b.Run(d.name+"/crypto-pbkdf2", func(b *testing.B) {
			for b.Loop() {
				_, _ = pbkdf2.Key(d.h, "password", salt, 27500, d.h().Size())
			}
		})
		b.Run(d.name+"/keygate", func(b *testing.B) {
			if !fastPBKDF2.digests[shapeOf(d.h())] {
				b.Log("fast path disabled by the self-check: this is the fallback")
			}
			for b.Loop() {
				_, _ = pbkdf2Key(d.h, "password", salt, 27500, d.h().Size(), runtime.Gosched)
			}
		})
	}
}
