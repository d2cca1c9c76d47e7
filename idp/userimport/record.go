// Package userimport reads users from the files people migrate from —
// StackState's file-based logins (HOCON application_stackstate.conf or Helm
// values YAML), Keycloak realm and users exports, CSV — into one Record type,
// and writes them to a realm in one transaction (see Import).
//
// Readers stream where the format allows (CSV, Keycloak JSON) and never
// panic on input; a record they cannot use comes back with Err set and its
// Source naming the file and line (or JSON path), so the importer can list
// every bad record before deciding to write nothing.
package userimport

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/store"
)

// Record is one user as read from a file, before it meets the store.
type Record struct {
	// Source says where the record is: "users.csv:12",
	// "application_stackstate.conf:31", "realm.json: users[3]".
	Source string

	ID                                   string // kept from Keycloak files; "" gets a new id
	Username, Email, FirstName, LastName string // as in the file; the store lower-cases username and email
	Enabled, EmailVerified               *bool  // nil: not in the file (new users are enabled, not verified)
	Created                              time.Time
	Attributes                           map[string][]string
	RequiredActions                      []string
	// Credentials are in Keycloak's stored form (SecretData and
	// CredentialData JSON); ID and UserID are left for the writer.
	Credentials []store.Credential
	RealmRoles  []string
	ClientRoles map[string][]string // clientId -> role names
	Groups      []string            // paths, "/parent/child"
	// FederatedIdentities link the user to identity-provider accounts
	// (Alias, ExternalID, ExternalName; the writer fills in the rest).
	FederatedIdentities []store.FederatedIdentity
	// FederationLink is the user storage provider (component id) a Keycloak
	// export links the user to; kept when the realm has that provider and
	// the user its LDAP_ID.
	FederationLink string
	// DefaultRole grants the realm's default role to a new user, as Keycloak
	// does for users it creates; Keycloak exports list every mapping instead.
	DefaultRole bool

	// Err says why the record cannot be imported; Skip, why it is left out
	// on purpose (a Keycloak service-account user). At most one is set.
	Err  error
	Skip string

	seq int // position in the import run
}

// Reader yields the records of one file.
type Reader interface {
	// Next returns the next record, or io.EOF after the last. Any other
	// error means the file itself is unusable (not JSON, no logins, a
	// read failure) and no more records follow.
	Next() (Record, error)
}

// Format names an input format.
type Format string

const (
	FormatAuto       Format = "auto"
	FormatStackState Format = "stackstate" // HOCON or Helm values YAML
	FormatKeycloak   Format = "keycloak"
	FormatCSV        Format = "csv"
)

// NewReader returns the reader for format f over r; name is the file name
// used in Source. FormatAuto looks at name's extension and then at the first
// bytes of r. policy hashes the plain `value` credentials Keycloak files may
// carry.
func NewReader(r io.Reader, name string, f Format, policy password.Policy) (Reader, error) {
	if f == FormatAuto || f == "" {
		var head []byte
		var err error
		if r, head, err = peek(r, 4096); err != nil {
			return nil, err
		}
		if f, err = Detect(name, head); err != nil {
			return nil, err
		}
	}
	switch f {
	case FormatStackState:
		return newStackStateReader(r, name)
	case FormatKeycloak:
		return newKeycloakReader(r, name, policy)
	case FormatCSV:
		return newCSVReader(r, name)
	}
	return nil, fmt.Errorf("unknown format %q (want auto, stackstate, keycloak or csv)", f)
}

// Detect picks a format from the file's extension or, failing that, from
// its first bytes.
func Detect(name string, head []byte) (Format, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return FormatCSV, nil
	case ".json":
		return FormatKeycloak, nil
	case ".conf", ".hocon", ".yaml", ".yml":
		return FormatStackState, nil
	}
	s := strings.TrimLeft(strings.TrimPrefix(string(head), "\ufeff"), " \t\r\n")
	switch {
	case strings.HasPrefix(s, "{") && strings.HasPrefix(strings.TrimLeft(s[1:], " \t\r\n"), `"`):
		return FormatKeycloak, nil // HOCON may open with a brace too, but not with a quoted key and colon throughout
	case strings.Contains(s, "logins") || strings.Contains(s, "stackstate"):
		return FormatStackState, nil
	case strings.Contains(strings.ToLower(firstLine(s)), "username") && strings.ContainsAny(firstLine(s), ",;"):
		return FormatCSV, nil
	}
	return "", fmt.Errorf("%s: cannot tell the format; name it with --format stackstate|keycloak|csv", name)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// peek reads up to n bytes of r and returns a reader that still yields them.
func peek(r io.Reader, n int) (io.Reader, []byte, error) {
	head := make([]byte, n)
	k, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	head = head[:k]
	return io.MultiReader(strings.NewReader(string(head)), r), head, nil
}

// legacyCredential turns a StackState or CSV password hash (md5 hex or
// bcrypt) into a stored credential. The error never contains the hash.
func legacyCredential(hash, algorithm string) (store.Credential, error) {
	hash = strings.TrimSpace(hash)
	if algorithm == "" {
		algorithm = password.MD5
		if strings.HasPrefix(hash, "$2") {
			algorithm = password.Bcrypt
		}
	}
	var pc password.Credential
	var err error
	switch strings.ToLower(algorithm) {
	case password.MD5:
		pc, err = password.FromMD5Hex(hash)
	case password.Bcrypt:
		pc, err = password.FromBcrypt(hash)
	default:
		return store.Credential{}, fmt.Errorf("hash algorithm %q is not supported here (md5 or bcrypt; use a Keycloak export for pbkdf2 and argon2)", algorithm)
	}
	if err != nil {
		return store.Credential{}, errors.New(strings.TrimPrefix(err.Error(), password.ErrMalformed.Error()+": "))
	}
	return storedCredential(pc)
}

// storedCredential is pc in Keycloak's stored form.
func storedCredential(pc password.Credential) (store.Credential, error) {
	sd, err := pc.SecretData()
	if err != nil {
		return store.Credential{}, err
	}
	cd, err := pc.CredentialData()
	if err != nil {
		return store.Credential{}, err
	}
	return store.Credential{Type: "password", SecretData: sd, CredentialData: cd}, nil
}

// checkUsername applies Keycloak's basic rules: 1..255 characters, no
// whitespace or control characters, valid UTF-8.
func checkUsername(s string) error {
	switch n := utf8.RuneCountInString(s); {
	case strings.TrimSpace(s) == "":
		return errors.New("username: required")
	case !utf8.ValidString(s):
		return errors.New("username: not valid UTF-8")
	case n > 255:
		return fmt.Errorf("username: %d characters, at most 255", n)
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Errorf("username %q: contains whitespace or control characters", s)
	case foldsOntoASCII(s):
		return fmt.Errorf("username %q: lower-cases onto another (ASCII) name", s)
	}
	return nil
}

// foldsOntoASCII reports whether strings.ToLower, as the store keys users,
// maps a non-ASCII letter of s onto an ASCII one (U+212A KELVIN SIGN onto
// k, U+0130 onto i): the record would merge into another source user's
// account.
func foldsOntoASCII(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r >= utf8.RuneSelf && unicode.ToLower(r) < utf8.RuneSelf })
}

// checkEmail accepts "" or local@domain without whitespace, at most 254
// bytes; deliverability is not the importer's business.
func checkEmail(s string) error {
	if s == "" {
		return nil
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > 254 || !utf8.ValidString(s) ||
		strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Errorf("email %q: not an email address", s)
	}
	if foldsOntoASCII(s) {
		return fmt.Errorf("email %q: lower-cases onto another (ASCII) address", s)
	}
	return nil
}

// splitList splits a cell such as "admin, viewer;guest" into trimmed,
// non-empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
