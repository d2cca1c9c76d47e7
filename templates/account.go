package templates

import (
	"context"
	"io"
	"strings"

	"github.com/a-h/templ"
)

// The account console's views (/realms/{realm}/account): Keycloak's
// personal info, signing in, device activity and linked accounts pages,
// rendered on the server in the login pages' look. Element ids follow
// Keycloak's account console where it has them.

// Account console sections, as Keycloak's console routes name them.
const (
	AccountPersonalInfo   = "personal-info"
	AccountSigningIn      = "signing-in"
	AccountDeviceActivity = "device-activity"
	AccountLinkedAccounts = "linked-accounts"
	AccountApplications   = "applications"
)

// AccountView is what every console page shares.
type AccountView struct {
	Page
	Section    string // one of the Account* sections
	Nav        []AccountNavItem
	Username   string // the signed-in user, in the header
	SignOutURL string // the realm's logout for the console
	BackURL    string // the referring application, "" = none
	BackName   string
	Notice     string // already localized success message, "" = none
	Error      string // already localized error, "" = none
	CSRFToken  string // posted back as csrf_token by every form
	CanManage  bool   // manage-account: the forms are offered
}

// AccountNavItem is one tab of the console's navigation.
type AccountNavItem struct {
	Section, Label, Href string
}

// PersonalInfoView feeds AccountPersonalInfoPage.
type PersonalInfoView struct {
	AccountView
	FormAction                           string
	Username, Email, FirstName, LastName string
	EmailVerified                        bool
	EditUsername                         bool // editUsernameAllowed (and not email-as-username)
	ShowUsername                         bool // false when the email is the username
	// DeleteAction is the POST target deleting the account (the realm's
	// delete_account page), "" when the realm or the user's roles do not
	// allow it.
	DeleteAction string
	ErrorField   string
}

// SigningInView feeds AccountSigningInPage.
type SigningInView struct {
	AccountView
	PasswordAction string // POST target of the change-password form
	PasswordSet    bool
	PasswordSince  string // when the password was set, formatted
	// PasswordReadOnly: the password is a directory's that keygate cannot
	// change.
	PasswordReadOnly bool
	ErrorField       string // "password", "password-new", "password-confirm"
	OTP              []AccountCredential
	OTPSetupAction   string // POST target running CONFIGURE_TOTP, "" = not offered
}

// AccountCredential is one stored credential the user may remove.
type AccountCredential struct {
	ID, Label, Created, RemoveAction string
}

// DeviceActivityView feeds AccountDeviceActivityPage.
type DeviceActivityView struct {
	AccountView
	Sessions       []AccountSession
	SignOutOthers  string // POST target signing out every other session
	HasOtherActive bool
}

// AccountSession is one SSO session of the user.
type AccountSession struct {
	ID, IPAddress, Started, LastAccess, Expires string
	StartedISO, LastAccessISO                   string
	Clients                                     []string
	Current                                     bool
	SignOutAction                               string // POST target, "" for the current session
}

// LinkedAccountsView feeds AccountLinkedAccountsPage.
type LinkedAccountsView struct {
	AccountView
	Linked, Unlinked []AccountProvider
	CanLink          bool // manage-account-links
}

// AccountProvider is one identity provider of the linked-accounts page.
type AccountProvider struct {
	Alias, DisplayName, LinkedUsername string
	Action                             string // POST target: link or unlink
	CanUnlink                          bool   // not the only way in
}

// ApplicationsView feeds AccountApplicationsPage.
type ApplicationsView struct {
	AccountView
	Apps []AccountApplication
}

// AccountApplication is one application of the user.
type AccountApplication struct {
	ClientID, Name       string
	InUse, OfflineAccess bool
	Granted              []string // what the consent grants, localized
	ConsentGiven         string   // when, formatted; "" without a consent
	RemoveAction         string   // POST target, "" with nothing to remove
}

// accountLayout renders accountFrame in the page's language, as layout
// does for the login pages.
func accountLayout(v AccountView, title string) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		if v.Loc != nil {
			ctx = WithLocalizer(ctx, v.Loc)
		}
		return accountFrame(v, title).Render(ctx, w)
	})
}

func (v AccountView) initial() string {
	for _, r := range v.Username {
		return string([]rune{r})
	}
	return ""
}

// clientName is the client's name as the login page shows it: a name of
// Keycloak's "${client_account-console}" form is a message key of the
// page's language.
func (v LoginView) clientName() string { return v.T(ClientNameKey(v.ClientName)) }

// ClientNameKey is the message key a client name of the "${key}" form
// names, or the name itself (Message answers an unknown key with itself).
func ClientNameKey(name string) string {
	if k, ok := strings.CutPrefix(name, "${"); ok && strings.HasSuffix(k, "}") {
		return strings.TrimSuffix(k, "}")
	}
	return name
}
