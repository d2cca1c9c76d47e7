package password

import (
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"hash"
	"runtime"
)

// yieldEvery is how many HMAC iterations run between yields: about 0.1 ms
// of SHA-256 work on this class of CPU.
const yieldEvery = 512

// pbkdf2Key is PBKDF2 (RFC 8018) that yields the processor every few
// hundred iterations. A 20000-iteration hash holds a core for ~5 ms; with
// every core hashing during a login flood, the Go scheduler would leave a
// token request waiting a full time slice behind each hash. Yielding keeps
// those requests' latency low while logins still use every core (the
// Limiter bounds how many hash at once). Results equal crypto/pbkdf2's; a
// test checks it.
func pbkdf2Key(newHash func() hash.Hash, password string, salt []byte, iter, keyLen int) ([]byte, error) {
	if iter < 1 || keyLen < 1 {
		return nil, errors.New("pbkdf2: invalid parameters")
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
				runtime.Gosched()
			}
		}
	}
	return dk[:keyLen], nil
}
