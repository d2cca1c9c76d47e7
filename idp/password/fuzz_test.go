package password_test

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/keygate/keygate/idp/password"
)

// FuzzFromKeycloak: decoding never panics, and anything accepted re-encodes
// to documents that decode to the same credential and can be verified.
func FuzzFromKeycloak(f *testing.F) {
	f.Add(`{"value":"`+vecValue+`","salt":"`+vecSalt+`","additionalParameters":{}}`, vecCredData)
	f.Add(`{"value":"`+vecValueRaw+`","salt":"__SALT__"}`, `{"hashIterations":"7","algorithm":"pbkdf2"}`)
	f.Add(argonCredSD, `{"hashIterations":1,"algorithm":"argon2","algorithmData":{"hashLength":"32","memory":[8],"type":["i"],"version":["1.3"],"parallelism":["1"]}}`)
	f.Add(`{"value":"5f4dcc3b5aa765d61d8327deb882cf99","salt":null}`, `{"algorithm":"md5"}`)
	f.Add(`{"value":"$2a$04$2gKUgwNAtJoO0bs8nFLU5.BF/dpRC0GY33slGefvyUiFvwu1Dv30K"}`, `{"hashIterations":-1,"algorithm":"bcrypt"}`)
	f.Add(mustQuote(`{"value":"x"}`), mustQuote(`{"algorithm":"pbkdf2-sha512","hashIterations":1}`))
	f.Add(`{"value":"`, `[`)
	f.Fuzz(func(t *testing.T, sd, cd string) {
		c, err := password.FromKeycloak(sd, cd)
		if err != nil {
			return
		}
		sd2, err := c.SecretData()
		if err != nil {
			t.Fatalf("SecretData of an accepted credential: %v", err)
		}
		cd2, err := c.CredentialData()
		if err != nil {
			t.Fatalf("CredentialData of an accepted credential: %v", err)
		}
		c2, err := password.FromKeycloak(sd2, cd2)
		if err != nil {
			t.Fatalf("re-encoded credential rejected: %v\n%s\n%s", err, sd2, cd2)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip changed the credential:\n%+v\n%+v", c, c2)
		}
		if cheap(c) {
			if _, err := password.Verify(c, "fuzz"); err != nil {
				t.Fatalf("Verify of an accepted credential: %v", err)
			}
		}
	})
}

// cheap reports whether verifying c takes well under a millisecond or so,
// keeping the fuzzer fast; the parameter bounds themselves are tested elsewhere.
func cheap(c password.Credential) bool {
	switch c.Algorithm {
	case password.Argon2:
		m, _ := strconv.Atoi(c.Params["memory"][0])
		return c.Iterations*m <= 1<<12
	case password.Bcrypt:
		return c.Iterations <= 5
	case password.MD5:
		return true
	default:
		return c.Iterations <= 5000
	}
}

// FuzzParsePolicy: parsing never panics; an accepted policy's String parses
// back to an equivalent policy whose String is a fixed point; Validate never
// panics.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{
		"",
		"hashAlgorithm(pbkdf2-sha512) and hashIterations(27500) and length(8) and notUsername(undefined)",
		"length and maxLength and digits and lowerCase and upperCase and specialChars and notEmail",
		"regexPattern(^(a|b)+$) and passwordHistory(3) and notContainsUsername",
		"hashAlgorithm(argon2) and hashIterations(200)",
		"length(0)",
		"regexPattern(a)|(b)",
	} {
		f.Add(s, "Passw0rd!")
	}
	f.Fuzz(func(t *testing.T, s, pw string) {
		p, err := password.ParsePolicy(s)
		if err != nil {
			return
		}
		_ = p.Validate(pw, "user", "user@example.com")
		q, err := password.ParsePolicy(p.String())
		if err != nil {
			t.Fatalf("String() %q of an accepted policy does not parse: %v", p.String(), err)
		}
		if !equivalent(p, q) {
			t.Fatalf("round trip changed the policy:\n%q -> %+v\n%q -> %+v", s, p, p.String(), q)
		}
		if r, err := password.ParsePolicy(q.String()); err != nil || r.String() != q.String() {
			t.Fatalf("String is not a fixed point: %q -> %q (%v)", q.String(), r.String(), err)
		}
	})
}

// equivalent compares what a policy does, not how it was spelled: an empty
// policy string parses to the explicit default.
func equivalent(a, b password.Policy) bool {
	a.Algorithm, b.Algorithm = a.HashAlgorithm(), b.HashAlgorithm()
	a.Iterations, b.Iterations = a.HashIterations(), b.HashIterations()
	return reflect.DeepEqual(a, b)
}
