package ldap

// Keycloak's WRITABLE edit mode: an admin's changes, new users
// (syncRegistrations), deletions and passwords written to the directory
// as the service account. What goes where follows Keycloak's mappers:
// onRegisterUserToLDAP for a new entry, the proxies of
// UserAttributeLDAPStorageMapper, FullNameLDAPStorageMapper and the MSAD
// mapper for changes, LDAPIdentityStore.updatePassword for passwords.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/store"
)

var (
	_ federation.Writer          = (*Provider)(nil)
	_ federation.PasswordUpdater = (*Provider)(nil)
)

// writeDirectory is what writes need from the transport (*Client).
type writeDirectory interface {
	Modify(ctx context.Context, req *goldap.ModifyRequest) error
	Add(ctx context.Context, req *goldap.AddRequest) error
	Delete(ctx context.Context, dn string) error
	PasswordModify(ctx context.Context, dn, oldPassword, newPassword string) error
	ModifyDN(ctx context.Context, dn, newRDN string) error
}

const opModifyDN = "modify_dn"

// ModifyDN renames the entry dn to newRDN under the same parent (the old
// RDN's values are deleted) as the service account; errors as Modify's.
func (c *Client) ModifyDN(ctx context.Context, dn, newRDN string) error {
	return c.write(ctx, opModifyDN, "rename "+dn, func(l *goldap.Conn) error {
		return l.ModifyDN(goldap.NewModifyDNRequest(dn, newRDN, true, ""))
	})
}

// emptyValue is what Keycloak writes for a blank value
// (LDAPConstants.EMPTY_ATTRIBUTE_VALUE): directory strings cannot be empty.
const emptyValue = " "

// writeMapper is a mapper that writes users' entries.
type writeMapper interface {
	// register sets what the mapper writes to the entry of a new user u
	// (Keycloak's onRegisterUserToLDAP).
	register(u store.User, e *attrSet)
	// update adds the mapper's part of an admin's change from old to
	// next, and records which user fields it writes or maps read-only.
	update(old, next store.User, up *entryUpdate)
}

// attrSet is an entry's attributes by case-insensitive name: a later set
// of a name replaces an earlier one, as in Keycloak's LDAPObject.
type attrSet struct {
	names []string            // as first spelled, in first-set order
	vals  map[string][]string // by lower-cased name; empty: none (removed by an update)
}

func (s *attrSet) set(name string, vals []string) {
	k := strings.ToLower(name)
	if s.vals == nil {
		s.vals = map[string][]string{}
	}
	if _, ok := s.vals[k]; !ok {
		s.names = append(s.names, name)
	}
	s.vals[k] = vals
}

func (s *attrSet) get(name string) []string { return s.vals[strings.ToLower(name)] }

// entryUpdate is the modification of one entry for an admin's change.
type entryUpdate struct {
	attrSet
	writes   map[string]bool // user fields a mapper writes back
	readOnly map[string]bool // user fields a read-only mapper maps
	enable   *bool           // the account's state to write to userAccountControl (MSAD)
}

// check refuses a change to a field that a mapper maps read-only, and to
// the username unless a mapper writes it (a login reads it back from the
// directory).
func (up *entryUpdate) check(old, next store.User) error {
	for _, f := range changedFields(old, next) {
		if !up.writes[f] && (up.readOnly[f] || f == fieldUsername) {
			return &federation.ReadOnlyError{Field: f}
		}
	}
	return nil
}

// User fields as the admin API names them.
const (
	fieldUsername      = "username"
	fieldEmail         = "email"
	fieldFirstName     = "firstName"
	fieldLastName      = "lastName"
	fieldEnabled       = "enabled"
	fieldEmailVerified = "emailVerified"
)

// fieldOf is the user field a mapper's user.model.attribute names:
// properties by their admin API name, anything else is an attribute.
func fieldOf(model string) string {
	switch strings.ToLower(model) {
	case propUsername:
		return fieldUsername
	case propEmail:
		return fieldEmail
	case propFirstName:
		return fieldFirstName
	case propLastName:
		return fieldLastName
	case propEnabled:
		return fieldEnabled
	case propEmailVerified:
		return fieldEmailVerified
	}
	return model
}

// modelValues is what u has for a mapper's user.model.attribute: a
// property's value (none when empty), or the attribute's values.
func modelValues(u store.User, model string) []string {
	one := func(s string) []string {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	switch fieldOf(model) {
	case fieldUsername:
		return one(u.Username)
	case fieldEmail:
		return one(u.Email)
	case fieldFirstName:
		return one(u.FirstName)
	case fieldLastName:
		return one(u.LastName)
	case fieldEnabled:
		return []string{strconv.FormatBool(u.Enabled)}
	case fieldEmailVerified:
		return []string{strconv.FormatBool(u.EmailVerified)}
	}
	if v, ok := u.Attributes[model]; ok {
		return v
	}
	for k, v := range u.Attributes {
		if strings.EqualFold(k, model) {
			return v
		}
	}
	return nil
}

// changedFields are the user fields an admin's change touches: the four
// that directories map, and attributes (not the link to the entry).
func changedFields(old, next store.User) []string {
	var out []string
	for _, f := range []struct {
		name string
		a, b string
	}{{fieldUsername, old.Username, next.Username}, {fieldEmail, old.Email, next.Email},
		{fieldFirstName, old.FirstName, next.FirstName}, {fieldLastName, old.LastName, next.LastName}} {
		if f.a != f.b {
			out = append(out, f.name)
		}
	}
	seen := map[string]bool{federation.AttrExternalID: true, federation.AttrEntryDN: true}
	for _, attrs := range []map[string][]string{old.Attributes, next.Attributes} {
		for k := range attrs {
			if !seen[k] {
				seen[k] = true
				if !sameValues(old.Attributes[k], next.Attributes[k]) {
					out = append(out, k)
				}
			}
		}
	}
	return out
}

// sameValues compares value lists as sets.
func sameValues(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// ---- the mappers' writes

// ldapValues are the directory values for a user's values vals: binary
// attributes base64-decoded (a value that is not base64 is left out, as
// Keycloak does), blank values as emptyValue, and an attribute that is
// mandatory in the directory gets its default when there is nothing.
func (m *attributeMapper) ldapValues(vals []string) []string {
	var out []string
	for _, v := range vals {
		if m.binary {
			if b, err := base64.StdEncoding.DecodeString(v); err == nil {
				out = append(out, string(b))
			}
			continue
		}
		if strings.TrimSpace(v) == "" {
			v = emptyValue
		}
		out = append(out, v)
	}
	if len(out) == 0 && m.mandatory {
		// UserAttributeLDAPStorageMapper.getAttributeDefaultValue.
		switch {
		case strings.TrimSpace(m.defaultValue) != "":
			out = []string{m.defaultValue}
		case m.forceDefault:
			out = []string{emptyValue}
		}
	}
	return out
}

// writable: read.only mappers and GUIDs decoded to text are never written.
func (m *attributeMapper) writable() bool { return !m.readOnly && !(m.binary && m.asUUID) }

func (m *attributeMapper) register(u store.User, e *attrSet) {
	if m.binary && m.asUUID {
		return
	}
	// Read-only mappers too: Keycloak writes every mapped attribute of a
	// new entry, and an empty value replaces an earlier mapper's.
	e.set(m.ldapAttr, m.ldapValues(modelValues(u, m.model)))
}

func (m *attributeMapper) update(old, next store.User, up *entryUpdate) {
	f := fieldOf(m.model)
	if !m.writable() {
		up.readOnly[f] = true
		return
	}
	up.writes[f] = true
	if nv := modelValues(next, m.model); !sameValues(modelValues(old, m.model), nv) {
		up.set(m.ldapAttr, m.ldapValues(nv))
	}
}

// fullName is FullNameLDAPStorageMapper.getFullName: "First Last", either
// alone, or emptyValue.
func fullName(first, last string) string {
	switch {
	case first != "" && last != "":
		return first + " " + last
	case first != "":
		return first
	case last != "":
		return last
	}
	return emptyValue
}

func (m *fullNameMapper) register(u store.User, e *attrSet) {
	e.set(m.attr, []string{fullName(u.FirstName, u.LastName)})
}

func (m *fullNameMapper) update(old, next store.User, up *entryUpdate) {
	if m.readOnly {
		up.readOnly[fieldFirstName], up.readOnly[fieldLastName] = true, true
		return
	}
	up.writes[fieldFirstName], up.writes[fieldLastName] = true, true
	if old.FirstName != next.FirstName || old.LastName != next.LastName {
		up.set(m.attr, []string{fullName(next.FirstName, next.LastName)})
	}
}

// The MSAD mapper writes nothing to a new entry (Active Directory makes
// new accounts disabled until they have a password); an admin enabling or
// disabling a user flips the account's ACCOUNTDISABLE flag.
func (m *msadMapper) register(store.User, *attrSet) {}

func (m *msadMapper) update(old, next store.User, up *entryUpdate) {
	if m.writable && old.Enabled != next.Enabled {
		on := next.Enabled
		up.enable = &on
	}
}

// hardcodedLDAPAttributeMapper is hardcoded-ldap-attribute-mapper: a
// fixed value written to every new entry (and never after).
type hardcodedLDAPAttributeMapper struct {
	attr, value string
}

func newHardcodedLDAPAttributeMapper(get func(string) string) (*hardcodedLDAPAttributeMapper, error) {
	m := &hardcodedLDAPAttributeMapper{attr: get("ldap.attribute.name"), value: get("ldap.attribute.value")}
	if m.attr == "" {
		return nil, errors.New("ldap.attribute.name is required")
	}
	return m, checkAttr("ldap.attribute.name", m.attr)
}

// substitution finds HardcodedLDAPAttributeMapper's ${...} tokens.
var substitution = regexp.MustCompile(`\$\{([^}]+)\}`)

// randomChars are the characters of ${RANDOM}, Keycloak's own set.
const randomChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW1234567890"

// computed is the value with ${RANDOM} replaced by 30 random characters;
// any other ${token} becomes the token, as in Keycloak.
func (m *hardcodedLDAPAttributeMapper) computed() string {
	return substitution.ReplaceAllStringFunc(m.value, func(s string) string {
		token := s[2 : len(s)-1]
		if token != "RANDOM" {
			return token
		}
		out := make([]byte, 0, 30)
		buf := make([]byte, 64)
		// Bytes past the last whole multiple of len(randomChars) are
		// dropped, so that every character is as likely.
		limit := byte(256 / len(randomChars) * len(randomChars))
		for len(out) < cap(out) {
			_, _ = rand.Read(buf) // never fails (crypto/rand)
			for _, c := range buf {
				if c < limit && len(out) < cap(out) {
					out = append(out, randomChars[int(c)%len(randomChars)])
				}
			}
		}
		return string(out)
	})
}

func (m *hardcodedLDAPAttributeMapper) register(_ store.User, e *attrSet) {
	e.set(m.attr, []string{m.computed()})
}

func (m *hardcodedLDAPAttributeMapper) update(store.User, store.User, *entryUpdate) {}

// ---- the provider's writes

// writeDir is the transport for a write, when the provider takes writes.
func (p *Provider) writeDir() (writeDirectory, error) {
	if p.cfg.EditMode != string(federation.Writable) {
		return nil, fmt.Errorf("%w: %s is %s", federation.ErrReadOnly, p.name, p.cfg.EditMode)
	}
	w, ok := p.dir.(writeDirectory)
	if !ok {
		return nil, fmt.Errorf("%w: %s: the transport cannot write", federation.ErrReadOnly, p.name)
	}
	return w, nil
}

// writeErr maps the failure of a write: the directory could not answer
// (ErrUnavailable), the entry is gone (ErrNotFound, unless gone means a
// missing parent: add), the name is taken (ErrConflict), or the
// directory's refusal in its own words.
func (p *Provider) writeErr(what string, err error, add bool) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, federation.ErrUnavailable):
		return p.unavailable(what, err)
	case IsNoSuchObject(err) && !add:
		return fmt.Errorf("%w: %s: %s: the entry is gone", federation.ErrNotFound, p.name, what)
	case goldap.IsErrorWithCode(err, goldap.LDAPResultEntryAlreadyExists):
		return fmt.Errorf("%w: %s: %s: %s", federation.ErrConflict, p.name, what, reason(err))
	}
	if _, answered := serverCode(err); !answered {
		return p.unavailable(what, err)
	}
	return &federation.RefusedError{Reason: reason(err)}
}

// tls reports whether every connection to the directory is encrypted.
func (p *Provider) tls() bool {
	if p.cfg.StartTLS {
		return true
	}
	for _, u := range p.cfg.URLs {
		if !strings.HasPrefix(strings.ToLower(u), "ldaps://") {
			return false
		}
	}
	return len(p.cfg.URLs) > 0
}

// adPassword is Active Directory's unicodePwd value of password: the
// password in double quotes, in UTF-16LE (LDAPIdentityStore.updateADPassword).
func adPassword(password string) []byte {
	units := utf16.Encode([]rune(`"` + password + `"`))
	b := make([]byte, 2*len(units))
	for i, u := range units {
		binary.LittleEndian.PutUint16(b[2*i:], u)
	}
	return b
}

// UpdatePassword sets id's password as the service account: Active
// Directory's unicodePwd (over TLS only, which Active Directory insists
// on), the RFC 3062 password modify operation with
// usePasswordModifyExtendedOp, else a replace of userPassword.
func (p *Provider) UpdatePassword(ctx context.Context, id federation.Identity, password string) error {
	w, err := p.writeDir()
	if err != nil {
		return err
	}
	if id.DN == "" {
		return p.unavailable("set password", errors.New("the user has no entry DN"))
	}
	return p.setPassword(ctx, w, id.DN, password, false)
}

// setPassword sets dn's password; with enable (a new user enabled in
// keygate) an Active Directory account is enabled too.
func (p *Provider) setPassword(ctx context.Context, w writeDirectory, dn, password string, enable bool) error {
	if password == "" {
		return &federation.RefusedError{Reason: "a password cannot be empty"}
	}
	const what = "set password"
	switch {
	case p.cfg.Vendor == "ad":
		if !p.tls() {
			// Sending it would put the password on the wire in clear, and
			// Active Directory would refuse it anyway.
			return &federation.RefusedError{Reason: "Active Directory takes passwords only over LDAPS or StartTLS: " +
				"use ldaps:// connection URLs or startTls"}
		}
		req := goldap.NewModifyRequest(dn, nil)
		req.Replace("unicodePwd", []string{string(adPassword(password))})
		if err := w.Modify(ctx, req); err != nil {
			return p.writeErr(what, err, false)
		}
		p.afterADPassword(ctx, w, dn, enable)
		return nil
	case p.cfg.UsePasswordModifyExtendedOp:
		return p.writeErr(what, w.PasswordModify(ctx, dn, "", password), false)
	}
	req := goldap.NewModifyRequest(dn, nil)
	req.Replace("userPassword", []string{password})
	return p.writeErr(what, w.Modify(ctx, req), false)
}

// msad is the provider's MSAD account mapper when it writes.
func (p *Provider) msad() *msadMapper {
	for _, m := range p.mappers.writers {
		if mm, ok := m.(*msadMapper); ok && mm.writable {
			return mm
		}
	}
	return nil
}

// Active Directory's userAccountControl flags a password sets clear.
const uacPasswordNotRequired = 0x0020

// afterADPassword is the MSAD mapper's passwordUpdated: the password no
// longer expired or optional (pwdLastSet -1, PASSWD_NOTREQD and
// PASSWORD_EXPIRED cleared), the account enabled with enable. The
// password is set by then: a failure here is logged, not returned.
func (p *Provider) afterADPassword(ctx context.Context, w writeDirectory, dn string, enable bool) {
	if p.msad() == nil {
		return
	}
	cur, err := p.readAttr(ctx, dn, "userAccountControl")
	if err != nil {
		p.log.WarnContext(ctx, "userAccountControl not updated after a password change", "provider", p.name, "dn", dn, "err", err)
		return
	}
	uac, err := strconv.ParseInt(cur, 10, 64)
	if err != nil {
		return // no flags to go by
	}
	uac &^= uacPasswordNotRequired | uacPasswordExpired
	if enable {
		uac &^= uacAccountDisable
	}
	req := goldap.NewModifyRequest(dn, nil)
	req.Replace("pwdLastSet", []string{"-1"})
	req.Replace("userAccountControl", []string{strconv.FormatInt(uac, 10)})
	if err := w.Modify(ctx, req); err != nil {
		p.log.WarnContext(ctx, "userAccountControl not updated after a password change", "provider", p.name, "dn", dn, "err", err)
	}
}

// readAttr reads the first value of attr of the entry dn.
func (p *Provider) readAttr(ctx context.Context, dn, attr string) (string, error) {
	res, err := p.dir.Search(ctx, &goldap.SearchRequest{BaseDN: dn, Scope: goldap.ScopeBaseObject,
		DerefAliases: goldap.NeverDerefAliases, SizeLimit: 1, Filter: "(objectClass=*)", Attributes: []string{attr}})
	if err != nil {
		return "", p.writeErr("read "+dn, err, false)
	}
	if len(res.Entries) == 0 {
		return "", fmt.Errorf("%w: %s: %s is gone", federation.ErrNotFound, p.name, dn)
	}
	return value(res.Entries[0], attr), nil
}

// UpdateUser writes an admin's change of the user (old before, next
// after) to its entry id, as Keycloak's WRITABLE proxies do: what changed
// in fields that writable mappers map, as replaces; a changed value of
// the entry's RDN attribute as a rename (LDAPIdentityStore.checkRename);
// enabled through the MSAD mapper's userAccountControl. A change to what
// only read-only mappers map, or to a username no mapper writes, is a
// *ReadOnlyError; a new username the directory already has, ErrConflict.
// Attributes are written before the rename: a refused rename leaves them
// written (as in Keycloak, a directory has no transactions).
func (p *Provider) UpdateUser(ctx context.Context, id federation.Identity, old, next store.User) (federation.Identity, error) {
	w, err := p.writeDir()
	if err != nil {
		return id, err
	}
	if id.DN == "" {
		return id, p.unavailable("update", errors.New("the user has no entry DN"))
	}
	up := &entryUpdate{writes: map[string]bool{}, readOnly: map[string]bool{}}
	for _, m := range slices.Backward(p.mappers.writers) { // Keycloak's sortAsc
		m.update(old, next, up)
	}
	if err := up.check(old, next); err != nil {
		return id, err
	}
	rdn, parent, err := splitDN(id.DN)
	if err != nil {
		return id, p.unavailable("update", err)
	}
	renamed := false
	var mods []goldap.Change
	for _, name := range up.names {
		vals := up.get(name)
		if i := slices.IndexFunc(rdn, func(a *goldap.AttributeTypeAndValue) bool { return strings.EqualFold(a.Type, name) }); i >= 0 {
			// An RDN attribute changes by renaming the entry; one left
			// without a value stays as it is (Keycloak's checkRename).
			if len(vals) > 0 && !strings.EqualFold(vals[0], rdn[i].Value) {
				rdn[i].Value, renamed = vals[0], true
			}
			continue
		}
		mods = append(mods, goldap.Change{Operation: goldap.ReplaceAttribute,
			Modification: goldap.PartialAttribute{Type: name, Vals: vals}})
	}
	if up.enable != nil {
		if cur, err := p.readAttr(ctx, id.DN, "userAccountControl"); err != nil {
			return id, err
		} else if uac, err := strconv.ParseInt(cur, 10, 64); err == nil {
			if *up.enable {
				uac &^= uacAccountDisable
			} else {
				uac |= uacAccountDisable
			}
			mods = append(mods, goldap.Change{Operation: goldap.ReplaceAttribute,
				Modification: goldap.PartialAttribute{Type: "userAccountControl", Vals: []string{strconv.FormatInt(uac, 10)}}})
		}
	}
	if old.Username != next.Username && up.writes[fieldUsername] {
		// Keycloak's checkDuplicateUsername looks the new name up in the
		// directory too: an entry not imported yet may have it.
		other, err := p.LookupUser(ctx, next.Username, false)
		switch {
		case err == nil && !strings.EqualFold(other.ExternalID, id.ExternalID), errors.Is(err, federation.ErrAmbiguous):
			return id, fmt.Errorf("%w: %s: the directory has another entry named %q", federation.ErrConflict, p.name, next.Username)
		case err != nil && !errors.Is(err, federation.ErrNotFound):
			return id, err
		}
	}
	if len(mods) > 0 {
		if err := w.Modify(ctx, &goldap.ModifyRequest{DN: id.DN, Changes: mods}); err != nil {
			return id, p.writeErr("modify "+id.DN, err, false)
		}
	}
	if renamed {
		newRDN := joinRDN(rdn)
		if err := w.ModifyDN(ctx, id.DN, newRDN); err != nil {
			return id, p.writeErr("rename "+id.DN, err, false)
		}
		id.DN = newRDN
		if parent != "" {
			id.DN += "," + parent
		}
	}
	return id, nil
}

// splitDN splits dn into its first RDN's attributes and the rest of dn as
// it is written.
func splitDN(dn string) ([]*goldap.AttributeTypeAndValue, string, error) {
	parsed, err := goldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 {
		return nil, "", fmt.Errorf("entry DN %q: %v", dn, err)
	}
	parent := ""
	for i := 0; i < len(dn); i++ {
		if dn[i] == '\\' {
			i++ // the escaped character, whatever it is
		} else if dn[i] == ',' {
			parent = strings.TrimSpace(dn[i+1:])
			break
		}
	}
	return parsed.RDNs[0].Attributes, parent, nil
}

// joinRDN writes an RDN, its values escaped.
func joinRDN(attrs []*goldap.AttributeTypeAndValue) string {
	parts := make([]string, len(attrs))
	for i, a := range attrs {
		parts[i] = a.Type + "=" + goldap.EscapeDN(a.Value)
	}
	return strings.Join(parts, "+")
}

// CreateUser creates the entry of u (Keycloak's LDAPUtils.addUserToLDAP):
// under usersDn, named by rdnLDAPAttribute, with the userObjectClasses and
// what every mapper writes on registration, then reads it back for its
// id, then sets password unless it is empty. If the entry cannot be read
// back or its password set, it is deleted again.
func (p *Provider) CreateUser(ctx context.Context, u store.User, password string) (federation.Identity, error) {
	w, err := p.writeDir()
	if err != nil {
		return federation.Identity{}, err
	}
	var e attrSet
	for _, m := range slices.Backward(p.mappers.writers) {
		m.register(u, &e)
	}
	rdn := e.get(p.cfg.RDNAttribute)
	if len(rdn) == 0 || strings.TrimSpace(rdn[0]) == "" {
		return federation.Identity{}, &federation.RefusedError{Reason: fmt.Sprintf(
			"RDN attribute [%s] is not filled: no mapper writes it", p.cfg.RDNAttribute)}
	}
	dn := p.cfg.RDNAttribute + "=" + goldap.EscapeDN(rdn[0]) + "," + p.cfg.UsersDN
	req := goldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", p.cfg.UserObjectClasses)
	for _, name := range e.names {
		// Empty attributes are left out of a new entry, as Keycloak does.
		if vals := e.get(name); len(vals) > 0 && !strings.EqualFold(name, "objectClass") {
			req.Attribute(name, vals)
		}
	}
	if err := w.Add(ctx, req); err != nil {
		return federation.Identity{}, p.writeErr("add "+dn, err, true)
	}
	id, err := p.readBack(ctx, dn)
	if err == nil && password != "" {
		err = p.setPassword(ctx, w, dn, password, u.Enabled)
	}
	if err != nil {
		if derr := w.Delete(context.WithoutCancel(ctx), dn); derr != nil {
			p.log.ErrorContext(ctx, "new directory entry left behind", "provider", p.name, "dn", dn, "err", derr)
		}
		return federation.Identity{}, err
	}
	return id, nil
}

// readBack reads the new entry dn as a user (its id is the directory's).
func (p *Provider) readBack(ctx context.Context, dn string) (federation.Identity, error) {
	res, err := p.dir.Search(ctx, &goldap.SearchRequest{BaseDN: dn, Scope: goldap.ScopeBaseObject,
		DerefAliases: goldap.NeverDerefAliases, SizeLimit: 1, Filter: "(objectClass=*)", Attributes: p.attrs})
	if err != nil {
		return federation.Identity{}, p.unavailable("read back "+dn, err)
	}
	if len(res.Entries) != 1 {
		return federation.Identity{}, p.unavailable("read back "+dn, errors.New("the new entry cannot be read"))
	}
	e := res.Entries[0]
	id, err := p.identity(e)
	if err != nil {
		// Keycloak's checkUuid: the configuration names an id the
		// directory does not give.
		return federation.Identity{}, &federation.RefusedError{Reason: err.Error()}
	}
	if err := p.withGrants(ctx, e, &id); err != nil {
		return federation.Identity{}, p.unavailable("read back "+dn, err)
	}
	return id, nil
}

// DeleteUser deletes id's entry; one already gone is no error.
func (p *Provider) DeleteUser(ctx context.Context, id federation.Identity) error {
	w, err := p.writeDir()
	if err != nil {
		return err
	}
	if id.DN == "" {
		return p.unavailable("delete", errors.New("the user has no entry DN"))
	}
	if err := w.Delete(ctx, id.DN); err != nil && !IsNoSuchObject(err) {
		return p.writeErr("delete "+id.DN, err, false)
	}
	return nil
}
