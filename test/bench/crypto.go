package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/idp/password"
)

// Password hashing parameters of the realm's policy (SPEC §4): what every
// bench user is stored under and what the raw rate is measured with.
const (
	pbkdf2Iterations = 20000
	pbkdf2KeyLen     = 32
)

// rawRates is the cost of the server's crypto primitives on this machine,
// measured in-process on every core, in operations per second.
type rawRates struct {
	PBKDF2, RSA, HMAC float64
	// KeygatePBKDF2 is the same hash as idp/password computes it (its own
	// faster PBKDF2); the ratios use the standard library's PBKDF2 above.
	KeygatePBKDF2 float64
	ES256         float64 // ECDSA P-256 signs, for realms signing with ES256
	Cores         float64 // CPU cores the measurement actually got, on average
}

// mean averages two measurements; a zero one (not taken) is ignored.
func (a rawRates) mean(b rawRates) rawRates {
	if b.RSA == 0 {
		return a
	}
	return rawRates{(a.PBKDF2 + b.PBKDF2) / 2, (a.RSA + b.RSA) / 2, (a.HMAC + b.HMAC) / 2, (a.KeygatePBKDF2 + b.KeygatePBKDF2) / 2,
		(a.ES256 + b.ES256) / 2, (a.Cores + b.Cores) / 2}
}

// measureCrypto runs each primitive on GOMAXPROCS goroutines for d after a
// short warm-up.
func measureCrypto(d time.Duration) (rawRates, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return rawRates{}, err
	}
	digest := sha256.Sum256([]byte("keygate bench"))
	salt := make([]byte, 16)
	mac := make([]byte, 64)
	payload := make([]byte, 600) // about a Keycloak refresh token's signing input
	_, _ = rand.Read(salt)
	_, _ = rand.Read(mac)

	c0, t0 := selfCPU(), time.Now()
	var r rawRates
	var firstErr error
	var once sync.Once
	fail := func(err error) { once.Do(func() { firstErr = err }) }
	r.PBKDF2 = opsPerSecond(d, func() {
		if _, err := pbkdf2.Key(sha256.New, "bench-password", salt, pbkdf2Iterations, pbkdf2KeyLen); err != nil {
			fail(err)
		}
	})
	r.KeygatePBKDF2 = opsPerSecond(d, func() {
		if _, err := password.Hash(password.DefaultPolicy(), "bench-password"); err != nil {
			fail(err)
		}
	})
	r.RSA = opsPerSecond(d, func() {
		if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:]); err != nil {
			fail(err)
		}
	})
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return rawRates{}, err
	}
	r.ES256 = opsPerSecond(d, func() {
		if _, err := ecdsa.SignASN1(rand.Reader, ec, digest[:]); err != nil {
			fail(err)
		}
	})
	r.HMAC = opsPerSecond(d, func() {
		h := hmac.New(sha512.New, mac)
		h.Write(payload)
		h.Sum(nil)
	})
	r.Cores = (selfCPU() - c0).Seconds() / time.Since(t0).Seconds()
	return r, firstErr
}

// opsPerSecond calls fn in a loop on GOMAXPROCS goroutines: a warm-up of
// d/10 (at least 200 ms), then d counted.
func opsPerSecond(d time.Duration, fn func()) float64 {
	warm := max(d/10, 200*time.Millisecond)
	var total atomic.Int64
	var wg sync.WaitGroup
	countFrom := time.Now().Add(warm)
	stop := countFrom.Add(d)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var n int64
			for {
				fn()
				now := time.Now()
				if now.After(stop) {
					break
				}
				if !now.Before(countFrom) {
					n++
				}
			}
			total.Add(n)
		})
	}
	wg.Wait()
	return float64(total.Load()) / d.Seconds()
}
