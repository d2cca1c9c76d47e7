package login

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// Characters Keycloak's default user profile refuses: its
// username-prohibited-characters and person-name-prohibited-characters
// validators (markup, shell and path characters), besides control
// characters, and whitespace in a username.
const (
	usernameProhibited   = "<>&\"'$%!#?§,;:*~/\\|^=[]{}()`"
	personNameProhibited = "<>&\"$%!#?§;*~/\\|^=[]{}()"
)

// ValidUsername says whether s is a username Keycloak's default user
// profile takes: 3 to 255 characters (its length validator), none of the
// characters username-prohibited-characters refuses, and no homograph
// (up-username-not-idn-homograph), which keygate checks as RFC 8265's
// PRECIS UsernameCasePreserved profile (no invisible or compatibility
// characters: "alice\u200b" or a full-width "ａlice" would otherwise pass
// for alice) plus UTS #39's highly restrictive script mixing (no Cyrillic
// "а" inside a Latin name).
func ValidUsername(s string) bool {
	if n := utf8.RuneCountInString(s); n < 3 || n > 255 {
		return false
	}
	if strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || unicode.IsSpace(r) || strings.ContainsRune(usernameProhibited, r)
	}) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return notHomograph(s)
		}
	}
	return true
}

// notHomograph is the non-ASCII part of ValidUsername.
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

// ValidPersonName says whether s (a first or last name) has none of the
// characters Keycloak's person-name-prohibited-characters refuses: the
// markup ones, vertical whitespace and control characters.
func ValidPersonName(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || strings.ContainsRune(personNameProhibited, r)
	})
}
