package login_test

import (
	"strings"
	"testing"

	"github.com/keygate/keygate/idp/login"
)

// TestValidUsername: Keycloak's default user profile validators on a
// username (length 3-255, username-prohibited-characters,
// up-username-not-idn-homograph), with the homographs that pass for a
// Latin name: a Cyrillic letter inside it, an invisible character, a
// full-width or compatibility form.
func TestValidUsername(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"alice", true},
		{"Alice.Liddell-2", true},
		{"alice@example.com", true},
		{"zoë", true},         // Latin with a diacritic
		{"josé_garcía", true}, // precomposed
		{"иван", true},        // one script
		{"山田太郎", true},
		{"yamada山田", true}, // Latin with Han (UTS #39 highly restrictive)
		{"ab", false},      // Keycloak's minimum length
		{strings.Repeat("a", 255), true},
		{strings.Repeat("a", 256), false},
		{"аlice", false},         // Cyrillic а
		{"paypal", true},         // all Latin
		{"pаypаl", false},        // Cyrillic а twice
		{"alice\u200b", false},   // zero-width space
		{"al\u200dice", false},   // zero-width joiner
		{"ａlice", false},         // full-width a
		{"ﬁnance", false},        // the fi ligature
		{"jose\u0301", false},    // decomposed é: not the NFC form
		{"alice\u202e", false},   // right-to-left override
		{"αlpha", false},         // Greek alpha with Latin
		{"mal<img>", false},      // prohibited characters still
		{"mal lory", false},      // whitespace
		{"mal\u00a0lory", false}, // no-break space
	} {
		if got := login.ValidUsername(c.name); got != c.ok {
			t.Errorf("ValidUsername(%q) = %v, want %v", c.name, got, c.ok)
		}
	}
}
