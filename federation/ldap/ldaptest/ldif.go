package ldaptest

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
)

// SSHA is password's {SSHA} userPassword value (SHA-1 of the password and
// an 8-byte salt, then the salt, base64), as slappasswd makes it.
func SSHA(password string) string {
	salt := make([]byte, 8)
	_, _ = rand.Read(salt)
	h := sha1.New()
	h.Write([]byte(password))
	h.Write(salt)
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...))
}

// Record is one LDIF record: an entry to add (ChangeType "add"), a modify
// (Mods) or a delete.
type Record struct {
	DN         string
	ChangeType string // add, modify, delete
	Attrs      []goldap.Attribute
	Mods       []goldap.Change
}

// ParseLDIF reads LDIF records (RFC 2849: "attr: value", "attr:: base64",
// folded lines, comments; changetype add, modify with add/replace/delete
// blocks ended by "-", and delete). Records without a changetype get
// defaultType.
func ParseLDIF(ldif, defaultType string) ([]Record, error) {
	var recs []Record
	var lines []string
	// Unfold first: a line starting with one space continues the last.
	sc := bufio.NewScanner(strings.NewReader(ldif))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(line, " ") && len(lines) > 0 && lines[len(lines)-1] != "" {
			lines[len(lines)-1] += line[1:]
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		lines = append(lines, strings.TrimSpace(line))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	lines = append(lines, "")
	var cur *Record
	var mod *goldap.Change
	attrIdx := map[string]int{}
	finish := func() {
		if cur != nil {
			if mod != nil {
				cur.Mods = append(cur.Mods, *mod)
				mod = nil
			}
			recs = append(recs, *cur)
			cur = nil
		}
	}
	for n, line := range lines {
		if line == "" {
			finish()
			continue
		}
		if line == "-" {
			if cur == nil || mod == nil {
				return nil, fmt.Errorf("ldif line %d: unexpected -", n+1)
			}
			cur.Mods = append(cur.Mods, *mod)
			mod = nil
			continue
		}
		name, value, err := ldifLine(line)
		if err != nil {
			return nil, fmt.Errorf("ldif line %d: %w", n+1, err)
		}
		switch {
		case cur == nil:
			if !strings.EqualFold(name, "dn") {
				return nil, fmt.Errorf("ldif line %d: a record must start with a dn", n+1)
			}
			cur = &Record{DN: value, ChangeType: defaultType}
			attrIdx = map[string]int{}
		case strings.EqualFold(name, "changetype"):
			cur.ChangeType = strings.ToLower(value)
		case cur.ChangeType == "modify" && mod == nil:
			op := map[string]uint{"add": goldap.AddAttribute, "replace": goldap.ReplaceAttribute, "delete": goldap.DeleteAttribute}
			o, ok := op[strings.ToLower(name)]
			if !ok {
				return nil, fmt.Errorf("ldif line %d: expected add, replace or delete", n+1)
			}
			mod = &goldap.Change{Operation: o, Modification: goldap.PartialAttribute{Type: value}}
		case cur.ChangeType == "modify":
			if !strings.EqualFold(name, mod.Modification.Type) {
				return nil, fmt.Errorf("ldif line %d: %s in a change of %s", n+1, name, mod.Modification.Type)
			}
			mod.Modification.Vals = append(mod.Modification.Vals, value)
		default:
			key := strings.ToLower(name)
			if i, ok := attrIdx[key]; ok {
				cur.Attrs[i].Vals = append(cur.Attrs[i].Vals, value)
			} else {
				attrIdx[key] = len(cur.Attrs)
				cur.Attrs = append(cur.Attrs, goldap.Attribute{Type: name, Vals: []string{value}})
			}
		}
	}
	return recs, nil
}

func ldifLine(line string) (name, value string, err error) {
	i := strings.IndexByte(line, ':')
	if i <= 0 {
		return "", "", fmt.Errorf("no attribute name in %q", line)
	}
	name, rest := line[:i], line[i+1:]
	if strings.HasPrefix(rest, ":") {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest[1:]))
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", name, err)
		}
		return name, string(b), nil
	}
	return name, strings.TrimSpace(rest), nil
}

// Username is the uid of generated user i.
func Username(i int) string { return fmt.Sprintf("user%d", i) }

// GroupName is the cn of generated group j.
func GroupName(j int) string { return fmt.Sprintf("group%d", j) }

// WriteUsers writes n generated users, numbered from first, as LDIF:
// uid=userN under peopleDN (inetOrgPerson: uid, cn "User N", givenName
// "User", sn "N", mail userN@example.org, userPassword {SSHA} of
// password).
func WriteUsers(w io.Writer, peopleDN string, first, n int, password string) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	for i := first; i < first+n; i++ {
		u := Username(i)
		fmt.Fprintf(bw, "dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: User %d\ngivenName: User\nsn: %d\nmail: %s@example.org\nuserPassword: %s\n\n",
			u, peopleDN, u, i, i, u, SSHA(password))
	}
	return bw.Flush()
}

// GroupMembers are the members of generated group j of groups over n
// users: every user i with i % groups == j.
func GroupMembers(peopleDN string, j, groups, users int) []string {
	var m []string
	for i := j; i < users; i += groups {
		m = append(m, "uid="+Username(i)+","+peopleDN)
	}
	return m
}

// WriteGroups writes the generated groups (groupOfNames cn=groupJ under
// groupsDN) as LDIF. A group needs a member, so there are at most as many
// groups as users.
func WriteGroups(w io.Writer, groupsDN, peopleDN string, groups, users int) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	for j := 0; j < min(groups, users); j++ {
		fmt.Fprintf(bw, "dn: cn=%s,%s\nobjectClass: groupOfNames\ncn: %s\n", GroupName(j), groupsDN, GroupName(j))
		for _, m := range GroupMembers(peopleDN, j, groups, users) {
			fmt.Fprintf(bw, "member: %s\n", m)
		}
		bw.WriteString("\n")
	}
	return bw.Flush()
}
