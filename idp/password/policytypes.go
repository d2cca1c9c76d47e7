package password

import "strconv"

// PolicyType is a password policy keygate enforces, as the admin API's
// serverinfo lists it (Keycloak's PasswordPolicyTypeRepresentation).
// ParsePolicy keeps other ids verbatim without enforcing them, so they are
// not listed; TestPolicyTypesEnforced keeps this table and ParsePolicy the
// same set.
type PolicyType struct {
	ID                string `json:"id"`
	DisplayName       string `json:"displayName"`
	ConfigType        string `json:"configType,omitempty"`
	DefaultValue      string `json:"defaultValue,omitempty"`
	MultipleSupported bool   `json:"multipleSupported"`
}

// PolicyTypes are the password policies keygate enforces, with Keycloak's
// display names and keygate's defaults (a bare id takes them).
func PolicyTypes() []PolicyType {
	count := strconv.Itoa(defaultCount)
	return []PolicyType{
		{ID: "hashAlgorithm", DisplayName: "Hashing Algorithm", ConfigType: "String", DefaultValue: DefaultAlgorithm},
		{ID: "hashIterations", DisplayName: "Hashing Iterations", ConfigType: "int", DefaultValue: strconv.Itoa(DefaultIterations)},
		{ID: "length", DisplayName: "Minimum Length", ConfigType: "int", DefaultValue: strconv.Itoa(defaultMinLength)},
		{ID: "maxLength", DisplayName: "Maximum Length", ConfigType: "int", DefaultValue: strconv.Itoa(defaultMaxLength)},
		{ID: "digits", DisplayName: "Digits", ConfigType: "int", DefaultValue: count},
		{ID: "lowerCase", DisplayName: "Lowercase Characters", ConfigType: "int", DefaultValue: count},
		{ID: "upperCase", DisplayName: "Uppercase Characters", ConfigType: "int", DefaultValue: count},
		{ID: "specialChars", DisplayName: "Special Characters", ConfigType: "int", DefaultValue: count},
		{ID: "notUsername", DisplayName: "Not Username"},
		{ID: "notEmail", DisplayName: "Not Email"},
		{ID: "regexPattern", DisplayName: "Regular Expression", ConfigType: "String", MultipleSupported: true},
	}
}
