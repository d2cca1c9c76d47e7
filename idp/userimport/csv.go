package userimport

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// csvColumns maps accepted header names (lower-cased, "-" and " " read as
// "_") to the column they fill. The SPEC's names come first; the camelCase
// forms are Keycloak's field names, which people reach for.
var csvColumns = map[string]string{
	"username": "username", "email": "email", "e_mail": "email",
	"first_name": "first_name", "firstname": "first_name",
	"last_name": "last_name", "lastname": "last_name",
	"password_hash": "password_hash", "passwordhash": "password_hash",
	"hash_algorithm": "hash_algorithm", "hashalgorithm": "hash_algorithm", "algorithm": "hash_algorithm",
	"roles": "roles", "realm_roles": "roles", "realmroles": "roles",
	"groups":  "groups",
	"enabled": "enabled",
}

// csvReader reads a header row naming its columns and one user per row,
// fields separated by "," (or ";" when the header uses it).
// roles and groups cells hold lists separated by "," or ";" (quote the cell
// when it holds commas); password_hash is md5 hex or bcrypt, with
// hash_algorithm naming it or left empty to be recognised.
type csvReader struct {
	name string
	r    *csv.Reader
	col  map[string]int // column -> index
}

func newCSVReader(r io.Reader, name string) (Reader, error) {
	// Spreadsheets in many locales save with ";": a header line with ";"
	// and no "," says which.
	r, head, err := peek(r, 4096)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cr := csv.NewReader(r)
	if h := firstLine(string(head)); strings.Contains(h, ";") && !strings.Contains(h, ",") {
		cr.Comma = ';'
	}
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1 // checked per row, so a short row is one invalid record
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty file, want a header row", name)
		}
		return nil, fmt.Errorf("%s: header: %v", name, err)
	}
	c := &csvReader{name: name, r: cr, col: map[string]int{}}
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		key := strings.NewReplacer("-", "_", " ", "_").Replace(strings.ToLower(strings.TrimSpace(h)))
		col, ok := csvColumns[key]
		switch {
		case !ok:
			return nil, fmt.Errorf("%s:1: unknown column %q (want username, email, first_name, last_name, password_hash, hash_algorithm, roles, groups, enabled)", name, h)
		case c.has(col):
			return nil, fmt.Errorf("%s:1: column %q appears twice", name, col)
		}
		c.col[col] = i
	}
	if !c.has("username") {
		return nil, fmt.Errorf("%s:1: no username column", name)
	}
	return c, nil
}

func (c *csvReader) has(col string) bool { _, ok := c.col[col]; return ok }

func (c *csvReader) Next() (Record, error) {
	for {
		row, err := c.r.Read()
		if errors.Is(err, io.EOF) {
			return Record{}, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			// The csv reader resumes after a malformed row, so it is one
			// invalid record, not a broken file.
			return Record{Source: fmt.Sprintf("%s:%d", c.name, pe.StartLine), Err: pe.Err}, nil
		}
		if err != nil {
			return Record{}, fmt.Errorf("%s: %w", c.name, err)
		}
		line, _ := c.r.FieldPos(0)
		if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			continue // blank line with spaces
		}
		rec := Record{Source: fmt.Sprintf("%s:%d", c.name, line), DefaultRole: true}
		if len(row) != len(c.col) {
			rec.Err = fmt.Errorf("%d fields, the header has %d", len(row), len(c.col))
			return rec, nil
		}
		get := func(col string) string {
			if i, ok := c.col[col]; ok {
				return strings.TrimSpace(row[i])
			}
			return ""
		}
		rec.Username, rec.Email = get("username"), get("email")
		rec.FirstName, rec.LastName = get("first_name"), get("last_name")
		rec.RealmRoles, rec.Groups = splitList(get("roles")), splitList(get("groups"))
		if v := get("enabled"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				rec.Err = fmt.Errorf("enabled: %q is not true or false", v)
				return rec, nil
			}
			rec.Enabled = &b
		}
		if h := get("password_hash"); h != "" {
			cred, err := legacyCredential(h, get("hash_algorithm"))
			if err != nil {
				rec.Err = fmt.Errorf("password_hash: %v", err)
				return rec, nil
			}
			rec.Credentials = append(rec.Credentials, cred)
		} else if get("hash_algorithm") != "" {
			rec.Err = errors.New("hash_algorithm without password_hash")
		}
		return rec, nil
	}
}
