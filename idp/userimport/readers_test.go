package userimport

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/store"
)

// readAll reads every record of name (a testdata file or, with data, those
// bytes) with format f.
func readAll(t testing.TB, name string, data []byte, f Format) ([]Record, error) {
	t.Helper()
	if data == nil {
		var err error
		if data, err = os.ReadFile(filepath.Join("testdata", name)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := NewReader(strings.NewReader(string(data)), name, f, password.DefaultPolicy())
	if err != nil {
		return nil, err
	}
	var recs []Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		recs = append(recs, rec)
	}
}

// want is what a test expects of one record; empty fields are not checked.
type want struct {
	source, username, email, first, last string
	alg                                  string // password algorithm, "-" for no credential
	verifies                             string // a password the credential must accept
	roles, groups                        []string
	err, skip                            string // substrings
}

func check(t *testing.T, got []Record, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("%d records, want %d: %+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		r := got[i]
		errText := ""
		if r.Err != nil {
			errText = r.Err.Error()
		}
		switch {
		case w.err == "" && r.Err != nil:
			t.Errorf("record %d (%s): unexpected error %v", i, r.Source, r.Err)
		case w.err != "" && !strings.Contains(errText, w.err):
			t.Errorf("record %d (%s): error %q, want it to contain %q", i, r.Source, errText, w.err)
		case w.skip != "" && !strings.Contains(r.Skip, w.skip):
			t.Errorf("record %d: skip %q, want %q", i, r.Skip, w.skip)
		case w.skip == "" && r.Skip != "":
			t.Errorf("record %d: unexpectedly skipped: %s", i, r.Skip)
		}
		for _, f := range []struct{ what, got, want string }{
			{"source", r.Source, w.source}, {"username", r.Username, w.username}, {"email", r.Email, w.email},
			{"first name", r.FirstName, w.first}, {"last name", r.LastName, w.last},
		} {
			if f.want != "" && f.got != f.want {
				t.Errorf("record %d: %s %q, want %q", i, f.what, f.got, f.want)
			}
		}
		if w.roles != nil && !slices.Equal(r.RealmRoles, w.roles) {
			t.Errorf("record %d: roles %q, want %q", i, r.RealmRoles, w.roles)
		}
		if w.groups != nil && !slices.Equal(r.Groups, w.groups) {
			t.Errorf("record %d: groups %q, want %q", i, r.Groups, w.groups)
		}
		if w.alg == "" {
			continue
		}
		pw := passwordOf(r.Credentials)
		if w.alg == "-" {
			if pw != nil {
				t.Errorf("record %d: unexpected credential %+v", i, pw)
			}
			continue
		}
		if pw == nil {
			t.Errorf("record %d: no password credential, want %s", i, w.alg)
			continue
		}
		pc, err := password.FromKeycloak(pw.SecretData, pw.CredentialData)
		if err != nil || pc.Algorithm != w.alg {
			t.Errorf("record %d: credential %v (%v), want %s", i, pc.Algorithm, err, w.alg)
			continue
		}
		if w.verifies != "" {
			if ok, err := password.Verify(pc, w.verifies); !ok || err != nil {
				t.Errorf("record %d: %q does not verify (%v)", i, w.verifies, err)
			}
		}
	}
}

func passwordOf(cs []store.Credential) *store.Credential {
	for i := range cs {
		if cs[i].Type == "password" {
			return &cs[i]
		}
	}
	return nil
}

// TestReaders reads the real-world shaped files of testdata.
func TestReaders(t *testing.T) {
	for _, tc := range []struct {
		file  string
		wants []want
	}{
		{"application_stackstate.conf", []want{ // StackState 4.x HOCON, a commented-out login in between
			{source: "application_stackstate.conf:29", username: "admin", alg: "md5", verifies: "password", roles: []string{"stackstate-admin"}},
			{source: "application_stackstate.conf:30", username: "guest", alg: "md5", verifies: "guest", roles: []string{"stackstate-guest"}},
			{source: "application_stackstate.conf:33", username: "power-user", alg: "md5", verifies: "password", // upper-case hex
				roles: []string{"stackstate-power-user", "stackstate-guest"}},
			{source: "application_stackstate.conf:37", username: "ops_team", alg: "md5", verifies: "123456", roles: []string{"stackstate-k8s-troubleshooter"}},
		}},
		{"authentication.yaml", []want{ // StackState 5.x Helm values
			{source: "authentication.yaml:12", username: "admin", alg: "md5", verifies: "password", roles: []string{"stackstate-admin"}},
			{source: "authentication.yaml:15", username: "platformadmin", alg: "bcrypt", verifies: "password", roles: []string{"stackstate-platform-admin"}},
			{source: "authentication.yaml:18", username: "guest", alg: "md5", verifies: "guest", roles: []string{"stackstate-guest"}}, // passwordMd5
			{source: "authentication.yaml:22", username: "power-user", alg: "md5", roles: []string{"stackstate-power-user", "stackstate-guest"}},
			{source: "authentication.yaml:27", username: "troubleshooter", alg: "md5"},
		}},
		{"users.csv", []want{ // quoting, UTF-8, list cells, bcrypt, no hash
			{source: "users.csv:2", username: "jdoe", email: "John.Doe@Example.com", first: "John", last: "Doe", alg: "md5", verifies: "password",
				roles: []string{"stackstate-admin", "viewer"}, groups: []string{"/ops"}},
			{source: "users.csv:3", username: "müller", first: "Jürgen", last: "Müller, Jr.", alg: "md5", roles: []string{"viewer", "stackstate-guest"},
				groups: []string{"/ops/berlin"}},
			{source: "users.csv:4", username: "zhang.wei", email: "", first: "伟", last: "张", alg: "bcrypt", verifies: "zhang-pw", roles: []string{}},
			{source: "users.csv:5", username: "o'brien", first: `Seán "Shaun"`, alg: "-", groups: []string{"/Support ~/ Help"}},
		}},
		{"acme-users-0.json", []want{ // Keycloak 26 users partial export
			{source: "acme-users-0.json: users[0]", username: "erin", last: "Ørsted", alg: "argon2", verifies: "erin-pass", groups: []string{"/staff/sales"}},
			{source: "acme-users-0.json: users[1]", username: "frank", alg: "pbkdf2-sha512", verifies: "frank-pass"},
			{source: "acme-users-0.json: users[2]", username: "gina", alg: "pbkdf2-sha256", verifies: "gina-initial-pw", roles: []string{"brand-new-role"}},
			{source: "acme-users-0.json: users[3]", skip: "service account"},
		}},
		{"acme-realm.json", []want{ // Keycloak 26 realm export with users
			{username: "alice", alg: "pbkdf2-sha256", roles: []string{"default-roles-acme", "admin"}, groups: []string{"/staff/engineering/platform"}},
			{username: "Bob", email: "Bob@Acme.example", alg: "pbkdf2-sha256"},
			{username: "carol", alg: "-"},
			{skip: `client "api-backend"`},
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			recs, err := readAll(t, tc.file, nil, FormatAuto)
			if err != nil {
				t.Fatal(err)
			}
			check(t, recs, tc.wants)
		})
	}
}

// TestKeycloakKeepsCredentials: hashes and other credential types come
// through byte for byte; ids, flags and client roles too.
func TestKeycloakKeepsCredentials(t *testing.T) {
	recs, err := readAll(t, "acme-users-0.json", nil, FormatKeycloak)
	if err != nil {
		t.Fatal(err)
	}
	erin := recs[0]
	if len(erin.Credentials) != 2 || erin.Credentials[1].Type != "otp" || erin.Credentials[1].SecretData != `{"value":"JBSWY3DPEHPK3PXP"}` {
		t.Errorf("erin's credentials: %+v", erin.Credentials)
	}
	if !strings.Contains(erin.Credentials[0].SecretData, "eXXFuGogo8di26CFnMTeXPe79nerR8qNYYczkcU6zn8=") || erin.Credentials[0].UserLabel != "My password" {
		t.Errorf("erin's password was not kept as it is: %+v", erin.Credentials[0])
	}
	if erin.ID != "3f1d9a8e-0c55-4b7e-9a51-2d1f6b7c8e90" || !*erin.EmailVerified || !slices.Equal(erin.ClientRoles["webapp"], []string{"viewer"}) {
		t.Errorf("erin: %+v", erin)
	}
	if frank := recs[1]; *frank.Enabled {
		t.Error("frank is disabled in the file")
	}
	if gina := recs[2]; !slices.Equal(gina.RequiredActions, []string{"UPDATE_PASSWORD"}) {
		t.Errorf("gina's temporary password: required actions %v", gina.RequiredActions)
	}
}

// TestBadInput: every bad record is named with its file and line (or JSON
// path) and why; a file that cannot be read at all is an error.
func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		wants      []want // per record
		fileErr    string // or a file-level error
	}{
		{name: "u.csv", data: "username,password_hash\nok,5f4dcc3b5aa765d61d8327deb882cf99\nbad,5f4dcc3b5aa765d61d8327deb882cf9\nx,y,z\n\"unterminated,5f4d\n",
			wants: []want{{username: "ok"}, {source: "u.csv:3", err: "password_hash: md5: want 32 hex characters"},
				{source: "u.csv:4", err: "3 fields, the header has 2"}, {source: "u.csv:5", err: "quote"}}},
		{name: "u.csv", data: "username,hash_algorithm,password_hash\na,sha1,abc\nb,bcrypt,$2b$99$x\n",
			wants: []want{{err: `hash algorithm "sha1" is not supported`}, {err: "bcrypt: hash must be 60 characters"}}},
		{name: "semi.csv", data: "Username;E-Mail;Roles\njane;Jane@X.org;\"a;b\"\n",
			wants: []want{{source: "semi.csv:2", username: "jane", email: "Jane@X.org", roles: []string{"a", "b"}, alg: "-"}}},
		{name: "u.csv", data: "username,passwd\n", fileErr: `u.csv:1: unknown column "passwd"`},
		{name: "u.csv", data: "email\n", fileErr: "no username column"},
		{name: "u.csv", data: "", fileErr: "empty file"},
		{name: "v.yaml", data: "stackstate:\n  authentication:\n    file:\n      logins:\n        - username: a\n          roles: [x]\n        - username: b\n          passwordHash: 5f4dcc3b5aa765d61d8327deb882cf99\n          roles: x\n        - just-a-string\n",
			wants: []want{{source: "v.yaml:5", err: "no passwordHash"}, {source: "v.yaml:7", err: "roles: want a list"}, {source: "v.yaml:10", err: "want a mapping"}}},
		{name: "v.yaml", data: "stackstate:\n  authentication:\n    adminPassword: 5f4dcc3b5aa765d61d8327deb882cf99\n",
			wants: []want{{source: "v.yaml:3", username: "admin", alg: "md5", roles: []string{"stackstate-admin"}}}},
		{name: "v.yaml", data: "global: {}\n", fileErr: "no stackstate.authentication.file.logins"},
		{name: "v.yaml", data: "stackstate: [\n", fileErr: "v.yaml: yaml"},
		{name: "a.conf", data: "stackstate.api.authentication.authServer.stackstateAuthServer {\n  logins = [\n    { username = a, password = \"5f4dcc3b5aa765d61d8327deb882cf99\", roles = stackstate-admin }\n    { username = b }\n  ]\n}\n",
			wants: []want{{source: "a.conf:3", err: "roles: want a list"}, {source: "a.conf:4", err: "no password"}}},
		{name: "a.conf", data: "stackstate.api.authentication.authServer.stackstateAuthServer.defaultPassword = \"5f4dcc3b5aa765d61d8327deb882cf99\"\n",
			wants: []want{{username: "admin", alg: "md5", verifies: "password"}}},
		{name: "a.conf", data: "stackstate { api { bind = \"0.0.0.0\" } }\n", fileErr: "no stackstateAuthServer block"},
		{name: "a.conf", data: "stackstate { api { \n", fileErr: "a.conf:"},
		{name: "r.json", data: `{"realm":"x","users":[{"username":"a"},{"username":"b","credentials":[{"type":"password",
			"secretData":"{\"value\":\"AAAA\"}","credentialData":"{\"algorithm\":\"sha3\",\"hashIterations\":1}"}]},{"username":"c","enabled":{}}]}`,
			wants: []want{{username: "a", alg: "-"}, {source: "r.json: users[1]", err: `credentials[0].credentialData: unknown algorithm "sha3"`},
				{source: "r.json: users[2]", err: "enabled: expected boolean, got object"}}},
		{name: "r.json", data: `[{"realm":"x"}]`, fileErr: "array of realms"},
		{name: "r.json", data: `{"realm":"x","users":[{"username":"a"}`, fileErr: "r.json: offset"},
		{name: "r.json", data: `{"realm":"x"} {}`, fileErr: "data after the realm object"},
		{name: "r.json", data: `{"users":{}}`, fileErr: "users: want an array"},
	} {
		t.Run(tc.name+"/"+firstLine(tc.data), func(t *testing.T) {
			recs, err := readAll(t, tc.name, []byte(tc.data), FormatAuto)
			if tc.fileErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fileErr) {
					t.Fatalf("error %v, want %q", err, tc.fileErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			check(t, recs, tc.wants)
		})
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name, head string
		want       Format
	}{
		{"users.csv", "", FormatCSV},
		{"realm-users-0.json", "", FormatKeycloak},
		{"application_stackstate.conf", "", FormatStackState},
		{"values.yml", "", FormatStackState},
		{"-", `  {"realm": "x"}`, FormatKeycloak},
		{"-", "stackstate {\n api { authentication {", FormatStackState},
		{"-", "\ufeffUsername;Email\njane;j@x", FormatCSV},
	} {
		if got, err := Detect(tc.name, []byte(tc.head)); got != tc.want || err != nil {
			t.Errorf("Detect(%q, %q) = %q, %v; want %q", tc.name, tc.head, got, err, tc.want)
		}
	}
	if _, err := Detect("-", []byte("hello")); err == nil {
		t.Error("Detect guessed a format for plain text")
	}
}

// TestHOCONSubstitution: the Helm chart renders logins with
// `password = ${file_<user>_password}`, filled from the environment.
func TestHOCONSubstitution(t *testing.T) {
	t.Setenv("file_admin_password", "5f4dcc3b5aa765d61d8327deb882cf99")
	conf := "stackstate.api.authentication.authServer.stackstateAuthServer {\n  logins = [\n    { username = \"admin\", password = ${file_admin_password}, roles = [\"stackstate-admin\"] }\n  ]\n}\n"
	recs, err := readAll(t, "rendered.conf", []byte(conf), FormatStackState)
	if err != nil {
		t.Fatal(err)
	}
	check(t, recs, []want{{source: "rendered.conf:3", username: "admin", alg: "md5", verifies: "password"}})
	_, err = readAll(t, "rendered.conf", []byte(strings.ReplaceAll(conf, "file_admin_password", "file_missing_password")), FormatStackState)
	if err == nil || !strings.Contains(err.Error(), "could not resolve substitution") {
		t.Errorf("unset variable: %v", err)
	}
	if _, err = readAll(t, "x.conf", []byte("a = ${b\n"), FormatStackState); err == nil || !strings.Contains(err.Error(), "x.conf: line 1: substitution") {
		t.Errorf("open substitution: %v", err)
	}
}
