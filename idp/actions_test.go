package idp_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// Required actions through the real HTTP handlers: the password form,
// then each pending action's page, then the app's code.

// actionsRealm starts a keygate with realm "down" (client "app"), the
// given password policy and users (JSON array elements, without brackets).
func actionsRealm(t *testing.T, policy, extra, users string) *keygate {
	t.Helper()
	k := newKeygate(t)
	if extra != "" {
		extra += ","
	}
	k.importRealm(t, `{"realm": "down", "enabled": true, "sslRequired": "none", "passwordPolicy": "`+policy+`", `+extra+`
		"clients": [{"clientId": "app", "enabled": true, "publicClient": true, "standardFlowEnabled": true,
			"redirectUris": ["`+appRedirect+`"], "webOrigins": ["+"]}],
		"users": [`+users+`]}`)
	return k
}

// passwordLogin starts a login at k and posts user's password; it returns
// where the browser ended (a page or the app's callback).
func (b *browser) passwordLogin(k *keygate, user, pw string) (int, *url.URL, string) {
	b.t.Helper()
	_, at, page := b.do(http.MethodGet, authorizeURL(k, nil), nil)
	return b.upstreamLogin(at, page, user, pw)
}

// updatePassword answers the update-password page (at, page).
func (b *browser) updatePassword(at *url.URL, page, pw, confirm string) (int, *url.URL, string) {
	b.t.Helper()
	action, f := formOf(b.t, at, page, "kc-passwd-update-form")
	f.Set("password-new", pw)
	f.Set("password-confirm", confirm)
	return b.do(http.MethodPost, action, f)
}

func userNamed(t *testing.T, k *keygate, name string) store.User {
	t.Helper()
	r, err := k.st.GetRealmByName(t.Context(), "down")
	if err != nil {
		t.Fatal(err)
	}
	u, err := k.st.GetUserByUsername(t.Context(), r.ID, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestUpdatePasswordAction(t *testing.T) {
	k := actionsRealm(t, "length(10) and digits(2) and upperCase(1) and notUsername(undefined) and passwordHistory(2) and hashIterations(1000)", "",
		`{"username": "temp", "enabled": true, "email": "temp@example.com",
		  "credentials": [{"type": "password", "value": "Temporary-11", "temporary": true}]}`)
	b := newBrowser(t)
	status, at, page := b.passwordLogin(k, "temp", "Temporary-11")
	if status != 200 || !strings.Contains(page, `id="kc-passwd-update-form"`) || at.Path != "/realms/down/login-actions/required-action" ||
		at.Query().Get("execution") != "UPDATE_PASSWORD" || at.Query().Get("client_id") != "app" {
		t.Fatalf("after the password: %d %s\n%.800s", status, at, page)
	}
	// A reload shows the same page.
	if status, _, again := b.do(http.MethodGet, at.String(), nil); status != 200 || !strings.Contains(again, `id="kc-passwd-update-form"`) {
		t.Fatalf("reload: %d", status)
	}
	// Each rule is named when it fails.
	for _, c := range []struct{ pw, confirm, want string }{
		{"", "", "Please specify password."},
		{"Abcdefgh-12", "Abcdefgh-13", "Passwords don&#39;t match."},
		{"Short-12", "Short-12", "Invalid password: minimum length 10."},
		{"Abcdefgh-1x", "Abcdefgh-1x", "Invalid password: must contain at least 2 numerical digits."},
		{"abcdefgh-12", "abcdefgh-12", "Invalid password: must contain at least 1 upper case characters."},
		{"Temporary-11", "Temporary-11", "Invalid password: must not be equal to any of last 2 passwords."},
	} {
		status, at, page = b.updatePassword(at, page, c.pw, c.confirm)
		if status != 200 || !strings.Contains(page, c.want) || !strings.Contains(page, `id="kc-passwd-update-form"`) {
			t.Fatalf("%q: want %q: %d %s\n%.1500s", c.pw, c.want, status, at, page)
		}
	}
	// The page posted with an error is spent: replaying it is refused.
	oldAction, oldForm := formOf(t, at, page, "kc-passwd-update-form")
	status, cb, _ := b.updatePassword(at, page, "Brand-New-Pass-42", "Brand-New-Pass-42")
	if status/100 != 3 || !strings.HasPrefix(cb.String(), appRedirect) {
		t.Fatalf("good password: %d %s", status, cb)
	}
	claims := exchange(t, k, cb)
	if claims["preferred_username"] != "temp" {
		t.Fatalf("claims %v", claims)
	}
	oldForm.Set("password-new", "Another-Pass-42")
	oldForm.Set("password-confirm", "Another-Pass-42")
	if status, _, page := b.do(http.MethodPost, oldAction, oldForm); status != 400 || !strings.Contains(page, "Page has expired") {
		t.Fatalf("replayed form: %d\n%.600s", status, page)
	}
	if u := userNamed(t, k, "temp"); len(u.RequiredActions) != 0 {
		t.Fatalf("required actions left: %v", u.RequiredActions)
	}
	// The new password signs in without a step; the old one does not.
	b2 := newBrowser(t)
	if status, cb, page := b2.passwordLogin(k, "temp", "Brand-New-Pass-42"); status/100 != 3 || !strings.HasPrefix(cb.String(), appRedirect) {
		t.Fatalf("login with the new password: %d %s\n%.600s", status, cb, page)
	}
	if _, _, page := newBrowser(t).passwordLogin(k, "temp", "Temporary-11"); !strings.Contains(page, "Invalid username or password.") {
		t.Fatalf("old password still works")
	}
	// passwordHistory(2): the current one and one before it.
	u := userNamed(t, k, "temp")
	creds, err := k.st.ListCredentials(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, c := range creds {
		kinds[c.Type]++
		if c.Type == "password" && !strings.Contains(c.CredentialData, `"hashIterations":1000`) {
			t.Fatalf("not hashed by the policy: %s", c.CredentialData)
		}
	}
	if kinds["password"] != 1 || kinds["password-history"] != 1 {
		t.Fatalf("credentials %v", kinds)
	}
}

// The page records belong to one browser's attempt and carry a CSRF token.
func TestActionPagesAreBound(t *testing.T) {
	k := actionsRealm(t, "", "", `{"username": "alice", "enabled": true, "requiredActions": ["UPDATE_PASSWORD"],
		  "credentials": [{"type": "password", "value": "alice-pass-1"}]},
		{"username": "bob", "enabled": true, "requiredActions": ["UPDATE_PASSWORD"],
		  "credentials": [{"type": "password", "value": "bob-pass-1"}]}`)
	alice, bob := newBrowser(t), newBrowser(t)
	_, aAt, aPage := alice.passwordLogin(k, "alice", "alice-pass-1")
	_, bAt, bPage := bob.passwordLogin(k, "bob", "bob-pass-1")
	aAction, aForm := formOf(t, aAt, aPage, "kc-passwd-update-form")
	aForm.Set("password-new", "Mallory-Pass-1")
	aForm.Set("password-confirm", "Mallory-Pass-1")
	// Bob's browser posting Alice's page: refused, and Alice's page lives on.
	if status, _, page := bob.do(http.MethodPost, aAction, aForm); status != 400 || !strings.Contains(page, "Cookie not found") {
		t.Fatalf("bob finishing alice's attempt: %d\n%.600s", status, page)
	}
	if status, _, page := bob.do(http.MethodGet, aAt.String(), nil); status != 400 || strings.Contains(page, "kc-passwd-update-form") {
		t.Fatalf("bob viewing alice's page: %d", status)
	}
	// Without the CSRF token: refused.
	noCSRF := url.Values{"password-new": {"Alice-Pass-2"}, "password-confirm": {"Alice-Pass-2"}}
	if status, _, _ := alice.do(http.MethodPost, aAction, noCSRF); status != 403 {
		t.Fatalf("no CSRF token: %d", status)
	}
	wrong := url.Values{"csrf_token": {"x"}, "password-new": {"Alice-Pass-2"}, "password-confirm": {"Alice-Pass-2"}}
	if status, _, _ := alice.do(http.MethodPost, aAction, wrong); status != 403 {
		t.Fatalf("wrong CSRF token: %d", status)
	}
	// Alice finishes hers; Bob's is untouched.
	if status, cb, _ := alice.do(http.MethodPost, aAction, aForm); status/100 != 3 || exchange(t, k, cb)["preferred_username"] != "alice" {
		t.Fatalf("alice: %d %s", status, cb)
	}
	if status, cb, _ := bob.updatePassword(bAt, bPage, "Bob-Pass-2x", "Bob-Pass-2x"); status/100 != 3 || exchange(t, k, cb)["preferred_username"] != "bob" {
		t.Fatalf("bob: %d %s", status, cb)
	}
}

// An SSO session's login runs the actions added since, and prompt=none
// learns interaction_required.
func TestActionsAfterSSOLogin(t *testing.T) {
	k := actionsRealm(t, "", "", `{"username": "carol", "enabled": true,
		  "credentials": [{"type": "password", "value": "carol-pass-1"}]}`)
	b := newBrowser(t)
	if status, cb, _ := b.passwordLogin(k, "carol", "carol-pass-1"); status/100 != 3 || !strings.HasPrefix(cb.String(), appRedirect) {
		t.Fatalf("first login: %d %s", status, cb)
	}
	u := userNamed(t, k, "carol")
	u.RequiredActions = []string{"UPDATE_PASSWORD"}
	if err := k.st.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	status, cb, _ := b.do(http.MethodGet, authorizeURL(k, url.Values{"prompt": {"none"}}), nil)
	if status/100 != 3 || cb.Query().Get("error") != "interaction_required" {
		t.Fatalf("prompt=none: %d %s", status, cb)
	}
	status, at, page := b.do(http.MethodGet, authorizeURL(k, nil), nil)
	if status != 200 || !strings.Contains(page, "kc-passwd-update-form") {
		t.Fatalf("SSO login: %d %s", status, at)
	}
	status, cb, _ = b.updatePassword(at, page, "Carol-Pass-2", "Carol-Pass-2")
	if status/100 != 3 || exchange(t, k, cb)["preferred_username"] != "carol" {
		t.Fatalf("after the action: %d %s", status, cb)
	}
}

// realmActions is a realm's requiredActions list: Keycloak's defaults
// with TERMS_AND_CONDITIONS and delete_account enabled.
const realmActions = `"requiredActions": [
	{"alias": "CONFIGURE_TOTP", "name": "Configure OTP", "providerId": "CONFIGURE_TOTP", "enabled": true, "defaultAction": false, "priority": 10, "config": {}},
	{"alias": "TERMS_AND_CONDITIONS", "name": "Terms and Conditions", "providerId": "TERMS_AND_CONDITIONS", "enabled": true, "defaultAction": false, "priority": 20, "config": {}},
	{"alias": "UPDATE_PASSWORD", "name": "Update Password", "providerId": "UPDATE_PASSWORD", "enabled": true, "defaultAction": false, "priority": 30, "config": {}},
	{"alias": "UPDATE_PROFILE", "name": "Update Profile", "providerId": "UPDATE_PROFILE", "enabled": true, "defaultAction": false, "priority": 40, "config": {}},
	{"alias": "VERIFY_EMAIL", "name": "Verify Email", "providerId": "VERIFY_EMAIL", "enabled": false, "defaultAction": false, "priority": 50, "config": {}},
	{"alias": "delete_account", "name": "Delete Account", "providerId": "delete_account", "enabled": true, "defaultAction": false, "priority": 60, "config": {}}]`

// The actions run in the realm's priority order, whatever order the user's
// list has; a disabled one is skipped.
func TestActionsRunInOrder(t *testing.T) {
	k := actionsRealm(t, "", realmActions+`, "editUsernameAllowed": true`,
		`{"username": "dave", "enabled": true, "email": "dave@example.com", "emailVerified": true,
		  "requiredActions": ["VERIFY_EMAIL", "UPDATE_PROFILE", "UPDATE_PASSWORD", "TERMS_AND_CONDITIONS"],
		  "credentials": [{"type": "password", "value": "dave-pass-1"}]},
		{"username": "taken", "enabled": true, "email": "taken@example.com"}`)
	b := newBrowser(t)
	status, at, page := b.passwordLogin(k, "dave", "dave-pass-1")
	if status != 200 || at.Query().Get("execution") != "TERMS_AND_CONDITIONS" || !strings.Contains(page, `id="kc-terms-text"`) {
		t.Fatalf("first: %d %s", status, at)
	}
	action, f := formOf(t, at, page, "kc-terms-form")
	f.Set("accept", "Accept")
	status, at, page = b.do(http.MethodPost, action, f)
	if status != 200 || at.Query().Get("execution") != "UPDATE_PASSWORD" {
		t.Fatalf("second: %d %s", status, at)
	}
	status, at, page = b.updatePassword(at, page, "Dave-Pass-2", "Dave-Pass-2")
	if status != 200 || at.Query().Get("execution") != "UPDATE_PROFILE" || !strings.Contains(page, `id="kc-update-profile-form"`) {
		t.Fatalf("third: %d %s", status, at)
	}
	action, f = formOf(t, at, page, "kc-update-profile-form")
	if f.Get("username") != "dave" || f.Get("email") != "dave@example.com" {
		t.Fatalf("profile form %v", f)
	}
	for _, c := range []struct{ field, value, want string }{
		{"email", "not-an-email", "Invalid email address."},
		{"email", "taken@example.com", "Email already exists."},
		{"username", "taken", "Username already exists."},
		{"firstName", "", "Please specify first name."},
	} {
		g := url.Values{}
		for k, v := range f {
			g[k] = v
		}
		g.Set("firstName", "Dave")
		g.Set("lastName", "Lister")
		g.Set(c.field, c.value)
		status, at, page = b.do(http.MethodPost, action, g)
		if status != 200 || !strings.Contains(page, c.want) {
			t.Fatalf("%s=%q: want %q: %d\n%.1500s", c.field, c.value, c.want, status, page)
		}
		action, f = formOf(t, at, page, "kc-update-profile-form")
	}
	f.Set("username", "dave.lister")
	f.Set("email", "dave@red-dwarf.example")
	f.Set("firstName", "Dave")
	f.Set("lastName", "Lister")
	status, cb, _ := b.do(http.MethodPost, action, f)
	if status/100 != 3 || !strings.HasPrefix(cb.String(), appRedirect) {
		t.Fatalf("last: %d %s", status, cb)
	}
	claims := exchange(t, k, cb)
	if claims["preferred_username"] != "dave.lister" || claims["email"] != "dave@red-dwarf.example" || claims["email_verified"] != false {
		t.Fatalf("claims %v", claims)
	}
	u := userNamed(t, k, "dave.lister")
	// VERIFY_EMAIL is disabled in the realm: skipped, and left on the user.
	if len(u.RequiredActions) != 1 || u.RequiredActions[0] != "VERIFY_EMAIL" || u.Attributes["terms_and_conditions"] == nil {
		t.Fatalf("user after: %v %v", u.RequiredActions, u.Attributes)
	}
}

// Declining the terms ends the login with access_denied at the client.
// The realm's own terms (its termsText) are shown as plain text.
func TestTermsDeclined(t *testing.T) {
	k := actionsRealm(t, "", realmActions+`, "localizationTexts": {"en": {"termsText": "<p>Be <b>nice</b> &amp; kind.</p>"}}`, `{"username": "erin", "enabled": true, "requiredActions": ["TERMS_AND_CONDITIONS"],
		  "credentials": [{"type": "password", "value": "erin-pass-1"}]}`)
	b := newBrowser(t)
	_, at, page := b.passwordLogin(k, "erin", "erin-pass-1")
	if !strings.Contains(page, `<div id="kc-terms-text" class="kg-text" style="text-align: left; margin-bottom: 24px">Be nice &amp; kind.</div>`) {
		t.Fatalf("terms text:\n%.1500s", page)
	}
	action, f := formOf(t, at, page, "kc-terms-form")
	f.Set("cancel", "Decline")
	status, cb, _ := b.do(http.MethodPost, action, f)
	if status/100 != 3 || cb.Query().Get("error") != "access_denied" || cb.Query().Get("state") != "st-1" {
		t.Fatalf("declined: %d %s", status, cb)
	}
	if u := userNamed(t, k, "erin"); len(u.RequiredActions) != 1 {
		t.Fatalf("actions %v", u.RequiredActions)
	}
}

// delete_account: only with account's delete-account role.
func TestDeleteAccountAction(t *testing.T) {
	k := actionsRealm(t, "", realmActions, `{"username": "frank", "enabled": true, "requiredActions": ["delete_account"],
		  "clientRoles": {"account": ["delete-account"]},
		  "credentials": [{"type": "password", "value": "frank-pass-1"}]},
		{"username": "gina", "enabled": true, "requiredActions": ["delete_account"],
		  "credentials": [{"type": "password", "value": "gina-pass-1"}]}`)
	b := newBrowser(t)
	status, at, page := b.passwordLogin(k, "gina", "gina-pass-1")
	if status != 200 || !strings.Contains(page, "You do not have enough permissions to delete your own account") {
		t.Fatalf("gina: %d\n%.1000s", status, page)
	}
	action, f := formOf(t, at, page, "kc-deleteaccount-form")
	if status, _, page = b.do(http.MethodPost, action, f); status != 200 || !strings.Contains(page, "not have enough permissions") {
		t.Fatalf("gina confirms: %d", status)
	}
	userNamed(t, k, "gina")

	b = newBrowser(t)
	status, at, page = b.passwordLogin(k, "frank", "frank-pass-1")
	if status != 200 || strings.Contains(page, "not have enough permissions") {
		t.Fatalf("frank: %d\n%.1000s", status, page)
	}
	action, f = formOf(t, at, page, "kc-deleteaccount-form")
	if status, _, page = b.do(http.MethodPost, action, f); status != 200 || !strings.Contains(page, "User deleted successfully") {
		t.Fatalf("frank confirms: %d\n%.1000s", status, page)
	}
	r, _ := k.st.GetRealmByName(t.Context(), "down")
	if _, err := k.st.GetUserByUsername(t.Context(), r.ID, "frank"); err == nil {
		t.Fatal("frank still exists")
	}
}

// Every validation rule of the realm's policy is named when it fails, and
// the password is stored with the policy's algorithm and iterations.
func TestUpdatePasswordPolicyRules(t *testing.T) {
	k := actionsRealm(t, "hashAlgorithm(pbkdf2-sha512) and hashIterations(1500) and maxLength(20) and lowerCase(1) and specialChars(1) and notUsername(undefined) and notEmail(undefined) and regexPattern([^x]*)", "",
		`{"username": "hank.h", "enabled": true, "email": "hank@example.com", "requiredActions": ["UPDATE_PASSWORD"],
		  "credentials": [{"type": "password", "value": "hank-pass-1"}]}`)
	b := newBrowser(t)
	status, at, page := b.passwordLogin(k, "hank.h", "hank-pass-1")
	if status != 200 || !strings.Contains(page, "kc-passwd-update-form") {
		t.Fatalf("login: %d %s", status, at)
	}
	for _, c := range []struct{ pw, want string }{
		{"abcdefghijklmnopqrstu-", "Invalid password: maximum length 20."},
		{"ABCDEFG-1", "Invalid password: must contain at least 1 lower case characters."},
		{"abcdefg1", "Invalid password: must contain at least 1 special characters."},
		{"hank.h", "Invalid password: must not be equal to the username."},
		{"HANK@example.com", "Invalid password: must not be equal to the email."},
		{"xylo-phone", "Invalid password: fails to match regex pattern(s)."},
	} {
		status, at, page = b.updatePassword(at, page, c.pw, c.pw)
		if status != 200 || !strings.Contains(page, c.want) {
			t.Fatalf("%q: want %q: %d\n%.1500s", c.pw, c.want, status, page)
		}
	}
	if status, cb, _ := b.updatePassword(at, page, "good-pass.1", "good-pass.1"); status/100 != 3 || !strings.HasPrefix(cb.String(), appRedirect) {
		t.Fatalf("good password: %d %s", status, cb)
	}
	creds, err := k.st.ListCredentials(t.Context(), userNamed(t, k, "hank.h").ID)
	if err != nil || len(creds) != 1 || !strings.Contains(creds[0].CredentialData, `"algorithm":"pbkdf2-sha512"`) ||
		!strings.Contains(creds[0].CredentialData, `"hashIterations":1500`) {
		t.Fatalf("stored %+v %v", creds, err)
	}
}

// A brokered login runs the user's required actions too, before the app
// gets its code.
func TestBrokeredLoginRunsActions(t *testing.T) {
	_, down := brokerPair(t, "oidc", "")
	b := newBrowser(t)
	at, page := b.startCorp(down)
	if _, cb, page := b.upstreamLogin(at, page, "alice", "alice-pass-1"); cb == nil || !strings.HasPrefix(cb.String(), appRedirect) {
		t.Fatalf("first brokered login: %s %.500s", cb, page)
	}
	r, err := down.st.GetRealmByName(t.Context(), "down")
	if err != nil {
		t.Fatal(err)
	}
	u, err := down.st.GetUserByUsername(t.Context(), r.ID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	u.RequiredActions = []string{"UPDATE_PROFILE"}
	if err := down.st.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	b = newBrowser(t)
	at, page = b.startCorp(down)
	status, at, page := b.upstreamLogin(at, page, "alice", "alice-pass-1")
	if status != 200 || at.Query().Get("execution") != "UPDATE_PROFILE" {
		t.Fatalf("brokered login with an action: %d %s", status, at)
	}
	action, f := formOf(t, at, page, "kc-update-profile-form")
	f.Set("lastName", "Pleasance")
	status, cb, _ := b.do(http.MethodPost, action, f)
	if status/100 != 3 || !strings.HasPrefix(cb.String(), appRedirect) {
		t.Fatalf("after the profile: %d %s", status, cb)
	}
	if claims := exchange(t, down, cb); claims["family_name"] != "Pleasance" {
		t.Fatalf("claims %v", claims)
	}
}

// A user a brokered login creates gets the realm's default actions.
func TestBrokeredUserGetsDefaultActions(t *testing.T) {
	_, down := brokerPair(t, "oidc", "")
	row, err := down.st.GetRealmByName(t.Context(), "down")
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := rep.DecodeRealm(row)
	if err != nil {
		t.Fatal(err)
	}
	r.RequiredActions = rep.DefaultRequiredActions()
	for i := range r.RequiredActions {
		if r.RequiredActions[i].Alias == "UPDATE_PROFILE" {
			r.RequiredActions[i].DefaultAction = true
		}
	}
	if row, err = rep.RealmToStore(r); err != nil {
		t.Fatal(err)
	}
	if err := down.st.UpdateRealm(t.Context(), row); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	at, page := b.startCorp(down)
	status, at, _ := b.upstreamLogin(at, page, "alice", "alice-pass-1")
	if status != 200 || at.Query().Get("execution") != "UPDATE_PROFILE" {
		t.Fatalf("first brokered login: %d %s", status, at)
	}
}

// kc_action: the app asks for an action (keycloak-js login({action})); the
// user may cancel one they do not owe.
func TestApplicationInitiatedAction(t *testing.T) {
	k := actionsRealm(t, "", "", `{"username": "ivy", "enabled": true,
		  "credentials": [{"type": "password", "value": "ivy-pass-1"}]}`)
	aia := url.Values{"kc_action": {"UPDATE_PASSWORD"}}
	b := newBrowser(t)
	_, at, page := b.do(http.MethodGet, authorizeURL(k, aia), nil)
	action, f := formOf(t, at, page, "kc-form-login")
	f.Set("username", "ivy")
	f.Set("password", "ivy-pass-1")
	status, at, page := b.do(http.MethodPost, action, f)
	if status != 200 || at.Query().Get("execution") != "UPDATE_PASSWORD" || !strings.Contains(page, `name="cancel-aia"`) {
		t.Fatalf("kc_action after the password: %d %s", status, at)
	}
	action, f = formOf(t, at, page, "kc-passwd-update-form")
	f.Set("cancel-aia", "true")
	status, cb, _ := b.do(http.MethodPost, action, f)
	if status/100 != 3 || exchange(t, k, cb)["preferred_username"] != "ivy" {
		t.Fatalf("cancelled: %d %s", status, cb)
	}
	// With the SSO session (just signed in): the page at once, no form.
	status, at, page = b.do(http.MethodGet, authorizeURL(k, aia), nil)
	if status != 200 || at.Query().Get("execution") != "UPDATE_PASSWORD" {
		t.Fatalf("kc_action with SSO: %d %s", status, at)
	}
	if status, cb, _ = b.updatePassword(at, page, "Ivy-Pass-2", "Ivy-Pass-2"); status/100 != 3 || !strings.HasPrefix(cb.String(), appRedirect) {
		t.Fatalf("changed: %d %s", status, cb)
	}
	if status, cb, _ := newBrowser(t).passwordLogin(k, "ivy", "Ivy-Pass-2"); status/100 != 3 || !strings.HasPrefix(cb.String(), appRedirect) {
		t.Fatalf("new password: %d %s", status, cb)
	}
	// An unknown action is ignored; an owed one has no Cancel.
	if status, cb, _ := b.do(http.MethodGet, authorizeURL(k, url.Values{"kc_action": {"nope"}}), nil); status/100 != 3 || cb.Query().Get("code") == "" {
		t.Fatalf("unknown kc_action: %d %s", status, cb)
	}
	u := userNamed(t, k, "ivy")
	u.RequiredActions = []string{"UPDATE_PASSWORD"}
	if err := k.st.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if _, _, page := b.do(http.MethodGet, authorizeURL(k, aia), nil); !strings.Contains(page, "kc-passwd-update-form") || strings.Contains(page, "cancel-aia") {
		t.Fatalf("owed action offers cancel:\n%.800s", page)
	}
}
