package ldap

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// Filters are built from parts: configured attribute names (checked once
// when the provider opens), the administrator's custom filters (trusted
// configuration, kept verbatim), and values, which come from people and
// are always escaped here, never by the caller.

// eq is (attr=value) with value escaped: every filter metacharacter,
// NUL and non-ASCII byte becomes \xx, so a value can never widen a
// search.
func eq(attr, value string) string {
	return "(" + attr + "=" + goldap.EscapeFilter(value) + ")"
}

// eqBytes is (attr=value) for a binary value, every byte escaped.
func eqBytes(attr string, value []byte) string {
	return "(" + attr + "=" + escapeBytes(value) + ")"
}

// substring is (attr=value) where "*" in value stays a wildcard and
// everything else is escaped: Keycloak's admin search semantics
// (EscapeStrategy.DEFAULT_EXCEPT_ASTERISK). Runs of "*" collapse, since
// an empty substring piece is not a valid filter.
func substring(attr, value string) string {
	pieces := strings.Split(value, "*")
	var sb strings.Builder
	sb.WriteString("(" + attr + "=")
	star := false
	for i, p := range pieces {
		if i > 0 && !star {
			sb.WriteByte('*')
			star = true
		}
		if p != "" {
			sb.WriteString(goldap.EscapeFilter(p))
			star = false
		}
	}
	sb.WriteByte(')')
	return sb.String()
}

// and joins filters with &; empty parts are dropped and a single part is
// returned as it is.
func and(parts ...string) string { return join('&', parts) }

// or joins filters with |, as and does.
func or(parts ...string) string { return join('|', parts) }

func join(op byte, parts []string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	switch len(kept) {
	case 0:
		return ""
	case 1:
		return kept[0]
	}
	return "(" + string(op) + strings.Join(kept, "") + ")"
}

// objectClasses is one (objectClass=x) per class, for an and.
func objectClasses(classes []string) []string {
	out := make([]string, 0, len(classes))
	for _, c := range classes {
		out = append(out, eq("objectClass", c))
	}
	return out
}

// customFilter returns a configured extra filter ready to be and-ed:
// trimmed, and wrapped in parentheses when the administrator left them
// out (Keycloak's query builder adds them too).
func customFilter(f string) string {
	f = strings.TrimSpace(f)
	if f == "" {
		return ""
	}
	if !strings.HasPrefix(f, "(") || !strings.HasSuffix(f, ")") {
		f = "(" + f + ")"
	}
	return f
}

// userFilter is the filter of every user query, as Keycloak builds it:
// the object classes, then conds, then the custom filter.
func userFilter(cfg *Config, conds ...string) string {
	parts := objectClasses(cfg.UserObjectClasses)
	parts = append(parts, conds...)
	parts = append(parts, customFilter(cfg.CustomUserSearchFilter))
	return and(parts...)
}

// generalizedTime is t as an LDAP GeneralizedTime in UTC, as Keycloak's
// changed-users sync writes it (LDAPUtil.formatDate).
func generalizedTime(t time.Time) string {
	return t.UTC().Format("20060102150405") + ".0Z"
}

// changedSince is Keycloak's changed-users condition: entries created or
// modified at or after t.
func changedSince(t time.Time) string {
	g := generalizedTime(t)
	return or("(createTimestamp>="+g+")", "(modifyTimestamp>="+g+")")
}

// attrName matches an attribute description (RFC 4512: a name or an OID,
// with options): what may be spliced unescaped into a filter.
var attrName = regexp.MustCompile(`^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)(?:;[A-Za-z0-9-]+)*$`)

// checkAttr refuses a configured attribute name that is not one, so that
// configuration cannot smuggle filter syntax either.
func checkAttr(key, name string) error {
	if !attrName.MatchString(name) {
		return fmt.Errorf("%s: %q is not an LDAP attribute name", key, name)
	}
	return nil
}

// validFilter reports whether f compiles as an LDAP filter.
func validFilter(f string) error {
	if f == "" {
		return nil
	}
	_, err := goldap.CompileFilter(f)
	return err
}
