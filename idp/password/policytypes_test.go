package password

import (
	"slices"
	"testing"
)

// keycloakPolicyIDs are Keycloak 26's password policy ids.
var keycloakPolicyIDs = []string{"hashAlgorithm", "hashIterations", "length", "maxLength", "digits", "lowerCase",
	"upperCase", "specialChars", "notUsername", "notEmail", "regexPattern", "passwordHistory", "passwordAge",
	"forceExpiredPasswordChange", "passwordBlacklist", "maxAuthAge", "notContainsUsername", "recoveryCodesWarningThreshold"}

// PolicyTypes lists exactly the Keycloak policies ParsePolicy enforces
// (those it does not keep verbatim in Other), and each parses with its
// listed default.
func TestPolicyTypesEnforced(t *testing.T) {
	var listed []string
	for _, pt := range PolicyTypes() {
		listed = append(listed, pt.ID)
		entry := pt.ID
		switch {
		case pt.ID == "regexPattern":
			entry += "(.*)"
		case pt.DefaultValue != "":
			entry += "(" + pt.DefaultValue + ")"
		}
		p, err := ParsePolicy(entry)
		if err != nil {
			t.Errorf("%s: %v", entry, err)
			continue
		}
		if len(p.Other) != 0 {
			t.Errorf("%s is listed but kept verbatim, not enforced", entry)
		}
	}
	for _, id := range keycloakPolicyIDs {
		p, err := ParsePolicy(id)
		if id == "regexPattern" {
			continue // needs a pattern
		}
		if err != nil {
			t.Errorf("%s: %v", id, err)
			continue
		}
		if enforced := len(p.Other) == 0; enforced != slices.Contains(listed, id) {
			t.Errorf("%s: enforced %v, listed %v", id, enforced, slices.Contains(listed, id))
		}
	}
}
