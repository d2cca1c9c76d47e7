package ldap

import (
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/keygate/keygate/federation"
)

// User model properties a mapper can set, by lower-cased name (Keycloak
// matches user.model.attribute case-insensitively against UserModel's
// properties); any other name is a custom attribute.
const (
	propUsername      = "username"
	propEmail         = "email"
	propFirstName     = "firstname"
	propLastName      = "lastname"
	propEnabled       = "enabled"
	propEmailVerified = "emailverified"
)

func isProperty(model string) bool {
	switch strings.ToLower(model) {
	case propUsername, propEmail, propFirstName, propLastName, propEnabled, propEmailVerified:
		return true
	}
	return false
}

// setProperty sets a user model property from a directory value present
// in the entry: strings as they are, booleans as Java parses them.
func setProperty(id *federation.Identity, model, v string) {
	switch strings.ToLower(model) {
	case propUsername:
		if v != "" { // an entry without one keeps the provider's username
			id.Username = v
		}
	case propEmail:
		id.Email = v
	case propFirstName:
		id.FirstName = v
	case propLastName:
		id.LastName = v
	case propEnabled:
		id.Disabled = !parseBool(v)
	case propEmailVerified:
		id.EmailVerified = parseBool(v)
	}
}

// maxBinaryValue bounds a binary value copied into a user attribute:
// Keycloak keeps binary values out of its database because they can be
// large (photos, certificates); keygate has no live proxy, so it stores
// them, but only small ones (ids, keys).
const maxBinaryValue = 8 << 10

// attributeMapper is user-attribute-ldap-mapper: one LDAP attribute to a
// user property or custom attribute.
type attributeMapper struct {
	model    string // user.model.attribute
	ldapAttr string // ldap.attribute
	binary   bool   // is.binary.attribute
	asUUID   bool   // decode 16-byte binary values as a GUID string
	eDirGUID bool   // ...in eDirectory's byte order rather than AD's
	// Used when keygate writes entries (WRITABLE); reads ignore them, as
	// Keycloak's onImportUserFromLDAP does.
	readOnly, mandatory bool
	defaultValue        string
	forceDefault        bool
	alwaysReadFromLDAP  bool // keygate re-reads mapped values at every login and sync anyway
	binaryDecoder       string
}

func newAttributeMapper(cfg *Config, get func(string) string) (*attributeMapper, error) {
	m := &attributeMapper{
		model: get("user.model.attribute"), ldapAttr: get("ldap.attribute"),
		readOnly: parseBool(get("read.only")), mandatory: parseBool(get("is.mandatory.in.ldap")),
		binary: parseBool(get("is.binary.attribute")), alwaysReadFromLDAP: parseBool(get("always.read.value.from.ldap")),
		defaultValue: get("attribute.default.value"), binaryDecoder: strings.ToLower(get("binary.attribute.decoder")),
		forceDefault: get("attribute.force.default") == "" || parseBool(get("attribute.force.default")),
	}
	if m.model == "" {
		return nil, errors.New("user.model.attribute is required")
	}
	if m.ldapAttr == "" {
		return nil, errors.New("ldap.attribute is required")
	}
	if err := checkAttr("ldap.attribute", m.ldapAttr); err != nil {
		return nil, err
	}
	switch m.binaryDecoder {
	case "", "auto":
		m.asUUID = strings.EqualFold(m.ldapAttr, cfg.UUIDAttribute)
	case "uuid":
		m.asUUID = true
	case "base64":
	default:
		return nil, errors.New("binary.attribute.decoder must be auto, base64 or uuid")
	}
	m.eDirGUID = cfg.Vendor == "edirectory" && strings.EqualFold(m.ldapAttr, "guid")
	return m, nil
}

func (m *attributeMapper) attributes() []string { return []string{m.ldapAttr} }

func (m *attributeMapper) apply(e *goldap.Entry, id *federation.Identity) {
	if m.binary {
		// Keycloak never stores a binary value as a user property.
		if !isProperty(m.model) {
			setAttribute(id, m.model, m.binaryValues(e))
		}
		return
	}
	if isProperty(m.model) {
		if has(e, m.ldapAttr) {
			setProperty(id, m.model, value(e, m.ldapAttr))
		} else if lower := strings.ToLower(m.model); lower != propUsername && lower != propEnabled && lower != propEmailVerified {
			setProperty(id, m.model, "") // Keycloak sets the property to null
		}
		return
	}
	setAttribute(id, m.model, values(e, m.ldapAttr))
}

// binaryValues decodes the raw values: 16-byte ids as GUID strings when
// the mapper says so, everything else as base64.
func (m *attributeMapper) binaryValues(e *goldap.Entry) []string {
	var out []string
	for _, b := range e.GetEqualFoldRawAttributeValues(m.ldapAttr) {
		if len(b) > maxBinaryValue {
			continue
		}
		s := ""
		if m.asUUID && len(b) == 16 {
			if m.eDirGUID {
				s, _ = decodeEDirectoryGUID(b)
			} else {
				s, _ = decodeObjectGUID(b)
			}
		}
		if s == "" {
			s = base64.StdEncoding.EncodeToString(b)
		}
		out = append(out, s)
	}
	return out
}

// setAttribute sets a custom attribute, or marks it for removal (nil)
// when the entry has no value, as Keycloak removes it.
func setAttribute(id *federation.Identity, name string, vals []string) {
	if id.Attributes == nil {
		id.Attributes = map[string][]string{}
	}
	if len(vals) == 0 {
		id.Attributes[name] = nil
		return
	}
	id.Attributes[name] = slices.Clone(vals)
}

// fullNameMapper is full-name-ldap-mapper: one attribute holding "First
// Last", split at the last space.
type fullNameMapper struct {
	attr      string
	writeOnly bool
	readOnly  bool // never written back (WRITABLE)
}

func newFullNameMapper(get func(string) string) (*fullNameMapper, error) {
	m := &fullNameMapper{attr: get("ldap.full.name.attribute"), writeOnly: parseBool(get("write.only")),
		readOnly: parseBool(get("read.only"))}
	if m.attr == "" {
		m.attr = "cn"
	}
	if err := checkAttr("ldap.full.name.attribute", m.attr); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *fullNameMapper) attributes() []string {
	if m.writeOnly {
		return nil
	}
	return []string{m.attr}
}

func (m *fullNameMapper) apply(e *goldap.Entry, id *federation.Identity) {
	if m.writeOnly {
		return
	}
	first, last, ok := splitFullName(value(e, m.attr))
	if !ok {
		return
	}
	if first != "" {
		id.FirstName = first
	}
	id.LastName = last
}

// splitFullName splits a full name as FullNameLDAPStorageMapper does:
// the last word is the last name, the rest the first name; a single word
// is a last name only (the first name is left as it was). ok is false
// for a blank name, which changes nothing.
func splitFullName(full string) (first, last string, ok bool) {
	full = strings.TrimSpace(full)
	if full == "" {
		return "", "", false
	}
	i := strings.LastIndexByte(full, ' ')
	if i < 0 {
		return "", full, true
	}
	return strings.TrimSpace(full[:i]), full[i+1:], true
}

// hardcodedAttributeMapper is hardcoded-attribute-mapper: a fixed value
// for a user property or attribute of every user of the provider.
type hardcodedAttributeMapper struct {
	model, value string
}

func (m *hardcodedAttributeMapper) attributes() []string { return nil }

func (m *hardcodedAttributeMapper) apply(_ *goldap.Entry, id *federation.Identity) {
	switch {
	case m.model == "":
	case isProperty(m.model):
		setProperty(id, m.model, m.value)
	default:
		setAttribute(id, m.model, []string{m.value})
	}
}

// Active Directory's userAccountControl flags keygate reads.
const (
	uacAccountDisable  = 0x0002
	uacLockout         = 0x0010
	uacPasswordExpired = 0x800000
)

// msadMapper is msad-user-account-control-mapper: Active Directory's
// account flags. A disabled (or locked) account disables the user; in
// WRITABLE mode a password that must change (pwdLastSet 0, or the
// expired flag) asks for UPDATE_PASSWORD, as Keycloak's proxy does. The
// bind sub-codes (locked, expired, must change) are the client's.
type msadMapper struct {
	writable bool
}

func (m *msadMapper) attributes() []string { return []string{"userAccountControl", "pwdLastSet"} }

func (m *msadMapper) apply(e *goldap.Entry, id *federation.Identity) {
	uac, err := strconv.ParseInt(value(e, "userAccountControl"), 10, 64)
	if err != nil {
		return // no flags to go by: the entry's account stays as it is
	}
	id.Disabled = uac&(uacAccountDisable|uacLockout) != 0
	if !m.writable {
		return
	}
	pwd, perr := strconv.ParseInt(value(e, "pwdLastSet"), 10, 64)
	if (perr == nil && pwd == 0) || uac&uacPasswordExpired != 0 {
		if !slices.Contains(id.RequiredActions, "UPDATE_PASSWORD") {
			id.RequiredActions = append(id.RequiredActions, "UPDATE_PASSWORD")
		}
	}
}
