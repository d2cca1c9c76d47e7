package rep

import (
	"context"
	"strings"
	"testing"
)

// TestImportRefusesOverCapCredentials: a realm import (and so the admin
// API's partial import and `keygate realm import`) refuses a credential or
// a policy costlier than keygate's hashing caps, naming the record by its
// JSON path, and writes nothing. Keycloak 26's own defaults import.
func TestImportRefusesOverCapCredentials(t *testing.T) {
	cred := func(iterations, alg string) string {
		return `{"type":"password","secretData":"{\"value\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"salt\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}",` +
			`"credentialData":"{\"hashIterations\":` + iterations + `,\"algorithm\":\"` + alg + `\"}"}`
	}
	argon := func(memory, passes string) string {
		return `{"type":"password","secretData":"{\"value\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"salt\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}",` +
			`"credentialData":"{\"hashIterations\":` + passes + `,\"algorithm\":\"argon2\",\"additionalParameters\":{\"hashLength\":[\"32\"],\"memory\":[\"` + memory +
			`\"],\"type\":[\"id\"],\"version\":[\"1.3\"],\"parallelism\":[\"1\"]}}"}`
	}
	users := func(creds ...string) string {
		var us []string
		for i, c := range creds {
			us = append(us, `{"username":"u`+string(rune('a'+i))+`","credentials":[`+c+`]}`)
		}
		return `{"realm":"x","users":[` + strings.Join(us, ",") + `]}`
	}
	for _, tc := range []struct{ name, data, want string }{
		{"pbkdf2-sha512 over 300000", users(cred("210000", "pbkdf2-sha512"), cred("210000", "pbkdf2-sha512"), cred("210000", "pbkdf2-sha512"), cred("1000000", "pbkdf2-sha512")),
			"users[3].credentials[0].credentialData: pbkdf2-sha512: 1000000 iterations exceed keygate's maximum of 300000"},
		{"pbkdf2-sha256 ten million", users(cred("10000000", "pbkdf2-sha256")),
			"users[0].credentials[0].credentialData: pbkdf2-sha256: 10000000 iterations exceed keygate's maximum of 1000000"},
		{"argon2 memory x passes", users(argon("7168", "5"), argon("65536", "3")),
			"users[1].credentials[0].credentialData: argon2: memory x iterations = 65536 KiB x 3 exceeds keygate's maximum of 71680 KiB"},
		{"bcrypt cost 13", users(`{"type":"password","secretData":"{\"value\":\"$2y$13$66vhZQhoJmqdkRXJWkc2u.VUlat/ollTc.Bfgot/Vnduw6WPK5syC\"}","credentialData":"{\"algorithm\":\"bcrypt\"}"}`),
			"users[0].credentials[0].secretData: bcrypt: cost 13 exceeds keygate's maximum of 12"},
		{"legacy hashedSaltedValue", `{"realm":"x","users":[{"username":"old","credentials":[{"type":"password","hashedSaltedValue":"AAAAAAAAAAAAAAAAAAAAAA==","salt":"AAAA","hashIterations":2000000}]}]}`,
			"users[0].credentials[0].credentialData: pbkdf2-sha256: 2000000 iterations exceed keygate's maximum of 1000000"},
		{"policy", `{"realm":"x","passwordPolicy":"hashAlgorithm(pbkdf2-sha512) and hashIterations(1000000)"}`,
			"passwordPolicy: password: policy hashIterations(1000000) for pbkdf2-sha512 exceeds keygate's maximum of 300000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := openStore(t)
			_, err := ImportRealm(ctx, st, []byte(tc.data), ImportOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if realms, _ := st.ListRealms(ctx); len(realms) != 0 {
				t.Errorf("refused import left realm %q", realms[0].Name)
			}
		})
	}
	// A users file into an existing realm is held to the same caps.
	ctx := context.Background()
	st := openStore(t)
	mustImport(t, st, `{"realm":"x"}`, ImportOptions{})
	_, err := ImportRealm(ctx, st, []byte(users(cred("300001", "pbkdf2-sha512"))), ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "users[0].credentials[0].credentialData: pbkdf2-sha512: 300001 iterations exceed") {
		t.Errorf("users file: error = %v", err)
	}
}
