package password

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding"
	"encoding/binary"
	"errors"
	"hash"
	"log/slog"
	"strings"
	"sync"
)

// yieldEvery is how many HMAC iterations run between yields: short enough
// that a token request never waits long behind a hash, long enough that
// yielding costs nothing measurable (make bench compares the two PBKDF2s).
const yieldEvery = 512

// pbkdf2Key is PBKDF2 (RFC 8018) that calls yield every few hundred
// iterations. A hash holds a core for milliseconds; with every core
// hashing during a login flood, the Go scheduler would leave a token request
// waiting a full time slice behind each hash. Yielding the processor
// (runtime.Gosched) keeps those requests' latency low while logins still use
// every core, and lets the Limiter hand the hash's slot to another realm's
// login (see Limiter). crypto/pbkdf2 cannot yield, hence this function.
//
// For the digests that passed CheckFastPBKDF2 it takes the chained path
// (pbkdf2Chained), else the standard library's HMAC. Results equal
// crypto/pbkdf2's either way; tests check both paths.
func pbkdf2Key(newHash func() hash.Hash, password string, salt []byte, iter, keyLen int, yield func()) ([]byte, error) {
	if iter < 1 || keyLen < 1 {
		return nil, errors.New("pbkdf2: invalid parameters")
	}
	CheckFastPBKDF2(slog.Default()) // once per process; the server does it at start-up
	if h, ok := newHash().(stateHash); ok && fastPBKDF2.digests[shapeOf(h)] {
		return chainedPBKDF2(h, password, salt, iter, keyLen, yield), nil
	}
	prf := hmac.New(newHash, []byte(password))
	hLen := prf.Size()
	blocks := (keyLen + hLen - 1) / hLen
	dk := make([]byte, 0, blocks*hLen)
	var buf [4]byte
	u := make([]byte, hLen)
	for block := 1; block <= blocks; block++ {
		prf.Reset()
		prf.Write(salt)
		binary.BigEndian.PutUint32(buf[:], uint32(block))
		prf.Write(buf[:])
		dk = prf.Sum(dk)
		t := dk[len(dk)-hLen:]
		copy(u, t)
		for n := 2; n <= iter; n++ {
			prf.Reset()
			prf.Write(u)
			u = prf.Sum(u[:0])
			for x := range u {
				t[x] ^= u[x]
			}
			if n%yieldEvery == 0 {
				yield()
			}
		}
	}
	return dk[:keyLen], nil
}

// stateHash is a hash whose state can be saved and restored: the standard
// library's SHA-1 and SHA-2 digests.
type stateHash interface {
	hash.Hash
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
	encoding.BinaryAppender
}

// pbkdf2Chained computes PBKDF2-HMAC with h without going through Sum.
//
// From the second iteration on, every HMAC input is the previous output,
// whose length is fixed: the padded final block of the inner and of the
// outer hash is known in advance, and only its first Size() bytes change.
// So each iteration restores the saved ipad (opad) state, writes that one
// block (the digest compresses it at once) and reads the new chaining value
// back from the saved state, where it sits right after the 4-byte format
// prefix. That skips the copying and padding of Sum, which is most of an
// iteration's cost beyond the compression itself: logins are hashing-bound,
// so this raises the login rate a machine sustains (make bench prints both
// PBKDF2s' rates, per digest and on every core).
//
// It relies on the standard library's MarshalBinary layout of SHA-1 and
// SHA-2 states, which Go does not promise: CheckFastPBKDF2 compares it with
// crypto/pbkdf2 before it is used.
func pbkdf2Chained(h stateHash, password string, salt []byte, iter, keyLen int, yield func()) []byte {
	size, bs := h.Size(), h.BlockSize()
	key := []byte(password)
	if len(key) > bs {
		h.Write(key)
		key = h.Sum(nil)
		h.Reset()
	}
	pad := make([]byte, bs)
	copy(pad, key)
	for i := range pad {
		pad[i] ^= 0x36
	}
	h.Write(pad)
	istate, _ := h.MarshalBinary()
	for i := range pad {
		pad[i] ^= 0x36 ^ 0x5c
	}
	h.Reset()
	h.Write(pad)
	ostate, _ := h.MarshalBinary()

	// The final block of a message of one block plus size bytes: the
	// chaining value, 0x80, zeros, and the bit length in the last 8 (SHA-1,
	// SHA-256) or 16 (SHA-512) bytes.
	blk := make([]byte, bs)
	blk[size] = 0x80
	binary.BigEndian.PutUint64(blk[bs-8:], uint64(bs+size)*8)
	st := make([]byte, 0, 2*bs+32)
	blocks := (keyLen + size - 1) / size
	dk := make([]byte, 0, blocks*size)
	var ctr [4]byte
	for block := 1; block <= blocks; block++ {
		// U1 = HMAC(P, S || INT(block)), the ordinary way.
		h.UnmarshalBinary(istate)
		h.Write(salt)
		binary.BigEndian.PutUint32(ctr[:], uint32(block))
		h.Write(ctr[:])
		u := h.Sum(blk[:0]) // into blk[:size]; the padding after it stays
		h.UnmarshalBinary(ostate)
		h.Write(u)
		dk = h.Sum(dk)
		t := dk[len(dk)-size:]
		copy(blk, t)
		for n := 2; n <= iter; n++ {
			h.UnmarshalBinary(istate)
			h.Write(blk)
			st, _ = h.AppendBinary(st[:0])
			copy(blk[:size], st[4:])
			h.UnmarshalBinary(ostate)
			h.Write(blk)
			st, _ = h.AppendBinary(st[:0])
			copy(blk[:size], st[4:])
			for x := range t {
				t[x] ^= blk[x]
			}
			if n%yieldEvery == 0 {
				yield()
			}
		}
	}
	return dk[:keyLen]
}

// fastPBKDF2 holds the digests (by size and block size) for which the
// chained path gave crypto/pbkdf2's results at start-up.
var fastPBKDF2 struct {
	once    sync.Once
	digests map[[2]int]bool
}

// chainedPBKDF2 is pbkdf2Chained; the fallback test replaces it with a
// broken one.
var chainedPBKDF2 = pbkdf2Chained

func shapeOf(h hash.Hash) [2]int { return [2]int{h.Size(), h.BlockSize()} }

// CheckFastPBKDF2 checks, once per process, that the chained PBKDF2 gives
// crypto/pbkdf2's results for every digest it serves (SHA-1, SHA-256 and
// SHA-512). A digest that fails (a Go release that changed its hash state
// layout) is hashed with the standard library's HMAC instead, said in one
// log line; logins then cost more but stay correct. The server calls it at
// start-up; otherwise the first hash does.
func CheckFastPBKDF2(log *slog.Logger) {
	fastPBKDF2.once.Do(func() { fastPBKDF2.digests = checkFastPBKDF2(log) })
}

func checkFastPBKDF2(log *slog.Logger) map[[2]int]bool {
	ok := map[[2]int]bool{}
	var failed []string
	for _, d := range []struct {
		name    string
		newHash func() hash.Hash
	}{{"SHA-1", sha1.New}, {"SHA-256", sha256.New}, {"SHA-512", sha512.New}} {
		h := d.newHash()
		good := chainedAgrees(d.newHash)
		ok[shapeOf(h)] = good
		if !good {
			failed = append(failed, d.name)
		}
	}
	if len(failed) > 0 {
		log.Warn("fast PBKDF2 disabled: its results differ from crypto/pbkdf2 on this Go release; hashing with the standard library's HMAC instead (slower logins, same hashes)",
			"digests", strings.Join(failed, ","))
	}
	return ok
}

// chainedAgrees compares the chained path with crypto/pbkdf2 for newHash:
// one and several iterations and blocks, a partial last block, and a
// password longer than the hash's block (hashed to a key first).
func chainedAgrees(newHash func() hash.Hash) bool {
	h, ok := newHash().(stateHash)
	if !ok || h.Size()+1+16 > h.BlockSize() {
		return false // no state to restore, or no room for the final block's padding
	}
	size := h.Size()
	for _, c := range []struct {
		pw           string
		iter, keyLen int
	}{
		{"a", 1, size},
		{"self-check", 3, 2*size + 1},
		{strings.Repeat("a password longer than one block of the hash ", 4), 2, size},
	} {
		salt := []byte("keygate pbkdf2 self-check")
		want, err := pbkdf2.Key(newHash, c.pw, salt, c.iter, c.keyLen)
		if err != nil {
			return false
		}
		got := chainedPBKDF2(newHash().(stateHash), c.pw, salt, c.iter, c.keyLen, func() {})
		if !bytes.Equal(got, want) {
			return false
		}
	}
	return true
}
