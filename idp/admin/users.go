package admin

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// defaultMax is Keycloak's default page size for users and groups.
const defaultMax = 100

// userQuery reads Keycloak's user search parameters. search follows
// Keycloak 26: "foo" and "foo*" match at the start (index range scans),
// "*foo*" anywhere, a quoted "\"foo\"" exactly, "*" everything.
func (c *call) userQuery() (q store.UserQuery, exact string, err error) {
	v := c.r.URL.Query()
	q.Username, q.Email, q.FirstName, q.LastName = v.Get("username"), v.Get("email"), v.Get("firstName"), v.Get("lastName")
	q.Exact = c.flag("exact", false)
	if e := v.Get("enabled"); e != "" {
		b := c.flag("enabled", true)
		q.Enabled = &b
	}
	// q=key:value key2:value2 — exact attribute values, all required.
	for _, f := range strings.Fields(v.Get("q")) {
		k, val, ok := strings.Cut(f, ":")
		if !ok || k == "" {
			return q, "", badRequest("Invalid query: q wants key:value pairs separated by spaces, got " + strconv.Quote(f))
		}
		if q.Attributes == nil {
			q.Attributes = map[string]string{}
		}
		q.Attributes[k] = val
	}
	s := strings.TrimSpace(v.Get("search"))
	switch {
	case len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"':
		exact = strings.ToLower(s[1 : len(s)-1])
	case strings.HasPrefix(s, "*") || s == "":
		q.Search = strings.Trim(s, "*")
	default:
		q.Search, q.Prefix = strings.TrimSuffix(s, "*"), true
	}
	return q, exact, nil
}

func (a *API) listUsers(c *call) error {
	q, exact, err := c.userQuery()
	if err != nil {
		return err
	}
	if q.First, q.Max, err = c.page(defaultMax); err != nil {
		return err
	}
	if term := cmp.Or(exact, q.Search); a.fed != nil && term != "" {
		// As Keycloak, a search also asks the realm's directories and
		// imports what they find, so the local search below lists them.
		d, err := c.realmDefaults()
		if err != nil {
			return err
		}
		a.fed.SearchUsers(c.ctx, c.realm.ID, d, term, q.First+max(q.Max, 1))
	}
	var users []store.User
	if exact != "" {
		users, err = a.exactUsers(c.ctx, c.realm.ID, exact, q)
	} else if s, ok := a.st.(store.UserSearcher); ok {
		users, err = s.SearchUsers(c.ctx, c.realm.ID, q)
	} else {
		users, err = a.st.ListUsers(c.ctx, c.realm.ID, q)
	}
	if err != nil {
		return err
	}
	return c.users(users)
}

// users answers a list of users, brief when ?briefRepresentation=true.
func (c *call) users(users []store.User) error {
	brief := c.flag("briefRepresentation", false)
	out := make([]rep.User, 0, len(users))
	for _, u := range users {
		out = append(out, userRep(u, brief))
	}
	return c.ok(out)
}

// exactUsers serves search="value": users whose username or email is value.
func (a *API) exactUsers(ctx context.Context, realmID, value string, q store.UserQuery) ([]store.User, error) {
	var out []store.User
	for _, get := range []func(context.Context, string, string) (store.User, error){a.st.GetUserByUsername, a.st.GetUserByEmail} {
		u, err := get(ctx, realmID, value)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if u.ServiceAccount == "" && (q.Enabled == nil || *q.Enabled == u.Enabled) && holds(u, q.Attributes) &&
			!slices.ContainsFunc(out, func(x store.User) bool { return x.ID == u.ID }) {
			out = append(out, u)
		}
	}
	if q.First >= len(out) {
		return nil, nil
	}
	return out[q.First:], nil
}

func (a *API) countUsers(c *call) error {
	q, exact, err := c.userQuery()
	if err != nil {
		return err
	}
	if exact != "" {
		users, err := a.exactUsers(c.ctx, c.realm.ID, exact, q)
		if err != nil {
			return err
		}
		return c.ok(len(users))
	}
	n, err := a.st.CountUsers(c.ctx, c.realm.ID, q)
	if err != nil {
		return err
	}
	return c.ok(n)
}

// holds reports whether u has every attribute value in attrs.
func holds(u store.User, attrs map[string]string) bool {
	for k, v := range attrs {
		if !slices.Contains(u.Attributes[k], v) {
			return false
		}
	}
	return true
}

// userRep is a user as the admin API shows it.
func userRep(u store.User, brief bool) rep.User {
	r := rep.UserFromStore(u)
	if r.RequiredActions == nil {
		r.RequiredActions = []string{}
	}
	r.DisableableCredentialTypes = []string{}
	if brief {
		r.Attributes = nil
	} else {
		r.Access = map[string]bool{"manageGroupMembership": true, "view": true, "mapRoles": true, "impersonate": false, "manage": true}
	}
	return r
}

func (a *API) user(c *call) (store.User, error) {
	id, err := c.id("id", "User")
	if err != nil {
		return store.User{}, err
	}
	u, err := a.st.GetUser(c.ctx, c.realm.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return u, notFound("User not found")
	}
	return u, err
}

func (a *API) getUser(c *call) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	r := userRep(u, false)
	// Keycloak's totp: the user has an OTP device.
	creds, err := a.st.ListCredentials(c.ctx, u.ID)
	if err != nil {
		return err
	}
	for _, cr := range creds {
		if cr.Type == rep.OTPCredentialType {
			r.Totp, r.DisableableCredentialTypes = &[]bool{true}[0], []string{rep.OTPCredentialType}
		}
	}
	return c.ok(r)
}

// policy is the realm's password policy.
func (c *call) policy() (password.Policy, rep.RealmSettings, error) {
	_, s, err := rep.DecodeRealm(c.realm)
	if err != nil {
		return password.Policy{}, s, err
	}
	p, err := password.ParsePolicy(s.PasswordPolicy)
	return p, s, err
}

// hashPassword checks pw against the realm policy and hashes it through
// the bounded pool.
func (a *API) hashPassword(c *call, policy password.Policy, u store.User, pw string) (store.Credential, error) {
	if err := policy.CheckNew(pw, u.Username, u.Email); err != nil {
		return store.Credential{}, err
	}
	return authn.NewPasswordCredential(c.ctx, a.lim, policy, u.ID, pw)
}

// createUser creates a user as Keycloak's admin API does: enabled and
// emailVerified default to false, the realm's default role and groups are
// granted, `groups` (paths) joined and a plain `credentials[].value` hashed
// under the realm's policy. Role mappings in the body are ignored, as in
// Keycloak (they have their own endpoint).
func (a *API) createUser(c *call) error {
	var in rep.User
	if err := c.body(&in, maxBody); err != nil {
		return err
	}
	policy, settings, err := c.policy()
	if err != nil {
		return err
	}
	if settings.RegistrationEmailAsUsername && in.Email != "" {
		in.Username = in.Email
	}
	if strings.TrimSpace(in.Username) == "" {
		return fieldError("username", "error-user-attribute-required")
	}
	if p := adminUsernameProblem(in.Username); p != "" && !settings.RegistrationEmailAsUsername {
		return fieldError("username", p)
	}
	in.ID, in.ServiceAccountClientID = "", ""
	// As Keycloak's admin API: no link to a directory entry (federationLink
	// ignored, the link attributes admin read-only), or the entry's next
	// login or sync would land on an account the caller set up.
	in.FederationLink = ""
	for _, k := range linkAttributes {
		delete(in.Attributes, k)
	}
	u := rep.UserToStore(c.realm.ID, in)
	u.ID, u.Created = uuid.NewString(), time.Now().UTC()
	// The realm's default required actions, as Keycloak adds them.
	for _, ra := range settings.DefaultUserActions() {
		if !slices.Contains(u.RequiredActions, ra) {
			u.RequiredActions = append(u.RequiredActions, ra)
		}
	}
	// A realm whose WRITABLE provider syncs registrations creates its new
	// users in the directory (Keycloak's UserStorageManager.addUser).
	var reg *federation.Provider
	if a.fed != nil {
		if reg, err = a.fed.RegistrationProvider(c.ctx, c.realm.ID); err != nil {
			return err
		}
	}
	if reg != nil {
		// The entry's id and DN come from the directory, the link from here.
		delete(u.Attributes, federation.AttrExternalID)
		delete(u.Attributes, federation.AttrEntryDN)
		u.FederationLink, u.FederationID = reg.Component.ID, ""
	}
	var creds []store.Credential
	dirPassword := "" // the directory's: the last one given, as Keycloak's updates in turn leave it
	for i, cr := range in.Credentials {
		switch {
		case cr.Type != "" && cr.Type != "password":
			return fieldError("credentials", "Unsupported credential type "+cr.Type)
		case cr.Value == "":
			continue
		}
		if reg != nil {
			if validatesPasswordPolicy(reg.Component.Config) {
				if err := policy.CheckNew(cr.Value, u.Username, u.Email); err != nil {
					return err
				}
			}
			dirPassword = cr.Value
		} else {
			cred, err := a.hashPassword(c, policy, u, cr.Value)
			if err != nil {
				return err
			}
			cred.Priority = i
			creds = append(creds, cred)
		}
		if cr.Temporary != nil && *cr.Temporary && !slices.Contains(u.RequiredActions, "UPDATE_PASSWORD") {
			u.RequiredActions = append(u.RequiredActions, "UPDATE_PASSWORD")
		}
	}
	nu := store.NewUser{User: u, Credentials: creds}
	if err := a.checkUnique(c.ctx, c.realm.ID, store.User{}, u, settings); err != nil {
		return err
	}
	if err := a.checkDirectoryNames(c.ctx, c.realm.ID, store.User{}, u, settings); err != nil {
		return err
	}
	if id, err := a.defaultRole(c, settings.DefaultRole); err != nil {
		return err
	} else if id != "" {
		nu.RoleIDs = []string{id}
	}
	if len(in.Groups) > 0 {
		ids, err := a.groupIDsByPath(c.ctx, c.realm.ID, in.Groups)
		if err != nil {
			return err
		}
		if err := a.mayGrant(c, nil, ids); err != nil {
			return err
		}
	}
	if paths := append(slices.Clone(settings.DefaultGroups), in.Groups...); len(paths) > 0 {
		if nu.GroupIDs, err = a.groupIDsByPath(c.ctx, c.realm.ID, paths); err != nil {
			return err
		}
	}
	if reg != nil {
		err = a.fed.RegisterUser(c.ctx, reg, u, dirPassword, func(id federation.Identity) error {
			nu.User = linkedUser(nu.User, id)
			return a.users.create(c.ctx, nu)
		})
		if errors.As(err, new(*federation.RefusedError)) || errors.Is(err, federation.ErrUnavailable) ||
			errors.Is(err, federation.ErrReadOnly) {
			return fedWriteError(c, err, badRequest("Could not create user"), func(reason string) error {
				return badRequest("Could not create user: " + reason)
			})
		}
		if errors.Is(err, federation.ErrConflict) && !errors.Is(err, store.ErrConflict) {
			return conflict("User exists with same username")
		}
	} else {
		err = a.users.create(c.ctx, nu)
	}
	if err != nil {
		if errors.Is(err, store.ErrConflict) { // lost a race: say with what
			if uerr := a.checkUnique(c.ctx, c.realm.ID, store.User{}, u, settings); uerr != nil {
				return uerr
			}
		}
		return err
	}
	return c.created(u.ID)
}

// linkedUser is u, a new user registered in its provider's directory,
// linked to the new entry as an import links one: LDAP_ID, LDAP_ENTRY_DN
// and what the mappers read from the entry.
func linkedUser(u store.User, id federation.Identity) store.User {
	attrs := maps.Clone(u.Attributes)
	if attrs == nil {
		attrs = map[string][]string{}
	}
	for k, v := range id.Attributes {
		if _, given := attrs[k]; !given && v != nil {
			attrs[k] = slices.Clone(v)
		}
	}
	attrs[federation.AttrExternalID] = []string{id.ExternalID}
	attrs[federation.AttrEntryDN] = []string{id.DN}
	u.Attributes, u.FederationID = attrs, id.ExternalID
	return u
}

// defaultRole is the id of the realm's default role ("" if it has none).
func (a *API) defaultRole(c *call, name string) (string, error) {
	return a.auth.defaultRoles.Get(c.ctx, c.realm.ID, func(ctx context.Context) (string, error) {
		role, err := a.st.GetRoleByName(ctx, c.realm.ID, "", name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
		return role.ID, nil
	})
}

// checkUnique answers Keycloak's 409s for a username or email that another
// user (not prev, the user before the change; zero for a new one) has,
// and, where the login takes either, for a new username that is another's
// email or a new email that is another's username.
func (a *API) checkUnique(ctx context.Context, realmID string, prev, u store.User, s rep.RealmSettings) error {
	selfID := prev.ID
	if other, err := a.st.GetUserByUsername(ctx, realmID, u.Username); err == nil && other.ID != selfID {
		return conflict("User exists with same username")
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if s.EmailLogin() && u.Username != prev.Username {
		if taken, err := store.LoginNameTaken(ctx, a.st, realmID, u.Username, selfID, false); err != nil {
			return err
		} else if taken {
			return conflict("User exists with same username")
		}
	}
	if u.Email == "" || s.DuplicateEmailsAllowed {
		return nil
	}
	if taken, err := store.EmailTaken(ctx, a.st, realmID, u.Email, selfID); err != nil {
		return err
	} else if taken {
		return conflict("User exists with same email")
	}

	if s.EmailLogin() && u.Email != prev.Email {
		if taken, err := store.LoginNameTaken(ctx, a.st, realmID, u.Email, selfID, true); err != nil {
			return err
		} else if taken {
			return conflict("User exists with same email")
		}
	}
	return nil
}

// checkDirectoryNames answers checkUnique's 409s for a new username or
// email (u's, prev the user before the change) that a user storage
// provider's user has without a local copy yet. It talks to directories:
// call it outside a store transaction.
func (a *API) checkDirectoryNames(ctx context.Context, realmID string, prev, u store.User, s rep.RealmSettings) error {
	if u.Username != prev.Username {
		if taken, err := a.directoryTaken(ctx, realmID, s, u.Username, prev.ID, false); err != nil {
			return err
		} else if taken {
			return conflict("User exists with same username")
		}
	}
	if u.Email != "" && !s.DuplicateEmailsAllowed && u.Email != prev.Email {
		if taken, err := a.directoryTaken(ctx, realmID, s, u.Email, prev.ID, true); err != nil {
			return err
		} else if taken {
			return conflict("User exists with same email")
		}
	}
	return nil
}

// directoryTaken says whether a user storage provider of the realm has a
// user named name (an email when byEmail) without a local copy yet, as
// Keycloak's UsersResource asks UserStorageManager (which imports the
// entry, as this does): a local user must not take a directory user's
// name. A directory that cannot answer is 503 (federation.ErrUnavailable),
// as Keycloak's lookup fails: answering "not taken" would let the name be
// squatted whenever the directory is unreachable.
func (a *API) directoryTaken(ctx context.Context, realmID string, s rep.RealmSettings, name, selfID string, byEmail bool) (bool, error) {
	if a.fed == nil || strings.TrimSpace(name) == "" {
		return false, nil
	}
	d := s.FederationDefaults()
	acct, err := a.fed.Resolve(ctx, realmID, d, nil, strings.ToLower(strings.TrimSpace(name)), byEmail)
	switch {
	case errors.Is(err, federation.ErrNotFound):
		return false, nil
	case err == nil:
		return acct.User.ID != selfID, nil // the user's own entry does not take its name
	case errors.Is(err, federation.ErrAmbiguous), errors.Is(err, federation.ErrConflict):
		return true, nil // found (imported now), or found but not importable
	}
	return false, err
}

// adminUsernameProblem is rep.UsernameProblem, as Keycloak's user profile
// validates the admin API's users too, without its 3-character minimum:
// keygate's admin API has always taken 2-letter usernames, and scripts
// written against it do.
func adminUsernameProblem(name string) string { return rep.UsernameProblemMin(name, 1) }

// updateUser applies the fields the body has (Keycloak's partial update).
func (a *API) updateUser(c *call) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	r := rep.UserFromStore(u)
	if err := c.body(&r, maxBody); err != nil {
		return err
	}
	if strings.TrimSpace(r.Username) == "" {
		return fieldError("username", "error-user-attribute-required")
	}
	_, settings, err := c.policy()
	if err != nil {
		return err
	}
	// A new username passes the user profile's validators; a stored one
	// (imported, or from a directory) stays as it is.
	// (Not strings.EqualFold: it takes "\u017Fam", which lower-casing
	// keeps, for the stored "sam".)
	if strings.ToLower(r.Username) != u.Username && !settings.RegistrationEmailAsUsername {
		if p := adminUsernameProblem(r.Username); p != "" {
			return fieldError("username", p)
		}
	}
	next := rep.UserToStore(c.realm.ID, r)
	next.ID, next.Created, next.ServiceAccount, next.FederationLink, next.FederationID = u.ID, u.Created, u.ServiceAccount, u.FederationLink, u.FederationID
	mode, err := a.checkFederatedUpdate(c.ctx, u, &next) // federation.go: READ_ONLY providers
	if err != nil {
		return err
	}
	if err := a.checkDirectoryNames(c.ctx, c.realm.ID, u, next, settings); err != nil {
		return err
	}
	if mode == federation.Writable && a.fed != nil {
		if err := a.writeFederatedUpdate(c, settings, u, &next); err != nil {
			return err
		}
	}
	err = a.st.Tx(c.ctx, func(ctx context.Context) error {
		if err := a.checkUnique(ctx, c.realm.ID, u, next, settings); err != nil {
			return err
		}
		return a.st.UpdateUser(ctx, next)
	})
	if err != nil {
		return err
	}
	return c.noContent()
}

func (a *API) deleteUser(c *call) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	// A WRITABLE provider's user goes from the directory first (Keycloak's
	// LDAPStorageProvider.removeUser); other users only from keygate.
	if mode, err := a.editMode(c.ctx, u); err != nil {
		return err
	} else if mode == federation.Writable && a.fed != nil {
		if err := a.fed.DeleteUser(c.ctx, c.realm.ID, u); err != nil {
			return fedWriteError(c, err, badRequest("User couldn't be deleted"), func(reason string) error {
				return badRequest("User couldn't be deleted: " + reason)
			})
		}
	}
	// Its sessions end with it: their clients are told.
	err = a.p.EndUserSessions(c.ctx, a.p.Issuer(c.r, c.realm.Name), c.realm.ID, u.ID, func(ctx context.Context) error {
		return a.st.DeleteUser(ctx, c.realm.ID, u.ID)
	})
	if err != nil {
		return err
	}
	return c.noContent()
}

// resetPassword sets the user's one password credential. `temporary` adds
// the UPDATE_PASSWORD required action, and a permanent password clears it.
func (a *API) resetPassword(c *call) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	if err := a.checkFederatedPassword(c.ctx, u, true); err != nil { // federation.go: READ_ONLY providers
		return err
	}
	var in rep.Credential
	if err := c.body(&in, maxBody); err != nil {
		return err
	}
	if in.Type != "" && in.Type != "password" {
		return badRequest("Unsupported credential type " + in.Type)
	}
	if in.Value == "" {
		return &apiError{status: http.StatusBadRequest, body: map[string]any{"error": "Password cannot be empty"}}
	}
	policy, _, err := c.policy()
	if err != nil {
		return err
	}
	var cred store.Credential
	row, linked, err := a.userProvider(c.ctx, u)
	if err != nil {
		return err
	}
	writable := a.fed != nil && linked && editModeOf(row) == federation.Writable
	if writable {
		// The directory holds a WRITABLE provider's passwords; keygate keeps
		// none (LDAPStorageProvider.updateCredential).
		if validatesPasswordPolicy(row.Config) {
			if err := policy.CheckNew(in.Value, u.Username, u.Email); err != nil {
				return err
			}
		}
		if err := a.fed.SetPassword(c.ctx, c.realm.ID, u, in.Value); err != nil {
			return fedWriteError(c, err, resetReadOnly, func(reason string) error {
				return &apiError{status: http.StatusBadRequest, body: map[string]any{"error": reason, "error_description": reason}}
			})
		}
	} else if cred, err = a.hashPassword(c, policy, u, in.Value); err != nil {
		return err
	}
	temporary := in.Temporary != nil && *in.Temporary
	err = a.st.Tx(c.ctx, func(ctx context.Context) error {
		if writable {
			if err := a.dropPasswords(ctx, u.ID); err != nil {
				return err
			}
		} else if err := a.st.SetPassword(ctx, u.ID, cred); err != nil {
			return err
		}
		has := slices.Contains(u.RequiredActions, "UPDATE_PASSWORD")
		switch {
		case temporary && !has:
			u.RequiredActions = append(u.RequiredActions, "UPDATE_PASSWORD")
		case !temporary && has:
			u.RequiredActions = slices.DeleteFunc(u.RequiredActions, func(s string) bool { return s == "UPDATE_PASSWORD" })
		default:
			return nil
		}
		return a.st.UpdateUser(ctx, u)
	})
	if err != nil {
		return err
	}
	return c.noContent()
}

// dropPasswords deletes the user's local password credentials (stale
// once the directory holds the password).
func (a *API) dropPasswords(ctx context.Context, userID string) error {
	creds, err := a.st.ListCredentials(ctx, userID)
	if err != nil {
		return err
	}
	for _, cr := range creds {
		if cr.Type != "password" {
			continue
		}
		if err := a.st.DeleteCredential(ctx, userID, cr.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// listCredentials shows the user's credentials with credentialData
// (algorithm, iterations) and never secretData.
func (a *API) listCredentials(c *call) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	creds, err := a.st.ListCredentials(c.ctx, u.ID)
	if err != nil {
		return err
	}
	out := make([]rep.Credential, 0, len(creds))
	for _, cr := range creds {
		r := rep.CredentialFromStore(cr)
		r.SecretData = ""
		out = append(out, r)
	}
	return c.ok(out)
}

func (a *API) deleteCredential(c *call) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	if err := a.checkFederatedPassword(c.ctx, u, false); err != nil { // federation.go: READ_ONLY providers
		return err
	}
	id, err := c.id("cred", "Credential")
	if err != nil {
		return err
	}
	if err := a.st.DeleteCredential(c.ctx, u.ID, id); errors.Is(err, store.ErrNotFound) {
		return notFound("Credential not found")
	} else if err != nil {
		return err
	}
	return c.noContent()
}

func (a *API) logoutUser(c *call) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	// As Keycloak's UserResource.logout: the user's notBefore moves to now,
	// so every token issued before it is stale, offline ones included
	// (DeleteUserSessions leaves the offline tokens).
	err = a.p.EndUserSessions(c.ctx, a.p.Issuer(c.r, c.realm.Name), c.realm.ID, u.ID, func(ctx context.Context) error {
		u, err := a.st.GetUser(ctx, c.realm.ID, u.ID)
		if err != nil {
			return err
		}
		u.NotBefore = time.Now().Unix()
		if err := a.st.UpdateUser(ctx, u); err != nil {
			return err
		}
		return a.st.DeleteUserSessions(ctx, c.realm.ID, u.ID)
	})
	if errors.Is(err, store.ErrNotFound) {
		return notFound("User not found")
	} else if err != nil {
		return err
	}
	return c.noContent()
}

// ---- brute force

func (a *API) bruteForceStatus(c *call) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	f, err := a.st.GetLoginFailure(c.ctx, c.realm.ID, u.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	disabled := time.Now().Before(f.FailedLoginNotBefore) || (!u.Enabled && lockedOut(u))
	out := map[string]any{"numFailures": f.NumFailures, "disabled": disabled, "lastIPFailure": f.LastIPFailure, "lastFailure": 0}
	if !f.LastFailure.IsZero() {
		out["lastFailure"] = f.LastFailure.UnixMilli()
	}
	if f.LastIPFailure == "" {
		out["lastIPFailure"] = "n/a"
	}
	return c.ok(out)
}

func lockedOut(u store.User) bool {
	return slices.Contains(u.Attributes["disabledReason"], "permanentLockout")
}

// bruteForceUnlock clears the user's failures and re-enables a user that
// a permanent lockout disabled.
func (a *API) bruteForceUnlock(c *call) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	err = a.st.Tx(c.ctx, func(ctx context.Context) error {
		if err := a.st.DeleteLoginFailure(ctx, c.realm.ID, u.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if !lockedOut(u) {
			return nil
		}
		delete(u.Attributes, "disabledReason")
		u.Enabled = true
		return a.st.UpdateUser(ctx, u)
	})
	if err != nil {
		return err
	}
	return c.noContent()
}

func (a *API) bruteForceUnlockAll(c *call) error {
	if err := a.st.DeleteLoginFailures(c.ctx, c.realm.ID); err != nil {
		return err
	}
	return c.noContent()
}
