package password

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// Keycloak stores a password credential as two JSON documents, each held in
// a string field of the credential (so they appear double-encoded in realm
// exports):
//
//	secretData     {"value":"<base64 key>","salt":"<base64 salt>","additionalParameters":{}}
//	credentialData {"hashIterations":27500,"algorithm":"pbkdf2-sha256","additionalParameters":{}}
//
// The verify-only formats have no Keycloak encoding of their own; keygate
// writes them so that an export reads naturally and matches the community
// providers (keycloak-bcrypt stores bcrypt this way):
//
//	md5:    value = the lowercase hex digest StackState had, salt "", hashIterations 1
//	bcrypt: value = the crypt string as-is ("$2y$10$..."), salt "", hashIterations = cost
//
// A pbkdf2 or argon2 credential without a salt is written with salt "".

type secretDataOut struct {
	Value                string              `json:"value"`
	Salt                 string              `json:"salt"`
	AdditionalParameters map[string][]string `json:"additionalParameters"`
}

type credentialDataOut struct {
	HashIterations       int                 `json:"hashIterations"`
	Algorithm            string              `json:"algorithm"`
	AdditionalParameters map[string][]string `json:"additionalParameters"`
}

// SecretData returns Keycloak's secretData JSON for c. It fails, wrapping
// ErrMalformed or ErrUnsupported, rather than encode a credential that
// could not be verified.
func (c Credential) SecretData() (string, error) {
	if err := c.check(); err != nil {
		return "", err
	}
	out := secretDataOut{AdditionalParameters: map[string][]string{}}
	switch c.Algorithm {
	case MD5:
		out.Value = hex.EncodeToString(c.Value)
	case Bcrypt:
		out.Value = string(c.Value)
	default:
		out.Value = base64.StdEncoding.EncodeToString(c.Value)
		out.Salt = base64.StdEncoding.EncodeToString(c.Salt)
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// CredentialData returns Keycloak's credentialData JSON for c, with c.Params
// as additionalParameters. Like SecretData it refuses malformed credentials.
func (c Credential) CredentialData() (string, error) {
	if err := c.check(); err != nil {
		return "", err
	}
	params := c.Params
	if params == nil {
		params = map[string][]string{}
	}
	b, err := json.Marshal(credentialDataOut{
		HashIterations:       c.Iterations,
		Algorithm:            c.Algorithm,
		AdditionalParameters: params,
	})
	return string(b), err
}

type secretDataIn struct {
	Value                *string         `json:"value"`
	Salt                 *string         `json:"salt"`
	AdditionalParameters json.RawMessage `json:"additionalParameters"`
	AlgorithmData        json.RawMessage `json:"algorithmData"`
}

type credentialDataIn struct {
	HashIterations       json.RawMessage `json:"hashIterations"`
	Algorithm            *string         `json:"algorithm"`
	AdditionalParameters json.RawMessage `json:"additionalParameters"`
	AlgorithmData        json.RawMessage `json:"algorithmData"`
}

// FromKeycloak decodes a credential from Keycloak's secretData and
// credentialData JSON. It accepts what Keycloak versions have written and
// read: exports without additionalParameters, the "algorithmData" key
// Keycloak's JSON creators read, a null, empty or "__SALT__" salt (no salt),
// standard base64 with or without padding, and either document passed still
// JSON-quoted as it appears in an export. md5 values may be hex or base64;
// bcrypt values are the crypt string. Parameters in secretData are checked
// for shape and dropped: Keycloak's hash providers keep none there.
//
// Errors wrap ErrUnsupported for an unknown algorithm (or argon2d, argon2
// 1.0) and ErrMalformed for anything else; they never quote the value.
func FromKeycloak(secretData, credentialData string) (Credential, error) {
	var sd secretDataIn
	if err := decodeDocument("secretData", secretData, &sd); err != nil {
		return Credential{}, err
	}
	var cd credentialDataIn
	if err := decodeDocument("credentialData", credentialData, &cd); err != nil {
		return Credential{}, err
	}

	if cd.Algorithm == nil || *cd.Algorithm == "" {
		return Credential{}, malformed("credentialData.algorithm is missing")
	}
	c := Credential{Algorithm: *cd.Algorithm}
	iterations, err := decodeIterations(cd.HashIterations)
	if err != nil {
		return Credential{}, err
	}
	c.Iterations = iterations
	if c.Params, err = decodeParams("credentialData", cd.AlgorithmData, cd.AdditionalParameters); err != nil {
		return Credential{}, err
	}
	if _, err := decodeParams("secretData", sd.AlgorithmData, sd.AdditionalParameters); err != nil {
		return Credential{}, err
	}
	if sd.Value == nil {
		return Credential{}, malformed("secretData.value is missing")
	}
	value := *sd.Value
	if sd.Salt != nil && *sd.Salt != "" && *sd.Salt != "__SALT__" {
		if c.Salt, err = decodeBase64(*sd.Salt); err != nil {
			return Credential{}, malformed("secretData.salt is not base64")
		}
		if len(c.Salt) == 0 {
			c.Salt = nil
		}
	}

	switch c.Algorithm {
	case PBKDF2SHA1, PBKDF2SHA256, PBKDF2SHA512, Argon2:
		if c.Value, err = decodeBase64(value); err != nil {
			return Credential{}, malformed("secretData.value is not base64")
		}
	case MD5:
		if c.Value, err = decodeMD5Value(value); err != nil {
			return Credential{}, err
		}
		if c.Iterations == 0 { // absent: there is only one md5
			c.Iterations = 1
		}
	case Bcrypt:
		// The crypt string carries the cost. keycloak-bcrypt writes -1 as
		// hashIterations when the policy sets none, so the field is not
		// trusted.
		cost, err := bcryptCost(value)
		if err != nil {
			return Credential{}, err
		}
		c.Value = []byte(value)
		c.Iterations = cost
	default:
		return Credential{}, unsupported("unknown algorithm %q", c.Algorithm)
	}
	if err := c.check(); err != nil {
		return Credential{}, err
	}
	return c, nil
}

// decodeDocument unmarshals one of Keycloak's JSON documents into v, first
// unquoting it if the caller passed the export's JSON string literal.
func decodeDocument(name, doc string, v any) error {
	doc = strings.TrimSpace(doc)
	if doc == "" {
		return malformed("%s is empty", name)
	}
	if doc[0] == '"' {
		var inner string
		if err := json.Unmarshal([]byte(doc), &inner); err != nil {
			return malformed("%s is a malformed JSON string", name)
		}
		doc = strings.TrimSpace(inner)
	}
	if !strings.HasPrefix(doc, "{") {
		return malformed("%s is not a JSON object", name)
	}
	if err := json.Unmarshal([]byte(doc), v); err != nil {
		// The decoder's message can quote input; give the position only.
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return malformed("%s: invalid JSON at byte %d", name, syn.Offset)
		}
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return malformed("%s.%s: unexpected JSON %s", name, typ.Field, typ.Value)
		}
		return malformed("%s: invalid JSON", name)
	}
	return nil
}

// decodeIterations accepts a JSON integer (Java int range), a string holding
// one, or null/absent (0).
func decodeIterations(raw json.RawMessage) (int, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, nil
	}
	if s[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, malformed("credentialData.hashIterations is not an integer")
		}
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, malformed("credentialData.hashIterations is not an integer")
	}
	return int(n), nil
}

// decodeParams merges Keycloak's multi-valued parameter maps, later maps
// overriding earlier ones per key. Values may be strings, numbers or arrays
// of them; null values are dropped. It returns nil when there are none.
func decodeParams(doc string, maps ...json.RawMessage) (map[string][]string, error) {
	var out map[string][]string
	for _, raw := range maps {
		if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, malformed("%s: additionalParameters is not a JSON object", doc)
		}
		for k, v := range m {
			vals, err := paramValues(v)
			if err != nil {
				return nil, malformed("%s: additionalParameters.%s: %v", doc, k, err)
			}
			if vals == nil {
				continue
			}
			if out == nil {
				out = make(map[string][]string)
			}
			out[k] = vals
		}
	}
	return out, nil
}

func paramValues(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '[' {
		s, err := paramScalar(raw)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, errors.New("want a string or an array of strings")
	}
	vals := make([]string, 0, len(items))
	for _, item := range items {
		s, err := paramScalar(item)
		if err != nil {
			return nil, err
		}
		vals = append(vals, s)
	}
	return vals, nil
}

func paramScalar(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String(), nil
	}
	return "", errors.New("want a string or an array of strings")
}

// decodeBase64 accepts standard base64 with or without padding and, because
// hand-made exports use it, the URL-safe alphabet; line breaks are ignored.
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	var firstErr error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err == nil {
			return b, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

func decodeMD5Value(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*md5.Size {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	if b, err := decodeBase64(s); err == nil && len(b) == md5.Size {
		return b, nil
	}
	return nil, malformed("md5: value must be 32 hex characters (or base64 of 16 bytes)")
}

// FromMD5Hex returns the credential for an unsalted md5 digest written as
// 32 hex characters in either case, as in StackState's logins
// ("5f4dcc3b5aa765d61d8327deb882cf99" is md5("password")). Surrounding
// whitespace is ignored.
func FromMD5Hex(hexDigest string) (Credential, error) {
	s := strings.TrimSpace(hexDigest)
	if len(s) != 2*md5.Size {
		return Credential{}, malformed("md5: want 32 hex characters, got %d characters", len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return Credential{}, malformed("md5: not a hex string")
	}
	return Credential{Algorithm: MD5, Iterations: 1, Value: b}, nil
}

// FromBcrypt returns the credential for a bcrypt hash in the $2a$, $2b$ or
// $2y$ form with a two-digit cost of 4..12 (surrounding whitespace is
// ignored). Iterations is set to the cost.
func FromBcrypt(hash string) (Credential, error) {
	s := strings.TrimSpace(hash)
	cost, err := bcryptCost(s)
	if err != nil {
		return Credential{}, err
	}
	return Credential{Algorithm: Bcrypt, Iterations: cost, Value: []byte(s)}, nil
}

// bcryptCost validates the exact modular crypt form
// $2x$NN$<22 salt chars><31 hash chars> and returns NN.
func bcryptCost(s string) (int, error) {
	const size = 60
	if len(s) != size {
		return 0, malformed("bcrypt: hash must be %d characters, got %d", size, len(s))
	}
	if s[0] != '$' || s[1] != '2' || s[3] != '$' || s[6] != '$' {
		return 0, malformed("bcrypt: hash must look like $2b$NN$...")
	}
	switch s[2] {
	case 'a', 'b', 'y':
	default:
		return 0, malformed("bcrypt: unsupported variant $2%c$ (want $2a$, $2b$ or $2y$)", s[2])
	}
	if s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9' {
		return 0, malformed("bcrypt: cost is not two digits")
	}
	cost := int(s[4]-'0')*10 + int(s[5]-'0')
	if cost < 4 {
		return 0, malformed("bcrypt: cost %d, want at least 4", cost)
	}
	if cost > maxBcryptCost {
		return 0, malformed("bcrypt: cost %d exceeds %s of %d", cost, overCapNote, maxBcryptCost)
	}
	for i := 7; i < size; i++ {
		if !isBcryptBase64(s[i]) {
			return 0, malformed("bcrypt: invalid character in salt or hash")
		}
	}
	return cost, nil
}

func isBcryptBase64(b byte) bool {
	return b == '.' || b == '/' || ('0' <= b && b <= '9') || ('A' <= b && b <= 'Z') || ('a' <= b && b <= 'z')
}
