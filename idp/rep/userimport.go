package rep

import (
	"time"

	"github.com/keygate/keygate/idp/password"
)

// Entry points for readers that stream users one at a time (`keygate users
// import`), so that they decode and check users exactly as ImportRealm does
// without a second Keycloak parser.

// DecodeUser decodes one Keycloak UserRepresentation as ImportRealm reads the
// users of a realm export: Jackson's scalar coercions, unknown fields
// ignored, and the first invalid value named by its JSON path under path
// (e.g. `users[3].enabled: expected boolean, got object`).
func DecodeUser(data []byte, path string) (User, error) {
	var u User
	err := decodeAt(data, &u, path)
	return u, err
}

// ResolveUserCredentials brings every credential of u into its stored form
// (secretData + credentialData) as ImportRealm does: Keycloak hashes are kept
// as they are after password.FromKeycloak has checked them, pre-Keycloak-11
// hashedSaltedValue fields are converted, a plain value is hashed under
// policy (and temporary adds UPDATE_PASSWORD). Errors name the JSON path
// under path; credentials without a createdDate get now.
func ResolveUserCredentials(u *User, path string, policy password.Policy, now time.Time) error {
	return resolveCredentials(u, path, policy, now)
}
