package password

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Policy is a realm's password policy: how new passwords are hashed and
// which passwords are acceptable. The zero value behaves like DefaultPolicy.
// A zero count means the rule is absent.
type Policy struct {
	Algorithm  string // hashAlgorithm; "" means pbkdf2-sha256
	Iterations int    // hashIterations; <= 0 means 20000 (argon2: 5; Keycloak ignores values > 100 for argon2)

	// Validation rules, by Keycloak policy id: length, maxLength, digits,
	// lowerCase, upperCase, specialChars, notUsername, notEmail, regexPattern.
	MinLength, MaxLength, Digits, LowerCase, UpperCase, SpecialChars int
	NotUsername, NotEmail                                            bool

	// RegexPatterns must each match the whole password, as with Java's
	// Matcher.matches; they use Go's RE2 syntax.
	RegexPatterns []string

	// Other holds every other policy entry verbatim ("passwordHistory(3)",
	// "forceExpiredPasswordChange(90)", "notContainsUsername", ...) so that
	// String gives it back; Validate ignores them.
	Other []string
}

// DefaultPolicy is keygate's policy for realms that set none:
// pbkdf2-sha256 with 20000 iterations and no validation rules.
func DefaultPolicy() Policy {
	return Policy{Algorithm: DefaultAlgorithm, Iterations: DefaultIterations}
}

// HashAlgorithm is the algorithm Hash uses: p.Algorithm, or pbkdf2-sha256.
func (p Policy) HashAlgorithm() string {
	if p.Algorithm == "" {
		return DefaultAlgorithm
	}
	return p.Algorithm
}

// HashIterations is the iteration count Hash uses: p.Iterations when
// positive, else 20000; for argon2, p.Iterations when in 1..100, else 5,
// as Keycloak's Argon2 provider does.
func (p Policy) HashIterations() int {
	if p.HashAlgorithm() == Argon2 {
		if p.Iterations >= 1 && p.Iterations <= argon2MaxPolicyTime {
			return p.Iterations
		}
		return argon2DefaultTime
	}
	if p.Iterations > 0 {
		return p.Iterations
	}
	return DefaultIterations
}

// Keycloak's bare-id defaults (each provider's parseConfig(null)).
const (
	defaultMinLength = 8
	defaultMaxLength = 64
	defaultCount     = 1
)

// Other Keycloak policies whose value is an integer; ParsePolicy checks it.
var otherIntPolicies = map[string]bool{
	"passwordHistory":               true,
	"passwordAge":                   true,
	"forceExpiredPasswordChange":    true,
	"maxAuthAge":                    true,
	"recoveryCodesWarningThreshold": true,
}

// ParsePolicy parses Keycloak's passwordPolicy string, e.g.
// "hashAlgorithm(pbkdf2-sha512) and hashIterations(27500) and length(8) and notUsername(undefined)".
// An empty string gives DefaultPolicy. Entries are joined by " and ", each
// "id" or "id(value)"; a bare count id takes Keycloak's default (length 8,
// maxLength 64, others 1), and a repeated id overrides the earlier one
// except regexPattern, which accumulates. Unknown ids are kept in Other.
// It fails on malformed syntax, non-integer counts, an invalid or
// unsupported regexPattern, a hashAlgorithm that cannot hash, or hash
// settings over keygate's cost caps (e.g. hashIterations(300001) with
// pbkdf2-sha512; see the package documentation), naming the cap.
func ParsePolicy(s string) (Policy, error) {
	if strings.TrimSpace(s) == "" {
		return DefaultPolicy(), nil
	}
	var p Policy
	for i, entry := range strings.Split(s, " and ") {
		entry = strings.TrimSpace(entry)
		id, value, hasValue, err := splitPolicyEntry(entry)
		if err != nil {
			return Policy{}, fmt.Errorf("password: policy entry %d: %w", i+1, err)
		}
		count := func(def int) (int, error) {
			if !hasValue {
				return def, nil
			}
			n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 32)
			if err != nil {
				return 0, fmt.Errorf("password: policy %s: %q is not an integer", id, value)
			}
			return int(n), nil
		}
		switch id {
		case "hashAlgorithm":
			p.Algorithm = ""
			if hasValue {
				switch value {
				case PBKDF2SHA1, PBKDF2SHA256, PBKDF2SHA512, Argon2:
					p.Algorithm = value
				case MD5, Bcrypt:
					return Policy{}, unsupported("policy hashAlgorithm(%s): verify-only algorithm", value)
				default:
					return Policy{}, unsupported("policy hashAlgorithm(%s): unknown algorithm", value)
				}
			}
		case "hashIterations":
			p.Iterations, err = count(0)
		case "length":
			p.MinLength, err = count(defaultMinLength)
		case "maxLength":
			p.MaxLength, err = count(defaultMaxLength)
		case "digits":
			p.Digits, err = count(defaultCount)
		case "lowerCase":
			p.LowerCase, err = count(defaultCount)
		case "upperCase":
			p.UpperCase, err = count(defaultCount)
		case "specialChars":
			p.SpecialChars, err = count(defaultCount)
		case "notUsername":
			p.NotUsername = true // any value ("undefined" from the admin UI) is ignored, as in Keycloak
		case "notEmail":
			p.NotEmail = true
		case "regexPattern":
			if !hasValue || strings.TrimSpace(value) == "" {
				return Policy{}, fmt.Errorf("password: policy regexPattern needs a pattern")
			}
			if _, err := compilePattern(value); err != nil {
				return Policy{}, err
			}
			p.RegexPatterns = append(p.RegexPatterns, value)
		default:
			if otherIntPolicies[id] && hasValue {
				if _, err := count(0); err != nil {
					return Policy{}, err
				}
			}
			p.Other = append(p.Other, entry)
		}
		if err != nil {
			return Policy{}, err
		}
	}
	if err := p.checkCost(); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// checkCost refuses a policy whose hash would exceed keygate's cost caps
// (see the package documentation) or that cannot hash at all.
func (p Policy) checkCost() error {
	alg, n := p.HashAlgorithm(), p.HashIterations()
	if spec, ok := pbkdf2Specs[alg]; ok {
		if n > spec.maxIter {
			return fmt.Errorf("password: policy hashIterations(%d) for %s exceeds %s of %d", n, alg, overCapNote, spec.maxIter)
		}
		return nil
	}
	switch alg {
	case Argon2:
		if n > maxArgon2PolicyPasses {
			return fmt.Errorf("password: policy hashIterations(%d) for argon2 exceeds %s of %d (at Keycloak's %d KiB)",
				n, overCapNote, maxArgon2PolicyPasses, argon2MemoryKiB)
		}
		return nil
	case MD5, Bcrypt:
		return unsupported("%s is verify-only and cannot be a policy hash algorithm", alg)
	default:
		return unsupported("unknown hash algorithm %q", alg)
	}
}

// clamped is p with its iterations lowered to keygate's cap when over it.
func (p Policy) clamped() Policy {
	alg := p.HashAlgorithm()
	if spec, ok := pbkdf2Specs[alg]; ok && p.HashIterations() > spec.maxIter {
		p.Iterations = spec.maxIter
	}
	if alg == Argon2 && p.HashIterations() > maxArgon2PolicyPasses {
		p.Iterations = maxArgon2PolicyPasses
	}
	return p
}

// splitPolicyEntry splits "id" or "id(value)". Like Keycloak, the value runs
// from the first "(" to the final ")", so patterns may contain parentheses.
func splitPolicyEntry(entry string) (id, value string, hasValue bool, err error) {
	if entry == "" {
		return "", "", false, fmt.Errorf("empty entry")
	}
	id = entry
	if i := strings.IndexByte(entry, '('); i >= 0 {
		if entry[len(entry)-1] != ')' {
			return "", "", false, fmt.Errorf("missing closing parenthesis")
		}
		id, value, hasValue = strings.TrimSpace(entry[:i]), entry[i+1:len(entry)-1], true
	}
	if id == "" {
		return "", "", false, fmt.Errorf("missing policy id")
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r == '.' || r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			return "", "", false, fmt.Errorf("invalid policy id %q", id)
		}
	}
	return id, value, hasValue, nil
}

// compilePattern compiles a regexPattern for whole-string matching. Go's
// RE2 syntax lacks Java's lookaround and backreferences; such patterns are
// refused rather than silently not enforced.
func compilePattern(pattern string) (*regexp.Regexp, error) {
	// Compile the pattern alone first: wrapped, an unbalanced one like
	// "a)|(b" would compile and escape the anchors.
	_, err := regexp.Compile(pattern)
	if err == nil {
		var re *regexp.Regexp
		if re, err = regexp.Compile(`\A(?:` + pattern + `)\z`); err == nil {
			return re, nil
		}
	}
	return nil, fmt.Errorf("password: policy regexPattern(%s) is not a supported regular expression (RE2 syntax, no lookaround or backreferences): %w", pattern, err)
}

// String gives p in Keycloak's policy syntax, in a fixed order: hash
// settings, counts, notUsername/notEmail (as "id(undefined)", like the admin
// UI), regex patterns, then Other in its original order. Zero counts and
// empty hash settings are omitted.
func (p Policy) String() string {
	var parts []string
	if p.Algorithm != "" {
		parts = append(parts, "hashAlgorithm("+p.Algorithm+")")
	}
	if p.Iterations != 0 {
		parts = append(parts, "hashIterations("+strconv.Itoa(p.Iterations)+")")
	}
	for _, c := range []struct {
		id string
		n  int
	}{
		{"length", p.MinLength},
		{"maxLength", p.MaxLength},
		{"digits", p.Digits},
		{"lowerCase", p.LowerCase},
		{"upperCase", p.UpperCase},
		{"specialChars", p.SpecialChars},
	} {
		if c.n != 0 {
			parts = append(parts, c.id+"("+strconv.Itoa(c.n)+")")
		}
	}
	if p.NotUsername {
		parts = append(parts, "notUsername(undefined)")
	}
	if p.NotEmail {
		parts = append(parts, "notEmail(undefined)")
	}
	for _, re := range p.RegexPatterns {
		parts = append(parts, "regexPattern("+re+")")
	}
	parts = append(parts, p.Other...)
	return strings.Join(parts, " and ")
}

// PolicyError is a password rejected by a policy rule, carrying Keycloak's
// message key (for localized rendering), its parameters, and the English
// text from Keycloak's messages_en.properties. It never contains the
// password.
type PolicyError struct {
	Key     string   // e.g. "invalidPasswordMinLengthMessage"
	Params  []string // the {0}... parameters of the message, e.g. ["8"]
	Message string   // e.g. "Invalid password: minimum length 8."
}

func (e *PolicyError) Error() string { return e.Message }

func policyError(key, template string, params ...string) *PolicyError {
	msg := template
	for i, v := range params {
		msg = strings.ReplaceAll(msg, "{"+strconv.Itoa(i)+"}", v)
	}
	return &PolicyError{Key: key, Params: params, Message: msg}
}

// Password length limits, in UTF-8 bytes.
const (
	// DefaultMaxPasswordBytes is the longest new password when the realm
	// policy sets no maxLength.
	DefaultMaxPasswordBytes = 1024
	// MaxPasswordBytes is the longest password keygate takes at all: a
	// longer new password is refused whatever the policy's maxLength, and a
	// login with one fails before any lookup or hashing.
	MaxPasswordBytes = 4096
)

// CheckNew checks a password about to be set (admin API, registration,
// password change): its length first, as Keycloak's maxLength policy does
// ("Invalid password: maximum length {0}."), then Validate. Without a
// maxLength in p the limit is DefaultMaxPasswordBytes bytes, and no policy
// lifts it above MaxPasswordBytes bytes. Failures are *PolicyError.
func (p Policy) CheckNew(pw, username, email string) error {
	limit := MaxPasswordBytes
	if p.MaxLength == 0 {
		limit = DefaultMaxPasswordBytes
	}
	if len(pw) > limit {
		return policyError("invalidPasswordMaxLengthMessage", "Invalid password: maximum length {0}.", strconv.Itoa(limit))
	}
	return p.Validate(pw, username, email)
}

// Validate checks password against p's rules in a fixed order (length,
// maxLength, digits, lowerCase, upperCase, specialChars, notUsername,
// notEmail, regexPattern) and returns the first failure as a *PolicyError,
// as Keycloak reports one error at a time. As in Keycloak, lengths count
// UTF-16 code units; character classes count code points (specialChars:
// anything neither letter nor digit); notUsername compares exactly and
// notEmail ignores case; an empty username or email skips its rule. A
// RegexPatterns entry that does not compile gives a non-PolicyError error.
func (p Policy) Validate(password, username, email string) error {
	if p.MinLength != 0 || p.MaxLength != 0 {
		n := utf16Len(password)
		if n < p.MinLength {
			return policyError("invalidPasswordMinLengthMessage", "Invalid password: minimum length {0}.", strconv.Itoa(p.MinLength))
		}
		if p.MaxLength != 0 && n > p.MaxLength {
			return policyError("invalidPasswordMaxLengthMessage", "Invalid password: maximum length {0}.", strconv.Itoa(p.MaxLength))
		}
	}
	var digits, lower, upper, special int
	for _, r := range password {
		isDigit, isLetter := unicode.IsDigit(r), unicode.IsLetter(r)
		if isDigit {
			digits++
		}
		// Java's isLowerCase/isUpperCase include Other_Lowercase/Other_Uppercase.
		if unicode.IsLower(r) || unicode.Is(unicode.Other_Lowercase, r) {
			lower++
		}
		if unicode.IsUpper(r) || unicode.Is(unicode.Other_Uppercase, r) {
			upper++
		}
		if !isDigit && !isLetter {
			special++
		}
	}
	switch {
	case digits < p.Digits:
		return policyError("invalidPasswordMinDigitsMessage", "Invalid password: must contain at least {0} numerical digits.", strconv.Itoa(p.Digits))
	case lower < p.LowerCase:
		return policyError("invalidPasswordMinLowerCaseCharsMessage", "Invalid password: must contain at least {0} lower case characters.", strconv.Itoa(p.LowerCase))
	case upper < p.UpperCase:
		return policyError("invalidPasswordMinUpperCaseCharsMessage", "Invalid password: must contain at least {0} upper case characters.", strconv.Itoa(p.UpperCase))
	case special < p.SpecialChars:
		return policyError("invalidPasswordMinSpecialCharsMessage", "Invalid password: must contain at least {0} special characters.", strconv.Itoa(p.SpecialChars))
	case p.NotUsername && username != "" && password == username:
		return policyError("invalidPasswordNotUsernameMessage", "Invalid password: must not be equal to the username.")
	case p.NotEmail && email != "" && strings.EqualFold(password, email):
		return policyError("invalidPasswordNotEmailMessage", "Invalid password: must not be equal to the email.")
	}
	for _, pattern := range p.RegexPatterns {
		re, err := compilePattern(pattern)
		if err != nil {
			return err
		}
		if !re.MatchString(password) {
			return policyError("invalidPasswordRegexPatternMessage", "Invalid password: fails to match regex pattern(s).", pattern)
		}
	}
	return nil
}

// utf16Len is Java's String.length() for s.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r > 0xFFFF {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// HistoryCount is the policy's passwordHistory: how many passwords (the
// current one included) a new one must differ from; 0 without the rule.
// A bare "passwordHistory" is Keycloak's default, 3.
func (p Policy) HistoryCount() int {
	n := 0
	for _, e := range p.Other {
		id, value, hasValue, err := splitPolicyEntry(e)
		if err != nil || id != "passwordHistory" {
			continue
		}
		n = 3
		if hasValue {
			v, err := strconv.Atoi(strings.TrimSpace(value))
			if err != nil || v < 0 {
				v = 0
			}
			n = v
		}
	}
	return n
}
