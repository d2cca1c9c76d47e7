package ldap

import (
	"context"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/keygate/keygate/federation"
)

// hardcodedGrantMapper is hardcoded-ldap-role-mapper (role) or
// hardcoded-ldap-group-mapper (group): every user of the provider has
// the role or is in the group. Keycloak adds them through its user proxy
// and never creates them: a role or group that does not exist maps
// nothing.
type hardcodedGrantMapper struct {
	role  string // "realmRole" or "clientId.role", resolved by the linker
	group string // a group path
}

func (m *hardcodedGrantMapper) attributes() []string { return nil }
func (m *hardcodedGrantMapper) refresh()             {}

func (m *hardcodedGrantMapper) grant(context.Context, *goldap.Entry) (federation.Grant, error) {
	var g federation.Grant
	if m.role != "" {
		g.Roles = []federation.RoleRef{{Name: m.role, Qualified: true}}
	}
	if p := strings.TrimSpace(m.group); p != "" {
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		g.Groups = []string{p}
	}
	return g, nil
}

func (m *hardcodedGrantMapper) grants(ctx context.Context, entries []*goldap.Entry) ([]federation.Grant, error) {
	g, _ := m.grant(ctx, nil)
	out := make([]federation.Grant, len(entries))
	for i := range out {
		out[i] = g
	}
	return out, nil
}
