package test

import (
	"strings"
	"testing"
)

// TestHostnameUnsetWarns: without --hostname, every URL keygate builds,
// the links in its e-mails included, comes from the request's Host header;
// the start says so, naming the reset-link risk, and is quiet with it set.
func TestHostnameUnsetWarns(t *testing.T) {
	const warning = "--hostname is not set"
	s := startServer(t, "", nil)
	if logs := s.logs.String(); !strings.Contains(logs, warning) || !strings.Contains(logs, "reset link") {
		t.Errorf("no warning about an unset --hostname:\n%s", logs)
	}
	s = startServer(t, "", nil, "--hostname", "https://sso.example.com")
	if logs := s.logs.String(); strings.Contains(logs, warning) {
		t.Errorf("warned about --hostname while it is set:\n%s", logs)
	}
}
