package login

import (
	"strings"
	"unicode"
)

// Characters Keycloak's default user profile refuses: its
// username-prohibited-characters and person-name-prohibited-characters
// validators (markup, shell and path characters), besides control
// characters, and whitespace in a username.
const (
	usernameProhibited   = "<>&\"'$%!#?§,;:*~/\\|^=[]{}()`"
	personNameProhibited = "<>&\"$%!#?§;*~/\\|^=[]{}()"
)

// ValidUsername says whether s has none of the characters Keycloak's
// username-prohibited-characters refuses.
func ValidUsername(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || unicode.IsSpace(r) || strings.ContainsRune(usernameProhibited, r)
	})
}

// ValidPersonName says whether s (a first or last name) has none of the
// characters Keycloak's person-name-prohibited-characters refuses: the
// markup ones, vertical whitespace and control characters.
func ValidPersonName(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || strings.ContainsRune(personNameProhibited, r)
	})
}
