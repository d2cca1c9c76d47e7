package userimport

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
)

// Each reader is fuzzed through the whole import: whatever the bytes, no
// panic, and the store ends with either every user the result counts or
// none at all (never half an import).
//
//	go test -run '^$' -fuzz FuzzCSV -fuzzminimizetime 5s ./idp/userimport/
//
// (likewise FuzzHOCON, FuzzHelmValues, FuzzKeycloak). Seeds stay small:
// minimizing what a 70 KB realm export turns into stalls the engine.

func FuzzCSV(f *testing.F) {
	fuzzImport(f, "fuzz.csv", FormatCSV, []string{"users.csv"},
		"username,password_hash\na,5f4dcc3b5aa765d61d8327deb882cf99\na,x\n", "username\n\"a\nb\"\n", "username;roles\nx;\"a;b\"\n")
}

func FuzzHOCON(f *testing.F) {
	fuzzImport(f, "fuzz.conf", FormatStackState, []string{"application_stackstate.conf"},
		"stackstateAuthServer { logins = [ { username = a, password = \"5f4dcc3b5aa765d61d8327deb882cf99\", roles = [x] } ] }",
		"a { stackstateAuthServer { defaultPassword = ${X} } }", "stackstateAuthServer.logins = [ {}, [], 1 ]", `a = """x`)
}

func FuzzHelmValues(f *testing.F) {
	fuzzImport(f, "fuzz.yaml", FormatStackState, []string{"authentication.yaml"},
		"stackstate:\n  authentication:\n    file:\n      logins:\n        - &a {username: x, passwordHash: 5f4dcc3b5aa765d61d8327deb882cf99, roles: [r]}\n        - *a\n",
		"stackstate: {authentication: {adminPassword: [1]}}")
}

func FuzzKeycloak(f *testing.F) {
	fuzzImport(f, "fuzz.json", FormatKeycloak, []string{"acme-users-0.json"},
		`{"realm":"x","users":[{"username":"a","credentials":[{"type":"password","value":"pw"}]},{"username":"A"}]}`,
		`{"users":[{"username":"a","groups":["/x/y","x/y"],"clientRoles":{"account":["r"]}}]}`, `{"users":[1,null,{}]}`)
}

func fuzzImport(f *testing.F, name string, format Format, files []string, seeds ...string) {
	for _, file := range files {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	st, err := sqlite.Open(f.Context(), ":memory:")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		// Reading alone must not panic either.
		if r, err := NewReader(strings.NewReader(string(data)), name, format, password.DefaultPolicy()); err == nil {
			for i := 0; ; i++ {
				if _, err := r.Next(); err != nil || i > 1e6 {
					break
				}
			}
		}
		// A bare realm per input: no built-ins to create, so each run is quick.
		id := uuid.NewString()
		if err := st.CreateRealm(t.Context(), store.Realm{ID: id, Name: id, Enabled: true, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
		for _, skip := range []bool{false, true} {
			res, err := Import(t.Context(), st, []File{{Name: name, Format: format, R: strings.NewReader(string(data))}},
				Options{Realm: id, OnConflict: ConflictUpdate, SkipInvalid: skip})
			users, cerr := st.CountUsers(t.Context(), id, store.UserQuery{IncludeServiceAccounts: true})
			if cerr != nil {
				t.Fatal(cerr)
			}
			roles, _ := st.ListAllRoles(t.Context(), id)
			switch {
			case err != nil && (users != 0 || len(roles) != 0):
				t.Fatalf("failed import (%v) left %d users and %d roles", err, users, len(roles))
			case err == nil && users != res.Created:
				t.Fatalf("import says created %d, the store holds %d users", res.Created, users)
			case err == nil && res.Invalid > 0 && !skip:
				t.Fatalf("%d invalid records but no error", res.Invalid)
			case err != nil && !skip && res.Invalid == 0 && errors.Is(err, ErrInvalid):
				t.Fatal("ErrInvalid without invalid records")
			case errors.Is(err, io.ErrUnexpectedEOF):
				t.Fatalf("unexpected EOF leaked: %v", err)
			}
			if err == nil { // the second pass (skip) would only skip what the first created
				return
			}
		}
	})
}
