package templates

// WelcomeView feeds Welcome. Page names keygate itself, not a realm.
type WelcomeView struct {
	Page
	FormAction       string // where the realm form goes (GET, field "realm")
	MasterAccountURL string // the master realm's account console
	AdminURL         string // the admin API's base, e.g. https://sso.example.com/admin/realms
	DiscoveryPattern string // e.g. https://sso.example.com/realms/{realm}/.well-known/openid-configuration
}
