package userimport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gurkankaymak/hocon"
	"go.yaml.in/yaml/v3"

	"github.com/keygate/keygate/store"
)

// StackState keeps file-based logins in one of two places:
//
//   - application_stackstate.conf (HOCON, StackState 4.x on Linux):
//     stackstate.api.authentication.authServer.stackstateAuthServer
//     { logins = [ { username, password (md5 hex), roles = [..] } ],
//     defaultPassword }
//   - Helm values (StackState 5.x / SUSE Observability):
//     stackstate.authentication.file.logins: [ { username, passwordHash (md5
//     or bcrypt) or the older passwordMd5, roles: [..] } ], with
//     stackstate.authentication.adminPassword as the fallback admin.
//
// Both hold a few dozen users at most, so they are parsed whole. Role names
// (stackstate-admin, stackstate-guest, ...) become realm roles.

// maxStackStateFile bounds what is read into memory: a logins file of 64 MiB
// is ~500,000 users, far past anything StackState could load itself.
const maxStackStateFile = 64 << 20

// defaultAdmin is the user StackState falls back to when no logins are
// configured (its defaultPassword / adminPassword); it is an administrator.
const defaultAdmin = "admin"

var defaultAdminRoles = []string{"stackstate-admin"}

type sliceReader struct{ recs []Record }

func (s *sliceReader) Next() (Record, error) {
	if len(s.recs) == 0 {
		return Record{}, io.EOF
	}
	r := s.recs[0]
	s.recs = s.recs[1:]
	return r, nil
}

func newStackStateReader(r io.Reader, name string) (Reader, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxStackStateFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > maxStackStateFile {
		return nil, fmt.Errorf("%s: larger than %d MiB; a StackState logins file is far smaller (use CSV for bulk imports)", name, maxStackStateFile>>20)
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	var recs []Record
	if looksLikeYAML(name, data) {
		recs, err = readHelmValues(data, name)
	} else {
		recs, err = readHOCON(data, name)
	}
	if err != nil {
		return nil, err
	}
	return &sliceReader{recs}, nil
}

// looksLikeYAML: the extension says so, or the file has `stackstate:` (a
// YAML mapping key) where HOCON would write `stackstate {` or `stackstate.`.
func looksLikeYAML(name string, data []byte) bool {
	switch {
	case strings.HasSuffix(name, ".yaml"), strings.HasSuffix(name, ".yml"):
		return true
	case strings.HasSuffix(name, ".conf"), strings.HasSuffix(name, ".hocon"):
		return false
	}
	return regexp.MustCompile(`(?m)^stackstate:\s*$`).Match(data)
}

// ---------------------------------------------------------------------------
// Helm values (YAML)

func readHelmValues(data []byte, name string) (recs []Record, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	auth := yamlPath(&doc, "stackstate", "authentication")
	logins := yamlPath(auth, "file", "logins")
	if logins == nil {
		if pw := yamlPath(auth, "adminPassword"); pw != nil && pw.Kind == yaml.ScalarNode {
			rec := Record{Source: fmt.Sprintf("%s:%d", name, pw.Line), Username: defaultAdmin,
				RealmRoles: defaultAdminRoles, DefaultRole: true}
			rec.Credentials, rec.Err = hashField(pw.Value, "adminPassword")
			return []Record{rec}, nil
		}
		return nil, fmt.Errorf("%s: no stackstate.authentication.file.logins (nor adminPassword) in the file", name)
	}
	if logins.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d: stackstate.authentication.file.logins: want a list of logins", name, logins.Line)
	}
	for _, n := range logins.Content {
		n = deref(n)
		rec := Record{Source: fmt.Sprintf("%s:%d", name, n.Line), DefaultRole: true}
		recs = append(recs, rec)
		r := &recs[len(recs)-1]
		if n.Kind != yaml.MappingNode {
			r.Err = errors.New("want a mapping with username, passwordHash and roles")
			continue
		}
		r.Err = func() error {
			var hash, field string
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i].Value, deref(n.Content[i+1])
				switch k {
				case "username", "passwordHash", "passwordMd5":
					if v.Kind != yaml.ScalarNode {
						return fmt.Errorf("%s: want a string", k)
					}
					if k == "username" {
						r.Username = v.Value
					} else if hash == "" || k == "passwordHash" { // the newer key wins
						hash, field = v.Value, k
					}
				case "roles":
					if v.Kind != yaml.SequenceNode {
						return errors.New("roles: want a list of role names")
					}
					for _, role := range v.Content {
						if role = deref(role); role.Kind != yaml.ScalarNode || strings.TrimSpace(role.Value) == "" {
							return errors.New("roles: want a list of role names")
						}
						r.RealmRoles = append(r.RealmRoles, strings.TrimSpace(role.Value))
					}
				}
			}
			if field == "" {
				return errors.New("no passwordHash (or passwordMd5)")
			}
			var err error
			r.Credentials, err = hashField(hash, field)
			return err
		}()
	}
	return recs, nil
}

// yamlPath follows mapping keys from n; nil when one is missing.
func yamlPath(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n = deref(n); n == nil {
			return nil
		}
		if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
			n = deref(n.Content[0])
		}
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		if n = next; n == nil {
			return nil
		}
	}
	return deref(n)
}

// deref follows YAML aliases (bounded: an alias cycle yields nil).
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i == 16 {
			return nil
		}
		n = n.Alias
	}
	return n
}

func hashField(hash, field string) ([]store.Credential, error) {
	c, err := legacyCredential(hash, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %v", field, err)
	}
	return []store.Credential{c}, nil
}

// ---------------------------------------------------------------------------
// application_stackstate.conf (HOCON)

func readHOCON(data []byte, name string) (recs []Record, err error) {
	src, err := prepareHOCON(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	conf, err := parseHOCON(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	var servers []hocon.Object
	findAuthServers(conf.GetRoot(), &servers, 0)
	if len(servers) == 0 {
		return nil, fmt.Errorf("%s: no stackstateAuthServer block (stackstate.api.authentication.authServer.stackstateAuthServer)", name)
	}
	total := 0
	for _, srv := range servers {
		if arr, ok := srv["logins"].(hocon.Array); ok {
			total += len(arr)
		}
	}
	lines := hoconLoginLines(src)
	k := 0 // logins seen, across blocks
	for _, srv := range servers {
		logins, ok := srv["logins"]
		if !ok || logins == nil {
			if pw, ok := srv["defaultPassword"]; ok && pw != nil {
				rec := Record{Source: name + ": defaultPassword", Username: defaultAdmin, RealmRoles: defaultAdminRoles, DefaultRole: true}
				rec.Credentials, rec.Err = hashField(pw.String(), "defaultPassword")
				recs = append(recs, rec)
			}
			continue
		}
		arr, ok := logins.(hocon.Array)
		if !ok {
			return nil, fmt.Errorf("%s: stackstateAuthServer.logins: want a list of logins", name)
		}
		for i, v := range arr {
			rec := Record{Source: fmt.Sprintf("%s: logins[%d]", name, i), DefaultRole: true}
			if len(lines) >= total {
				rec.Source = fmt.Sprintf("%s:%d", name, lines[k])
			}
			k++
			rec.Err = hoconLogin(v, &rec)
			recs = append(recs, rec)
		}
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: stackstateAuthServer has no logins (nor defaultPassword)", name)
	}
	return recs, nil
}

// hoconTimeout bounds a parse: the library has looped forever on malformed
// input before (see prepareHOCON), and an import must end with an error,
// not hang. Real files parse in milliseconds.
var hoconTimeout = 30 * time.Second

// parseHOCON parses src, turning a panic of the parser on malformed input
// into an error and giving up after hoconTimeout (the parsing goroutine is
// then abandoned; the CLI exits soon after).
func parseHOCON(src string) (*hocon.Config, error) {
	type result struct {
		conf *hocon.Config
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("HOCON: cannot parse the file (%v)", p)}
			}
		}()
		conf, err := hocon.ParseString(src)
		if err == nil && conf == nil {
			err = errors.New("HOCON: empty document")
		}
		done <- result{conf, err}
	}()
	select {
	case r := <-done:
		return r.conf, r.err
	case <-time.After(hoconTimeout):
		return nil, fmt.Errorf("HOCON: parser gave up after %s", hoconTimeout)
	}
}

// findAuthServers collects every stackstateAuthServer object under v, in
// key order; the file may hold the whole StackState config or just the
// authentication block.
func findAuthServers(v hocon.Value, out *[]hocon.Object, depth int) {
	obj, ok := v.(hocon.Object)
	if !ok || depth > 32 {
		return
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if srv, ok := obj[k].(hocon.Object); ok && k == "stackstateAuthServer" {
			*out = append(*out, srv)
		} else {
			findAuthServers(obj[k], out, depth+1)
		}
	}
}

func hoconLogin(v hocon.Value, rec *Record) error {
	obj, ok := v.(hocon.Object)
	if !ok {
		return errors.New("want an object { username, password, roles }")
	}
	str := func(k string) (string, error) {
		x, ok := obj[k]
		if !ok || x == nil {
			return "", nil
		}
		switch x.Type() {
		case hocon.StringType, hocon.NumberType, hocon.BooleanType:
			return x.String(), nil
		}
		return "", fmt.Errorf("%s: want a string", k)
	}
	var err error
	if rec.Username, err = str("username"); err != nil {
		return err
	}
	if roles, ok := obj["roles"]; ok && roles != nil {
		arr, ok := roles.(hocon.Array)
		if !ok {
			return errors.New("roles: want a list of role names")
		}
		for _, r := range arr {
			if r == nil || r.Type() != hocon.StringType || strings.TrimSpace(r.String()) == "" {
				return errors.New("roles: want a list of role names")
			}
			rec.RealmRoles = append(rec.RealmRoles, strings.TrimSpace(r.String()))
		}
	}
	hash, err := str("password")
	if err != nil {
		return err
	}
	if hash == "" {
		return errors.New("no password (md5 hex)")
	}
	rec.Credentials, err = hashField(hash, "password")
	return err
}

// prepareHOCON replaces HOCON comments (# or // to the end of the line,
// outside quoted strings) with spaces, and rejects substitutions left open
// on their line. Both work around the HOCON library: it trips over some
// comment layouts (two comment lines in a row at the top of a file) and
// loops forever on an unterminated "${". Keeping every other byte in place
// keeps line numbers true.
func prepareHOCON(src string) (string, error) {
	b := []byte(src)
	line := 1
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '\n':
			line++
		case strings.HasPrefix(src[i:], `"""`): // multi-line string: skip to its end
			end := strings.Index(src[i+3:], `"""`)
			if end < 0 {
				return "", fmt.Errorf("line %d: unterminated \"\"\" string", line)
			}
			line += strings.Count(src[i:i+end+6], "\n")
			i += end + 5
		case b[i] == '"':
			for i++; i < len(b) && b[i] != '"' && b[i] != '\n'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if i < len(b) && b[i] == '\n' {
				line++
			}
		case b[i] == '#' || strings.HasPrefix(src[i:], "//"):
			for ; i < len(b) && b[i] != '\n'; i++ {
				b[i] = ' '
			}
			line++
		case strings.HasPrefix(src[i:], "${"):
			end := strings.IndexAny(src[i:], "}\n")
			if end < 0 || src[i+end] != '}' || !hoconPath.MatchString(src[i+2:i+end]) {
				return "", fmt.Errorf("line %d: substitution ${...} is unterminated or not a plain path like ${?SOME_ENV_VAR}", line)
			}
		}
	}
	return string(b), nil
}

var (
	hoconPath     = regexp.MustCompile(`^\??[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
	hoconLogins   = regexp.MustCompile(`\blogins\s*[=:]?\s*\[`)
	hoconUsername = regexp.MustCompile(`(^|[{,\s])"?username"?\s*[=:]`)
)

// hoconLoginLines finds the line of each login's username key after the
// first `logins = [` of src (comments blanked, so commented-out logins do
// not count), for error messages: the HOCON library keeps no positions. If the file is laid out so that this misleads (it finds fewer keys
// than there are logins), records are named by index instead.
func hoconLoginLines(src string) []int {
	start := hoconLogins.FindStringIndex(src)
	if start == nil {
		return nil
	}
	var lines []int
	for _, m := range hoconUsername.FindAllStringIndex(src[start[1]:], -1) {
		lines = append(lines, 1+strings.Count(src[:start[1]+m[1]], "\n"))
	}
	return lines
}
