package login

import (
	"strings"
	"unicode"

	"github.com/keygate/keygate/idp/rep"
)

// Characters Keycloak's person-name-prohibited-characters validator
// refuses (markup, shell and path characters), besides control characters.
const personNameProhibited = "<>&\"$%!#?§;*~/\\|^=[]{}()"

// ValidUsername says whether s is a username Keycloak's default user
// profile takes (rep.UsernameProblem).
func ValidUsername(s string) bool { return rep.UsernameProblem(s) == "" }

// ValidPersonName says whether s (a first or last name) has none of the
// characters Keycloak's person-name-prohibited-characters refuses: the
// markup ones, vertical whitespace and control characters.
func ValidPersonName(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || strings.ContainsRune(personNameProhibited, r)
	})
}
