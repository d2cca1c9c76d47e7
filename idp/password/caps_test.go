package password_test

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/password"
)

// pbkdf2Doc is a pbkdf2 credential of alg with n iterations and a keyLen-byte
// stored key, in Keycloak's two documents.
func pbkdf2Doc(alg string, n, keyLen int) (sd, cd string) {
	return `{"value":"` + base64.StdEncoding.EncodeToString(make([]byte, keyLen)) + `","salt":"c2FsdHNhbHRzYWx0c2FsdA=="}`,
		`{"hashIterations":` + strconv.Itoa(n) + `,"algorithm":"` + alg + `"}`
}

func argon2Doc(memory, passes, parallelism int) (sd, cd string) {
	return argonCredSD, `{"hashIterations":` + strconv.Itoa(passes) + `,"algorithm":"argon2","additionalParameters":{"hashLength":["32"],"memory":["` +
		strconv.Itoa(memory) + `"],"type":["id"],"version":["1.3"],"parallelism":["` + strconv.Itoa(parallelism) + `"]}}`
}

// TestCredentialCostCaps: a stored credential costlier than keygate's caps
// is refused at import (FromKeycloak, FromBcrypt) with the cap in the
// message; Keycloak 26's own defaults and the caps themselves pass.
func TestCredentialCostCaps(t *testing.T) {
	type doc struct{ sd, cd string }
	pb := func(alg string, n, keyLen int) doc { sd, cd := pbkdf2Doc(alg, n, keyLen); return doc{sd, cd} }
	ar := func(m, p, par int) doc { sd, cd := argon2Doc(m, p, par); return doc{sd, cd} }
	for _, tc := range []struct {
		name    string
		d       doc
		refused string // "" = accepted; else a substring of the error
	}{
		{"pbkdf2 Keycloak 24+ default", pb("pbkdf2", 1_300_000, 64), ""},
		{"pbkdf2 at the cap", pb("pbkdf2", 1_500_000, 64), ""},
		{"pbkdf2 over the cap", pb("pbkdf2", 1_500_001, 64), "1500001 iterations exceed keygate's maximum of 1500000"},
		{"pbkdf2-sha256 Keycloak 24+ default", pb("pbkdf2-sha256", 600_000, 32), ""},
		{"pbkdf2-sha256 at the cap", pb("pbkdf2-sha256", 1_000_000, 64), ""},
		{"pbkdf2-sha256 over the cap", pb("pbkdf2-sha256", 1_000_001, 32), "exceed keygate's maximum of 1000000"},
		{"pbkdf2-sha256 ten million", pb("pbkdf2-sha256", 10_000_000, 32), "exceed keygate's maximum of 1000000"},
		{"pbkdf2-sha512 Keycloak 24+ default", pb("pbkdf2-sha512", 210_000, 64), ""},
		{"pbkdf2-sha512 at the cap", pb("pbkdf2-sha512", 300_000, 64), ""},
		{"pbkdf2-sha512 over the cap", pb("pbkdf2-sha512", 300_001, 64), "exceed keygate's maximum of 300000"},
		{"pbkdf2-sha512 one million", pb("pbkdf2-sha512", 1_000_000, 64), "exceed keygate's maximum of 300000"},
		{"pbkdf2 key of 65 bytes (more blocks per iteration)", pb("pbkdf2-sha256", 27_500, 65), "stored key is 65 bytes, want 16..64"},
		{"argon2 Keycloak default", ar(7168, 5, 1), ""},
		{"argon2 OWASP 19 MiB x 2", ar(19456, 2, 1), ""},
		{"argon2 7 MiB x 10", ar(7168, 10, 1), ""},
		{"argon2 64 MiB x 1, parallelism 4", ar(65536, 1, 4), ""},
		{"argon2 7 MiB x 11", ar(7168, 11, 1), "exceeds keygate's maximum of 71680 KiB"},
		{"argon2 64 MiB x 3 (RFC 9106)", ar(65536, 3, 4), "exceeds keygate's maximum of 71680 KiB"},
		{"argon2 memory over 64 MiB", ar(65537, 1, 1), "memory 65537 exceeds keygate's maximum of 65536"},
		{"argon2 1 GiB", ar(1<<20, 1, 1), "exceeds keygate's maximum"},
		{"argon2 parallelism 5", ar(7168, 5, 5), "parallelism 5 exceeds keygate's maximum of 4"},
		{"argon2 1000 passes", ar(7168, 1000, 1), "exceeds keygate's maximum"},
		{"bcrypt cost 12", doc{`{"value":"$2y$12$` + bcryptHash10[7:] + `"}`, `{"algorithm":"bcrypt"}`}, ""},
		{"bcrypt cost 13", doc{`{"value":"$2y$13$` + bcryptHash10[7:] + `"}`, `{"algorithm":"bcrypt"}`}, "cost 13 exceeds keygate's maximum of 12"},
		{"bcrypt cost 20", doc{`{"value":"$2y$20$` + bcryptHash10[7:] + `"}`, `{"algorithm":"bcrypt"}`}, "cost 20 exceeds keygate's maximum of 12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := password.FromKeycloak(tc.d.sd, tc.d.cd)
			switch {
			case tc.refused == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.refused != "" && err == nil:
				t.Fatalf("accepted; want refused (%s)", tc.refused)
			case tc.refused != "" && (!errors.Is(err, password.ErrMalformed) || !strings.Contains(err.Error(), tc.refused)):
				t.Fatalf("error %q; want ErrMalformed containing %q", err, tc.refused)
			}
		})
	}
	if _, err := password.FromBcrypt("$2y$14$" + bcryptHash10[7:]); err == nil {
		t.Errorf("FromBcrypt accepted cost 14")
	}
}

// TestPolicyCostCaps: a realm policy asking for more than the caps is
// refused with a message naming the cap; Keycloak's defaults pass, and so
// does argon2 with a large hashIterations, which Keycloak ignores (5 passes).
func TestPolicyCostCaps(t *testing.T) {
	for _, tc := range []struct {
		policy  string
		refused string
	}{
		{"hashAlgorithm(pbkdf2-sha512) and hashIterations(210000)", ""},
		{"hashAlgorithm(pbkdf2-sha512) and hashIterations(300000)", ""},
		{"hashAlgorithm(pbkdf2-sha512) and hashIterations(300001)", "hashIterations(300001) for pbkdf2-sha512 exceeds keygate's maximum of 300000"},
		{"hashIterations(600000)", ""},
		{"hashIterations(1000001)", "hashIterations(1000001) for pbkdf2-sha256 exceeds keygate's maximum of 1000000"},
		{"hashIterations(10000000) and length(8)", "exceeds keygate's maximum of 1000000"},
		{"hashAlgorithm(pbkdf2) and hashIterations(1300000)", ""},
		{"hashAlgorithm(pbkdf2) and hashIterations(1500001)", "exceeds keygate's maximum of 1500000"},
		{"hashAlgorithm(argon2) and hashIterations(10)", ""},
		{"hashAlgorithm(argon2) and hashIterations(11)", "hashIterations(11) for argon2 exceeds keygate's maximum of 10"},
		{"hashAlgorithm(argon2) and hashIterations(27500)", ""},
	} {
		_, err := password.ParsePolicy(tc.policy)
		switch {
		case tc.refused == "" && err != nil:
			t.Errorf("ParsePolicy(%q): %v", tc.policy, err)
		case tc.refused != "" && err == nil:
			t.Errorf("ParsePolicy(%q) accepted; want refused", tc.policy)
		case tc.refused != "" && !strings.Contains(err.Error(), tc.refused):
			t.Errorf("ParsePolicy(%q) = %q; want it to contain %q", tc.policy, err, tc.refused)
		}
	}
	for _, p := range []password.Policy{
		{Iterations: 1_000_001},
		{Algorithm: password.PBKDF2SHA512, Iterations: 300_001},
		{Algorithm: password.Argon2, Iterations: 11},
	} {
		if _, err := password.Hash(p, "pw"); err == nil {
			t.Errorf("Hash(%+v) succeeded over the caps", p)
		}
	}
}

// TestDummyCredentialClampedToCaps: the dummy verify for unknown users never
// costs more than the caps, whatever the policy it is handed (a realm stored
// before the caps, or a Policy built by hand): a realm admin cannot make
// anonymous logins arbitrarily expensive.
func TestDummyCredentialClampedToCaps(t *testing.T) {
	for _, tc := range []struct {
		p    password.Policy
		want int
	}{
		{password.Policy{Algorithm: password.PBKDF2SHA256, Iterations: 5_000_000}, 1_000_000},
		{password.Policy{Algorithm: password.Argon2, Iterations: 90}, 10},
		{password.DefaultPolicy(), 20_000},
	} {
		start := time.Now()
		c := password.DummyCredential(tc.p)
		if c.Iterations != tc.want {
			t.Errorf("DummyCredential(%+v).Iterations = %d (%s), want %d", tc.p, c.Iterations, time.Since(start), tc.want)
		}
	}
}
