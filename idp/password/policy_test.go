package password_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/keygate/keygate/idp/password"
)

func TestParsePolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want password.Policy
	}{
		{"", password.DefaultPolicy()},
		{"   ", password.DefaultPolicy()},
		{"hashAlgorithm(pbkdf2-sha512) and hashIterations(27500) and length(8) and notUsername(undefined)",
			password.Policy{Algorithm: "pbkdf2-sha512", Iterations: 27500, MinLength: 8, NotUsername: true}},
		{"hashIterations(27500) and length(8) and notUsername",
			password.Policy{Iterations: 27500, MinLength: 8, NotUsername: true}},
		{"hashAlgorithm(pbkdf2-sha512) and hashIterations(27500) and length(10) and digits(1) and passwordHistory(3)",
			password.Policy{Algorithm: "pbkdf2-sha512", Iterations: 27500, MinLength: 10, Digits: 1, Other: []string{"passwordHistory(3)"}}},
		{"length and maxLength and digits and lowerCase and upperCase and specialChars",
			password.Policy{MinLength: 8, MaxLength: 64, Digits: 1, LowerCase: 1, UpperCase: 1, SpecialChars: 1}},
		{"length(12) and maxLength(128) and digits(2) and lowerCase(3) and upperCase(4) and specialChars(5) and notEmail(undefined)",
			password.Policy{MinLength: 12, MaxLength: 128, Digits: 2, LowerCase: 3, UpperCase: 4, SpecialChars: 5, NotEmail: true}},
		{"regexPattern(^(a|b)+$) and regexPattern([0-9].*)",
			password.Policy{RegexPatterns: []string{"^(a|b)+$", "[0-9].*"}}},
		{"forceExpiredPasswordChange(365) and notContainsUsername(undefined) and passwordBlacklist(list.txt) and passwordAge(7)",
			password.Policy{Other: []string{"forceExpiredPasswordChange(365)", "notContainsUsername(undefined)", "passwordBlacklist(list.txt)", "passwordAge(7)"}}},
		{"length(8) and length(12)", password.Policy{MinLength: 12}},
		{"  length(8)  and  digits(2) ", password.Policy{MinLength: 8, Digits: 2}},
		{"length( 8 )", password.Policy{MinLength: 8}},
		{"hashAlgorithm(argon2)", password.Policy{Algorithm: "argon2"}},
		{"hashAlgorithm", password.Policy{}},
		{"hashAlgorithm(pbkdf2) and hashIterations(1300000)", password.Policy{Algorithm: "pbkdf2", Iterations: 1300000}},
		{"hashIterations(20000000) and hashAlgorithm(argon2)", password.Policy{Algorithm: "argon2", Iterations: 20000000}},
		{"hashIterations(-1)", password.Policy{Iterations: -1}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := password.ParsePolicy(tc.in)
			if err != nil {
				t.Fatalf("ParsePolicy: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParsePolicy = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for _, in := range []string{
		"length(abc)",
		"length()",
		"length(8.5)",
		"length(undefined)",
		"length(99999999999)",
		"length(8",
		"length(8)x",
		"length(8) and",
		"and length(8)",
		"length(8) and and digits(1)",
		"length(8) and  and digits(1)",
		"(8)",
		"len gth(8)",
		"hashAlgorithm(md5)",
		"hashAlgorithm(bcrypt)",
		"hashAlgorithm(sha3)",
		"hashAlgorithm()",
		"hashIterations(ten)",
		"hashIterations(10000001)",
		"hashAlgorithm(pbkdf2-sha512) and hashIterations(20000000)",
		"regexPattern",
		"regexPattern()",
		"regexPattern(   )",
		"regexPattern([)",
		"regexPattern(a)|(b)",
		"regexPattern((?=.*[A-Z]).*)",
		`regexPattern((a)\1)`,
		"passwordHistory(three)",
		"forceExpiredPasswordChange(1.5)",
	} {
		if p, err := password.ParsePolicy(in); err == nil {
			t.Errorf("ParsePolicy(%q) = %+v, want error", in, p)
		}
	}
	for _, in := range []string{"hashAlgorithm(md5)", "hashAlgorithm(sha3)"} {
		if _, err := password.ParsePolicy(in); !errors.Is(err, password.ErrUnsupported) {
			t.Errorf("ParsePolicy(%q) error = %v, want ErrUnsupported", in, err)
		}
	}
}

func TestPolicyStringRoundTrip(t *testing.T) {
	for _, s := range []string{
		"hashAlgorithm(pbkdf2-sha512) and hashIterations(27500) and length(8) and notUsername(undefined)",
		"hashAlgorithm(pbkdf2-sha256) and hashIterations(20000)",
		"hashIterations(27500) and length(10) and digits(1) and passwordHistory(3)",
		"length(12) and maxLength(128) and digits(2) and lowerCase(3) and upperCase(4) and specialChars(5) and notUsername(undefined) and notEmail(undefined)",
		"hashAlgorithm(argon2) and regexPattern(^(a|b)+$) and regexPattern([0-9].*) and forceExpiredPasswordChange(365) and notContainsUsername",
		"passwordBlacklist(list.txt)",
	} {
		p, err := password.ParsePolicy(s)
		if err != nil {
			t.Fatalf("ParsePolicy(%q): %v", s, err)
		}
		if got := p.String(); got != s {
			t.Errorf("String() = %q\nwant      %q", got, s)
		}
	}
	// Non-canonical input normalises to the canonical form.
	for in, want := range map[string]string{
		"notUsername and length(8)":        "length(8) and notUsername(undefined)",
		"digits and length":                "length(8) and digits(1)",
		"passwordHistory(3) and digits(2)": "digits(2) and passwordHistory(3)",
		"length(0) and digits(1)":          "digits(1)",
		"":                                 "hashAlgorithm(pbkdf2-sha256) and hashIterations(20000)",
	} {
		p, err := password.ParsePolicy(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.String(); got != want {
			t.Errorf("ParsePolicy(%q).String() = %q, want %q", in, got, want)
		}
	}
	if s := (password.Policy{}).String(); s != "" {
		t.Errorf("zero Policy String() = %q", s)
	}
}

func TestPolicyEffectiveHashSettings(t *testing.T) {
	for _, tc := range []struct {
		p    password.Policy
		alg  string
		iter int
	}{
		{password.Policy{}, "pbkdf2-sha256", 20000},
		{password.DefaultPolicy(), "pbkdf2-sha256", 20000},
		{password.Policy{Iterations: -1}, "pbkdf2-sha256", 20000},
		{password.Policy{Algorithm: "pbkdf2-sha512"}, "pbkdf2-sha512", 20000},
		{password.Policy{Algorithm: "pbkdf2", Iterations: 1300000}, "pbkdf2", 1300000},
		{password.Policy{Algorithm: "argon2"}, "argon2", 5},
		{password.Policy{Algorithm: "argon2", Iterations: 3}, "argon2", 3},
		{password.Policy{Algorithm: "argon2", Iterations: 100}, "argon2", 100},
		{password.Policy{Algorithm: "argon2", Iterations: 101}, "argon2", 5},
		{password.Policy{Algorithm: "argon2", Iterations: 27500}, "argon2", 5},
	} {
		if alg, iter := tc.p.HashAlgorithm(), tc.p.HashIterations(); alg != tc.alg || iter != tc.iter {
			t.Errorf("%+v: HashAlgorithm, HashIterations = %s, %d; want %s, %d", tc.p, alg, iter, tc.alg, tc.iter)
		}
	}
}

func TestValidate(t *testing.T) {
	all, err := password.ParsePolicy("length(8) and maxLength(20) and digits(2) and lowerCase(1) and upperCase(1) and specialChars(1) and notUsername and notEmail and regexPattern([^x]*)")
	if err != nil {
		t.Fatal(err)
	}
	type want struct{ key, msg string }
	for _, tc := range []struct {
		name, pw, user, email string
		p                     password.Policy
		want                  *want
	}{
		{"passes everything", "Abcdef12!", "alice", "alice@example.com", all, nil},
		{"too short", "Ab1!", "alice", "", all, &want{"invalidPasswordMinLengthMessage", "Invalid password: minimum length 8."}},
		{"too long", "Abcdefgh12!xxxxxxxxxxxxxx", "alice", "", password.Policy{MinLength: 8, MaxLength: 20}, &want{"invalidPasswordMaxLengthMessage", "Invalid password: maximum length 20."}},
		{"length counts UTF-16 units like Java", "😀😀😀😀", "", "", password.Policy{MaxLength: 7}, &want{"invalidPasswordMaxLengthMessage", "Invalid password: maximum length 7."}},
		{"4 emoji are 8 Java chars", "😀😀😀😀", "", "", password.Policy{MinLength: 8}, nil},
		{"7 Java chars is short", "äöüäöüä", "", "", password.Policy{MinLength: 8}, &want{"invalidPasswordMinLengthMessage", "Invalid password: minimum length 8."}},
		{"digits", "Abcdefg1!", "", "", all, &want{"invalidPasswordMinDigitsMessage", "Invalid password: must contain at least 2 numerical digits."}},
		{"unicode digits count", "٣٤", "", "", password.Policy{Digits: 2}, nil},
		{"lower case", "ABCDEF12!", "", "", all, &want{"invalidPasswordMinLowerCaseCharsMessage", "Invalid password: must contain at least 1 lower case characters."}},
		{"upper case", "abcdef12!", "", "", all, &want{"invalidPasswordMinUpperCaseCharsMessage", "Invalid password: must contain at least 1 upper case characters."}},
		{"non-ASCII letters count for case", "ÄÖü", "", "", password.Policy{UpperCase: 2, LowerCase: 1}, nil},
		{"special chars", "Abcdef123", "", "", all, &want{"invalidPasswordMinSpecialCharsMessage", "Invalid password: must contain at least 1 special characters."}},
		{"space is special", "a b", "", "", password.Policy{SpecialChars: 1}, nil},
		{"letters and digits are not special", "aé1٣", "", "", password.Policy{SpecialChars: 1}, &want{"invalidPasswordMinSpecialCharsMessage", "Invalid password: must contain at least 1 special characters."}},
		{"equals username", "Alice.1234!", "Alice.1234!", "", all, &want{"invalidPasswordNotUsernameMessage", "Invalid password: must not be equal to the username."}},
		{"username compare is exact", "Alice.1234!", "alice.1234!", "", all, nil},
		{"empty username skips the rule", "", "", "", password.Policy{NotUsername: true}, nil},
		{"equals email ignoring case", "Alice@Ex44mple.com", "alice", "alice@ex44mple.COM", all, &want{"invalidPasswordNotEmailMessage", "Invalid password: must not be equal to the email."}},
		{"regex must match whole password", "Abcdef12!x", "", "", all, &want{"invalidPasswordRegexPatternMessage", "Invalid password: fails to match regex pattern(s)."}},
		{"regex full match, not substring", "123abc", "", "", password.Policy{RegexPatterns: []string{"[0-9]+"}}, &want{"invalidPasswordRegexPatternMessage", "Invalid password: fails to match regex pattern(s)."}},
		{"every regex must match", "123", "", "", password.Policy{RegexPatterns: []string{"[0-9]+", "1.*"}}, nil},
		{"second regex fails", "123", "", "", password.Policy{RegexPatterns: []string{"[0-9]+", "2.*"}}, &want{"invalidPasswordRegexPatternMessage", "Invalid password: fails to match regex pattern(s)."}},
		{"first failing rule wins", "a", "a", "", all, &want{"invalidPasswordMinLengthMessage", "Invalid password: minimum length 8."}},
		{"other policies are ignored", "x", "", "", password.Policy{Other: []string{"passwordHistory(3)", "notContainsUsername"}}, nil},
		{"zero policy accepts anything", "", "", "", password.Policy{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate(tc.pw, tc.user, tc.email)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var pe *password.PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Validate = %v (%T), want *PolicyError", err, err)
			}
			if pe.Key != tc.want.key || pe.Message != tc.want.msg || err.Error() != tc.want.msg {
				t.Errorf("Validate = {%s %q}, want {%s %q}", pe.Key, pe.Message, tc.want.key, tc.want.msg)
			}
			if len(tc.pw) >= 6 && strings.Contains(pe.Message, tc.pw) {
				t.Errorf("message contains the password")
			}
		})
	}

	pe := new(password.PolicyError)
	if err := (password.Policy{MinLength: 8}).Validate("short", "", ""); !errors.As(err, &pe) || !reflect.DeepEqual(pe.Params, []string{"8"}) {
		t.Errorf("Params = %v, want [8]", pe.Params)
	}
	// A struct-literal policy with a bad pattern fails closed with a plain error.
	err = password.Policy{RegexPatterns: []string{"(?=x)"}}.Validate("x", "", "")
	if err == nil || errors.As(err, &pe) {
		t.Errorf("Validate with an invalid pattern = %v, want a non-PolicyError error", err)
	}
}

// TestCheckNewMaxLength: new passwords are capped at 1024 bytes when the
// policy sets no maxLength, at the policy's maxLength (UTF-16 units, as
// Keycloak counts) when it does, and never above 4096 bytes, with
// Keycloak's message.
func TestCheckNewMaxLength(t *testing.T) {
	maxLen := func(n int) password.Policy { return password.Policy{MaxLength: n} }
	for _, tc := range []struct {
		name    string
		p       password.Policy
		pw      string
		wantMsg string // "" = accepted
	}{
		{"default policy, 1024 bytes", password.DefaultPolicy(), strings.Repeat("a", 1024), ""},
		{"default policy, 1025 bytes", password.DefaultPolicy(), strings.Repeat("a", 1025), "Invalid password: maximum length 1024."},
		{"default policy, 1025 bytes of 2-byte runes", password.DefaultPolicy(), strings.Repeat("é", 512) + "a", "Invalid password: maximum length 1024."},
		{"maxLength(20), 20", maxLen(20), strings.Repeat("a", 20), ""},
		{"maxLength(20), 21", maxLen(20), strings.Repeat("a", 21), "Invalid password: maximum length 20."},
		{"maxLength(2000), 2000 bytes", maxLen(2000), strings.Repeat("a", 2000), ""},
		{"maxLength(100000), 4097 bytes", maxLen(100000), strings.Repeat("a", 4097), "Invalid password: maximum length 4096."},
		{"other rules still apply", password.Policy{MinLength: 8}, "short", "Invalid password: minimum length 8."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.CheckNew(tc.pw, "alice", "alice@example.com")
			if tc.wantMsg == "" {
				if err != nil {
					t.Fatalf("CheckNew: %v", err)
				}
				return
			}
			var pe *password.PolicyError
			if !errors.As(err, &pe) || pe.Message != tc.wantMsg {
				t.Fatalf("CheckNew = %v; want PolicyError %q", err, tc.wantMsg)
			}
			if tc.wantMsg != "Invalid password: minimum length 8." && pe.Key != "invalidPasswordMaxLengthMessage" {
				t.Errorf("Key = %q, want invalidPasswordMaxLengthMessage", pe.Key)
			}
		})
	}
}
