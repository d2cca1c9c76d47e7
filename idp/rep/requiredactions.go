package rep

import (
	"cmp"
	"slices"
)

// RequiredActionProvider is Keycloak's RequiredActionProviderRepresentation:
// one of the realm's registered required actions (a realm export's
// "requiredActions" and the admin API's
// /authentication/required-actions).
type RequiredActionProvider struct {
	Alias         string            `json:"alias"`
	Name          string            `json:"name"`
	ProviderID    string            `json:"providerId"`
	Enabled       bool              `json:"enabled"`
	DefaultAction bool              `json:"defaultAction"`
	Priority      int               `json:"priority"`
	Config        map[string]string `json:"config"`
}

// KnownRequiredAction is a required action keygate knows (Keycloak's
// provider id, display name, and the priority and enabled flag a new
// Keycloak 26 realm registers it with).
type KnownRequiredAction struct {
	ProviderID, Name string
	Priority         int
	Enabled          bool
	// Registered: a new realm has it registered (Keycloak registers every
	// built-in one; the list holds only those keygate serves).
	Registered bool
}

// KnownRequiredActions are the required actions keygate implements, in
// Keycloak's default order.
var KnownRequiredActions = []KnownRequiredAction{
	{"CONFIGURE_TOTP", "Configure OTP", 10, true, true},
	{"TERMS_AND_CONDITIONS", "Terms and Conditions", 20, false, true},
	{"UPDATE_PASSWORD", "Update Password", 30, true, true},
	{"UPDATE_PROFILE", "Update Profile", 40, true, true},
	{"VERIFY_EMAIL", "Verify Email", 50, true, true},
	{"delete_account", "Delete Account", 60, false, true},
}

// DefaultRequiredActions is the list a realm that names none has: every
// known action Keycloak registers in a new realm, with its defaults.
func DefaultRequiredActions() []RequiredActionProvider {
	var out []RequiredActionProvider
	for _, k := range KnownRequiredActions {
		if k.Registered {
			out = append(out, RequiredActionProvider{Alias: k.ProviderID, Name: k.Name, ProviderID: k.ProviderID,
				Enabled: k.Enabled, Priority: k.Priority, Config: map[string]string{}})
		}
	}
	return out
}

// RequiredActionProviders is r's registered required actions, sorted by
// priority then alias (Keycloak's order), Keycloak's defaults when r names
// none. The slice is r's own only when r has one; callers clone to change it.
func (r *Realm) RequiredActionProviders() []RequiredActionProvider {
	if r.RequiredActions == nil {
		return DefaultRequiredActions()
	}
	out := slices.Clone(r.RequiredActions)
	SortRequiredActions(out)
	return out
}

// SortRequiredActions orders l as Keycloak lists them: by priority, then
// by alias.
func SortRequiredActions(l []RequiredActionProvider) {
	slices.SortStableFunc(l, func(a, b RequiredActionProvider) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.Alias, b.Alias))
	})
}

// PendingRequiredActions is the part of a user's requiredActions the realm
// has registered and enabled: the ones that stop a login (Keycloak skips
// disabled and unregistered ones).
func (s RealmSettings) PendingRequiredActions(actions []string) []string {
	var out []string
	for _, p := range s.RequiredActions {
		if p.Enabled && slices.Contains(actions, p.Alias) {
			out = append(out, p.Alias)
		}
	}
	return out
}

// DefaultUserActions are the required actions every new user gets: the
// realm's enabled ones marked defaultAction (Keycloak adds them when a
// user is created).
func (s RealmSettings) DefaultUserActions() []string {
	var out []string
	for _, p := range s.RequiredActions {
		if p.Enabled && p.DefaultAction {
			out = append(out, p.Alias)
		}
	}
	return out
}
