package rep

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// Characters Keycloak's username-prohibited-characters validator refuses
// (markup, shell and path characters), besides control characters and
// whitespace.
const usernameProhibited = "<>&\"'$%!#?§,;:*~/\\|^=[]{}()`"

// UsernameProblem is "" for a username Keycloak's default user profile
// takes, else the message key of the validator that refuses it: its
// length validator (3 to 255 characters, error-invalid-length),
// username-prohibited-characters (error-username-invalid-character) and
// up-username-not-idn-homograph (invalidUsernameMessage). keygate checks
// the last as RFC 8265's PRECIS UsernameCasePreserved profile (no
// invisible or compatibility characters: "alice\u200b" or a full-width
// "ａlice" would otherwise pass for alice) plus UTS #39's highly
// restrictive script mixing (no Cyrillic "а" inside a Latin name).
func UsernameProblem(s string) string { return UsernameProblemMin(s, 3) }

// UsernameProblemMin is UsernameProblem with another minimum length (the
// admin API's, which has always taken 2-letter names).
func UsernameProblemMin(s string, minLen int) string {
	if n := utf8.RuneCountInString(s); n < minLen || n > 255 {
		return "error-invalid-length"
	}
	if strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || unicode.IsSpace(r) || strings.ContainsRune(usernameProhibited, r)
	}) {
		return "error-username-invalid-character"
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			if !notHomograph(s) {
				return "invalidUsernameMessage"
			}
			break
		}
	}
	return ""
}

// notHomograph is the non-ASCII part of UsernameProblem.
func notHomograph(s string) bool {
	if p, err := precis.UsernameCasePreserved.String(s); err != nil || p != s {
		return false
	}
	var scripts []string
	for _, r := range s {
		if !unicode.IsLetter(r) {
			continue
		}
		for name, table := range unicode.Scripts {
			if name != "Common" && name != "Inherited" && unicode.Is(table, r) {
				if !slices.Contains(scripts, name) {
					scripts = append(scripts, name)
				}
				break
			}
		}
	}
	if len(scripts) <= 1 {
		return true
	}
	// UTS #39 highly restrictive: Latin may join the scripts of Chinese,
	// Japanese and Korean writing, which share no letter shapes with it.
	for _, set := range [][]string{{"Latin", "Han", "Hiragana", "Katakana"}, {"Latin", "Han", "Bopomofo"}, {"Latin", "Han", "Hangul"}} {
		if !slices.ContainsFunc(scripts, func(sc string) bool { return !slices.Contains(set, sc) }) {
			return true
		}
	}
	return false
}
