// Package password hashes, verifies and re-hashes password credentials in
// Keycloak's storage format, enforces Keycloak password policies, and bounds
// the CPU spent on hashing.
//
// Algorithms, by the id Keycloak stores in credentialData.algorithm:
//
//   - pbkdf2 (HMAC-SHA1), pbkdf2-sha256, pbkdf2-sha512 and argon2 (type id or
//     i, version 1.3): hashed and verified.
//   - md5 (StackState's unsalted hex digest) and bcrypt ($2a$, $2b$, $2y$):
//     verified only, so imported legacy users can log in once and be
//     re-hashed under the realm policy (see [Credential.NeedsRehash]).
//
// Passwords are hashed as their UTF-8 bytes, which is what Keycloak does with
// the Java string. Keycloak's NUL padding of short PBKDF2 passwords is not
// reproduced: HMAC zero-pads keys shorter than its block anyway, so the
// result is the same.
//
// Stored credentials arrive through imports and realm policies are set by
// realm administrators, so neither may turn one login into a weapon: a
// verify that pins a core for seconds, or gigabytes of memory. keygate caps
// the cost near Keycloak 26's own defaults (its OWASP-derived PBKDF2
// iterations, its argon2 parameters), so that every credential a Keycloak
// writes with its defaults imports, and refuses anything costlier as
// malformed, naming the cap:
//
//   - pbkdf2 (SHA-1): at most 1,500,000 iterations (Keycloak 24+ default
//     1,300,000, deprecated by Keycloak as "very slow")
//   - pbkdf2-sha256: at most 1,000,000 iterations (default 600,000; 27,500
//     before Keycloak 24)
//   - pbkdf2-sha512: at most 300,000 iterations (default 210,000)
//   - pbkdf2*: stored key 16..64 bytes (Keycloak writes 32 or 64), which
//     bounds the number of PBKDF2 blocks a verify derives
//   - argon2: memory at most 65,536 KiB (64 MiB), memory x iterations at
//     most 71,680 KiB (twice Keycloak's default of 7,168 KiB x 5, e.g.
//     7,168 KiB x 10 or 64 MiB x 1), parallelism at most 4, hashLength
//     16..1,024 bytes
//   - bcrypt: cost 4..12 (StackState's and htpasswd's hashes use 10 or less;
//     every step doubles the cost and cost 12 is already as slow as the
//     PBKDF2 caps)
//
// A realm policy is held to the same caps (see ParsePolicy); the dummy hash
// for unknown users never exceeds them (see DummyCredential).
//
// Nothing here logs, and no error message contains a password or hash value.
package password

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"runtime"
	"strconv"
	"sync"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Algorithm ids as Keycloak stores them in credentialData.algorithm.
const (
	PBKDF2SHA1   = "pbkdf2" // PBKDF2WithHmacSHA1
	PBKDF2SHA256 = "pbkdf2-sha256"
	PBKDF2SHA512 = "pbkdf2-sha512"
	Argon2       = "argon2"
	MD5          = "md5"    // legacy StackState: unsalted hex md5, verify-only
	Bcrypt       = "bcrypt" // $2a$/$2b$/$2y$, verify-only
)

// Errors returned (wrapped) by this package; test with errors.Is.
var (
	// ErrMalformed marks a stored credential or encoding that cannot be
	// used: bad JSON, bad base64, impossible or out-of-bounds parameters.
	ErrMalformed = errors.New("password: malformed credential")
	// ErrUnsupported marks a well-formed request this package cannot serve:
	// an unknown algorithm id, argon2d, argon2 version 1.0, or a verify-only
	// algorithm (md5, bcrypt) used as a policy's hash algorithm.
	ErrUnsupported = errors.New("password: unsupported algorithm")
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...)
}

// Caps on stored parameters; see the package documentation. (PBKDF2's
// iteration caps are in pbkdf2Specs.)
const (
	minKeyLen          = 16 // a shorter stored key would make guessing cheap
	maxPBKDF2KeyLen    = 64
	maxArgon2MemoryKiB = 64 << 10
	maxArgon2Work      = 2 * argon2MemoryKiB * argon2DefaultTime // memory KiB x iterations
	maxArgon2Threads   = 4
	maxArgon2KeyLen    = 1_024
	maxBcryptCost      = 12

	// maxArgon2PolicyPasses is the most a policy's hashIterations may ask
	// of argon2 at Keycloak's memory: 10.
	maxArgon2PolicyPasses = maxArgon2Work / argon2MemoryKiB

	overCapNote          = "keygate's maximum" // in every over-cap error
	argon2WorkCapExample = "e.g. 7168 KiB x 10 or 65536 KiB x 1"
)

// Defaults for newly hashed credentials.
const (
	// DefaultAlgorithm and DefaultIterations are keygate's default policy.
	DefaultAlgorithm  = PBKDF2SHA256
	DefaultIterations = 20_000

	saltLen = 16 // Keycloak's salt size

	// Keycloak's Argon2 defaults (Argon2Parameters); policy iterations above
	// argon2MaxPolicyTime are ignored, as Keycloak does.
	argon2DefaultTime   = 5
	argon2MaxPolicyTime = 100
	argon2MemoryKiB     = 7168
	argon2Threads       = 1
	argon2KeyLen        = 32
	argon2TypeID        = "id"
	argon2Version13     = "1.3"
)

// Keycloak's additionalParameters keys for argon2.
const (
	paramHashLength  = "hashLength"
	paramMemory      = "memory"
	paramType        = "type"
	paramVersion     = "version"
	paramParallelism = "parallelism"
)

type pbkdf2Spec struct {
	newHash func() hash.Hash
	keyLen  int // key size Keycloak 26 writes; older values of other sizes still verify
	maxIter int // keygate's cap on iterations
	size    int // the hash's output size: one PBKDF2 block
	work    float64
}

var pbkdf2Specs = map[string]pbkdf2Spec{
	PBKDF2SHA1:   {sha1.New, 64, 1_500_000, sha1.Size, workSHA1},
	PBKDF2SHA256: {sha256.New, 32, 1_000_000, sha256.Size, workSHA256},
	PBKDF2SHA512: {sha512.New, 64, 300_000, sha512.Size, workSHA512},
}

// Credential is one stored password credential in Keycloak's shape.
type Credential struct {
	Algorithm  string
	Iterations int                 // hashIterations: pbkdf2 rounds, argon2 passes, bcrypt cost; 1 for md5
	Value      []byte              // raw derived key (pbkdf2/argon2); for md5 the 16 raw digest bytes; for bcrypt the full "$2y$..." string bytes
	Salt       []byte              // nil/empty when none
	Params     map[string][]string // Keycloak additionalParameters (argon2: hashLength, memory, type, version, parallelism), as multi-valued strings
}

func (c Credential) clone() Credential {
	c.Value = append([]byte(nil), c.Value...)
	if c.Salt != nil {
		c.Salt = append([]byte(nil), c.Salt...)
	}
	if c.Params != nil {
		params := make(map[string][]string, len(c.Params))
		for k, v := range c.Params {
			params[k] = append([]string(nil), v...)
		}
		c.Params = params
	}
	return c
}

// check reports whether c can be verified, without doing the work.
func (c Credential) check() error {
	switch c.Algorithm {
	case PBKDF2SHA1, PBKDF2SHA256, PBKDF2SHA512:
		if c.Iterations < 1 {
			return malformed("%s: iterations %d, want at least 1", c.Algorithm, c.Iterations)
		}
		if limit := pbkdf2Specs[c.Algorithm].maxIter; c.Iterations > limit {
			return malformed("%s: %d iterations exceed %s of %d", c.Algorithm, c.Iterations, overCapNote, limit)
		}
		if n := len(c.Value); n < minKeyLen || n > maxPBKDF2KeyLen {
			return malformed("%s: stored key is %d bytes, want %d..%d", c.Algorithm, n, minKeyLen, maxPBKDF2KeyLen)
		}
		return nil
	case Argon2:
		_, err := c.argon2Params()
		return err
	case MD5:
		if len(c.Value) != md5.Size {
			return malformed("md5: stored digest is %d bytes, want %d", len(c.Value), md5.Size)
		}
		if len(c.Salt) != 0 {
			return malformed("md5: salted md5 is not supported")
		}
		if c.Iterations != 1 {
			return malformed("md5: hashIterations must be 1 (iterated md5 is not supported), got %d", c.Iterations)
		}
		return nil
	case Bcrypt:
		cost, err := bcryptCost(string(c.Value))
		if err != nil {
			return err
		}
		if c.Iterations != cost {
			return malformed("bcrypt: hashIterations %d does not match the hash's cost %d", c.Iterations, cost)
		}
		return nil
	case "":
		return malformed("algorithm is empty")
	default:
		return unsupported("unknown algorithm %q", c.Algorithm)
	}
}

type argon2Params struct {
	typ     string // "id" or "i"
	time    uint32
	memory  uint32 // KiB
	threads uint8
	keyLen  uint32
}

// argon2Params reads and validates the argon2 parameters of c.
func (c Credential) argon2Params() (argon2Params, error) {
	var p argon2Params
	first := func(key string) (string, error) {
		v := c.Params[key]
		if len(v) == 0 {
			return "", malformed("argon2: additionalParameters.%s is missing", key)
		}
		return v[0], nil
	}
	num := func(key string, lo, hi int) (int, error) {
		s, err := first(key)
		if err != nil {
			return 0, err
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, malformed("argon2: additionalParameters.%s is not an integer", key)
		}
		if n < lo {
			return 0, malformed("argon2: %s %d, want at least %d", key, n, lo)
		}
		if n > hi {
			return 0, malformed("argon2: %s %d exceeds %s of %d", key, n, overCapNote, hi)
		}
		return n, nil
	}

	typ, err := first(paramType)
	if err != nil {
		return p, err
	}
	switch typ {
	case "id", "i":
		p.typ = typ
	case "d":
		// Keycloak can be configured for argon2d; x/crypto/argon2 does not
		// implement it.
		return p, unsupported("argon2d is not supported")
	default:
		return p, malformed("argon2: unknown type %q", typ)
	}
	version, err := first(paramVersion)
	if err != nil {
		return p, err
	}
	switch version {
	case argon2Version13:
	case "1.0":
		return p, unsupported("argon2 version 1.0 is not supported (only 1.3)")
	default:
		return p, malformed("argon2: unknown version %q", version)
	}
	if c.Iterations < 1 {
		return p, malformed("argon2: iterations %d, want at least 1", c.Iterations)
	}
	memory, err := num(paramMemory, 1, maxArgon2MemoryKiB)
	if err != nil {
		return p, err
	}
	if work := int64(memory) * int64(c.Iterations); work > maxArgon2Work {
		return p, malformed("argon2: memory x iterations = %d KiB x %d exceeds %s of %d KiB (%s)",
			memory, c.Iterations, overCapNote, maxArgon2Work, argon2WorkCapExample)
	}
	p.time = uint32(c.Iterations)
	p.memory = uint32(memory)
	threads, err := num(paramParallelism, 1, maxArgon2Threads)
	if err != nil {
		return p, err
	}
	p.threads = uint8(threads)
	keyLen, err := num(paramHashLength, minKeyLen, maxArgon2KeyLen)
	if err != nil {
		return p, err
	}
	if keyLen != len(c.Value) {
		return p, malformed("argon2: hashLength %d but the stored hash is %d bytes", keyLen, len(c.Value))
	}
	p.keyLen = uint32(keyLen)
	return p, nil
}

func (p argon2Params) key(password string, salt []byte) []byte {
	if p.typ == "i" {
		return argon2.Key([]byte(password), salt, p.time, p.memory, p.threads, p.keyLen)
	}
	return argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, p.keyLen)
}

// Verify reports whether password matches c, comparing in constant time.
// PBKDF2 uses the stored iteration count and derives as many bytes as the
// stored value holds, so Keycloak's older 64-byte pbkdf2-sha256 values
// verify. A wrong password is (false, nil); an error means c itself is
// malformed or unsupported (wrapping ErrMalformed or ErrUnsupported).
// Logins should go through Limiter.Verify instead, which bounds and shares
// the work.
func Verify(c Credential, password string) (bool, error) {
	return verify(c, password, runtime.Gosched)
}

// verify is Verify calling yield between slices of PBKDF2 work.
func verify(c Credential, password string, yield func()) (bool, error) {
	if err := c.check(); err != nil {
		return false, err
	}
	switch c.Algorithm {
	case PBKDF2SHA1, PBKDF2SHA256, PBKDF2SHA512:
		dk, err := pbkdf2Key(pbkdf2Specs[c.Algorithm].newHash, password, c.Salt, c.Iterations, len(c.Value), yield)
		if err != nil {
			// Only reachable in FIPS 140-only mode (sha1, short salts).
			return false, unsupported("%s: %v", c.Algorithm, err)
		}
		return subtle.ConstantTimeCompare(dk, c.Value) == 1, nil
	case Argon2:
		p, _ := c.argon2Params() // validated by check
		return subtle.ConstantTimeCompare(p.key(password, c.Salt), c.Value) == 1, nil
	case MD5:
		sum := md5.Sum([]byte(password))
		return subtle.ConstantTimeCompare(sum[:], c.Value) == 1, nil
	case Bcrypt:
		// bcrypt reads at most 72 bytes of the password, as the C
		// implementations that produced these hashes (htpasswd) do.
		err := bcrypt.CompareHashAndPassword(c.Value, []byte(password))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, nil
		default:
			return false, malformed("bcrypt: %v", err)
		}
	}
	return false, unsupported("unknown algorithm %q", c.Algorithm) // unreachable: check rejects it
}

// Hash hashes password under p's algorithm and iterations with a fresh
// 16-byte salt from crypto/rand: pbkdf2-sha256 gives a 32-byte key (Keycloak
// 26), pbkdf2-sha512 and pbkdf2 (sha1) 64 bytes; argon2 uses Keycloak's
// defaults (argon2id v1.3, 7168 KiB, parallelism 1, 32 bytes) with
// p.HashIterations() passes. md5 and bcrypt are verify-only and give an
// error wrapping ErrUnsupported; a policy over keygate's cost caps gives an
// error too (ParsePolicy refuses such policies).
func Hash(p Policy, password string) (Credential, error) {
	return hashPolicy(p, password, runtime.Gosched)
}

// hashPolicy is Hash calling yield between slices of PBKDF2 work.
func hashPolicy(p Policy, password string, yield func()) (Credential, error) {
	if err := p.checkCost(); err != nil {
		return Credential{}, err
	}
	alg, iterations := p.HashAlgorithm(), p.HashIterations()
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return Credential{}, fmt.Errorf("password: reading random salt: %w", err)
	}
	switch alg {
	case PBKDF2SHA1, PBKDF2SHA256, PBKDF2SHA512:
		spec := pbkdf2Specs[alg]
		dk, err := pbkdf2Key(spec.newHash, password, salt, iterations, spec.keyLen, yield)
		if err != nil {
			return Credential{}, fmt.Errorf("password: %s: %w", alg, err)
		}
		return Credential{Algorithm: alg, Iterations: iterations, Value: dk, Salt: salt}, nil
	case Argon2:
		dk := argon2.IDKey([]byte(password), salt, uint32(iterations), argon2MemoryKiB, argon2Threads, argon2KeyLen)
		return Credential{
			Algorithm:  Argon2,
			Iterations: iterations,
			Value:      dk,
			Salt:       salt,
			Params: map[string][]string{
				paramHashLength:  {strconv.Itoa(argon2KeyLen)},
				paramMemory:      {strconv.Itoa(argon2MemoryKiB)},
				paramType:        {argon2TypeID},
				paramVersion:     {argon2Version13},
				paramParallelism: {strconv.Itoa(argon2Threads)},
			},
		}, nil
	default:
		return Credential{}, unsupported("unknown hash algorithm %q", alg) // checkCost refuses it
	}
}

// NeedsRehash reports whether c should be replaced by Hash(p, password)
// after a successful login. It is false only when c already has p's
// algorithm and iteration count and that algorithm's current parameters:
// for pbkdf2 the current key size (so 64-byte pbkdf2-sha256 values are
// rewritten to 32 bytes), for argon2 every parameter. md5 and bcrypt always
// need a rehash, as does any credential c that is malformed.
func (c Credential) NeedsRehash(p Policy) bool {
	alg := p.HashAlgorithm()
	if c.Algorithm != alg || c.Iterations != p.HashIterations() {
		return true
	}
	switch alg {
	case PBKDF2SHA1, PBKDF2SHA256, PBKDF2SHA512:
		return len(c.Value) != pbkdf2Specs[alg].keyLen
	case Argon2:
		ap, err := c.argon2Params()
		return err != nil || ap.typ != argon2TypeID || ap.memory != argon2MemoryKiB ||
			ap.threads != argon2Threads || ap.keyLen != argon2KeyLen
	default:
		return true
	}
}

type dummyEntry struct {
	once sync.Once
	cred Credential
}

// dummies caches one dummy credential per (algorithm, iterations); the set
// of keys is bounded by the distinct policies configured.
var dummies sync.Map // string -> *dummyEntry

// DummyCredential returns a credential hashed under p from a random password
// nobody knows, computed once per policy algorithm and iteration count. When
// a login names an unknown user, verify the password against it and reject:
// the failure then costs as much as a real user's wrong password, so response
// times do not reveal which usernames exist. A policy over keygate's cost
// caps (one stored before the caps, or built by hand) is clamped to them, so
// that no realm setting makes anonymous logins costlier than the caps allow;
// if p's algorithm cannot hash, the default policy's dummy is returned.
func DummyCredential(p Policy) Credential {
	p = p.clamped()
	key := p.HashAlgorithm() + "/" + strconv.Itoa(p.HashIterations())
	v, _ := dummies.LoadOrStore(key, new(dummyEntry))
	e := v.(*dummyEntry)
	e.once.Do(func() {
		secret := make([]byte, 16)
		_, _ = rand.Read(secret) // never fails on supported platforms since Go 1.24
		pw := hex.EncodeToString(secret)
		c, err := Hash(p, pw)
		if err != nil {
			c, _ = Hash(DefaultPolicy(), pw) // the default policy always hashes
		}
		e.cred = c
	})
	return e.cred.clone()
}

// Relative costs of the primitives, in PBKDF2-HMAC-SHA256 iterations over
// one block: rough orders of magnitude on x86-64 with SHA extensions. They
// only decide whether a failed verify was cheaper than the policy's hash
// and by how much (see pad); within one algorithm they cancel out.
const (
	workSHA1      = 1.0   // one PBKDF2-HMAC-SHA1 iteration of one block
	workSHA256    = 1.0   // one PBKDF2-HMAC-SHA256 iteration of one block
	workSHA512    = 6.0   // one PBKDF2-HMAC-SHA512 iteration of one block
	workArgon2KiB = 4.0   // one argon2 pass over 1 KiB
	workBcrypt    = 450.0 // bcrypt's cost: 2^cost of these
)

// work estimates what verifying c costs (0 for md5 or a malformed c).
func (c Credential) work() float64 {
	if c.check() != nil {
		return 0
	}
	switch c.Algorithm {
	case PBKDF2SHA1, PBKDF2SHA256, PBKDF2SHA512:
		spec := pbkdf2Specs[c.Algorithm]
		blocks := (len(c.Value) + spec.size - 1) / spec.size
		return float64(c.Iterations) * float64(blocks) * spec.work
	case Argon2:
		p, _ := c.argon2Params()
		return float64(p.memory) * float64(p.time) * workArgon2KiB
	case Bcrypt:
		return math.Ldexp(workBcrypt, c.Iterations)
	}
	return 0
}

// work estimates what verifying a credential hashed under p costs.
func (p Policy) work() float64 {
	alg, n := p.HashAlgorithm(), float64(p.HashIterations())
	if spec, ok := pbkdf2Specs[alg]; ok {
		return n * float64((spec.keyLen+spec.size-1)/spec.size) * spec.work
	}
	if alg == Argon2 {
		return n * argon2MemoryKiB * workArgon2KiB
	}
	return 0
}

// padWork is how much work (see work) a failed verify of c must add to
// cost what a failed verify of a credential hashed under p costs: zero
// unless c is clearly cheaper (by a fifth or more). p must be within the
// caps (clamped).
func padWork(c Credential, p Policy) float64 {
	want := p.work()
	have := c.work()
	if have >= want*0.8 {
		return 0
	}
	return want - have
}

// pinned reports whether verifying c cannot be preempted between slices
// (argon2 and bcrypt run in one piece; see Limiter).
func (c Credential) pinned() bool {
	return c.Algorithm == Argon2 || c.Algorithm == Bcrypt
}

// padPinned reports whether padding a failed verify of c under p would run
// an argon2 hash.
func padPinned(c Credential, p Policy) bool {
	return p.HashAlgorithm() == Argon2 && padWork(c, p) > 0
}

// pad spends work w the way p's hash does: PBKDF2 iterations of p's hash,
// or, for argon2, one verify of p's dummy credential (argon2 cannot be cut
// to size; a pad is only needed when c was far cheaper, so the overshoot is
// small).
func pad(p Policy, w float64, yield func()) {
	if w <= 0 {
		return
	}
	alg := p.HashAlgorithm()
	spec, ok := pbkdf2Specs[alg]
	if !ok {
		_, _ = verify(DummyCredential(p), "", yield)
		return
	}
	blocks := (spec.keyLen + spec.size - 1) / spec.size
	iter := int(math.Ceil(w / (float64(blocks) * spec.work)))
	_, _ = pbkdf2Key(spec.newHash, "", padSalt[:], max(iter, 1), spec.keyLen, yield)
}

var padSalt = [saltLen]byte{'k', 'e', 'y', 'g', 'a', 't', 'e', ' ', 'p', 'a', 'd'}
