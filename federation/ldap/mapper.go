package ldap

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/store"
)

// Mapper provider ids, as Keycloak names them.
const (
	mapperUserAttribute     = "user-attribute-ldap-mapper"
	mapperFullName          = "full-name-ldap-mapper"
	mapperGroup             = "group-ldap-mapper"
	mapperRole              = "role-ldap-mapper"
	mapperHardcodedRole     = "hardcoded-ldap-role-mapper"
	mapperHardcodedGroup    = "hardcoded-ldap-group-mapper"
	mapperHardcodedAttr     = "hardcoded-attribute-mapper"
	mapperHardcodedLDAPAttr = "hardcoded-ldap-attribute-mapper"
	mapperMSADAccount       = "msad-user-account-control-mapper"
	mapperCertificate       = "certificate-ldap-mapper"
	mapperKerberosPrincipal = "kerberos-principal-attribute-mapper"
)

// entryMapper is a mapper that reads the user's own entry: it names the
// attributes it needs in every user search and sets its part of the
// identity from them.
type entryMapper interface {
	attributes() []string
	apply(e *goldap.Entry, id *federation.Identity)
}

// grantMapper is a mapper that decides role mappings or group
// memberships, from the directory beyond the user's entry.
type grantMapper interface {
	attributes() []string
	// grant is the mapper's decision for one user (a login).
	grant(ctx context.Context, e *goldap.Entry) (federation.Grant, error)
	// grants decides for a page of users (sync, search), cheaper than one
	// grant per entry; out[i] belongs to entries[i].
	grants(ctx context.Context, entries []*goldap.Entry) ([]federation.Grant, error)
	// refresh drops what the mapper caches of the directory, so that a
	// sync sees the directory as it is.
	refresh()
}

// mapperSet is a provider's mappers, parsed, in the order Keycloak runs
// them when it imports a user.
type mapperSet struct {
	entry   []entryMapper
	grant   []grantMapper
	stored  []string      // names of mappers kept but not applied
	writers []writeMapper // mappers that write entries (WRITABLE), in import order
	emailAt string        // the LDAP attribute email is mapped from
	names   []string      // attributes first and last names are mapped from (admin search)
	// unmapped are the user properties (email, firstName, lastName) no
	// mapper reads: the linker keeps their local values.
	unmapped []string
}

// parseMappers parses the mapper components of a provider. Mapper types
// keygate does not apply (certificates, Kerberos, writes-only and
// unknown ones) are accepted and listed in stored.
func parseMappers(cfg *Config, dir directory, log *slog.Logger, comps []store.Component) (*mapperSet, error) {
	comps = slices.Clone(comps)
	slices.SortStableFunc(comps, func(a, b store.Component) int { return importOrder(cfg, a, b) })
	ms := &mapperSet{emailAt: "mail"}
	decided := map[string]bool{}
	for _, c := range comps {
		get := func(k string) string { return first(c.Config[k]) }
		var err error
		switch c.ProviderID {
		case mapperUserAttribute:
			var m *attributeMapper
			if m, err = newAttributeMapper(cfg, get); err == nil {
				ms.entry = append(ms.entry, m)
				ms.writers = append(ms.writers, m)
				decided[strings.ToLower(m.model)] = true
				switch strings.ToLower(m.model) {
				case propEmail:
					ms.emailAt = m.ldapAttr
				case propFirstName, propLastName:
					ms.names = append(ms.names, m.ldapAttr)
				}
			}
		case mapperFullName:
			var m *fullNameMapper
			if m, err = newFullNameMapper(get); err == nil {
				ms.entry = append(ms.entry, m)
				ms.writers = append(ms.writers, m)
				if !m.writeOnly {
					ms.names = append(ms.names, m.attr)
					decided[propFirstName], decided[propLastName] = true, true
				}
			}
		case mapperHardcodedAttr:
			decided[strings.ToLower(get("user.model.attribute"))] = true
			ms.entry = append(ms.entry, &hardcodedAttributeMapper{model: get("user.model.attribute"), value: get("attribute.value")})
		case mapperMSADAccount:
			m := &msadMapper{writable: cfg.EditMode == string(federation.Writable)}
			ms.entry = append(ms.entry, m)
			ms.writers = append(ms.writers, m)
		case mapperHardcodedLDAPAttr:
			var m *hardcodedLDAPAttributeMapper
			if m, err = newHardcodedLDAPAttributeMapper(get); err == nil {
				ms.writers = append(ms.writers, m)
			}
		case mapperHardcodedRole:
			ms.grant = append(ms.grant, &hardcodedGrantMapper{role: get("role")})
		case mapperHardcodedGroup:
			ms.grant = append(ms.grant, &hardcodedGrantMapper{group: get("group")})
		case mapperGroup, mapperRole:
			var m *membershipMapper
			if m, err = newMembershipMapper(cfg, dir, log, c); err == nil {
				ms.grant = append(ms.grant, m)
			}
		default:
			ms.stored = append(ms.stored, fmt.Sprintf("%s (%s)", c.Name, c.ProviderID))
		}
		if err != nil {
			return nil, fmt.Errorf("mapper %q (%s): %w", c.Name, c.ProviderID, err)
		}
	}
	for _, prop := range []struct{ key, name string }{{propEmail, "email"}, {propFirstName, "firstName"}, {propLastName, "lastName"}} {
		if !decided[prop.key] {
			ms.unmapped = append(ms.unmapped, prop.name)
		}
	}
	return ms, nil
}

// importOrder is the reverse of Keycloak's LDAPMappersComparator, the
// order onImportUserFromLDAP runs in: other mappers first, then
// user-attribute mappers, the username ones last and the one reading the
// provider's username attribute very last, so that it has the final say;
// ties by component id.
func importOrder(cfg *Config, a, b store.Component) int {
	rank := func(c store.Component) int {
		if c.ProviderID != mapperUserAttribute {
			return 0
		}
		if !strings.EqualFold(first(c.Config["user.model.attribute"]), "username") {
			return 1
		}
		if !strings.EqualFold(first(c.Config["ldap.attribute"]), cfg.UsernameAttribute) {
			return 2
		}
		return 3
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra - rb
	}
	return strings.Compare(b.ID, a.ID)
}

// attributes is every attribute the entry mappers read plus what the
// grant mappers need from the user entry.
func (ms *mapperSet) attributes() []string {
	var out []string
	for _, m := range ms.entry {
		out = append(out, m.attributes()...)
	}
	for _, m := range ms.grant {
		out = append(out, m.attributes()...)
	}
	return out
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return strings.TrimSpace(v[0])
}

// parseBool is Java's Boolean.parseBoolean, as Keycloak reads mapper
// flags and boolean LDAP values: "true" in any case, else false.
func parseBool(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "true") }

// values reads attr from e whatever case the directory spells it in.
func values(e *goldap.Entry, attr string) []string { return e.GetEqualFoldAttributeValues(attr) }

// value is the first value of attr, "" when there is none.
func value(e *goldap.Entry, attr string) string {
	if v := values(e, attr); len(v) > 0 {
		return v[0]
	}
	return ""
}

// has reports whether e carries attr at all.
func has(e *goldap.Entry, attr string) bool {
	for _, a := range e.Attributes {
		if strings.EqualFold(a.Name, attr) {
			return true
		}
	}
	return false
}
