package userimport

import "testing"

// TestImportRefusesOverCapHashes: `keygate users import` refuses a hash
// costlier than keygate's hashing caps, naming the record (file:line, or the
// JSON path in a Keycloak export) and the cap; the hashes StackState and
// Keycloak write by default pass.
func TestImportRefusesOverCapHashes(t *testing.T) {
	const bcrypt10 = "$2y$10$66vhZQhoJmqdkRXJWkc2u.VUlat/ollTc.Bfgot/Vnduw6WPK5syC"
	const bcrypt13 = "$2y$13$66vhZQhoJmqdkRXJWkc2u.VUlat/ollTc.Bfgot/Vnduw6WPK5syC"
	for _, tc := range []struct {
		name, data string
		wants      []want
	}{
		{"u.csv", "username,password_hash\nok," + bcrypt10 + "\ncostly," + bcrypt13 + "\n",
			[]want{{source: "u.csv:2", username: "ok", alg: "bcrypt"}, {source: "u.csv:3", err: "password_hash: bcrypt: cost 13 exceeds keygate's maximum of 12"}}},
		{"v.yaml", "stackstate:\n  authentication:\n    file:\n      logins:\n        - username: a\n          passwordHash: " + bcrypt13 + "\n          roles: [x]\n",
			[]want{{source: "v.yaml:5", err: "cost 13 exceeds keygate's maximum of 12"}}},
		{"r.json", `{"realm":"x","users":[{"username":"a","credentials":[{"type":"password",
			"secretData":"{\"value\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\",\"salt\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}",
			"credentialData":"{\"hashIterations\":210000,\"algorithm\":\"pbkdf2-sha512\"}"}]},
			{"username":"b","credentials":[{"type":"password",
			"secretData":"{\"value\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\",\"salt\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}",
			"credentialData":"{\"hashIterations\":2100000,\"algorithm\":\"pbkdf2-sha512\"}"}]}]}`,
			[]want{{username: "a", alg: "pbkdf2-sha512"},
				{source: "r.json: users[1]", err: "credentials[0].credentialData: pbkdf2-sha512: 2100000 iterations exceed keygate's maximum of 300000"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := readAll(t, tc.name, []byte(tc.data), FormatAuto)
			if err != nil {
				t.Fatal(err)
			}
			check(t, recs, tc.wants)
		})
	}
}
