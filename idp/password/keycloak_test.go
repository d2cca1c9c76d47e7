package password_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/keygate/keygate/idp/password"
)

// A pbkdf2-sha256 credential for "password" from the published vector
// (salt "salt", 4096 iterations), in several historical encodings.
const (
	vecValue     = "xeR41ZKIyEGqUw22hFxMjZYok6ABzk4RpJY4c6qYE0o=" // c5e478d5...aa98134a
	vecValueRaw  = "xeR41ZKIyEGqUw22hFxMjZYok6ABzk4RpJY4c6qYE0o"
	vecSalt      = "c2FsdA=="
	vecSaltRaw   = "c2FsdA"
	vecCredData  = `{"hashIterations":4096,"algorithm":"pbkdf2-sha256","additionalParameters":{}}`
	argonCredSD  = `{"value":"Lx4lkKN9X0Fo3kmuxKQSTuNI23Ok8MzY8UNTFMlJHW0=","salt":"c29tZXNhbHQxNmJ5dGVzIQ==","additionalParameters":{}}`
	bcryptHash10 = "$2y$10$66vhZQhoJmqdkRXJWkc2u.VUlat/ollTc.Bfgot/Vnduw6WPK5syC" // htpasswd, "password"
	bcryptHash4  = "$2y$04$2gKUgwNAtJoO0bs8nFLU5.BF/dpRC0GY33slGefvyUiFvwu1Dv30K" // htpasswd, "correct horse battery staple"
	bcryptPW4    = "correct horse battery staple"
)

func TestFromKeycloakAcceptedShapes(t *testing.T) {
	argonParams := map[string][]string{"hashLength": {"32"}, "memory": {"7168"}, "type": {"id"}, "version": {"1.3"}, "parallelism": {"1"}}
	for _, tc := range []struct {
		name, sd, cd string
		pw           string
		wantSalt     bool
		wantParams   map[string][]string
	}{
		{"current export", `{"value":"` + vecValue + `","salt":"` + vecSalt + `","additionalParameters":{}}`, vecCredData, "password", true, nil},
		{"old export without additionalParameters", `{"value":"` + vecValue + `","salt":"` + vecSalt + `"}`, `{"hashIterations":4096,"algorithm":"pbkdf2-sha256"}`, "password", true, nil},
		{"base64 without padding", `{"value":"` + vecValueRaw + `","salt":"` + vecSaltRaw + `"}`, vecCredData, "password", true, nil},
		{"still JSON-quoted as in the export file", mustQuote(`{"value":"` + vecValue + `","salt":"` + vecSalt + `"}`), mustQuote(vecCredData), "password", true, nil},
		{"hashIterations as a string", `{"value":"` + vecValue + `","salt":"` + vecSalt + `"}`, `{"hashIterations":"4096","algorithm":"pbkdf2-sha256"}`, "password", true, nil},
		{"unknown extra fields", `{"value":"` + vecValue + `","salt":"` + vecSalt + `","x":1}`, `{"hashIterations":4096,"algorithm":"pbkdf2-sha256","y":[1]}`, "password", true, nil},
		{"argon2 params under algorithmData", argonCredSD,
			`{"hashIterations":5,"algorithm":"argon2","algorithmData":{"hashLength":["32"],"memory":["7168"],"type":["id"],"version":["1.3"],"parallelism":["1"]}}`,
			"password", true, argonParams},
		{"argon2 params as scalars", argonCredSD,
			`{"hashIterations":5,"algorithm":"argon2","additionalParameters":{"hashLength":32,"memory":"7168","type":"id","version":"1.3","parallelism":[1],"note":null}}`,
			"password", true, argonParams},
		{"md5 hex value, no salt", `{"value":"5f4dcc3b5aa765d61d8327deb882cf99","salt":null}`, `{"hashIterations":1,"algorithm":"md5"}`, "password", false, nil},
		{"md5 upper-case hex, __SALT__, no hashIterations", `{"value":"5F4DCC3B5AA765D61D8327DEB882CF99","salt":"__SALT__"}`, `{"algorithm":"md5"}`, "password", false, nil},
		{"md5 base64 value", `{"value":"X03MO1qnZdYdgyfeuILPmQ==","salt":""}`, `{"hashIterations":1,"algorithm":"md5"}`, "password", false, nil},
		{"bcrypt with hashIterations -1", `{"value":"` + bcryptHash4 + `","salt":""}`, `{"hashIterations":-1,"algorithm":"bcrypt"}`, bcryptPW4, false, nil},
		{"bcrypt without salt field", `{"value":"` + bcryptHash4 + `"}`, `{"hashIterations":4,"algorithm":"bcrypt","additionalParameters":{}}`, bcryptPW4, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := password.FromKeycloak(tc.sd, tc.cd)
			if err != nil {
				t.Fatalf("FromKeycloak: %v", err)
			}
			if (len(c.Salt) > 0) != tc.wantSalt {
				t.Errorf("salt = %x, want present=%v", c.Salt, tc.wantSalt)
			}
			if c.Salt != nil && len(c.Salt) == 0 {
				t.Errorf("empty salt should be nil")
			}
			if !reflect.DeepEqual(c.Params, tc.wantParams) {
				t.Errorf("Params = %v, want %v", c.Params, tc.wantParams)
			}
			checkVerify(t, c, tc.pw, "Password")
		})
	}
}

func TestFromKeycloakNormalizesIterations(t *testing.T) {
	c, err := password.FromKeycloak(`{"value":"`+bcryptHash10+`"}`, `{"hashIterations":-1,"algorithm":"bcrypt"}`)
	if err != nil || c.Iterations != 10 {
		t.Errorf("bcrypt Iterations = %d, %v; want the hash's cost 10", c.Iterations, err)
	}
	c, err = password.FromKeycloak(`{"value":"5f4dcc3b5aa765d61d8327deb882cf99"}`, `{"algorithm":"md5"}`)
	if err != nil || c.Iterations != 1 {
		t.Errorf("md5 Iterations = %d, %v; want 1", c.Iterations, err)
	}
}

func mustQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestFromKeycloakRejects(t *testing.T) {
	goodSD := `{"value":"` + vecValue + `","salt":"` + vecSalt + `"}`
	argonCD := func(params string) string {
		return `{"hashIterations":5,"algorithm":"argon2","additionalParameters":{` + params + `}}`
	}
	const okArgon = `"hashLength":["32"],"memory":["7168"],"type":["id"],"version":["1.3"],"parallelism":["1"]`
	for _, tc := range []struct {
		name, sd, cd string
		want         error
	}{
		{"empty secretData", "", vecCredData, password.ErrMalformed},
		{"empty credentialData", goodSD, "  ", password.ErrMalformed},
		{"secretData not JSON", "value=abc", vecCredData, password.ErrMalformed},
		{"secretData truncated", `{"value":"` + vecValue, vecCredData, password.ErrMalformed},
		{"secretData is an array", `["x"]`, vecCredData, password.ErrMalformed},
		{"credentialData is an array", goodSD, `[1]`, password.ErrMalformed},
		{"value missing", `{"salt":"` + vecSalt + `"}`, vecCredData, password.ErrMalformed},
		{"value is a number", `{"value":12,"salt":"` + vecSalt + `"}`, vecCredData, password.ErrMalformed},
		{"value not base64", `{"value":"***","salt":"` + vecSalt + `"}`, vecCredData, password.ErrMalformed},
		{"salt not base64", `{"value":"` + vecValue + `","salt":"%%"}`, vecCredData, password.ErrMalformed},
		{"algorithm missing", goodSD, `{"hashIterations":4096}`, password.ErrMalformed},
		{"algorithm empty", goodSD, `{"hashIterations":4096,"algorithm":""}`, password.ErrMalformed},
		{"unknown algorithm", goodSD, `{"hashIterations":4096,"algorithm":"pbkdf2-sha3"}`, password.ErrUnsupported},
		{"algorithm id is case-sensitive", goodSD, `{"hashIterations":4096,"algorithm":"PBKDF2-SHA256"}`, password.ErrUnsupported},
		{"iterations missing", goodSD, `{"algorithm":"pbkdf2-sha256"}`, password.ErrMalformed},
		{"iterations zero", goodSD, `{"hashIterations":0,"algorithm":"pbkdf2-sha256"}`, password.ErrMalformed},
		{"iterations negative", goodSD, `{"hashIterations":-5,"algorithm":"pbkdf2-sha256"}`, password.ErrMalformed},
		{"iterations fractional", goodSD, `{"hashIterations":4096.5,"algorithm":"pbkdf2-sha256"}`, password.ErrMalformed},
		{"iterations beyond Java int", goodSD, `{"hashIterations":4294967296,"algorithm":"pbkdf2-sha256"}`, password.ErrMalformed},
		{"iterations above bound", goodSD, `{"hashIterations":10000001,"algorithm":"pbkdf2-sha256"}`, password.ErrMalformed},
		{"iterations not a number", goodSD, `{"hashIterations":"many","algorithm":"pbkdf2-sha256"}`, password.ErrMalformed},
		{"pbkdf2 value too short", `{"value":"AAAAAAAAAAA=","salt":"` + vecSalt + `"}`, vecCredData, password.ErrMalformed},
		{"pbkdf2 value empty", `{"value":"","salt":"` + vecSalt + `"}`, vecCredData, password.ErrMalformed},
		{"additionalParameters not an object", goodSD, `{"hashIterations":4096,"algorithm":"pbkdf2-sha256","additionalParameters":"x"}`, password.ErrMalformed},
		{"additionalParameters value an object", goodSD, `{"hashIterations":4096,"algorithm":"pbkdf2-sha256","additionalParameters":{"a":{"b":1}}}`, password.ErrMalformed},
		{"secretData additionalParameters malformed", `{"value":"` + vecValue + `","salt":"` + vecSalt + `","additionalParameters":[1]}`, vecCredData, password.ErrMalformed},
		{"argon2 missing memory", argonCredSD, argonCD(`"hashLength":["32"],"type":["id"],"version":["1.3"],"parallelism":["1"]`), password.ErrMalformed},
		{"argon2 no params at all", argonCredSD, `{"hashIterations":5,"algorithm":"argon2"}`, password.ErrMalformed},
		{"argon2 unknown type", argonCredSD, argonCD(strings.Replace(okArgon, `["id"]`, `["x"]`, 1)), password.ErrMalformed},
		{"argon2 unknown version", argonCredSD, argonCD(strings.Replace(okArgon, `["1.3"]`, `["2.0"]`, 1)), password.ErrMalformed},
		{"argon2 version 1.0", argonCredSD, argonCD(strings.Replace(okArgon, `["1.3"]`, `["1.0"]`, 1)), password.ErrUnsupported},
		{"argon2d", argonCredSD, argonCD(strings.Replace(okArgon, `["id"]`, `["d"]`, 1)), password.ErrUnsupported},
		{"argon2 hashLength mismatch", argonCredSD, argonCD(strings.Replace(okArgon, `["32"]`, `["64"]`, 1)), password.ErrMalformed},
		{"argon2 memory zero", argonCredSD, argonCD(strings.Replace(okArgon, `["7168"]`, `["0"]`, 1)), password.ErrMalformed},
		{"argon2 memory above 1 GiB", argonCredSD, argonCD(strings.Replace(okArgon, `["7168"]`, `["1048577"]`, 1)), password.ErrMalformed},
		{"argon2 memory not a number", argonCredSD, argonCD(strings.Replace(okArgon, `["7168"]`, `["7 MiB"]`, 1)), password.ErrMalformed},
		{"argon2 parallelism 256", argonCredSD, argonCD(strings.Replace(okArgon, `"parallelism":["1"]`, `"parallelism":["256"]`, 1)), password.ErrMalformed},
		{"argon2 iterations 0", argonCredSD, strings.Replace(argonCD(okArgon), `"hashIterations":5`, `"hashIterations":0`, 1), password.ErrMalformed},
		{"argon2 iterations above bound", argonCredSD, strings.Replace(argonCD(okArgon), `"hashIterations":5`, `"hashIterations":1001`, 1), password.ErrMalformed},
		{"md5 short", `{"value":"5f4dcc3b5aa765d61d8327deb882cf"}`, `{"algorithm":"md5"}`, password.ErrMalformed},
		{"md5 not hex", `{"value":"zz4dcc3b5aa765d61d8327deb882cf99"}`, `{"algorithm":"md5"}`, password.ErrMalformed},
		{"md5 salted", `{"value":"5f4dcc3b5aa765d61d8327deb882cf99","salt":"` + vecSalt + `"}`, `{"algorithm":"md5"}`, password.ErrMalformed},
		{"md5 iterated", `{"value":"5f4dcc3b5aa765d61d8327deb882cf99"}`, `{"hashIterations":1000,"algorithm":"md5"}`, password.ErrMalformed},
		{"bcrypt $2x$", `{"value":"$2x$10$66vhZQhoJmqdkRXJWkc2u.VUlat/ollTc.Bfgot/Vnduw6WPK5syC"}`, `{"algorithm":"bcrypt"}`, password.ErrMalformed},
		{"bcrypt base64-encoded", `{"value":"JDJ5JDEwJDY2dmhaUWhvSm1xZGtSWEpXa2MydS5WVWxhdC9vbGxUYy5CZmdvdC9WbmR1dzZXUEs1c3lD"}`, `{"algorithm":"bcrypt"}`, password.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := password.FromKeycloak(tc.sd, tc.cd)
			if !errors.Is(err, tc.want) {
				t.Fatalf("FromKeycloak = %+v, %v; want error %v", c, err, tc.want)
			}
			if !reflect.DeepEqual(c, password.Credential{}) {
				t.Errorf("returned a non-zero credential with an error: %+v", c)
			}
		})
	}
}

func TestErrorsDoNotLeakSecrets(t *testing.T) {
	const secret = "SECRETSECRETSECRET"
	for _, tc := range []struct{ sd, cd string }{
		{`{"value":"` + secret + `**","salt":"c2FsdA=="}`, vecCredData},
		{`{"value":"` + secret + `","salt":"c2FsdA=="` + secret, vecCredData},
		{`{"value":"` + secret + `"}`, `{"algorithm":"md5"}`},
		{`{"value":"$2y$10$` + secret + `"}`, `{"algorithm":"bcrypt"}`},
		{`{"value":"` + secret + `"}`, `{"hashIterations":"` + secret + `","algorithm":"pbkdf2"}`},
	} {
		_, err := password.FromKeycloak(tc.sd, tc.cd)
		if err == nil {
			t.Fatalf("FromKeycloak(%s) succeeded", tc.sd)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error quotes the secret: %v", err)
		}
	}
}

func TestKeycloakEncoding(t *testing.T) {
	c := password.Credential{Algorithm: password.PBKDF2SHA256, Iterations: 4096, Salt: []byte("salt"), Value: mustHex(t, "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a")}
	md5c, _ := password.FromMD5Hex("5F4DCC3B5AA765D61D8327DEB882CF99")
	bc, _ := password.FromBcrypt(bcryptHash10)
	argon, err := password.FromKeycloak(argonCredSD, `{"hashIterations":5,"algorithm":"argon2","additionalParameters":{"hashLength":["32"],"memory":["7168"],"type":["id"],"version":["1.3"],"parallelism":["1"]}}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		c      password.Credential
		sd, cd string
	}{
		// Byte-for-byte what Keycloak writes for the same key.
		{"pbkdf2-sha256", c,
			`{"value":"` + vecValue + `","salt":"` + vecSalt + `","additionalParameters":{}}`,
			`{"hashIterations":4096,"algorithm":"pbkdf2-sha256","additionalParameters":{}}`},
		{"argon2", argon, argonCredSD,
			`{"hashIterations":5,"algorithm":"argon2","additionalParameters":{"hashLength":["32"],"memory":["7168"],"parallelism":["1"],"type":["id"],"version":["1.3"]}}`},
		{"md5 as lowercase hex", md5c,
			`{"value":"5f4dcc3b5aa765d61d8327deb882cf99","salt":"","additionalParameters":{}}`,
			`{"hashIterations":1,"algorithm":"md5","additionalParameters":{}}`},
		{"bcrypt as the crypt string", bc,
			`{"value":"` + bcryptHash10 + `","salt":"","additionalParameters":{}}`,
			`{"hashIterations":10,"algorithm":"bcrypt","additionalParameters":{}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sd, err := tc.c.SecretData()
			if err != nil || sd != tc.sd {
				t.Errorf("SecretData() = %s, %v\nwant %s", sd, err, tc.sd)
			}
			cd, err := tc.c.CredentialData()
			if err != nil || cd != tc.cd {
				t.Errorf("CredentialData() = %s, %v\nwant %s", cd, err, tc.cd)
			}
			back, err := password.FromKeycloak(sd, cd)
			if err != nil || !reflect.DeepEqual(back, tc.c) {
				t.Errorf("round trip = %+v, %v\nwant %+v", back, err, tc.c)
			}
		})
	}
}

func TestEncodingRefusesMalformed(t *testing.T) {
	for _, c := range []password.Credential{
		{},
		{Algorithm: password.PBKDF2SHA256, Iterations: 0, Value: make([]byte, 32)},
		{Algorithm: password.PBKDF2SHA256, Iterations: 1000, Value: make([]byte, 8)},
		{Algorithm: password.MD5, Iterations: 1, Value: make([]byte, 15)},
		{Algorithm: password.Bcrypt, Iterations: 10, Value: []byte("$2y$10$short")},
		{Algorithm: password.Argon2, Iterations: 5, Value: make([]byte, 32)},
		{Algorithm: "sha1", Iterations: 1, Value: make([]byte, 20)},
	} {
		if s, err := c.SecretData(); err == nil {
			t.Errorf("SecretData(%+v) = %s, want error", c, s)
		}
		if s, err := c.CredentialData(); err == nil {
			t.Errorf("CredentialData(%+v) = %s, want error", c, s)
		}
		if ok, err := password.Verify(c, "password"); ok || err == nil {
			t.Errorf("Verify(%+v) = %v, %v; want false, error", c, ok, err)
		}
	}
}

func TestFromMD5Hex(t *testing.T) {
	for _, bad := range []string{"", "5f4dcc3b5aa765d61d8327deb882cf9", "5f4dcc3b5aa765d61d8327deb882cf999", "5g4dcc3b5aa765d61d8327deb882cf99", "$2y$10$abc"} {
		if _, err := password.FromMD5Hex(bad); !errors.Is(err, password.ErrMalformed) {
			t.Errorf("FromMD5Hex(%q) error = %v, want ErrMalformed", bad, err)
		}
	}
	c, err := password.FromMD5Hex("5f4dcc3b5aa765d61d8327deb882cf99")
	want := password.Credential{Algorithm: password.MD5, Iterations: 1, Value: mustHex(t, "5f4dcc3b5aa765d61d8327deb882cf99")}
	if err != nil || !reflect.DeepEqual(c, want) {
		t.Errorf("FromMD5Hex = %+v, %v; want %+v", c, err, want)
	}
}

func TestFromBcrypt(t *testing.T) {
	valid := bcryptHash10
	for _, tc := range []struct {
		name, hash string
		ok         bool
	}{
		{"$2y$", valid, true},
		{"$2a$", "$2a$" + valid[4:], true},
		{"$2b$", "$2b$" + valid[4:], true},
		{"surrounding whitespace", " " + valid + "\n", true},
		{"htpasswd line with colon", ":" + valid, false},
		{"$2x$", "$2x$" + valid[4:], false},
		{"$2$", "$2$10$" + valid[7:], false},
		{"$3a$", "$3a$" + valid[4:], false},
		{"cost 03", "$2y$03$" + valid[7:], false},
		{"cost 31 (beyond bound)", "$2y$31$" + valid[7:], false},
		{"cost 12 (keygate's cap)", "$2y$12$" + valid[7:], true},
		{"cost 13", "$2y$13$" + valid[7:], false},
		{"cost letters", "$2y$1a$" + valid[7:], false},
		{"truncated", valid[:59], false},
		{"too long", valid + "A", false},
		{"bad alphabet", valid[:20] + "+" + valid[21:], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := password.FromBcrypt(tc.hash)
			if tc.ok != (err == nil) {
				t.Fatalf("FromBcrypt(%q) = %v; want ok=%v", tc.hash, err, tc.ok)
			}
			if err != nil && !errors.Is(err, password.ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if err == nil && (c.Algorithm != password.Bcrypt || string(c.Value) != strings.TrimSpace(tc.hash)) {
				t.Errorf("FromBcrypt = %+v", c)
			}
		})
	}
	// Variant letters do not change the result for these inputs.
	for _, prefix := range []string{"$2a$", "$2b$"} {
		c, _ := password.FromBcrypt(prefix + bcryptHash4[4:])
		checkVerify(t, c, bcryptPW4)
	}
}
