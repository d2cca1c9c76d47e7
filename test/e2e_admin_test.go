//go:build e2e

package test

import "testing"

// TestE2EAdmin runs @keycloak/keycloak-admin-client against the admin REST
// API of a seeded server.
func TestE2EAdmin(t *testing.T) {
	s := seeded(t)
	runNode(t, "admin.test.mjs", "KEYGATE_URL="+s.URL)
}

// TestE2ERegistration runs openid-client's dynamic client registration and
// an RFC 7592 read/update/delete cycle.
func TestE2ERegistration(t *testing.T) {
	s := seeded(t)
	runNode(t, "registration.test.mjs", "KEYGATE_URL="+s.URL)
}
