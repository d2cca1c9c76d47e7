package login

import "testing"

// Only the broker client's read-token role, as the token carries it, lets
// a client read stored IdP tokens.
func TestCanReadBrokerToken(t *testing.T) {
	for _, tc := range []struct {
		claims map[string]any
		want   bool
	}{
		{map[string]any{"resource_access": map[string]any{"broker": map[string]any{"roles": []any{"read-token"}}}}, true},
		{map[string]any{"resource_access": map[string]any{"broker": map[string]any{"roles": []any{"other"}}}}, false},
		{map[string]any{"resource_access": map[string]any{"app": map[string]any{"roles": []any{"read-token"}}}}, false},
		{map[string]any{"realm_access": map[string]any{"roles": []any{"read-token"}}}, false},
		{map[string]any{}, false},
	} {
		if got := canReadBrokerToken(tc.claims); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.claims, got, tc.want)
		}
	}
}
