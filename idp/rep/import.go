package rep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/ldap"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/store"
)

// IfExists says what ImportRealm does with a realm that already exists.
type IfExists int

const (
	// IfExistsFail fails the whole import with an error wrapping
	// store.ErrConflict.
	IfExistsFail IfExists = iota
	// IfExistsSkip leaves the existing realm untouched and reports it in
	// ImportResult.SkippedRealms (what `serve --import-realm` uses). Users of
	// a users file that already exist are skipped likewise.
	IfExistsSkip
)

// ImportOptions tune ImportRealm.
type ImportOptions struct {
	IfExists IfExists
	// SealSecret, when set, seals the secret config values of user storage
	// components (an LDAP provider's bindCredential) before they are stored
	// (oidc.SecretSealer.Seal with the server's --db-key).
	SealSecret func(string) (string, error)
	// NewRealms makes every document create a realm: a users file naming
	// a realm that exists is a conflict like any other document, instead
	// of adding its users there. The admin API's POST /admin/realms sets
	// it: its caller (create-realm) may hold no rights in existing realms.
	NewRealms bool
	retried   bool // see importDocs
}

// ImportResult counts what an import created.
type ImportResult struct {
	Realms, Users, Clients, Roles, Groups int
	SkippedRealms                         []string // realms that existed (IfExistsSkip)
	SkippedUsers                          int      // users-file users that existed (IfExistsSkip)
	// Warnings name what was accepted but dropped, by JSON path (unknown
	// client scopes, federated identities keygate has no place for).
	Warnings []string
}

// ImportRealm imports a Keycloak realm export: one realm object, a JSON
// array of them, or a users file (`{"realm":"x","users":[...]}` with no other
// key) which adds users to an existing realm (if the realm does not exist,
// the file is imported as a minimal realm).
//
// It does what Keycloak's import does: built-ins the file lacks are added
// (roles, clients, client scopes, the default role; see NewRealm), clients
// without defaultClientScopes get the realm's defaults, confidential clients
// without a secret get one, and names are resolved (composites, group paths,
// users' roles and groups, serviceAccountClientId, defaultRole or pre-13
// defaultRoles). Users get exactly the role mappings the file lists, and
// enabled/emailVerified default to false as in Keycloak; a client with
// serviceAccountsEnabled and no service-account user in the file gets
// `service-account-<clientId>` holding the default role. Ids from the file
// are kept; missing ones are new UUIDs.
//
// Credentials: secretData/credentialData are kept exactly as they are
// (validated by password.FromKeycloak); legacy hashedSaltedValue fields are
// converted; a plain `value` is hashed under the realm's passwordPolicy, and
// `temporary` adds the UPDATE_PASSWORD required action.
//
// Unknown JSON fields are ignored. Invalid ones fail the import with an
// error naming the JSON path, e.g. `users[3].credentials[0].credentialData:
// unknown algorithm "sha3"`; so do a missing realm name, an empty or
// duplicate username, a duplicate clientId, unknown roles or groups and
// undecodable credentials. Redirect URIs are not checked here. Everything is
// written in one st.Tx: on any error nothing is.
func ImportRealm(ctx context.Context, st store.Store, data []byte, opts ImportOptions) (ImportResult, error) {
	docs, err := parseDocuments(data)
	if err != nil {
		return ImportResult{}, err
	}
	return importDocs(ctx, st, docs, opts)
}

// CreateRealm writes r as ImportRealm writes a parsed realm: built-ins added,
// names resolved, one transaction. Use it with NewRealm for realms keygate
// creates itself.
func CreateRealm(ctx context.Context, st store.Store, r Realm, opts ImportOptions) (ImportResult, error) {
	if r.Realm == "" {
		return ImportResult{}, errors.New("realm: required")
	}
	return importDocs(ctx, st, []*document{{realm: r}}, opts)
}

// document is one realm of the input and what happens to it.
type document struct {
	path      string // "" or "[i]" for an array element
	realm     Realm
	usersFile bool  // only realm + users: may add users to an existing realm
	mode      int   // modeNew, modeUsers, modeSkip
	plan      *plan // modeNew: planned before the transaction
	warnings  []string
}

const (
	modeNew = iota
	modeUsers
	modeSkip
)

func parseDocuments(data []byte) ([]*document, error) {
	data = bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("invalid JSON at offset %d: %v", se.Offset, se)
		}
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if data[0] == '[' {
		var arr []json.RawMessage
		if err := json.Unmarshal(data, &arr); err != nil {
			return nil, fmt.Errorf("invalid JSON: %v", err)
		}
		if len(arr) == 0 {
			return nil, errors.New("no realm in the file")
		}
		docs := make([]*document, len(arr))
		for i, raw := range arr {
			d, err := parseDocument(raw, fmt.Sprintf("[%d]", i))
			if err != nil {
				return nil, err
			}
			docs[i] = d
		}
		return docs, nil
	}
	d, err := parseDocument(data, "")
	if err != nil {
		return nil, err
	}
	return []*document{d}, nil
}

func parseDocument(raw []byte, path string) (*document, error) {
	d := &document{path: path}
	if err := decodeAt(raw, &d.realm, path); err != nil {
		return nil, err
	}
	if d.realm.Realm == "" {
		return nil, fmt.Errorf("%s: required", joinPath(path, "realm"))
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(raw, &keys) // decodeAt has checked it is an object
	_, d.usersFile = keys["users"]
	for k := range keys {
		if k != "realm" && k != "users" && k != "federatedUsers" {
			d.usersFile = false
		}
	}
	return d, nil
}

func importDocs(ctx context.Context, st store.Store, docs []*document, opts ImportOptions) (ImportResult, error) {
	// Before the transaction: everything that needs no store writes, hashing
	// plain passwords above all, so the single SQLite writer is not held
	// while PBKDF2 runs.
	for _, d := range docs {
		if err := d.prepare(ctx, st, opts); err != nil {
			return ImportResult{}, err
		}
	}
	var res ImportResult
	err := st.Tx(ctx, func(ctx context.Context) error {
		res = ImportResult{}
		for _, d := range docs {
			if err := d.write(ctx, st, opts, &res); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && opts.IfExists == IfExistsSkip && errors.Is(err, store.ErrConflict) && !opts.retried {
		// Another process (a replica starting with the same file) created a
		// realm between prepare's check and this insert, and the transaction
		// rolled back. Once more: the realm exists now and is skipped.
		opts.retried = true
		return importDocs(ctx, st, docs, opts)
	}
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

// prepare decides the document's mode from the store as it is now (write
// checks again inside the transaction), resolves credentials and, for a new
// realm, plans every row.
func (d *document) prepare(ctx context.Context, st store.Store, opts ImportOptions) error {
	r := &d.realm
	policySource := r.PasswordPolicy
	existing, err := st.GetRealmByName(ctx, r.Realm)
	switch {
	case err == nil && d.usersFile && !opts.NewRealms:
		d.mode = modeUsers
		_, s, err := DecodeRealm(existing)
		if err != nil {
			return err
		}
		policySource = s.PasswordPolicy
	case err == nil:
		if opts.IfExists != IfExistsSkip {
			return fmt.Errorf("%s: realm %q already exists: %w", joinPath(d.path, "realm"), r.Realm, store.ErrConflict)
		}
		d.mode = modeSkip
		return nil
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	policy, err := password.ParsePolicy(policySource)
	if err != nil {
		if d.mode == modeUsers {
			return fmt.Errorf("realm %q: passwordPolicy: %v", r.Realm, err)
		}
		return fmt.Errorf("%s: %v", joinPath(d.path, "passwordPolicy"), err)
	}
	now := time.Now().UTC()
	for i := range r.Users {
		// Hashing plain passwords costs up to a second each: a request
		// gone (an admin API client that left, ^C on the CLI) stops it.
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := resolveCredentials(&r.Users[i], fmt.Sprintf("%s[%d]", joinPath(d.path, "users"), i), policy, now); err != nil {
			return err
		}
	}
	if d.mode == modeUsers {
		return nil
	}
	if err := convertLegacyFederation(r, d.path); err != nil {
		return err
	}
	if d.warnings, err = prepareRealm(r); err != nil {
		return err
	}
	if w, err := prepareSMTP(r, joinPath(d.path, "realm"), opts.SealSecret); err != nil {
		return err
	} else if w != "" {
		d.warnings = append(d.warnings, w)
	}
	if d.plan, err = planRealm(r, d.path, now); err != nil {
		return err
	}
	if opts.SealSecret != nil {
		return d.plan.sealSecrets(opts.SealSecret)
	}
	return nil
}

func (d *document) write(ctx context.Context, st store.Store, opts ImportOptions, res *ImportResult) error {
	if d.mode == modeSkip {
		res.SkippedRealms = append(res.SkippedRealms, d.realm.Realm)
		return nil
	}
	existing, err := st.GetRealmByName(ctx, d.realm.Realm)
	switch {
	case err == nil && d.usersFile && !opts.NewRealms:
		return importUsersFile(ctx, st, existing, d, opts, res)
	case err == nil && opts.IfExists == IfExistsSkip:
		res.SkippedRealms = append(res.SkippedRealms, d.realm.Realm)
		return nil
	case err == nil:
		return fmt.Errorf("%s: realm %q already exists: %w", joinPath(d.path, "realm"), d.realm.Realm, store.ErrConflict)
	case !errors.Is(err, store.ErrNotFound):
		return err
	case d.plan == nil: // a users file whose realm vanished since prepare
		return fmt.Errorf("%s: realm %q does not exist: %w", joinPath(d.path, "realm"), d.realm.Realm, store.ErrNotFound)
	}
	if err := d.plan.write(ctx, st); err != nil {
		return err
	}
	p := d.plan
	res.Realms++
	res.Users += len(p.users)
	res.Clients += len(p.clients)
	res.Roles += len(p.roles)
	res.Groups += len(p.groups)
	res.Warnings = append(res.Warnings, d.warnings...)
	res.Warnings = append(res.Warnings, p.warnings...)
	return nil
}

// resolveCredentials turns every credential of u into its stored form
// (secretData + credentialData), validating kept hashes, converting legacy
// fields and hashing plain values under policy.
func resolveCredentials(u *User, path string, policy password.Policy, now time.Time) error {
	for j := range u.Credentials {
		c := &u.Credentials[j]
		cp := fmt.Sprintf("%s.credentials[%d]", path, j)
		if c.Type == "" {
			c.Type = "password"
		}
		switch {
		case c.SecretData != "" || c.CredentialData != "":
			if c.Type == "password" {
				if _, err := password.FromKeycloak(c.SecretData, c.CredentialData); err != nil {
					return credentialError(cp, err)
				}
			} else if c.Type == OTPCredentialType {
				if err := checkOTPCredential(c.SecretData, c.CredentialData); err != nil {
					return fmt.Errorf("%s.%v", cp, err)
				}
			} else if !json.Valid([]byte(c.SecretData)) || !json.Valid([]byte(c.CredentialData)) {
				return fmt.Errorf("%s: secretData and credentialData must be JSON documents", cp)
			}
		case c.HashedSaltedValue != "":
			if c.Type != "password" {
				return fmt.Errorf("%s.type: hashedSaltedValue needs type \"password\", got %q", cp, c.Type)
			}
			// Keycloak before 11 kept these fields on the representation; its
			// defaults then were pbkdf2-sha256 and 27500 iterations.
			sd, _ := json.Marshal(map[string]any{"value": c.HashedSaltedValue, "salt": c.Salt, "additionalParameters": map[string]any{}})
			cd, _ := json.Marshal(map[string]any{"hashIterations": cmpOr(c.HashIterations, 27500),
				"algorithm": strOr(c.Algorithm, password.PBKDF2SHA256), "additionalParameters": map[string]any{}})
			cred, err := password.FromKeycloak(string(sd), string(cd))
			if err != nil {
				return credentialError(cp, err)
			}
			if err := storedForm(c, cred); err != nil {
				return credentialError(cp, err)
			}
		case c.Value != "":
			if c.Type != "password" {
				return fmt.Errorf("%s.type: a plain value needs type \"password\", got %q", cp, c.Type)
			}
			cred, err := password.Hash(policy, c.Value)
			if err != nil {
				return fmt.Errorf("%s.value: %v", cp, err)
			}
			if err := storedForm(c, cred); err != nil {
				return fmt.Errorf("%s.value: %v", cp, err)
			}
			if boolOr(c.Temporary, false) {
				u.RequiredActions = appendMissing(u.RequiredActions, "UPDATE_PASSWORD")
			}
		default:
			return fmt.Errorf("%s: no secretData, hashedSaltedValue or value", cp)
		}
		if c.CreatedDate <= 0 {
			c.CreatedDate = now.UnixMilli()
		}
		c.Value, c.Temporary, c.HashedSaltedValue, c.Salt, c.HashIterations, c.Algorithm = "", nil, "", "", 0, ""
	}
	return nil
}

func storedForm(c *Credential, cred password.Credential) (err error) {
	if c.SecretData, err = cred.SecretData(); err != nil {
		return err
	}
	c.CredentialData, err = cred.CredentialData()
	return err
}

// credentialError names the document password.FromKeycloak complained about
// and drops its sentinel prefix: `...credentials[0].credentialData: unknown
// algorithm "sha3"`. Problems with the stored value or salt (its size, an
// md5 or bcrypt string of the wrong shape) belong to secretData; the rest
// (algorithm, iterations, parameters) to credentialData.
func credentialError(path string, err error) error {
	msg := err.Error()
	for _, sentinel := range []error{password.ErrMalformed, password.ErrUnsupported} {
		msg = strings.TrimPrefix(msg, sentinel.Error()+": ")
	}
	field := "credentialData"
	switch {
	case strings.HasPrefix(msg, "secretData"):
		field, msg = "secretData", strings.TrimLeft(strings.TrimPrefix(msg, "secretData"), ". :")
	case strings.HasPrefix(msg, "credentialData"):
		msg = strings.TrimLeft(strings.TrimPrefix(msg, "credentialData"), ". :")
	case strings.Contains(msg, "stored ") || strings.Contains(msg, "salt") ||
		(strings.HasPrefix(msg, "md5: ") || strings.HasPrefix(msg, "bcrypt: ")) && !strings.Contains(msg, "hashIterations"):
		field = "secretData"
	}
	return fmt.Errorf("%s.%s: %s", path, field, msg)
}

func cmpOr(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// item is a row to write and the JSON path it came from, for errors.
type item[T any] struct {
	path string
	row  T
}

type plannedUser struct {
	path     string
	row      store.User
	creds    []store.Credential
	roleIDs  []string
	groupIDs []string
	links    []store.FederatedIdentity
	consents []store.Consent
}

type grant struct {
	path    string
	ownerID string
	roleIDs []string
}

// plan is every row of one realm, in the order they must be written.
type plan struct {
	realm      item[store.Realm]
	scopes     []item[store.ClientScope]
	clients    []item[store.Client]
	roles      []item[store.Role]
	composites []grant // parent role -> children
	groups     []item[store.Group]
	groupRoles []grant
	users      []plannedUser
	idps       []item[store.IdentityProvider]
	idpMappers []item[store.IdentityProviderMapper]
	components []item[store.Component] // parents first
	warnings   []string
}

func (p *plan) write(ctx context.Context, st store.Store) error {
	realmID := p.realm.row.ID
	wrap := func(path string, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	}
	if err := wrap(p.realm.path, st.CreateRealm(ctx, p.realm.row)); err != nil {
		return err
	}
	for _, s := range p.scopes {
		if err := wrap(s.path, st.CreateClientScope(ctx, s.row)); err != nil {
			return err
		}
	}
	for _, c := range p.clients {
		if err := wrap(c.path, st.CreateClient(ctx, c.row)); err != nil {
			return err
		}
	}
	for _, r := range p.roles {
		if err := wrap(r.path, st.CreateRole(ctx, r.row)); err != nil {
			return err
		}
	}
	for _, c := range p.composites {
		if err := wrap(c.path, st.AddRoleComposites(ctx, realmID, c.ownerID, c.roleIDs)); err != nil {
			return err
		}
	}
	for _, g := range p.groups {
		if err := wrap(g.path, st.CreateGroup(ctx, g.row)); err != nil {
			return err
		}
	}
	for _, g := range p.groupRoles {
		if err := wrap(g.path, st.GrantGroupRoles(ctx, realmID, g.ownerID, g.roleIDs)); err != nil {
			return err
		}
	}
	// Users' links to identity providers need the providers first.
	for _, x := range p.idps {
		if err := wrap(x.path, st.CreateIdentityProvider(ctx, x.row)); err != nil {
			return err
		}
	}
	if err := writeUsers(ctx, st, realmID, p.users); err != nil {
		return err
	}
	for _, m := range p.idpMappers {
		if err := wrap(m.path, st.CreateIdentityProviderMapper(ctx, m.row)); err != nil {
			return err
		}
	}
	for _, c := range p.components {
		if err := wrap(c.path, st.CreateComponent(ctx, c.row)); err != nil {
			return err
		}
	}
	return nil
}

func writeUsers(ctx context.Context, st store.Store, realmID string, users []plannedUser) error {
	for _, u := range users {
		err := st.CreateUser(ctx, u.row)
		for _, c := range u.creds {
			if err != nil {
				break
			}
			err = st.CreateCredential(ctx, c)
		}
		if err == nil && len(u.roleIDs) > 0 {
			err = st.GrantUserRoles(ctx, realmID, u.row.ID, u.roleIDs)
		}
		for _, g := range u.groupIDs {
			if err != nil {
				break
			}
			err = st.AddUserToGroup(ctx, realmID, u.row.ID, g)
		}
		for _, f := range u.links {
			if err != nil {
				break
			}
			if err = st.AddFederatedIdentity(ctx, f); errors.Is(err, store.ErrConflict) {
				err = fmt.Errorf("identity provider %q account %q is linked to another user: %w", f.Alias, f.ExternalID, err)
			}
		}
		for _, c := range u.consents {
			if err != nil {
				break
			}
			err = st.PutConsent(ctx, c)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", u.path, err)
		}
	}
	return nil
}

// index resolves names to ids within one realm.
type index struct {
	realmID     string
	realmRoles  map[string]string            // name -> id
	clients     map[string]string            // clientId -> internal id
	clientRoles map[string]map[string]string // clientId -> role name -> id
	groups      map[string]string            // path -> id
	defaultRole string                       // id, "" if none
	saClients   map[string]string            // internal client id -> path of its service-account user
	idps        map[string]bool              // identity provider aliases
	scopes      map[string]string            // client scope name -> id
}

func newIndex(realmID string) *index {
	return &index{realmID: realmID, realmRoles: map[string]string{}, clients: map[string]string{},
		clientRoles: map[string]map[string]string{}, groups: map[string]string{}, saClients: map[string]string{},
		idps: map[string]bool{}, scopes: map[string]string{}}
}

// consents resolves a user's clientConsents (at path.clientConsents): each
// names a client of the realm once, and client scopes it has.
func (x *index) consents(path, userID string, in []UserConsent, now time.Time) ([]store.Consent, error) {
	var out []store.Consent
	seen := map[string]bool{}
	for i, c := range in {
		cp := fmt.Sprintf("%s.clientConsents[%d]", path, i)
		id, ok := x.clients[c.ClientID]
		switch {
		case !ok:
			return nil, fmt.Errorf("%s.clientId: unknown client %q", cp, c.ClientID)
		case seen[id]:
			return nil, fmt.Errorf("%s.clientId: a second consent to %q", cp, c.ClientID)
		}
		seen[id] = true
		row := store.Consent{RealmID: x.realmID, UserID: userID, ClientID: id, Created: now, Updated: now}
		if c.CreatedDate > 0 {
			row.Created = time.UnixMilli(c.CreatedDate)
		}
		if c.LastUpdatedDate > 0 {
			row.Updated = time.UnixMilli(c.LastUpdatedDate)
		}
		for j, n := range c.GrantedClientScopes {
			sid, ok := x.scopes[n]
			if !ok {
				return nil, fmt.Errorf("%s.grantedClientScopes[%d]: unknown client scope %q", cp, j, n)
			}
			row.Scopes = append(row.Scopes, sid)
		}
		out = append(out, row)
	}
	return out, nil
}

// roleIDs resolves realm role names and {clientId: names} to ids; the two
// lists sit at path.realmField and path.clientField.
func (x *index) roleIDs(path, realmField, clientField string, realm []string, client map[string][]string) ([]string, error) {
	var ids []string
	for i, n := range realm {
		id, ok := x.realmRoles[n]
		if !ok {
			return nil, fmt.Errorf("%s[%d]: unknown realm role %q", joinPath(path, realmField), i, n)
		}
		ids = append(ids, id)
	}
	for _, c := range sortedKeys(client) {
		cpath := keyPath(joinPath(path, clientField), c)
		roles, ok := x.clientRoles[c]
		if !ok {
			return nil, fmt.Errorf("%s: unknown client %q", cpath, c)
		}
		for i, n := range client[c] {
			id, ok := roles[n]
			if !ok {
				return nil, fmt.Errorf("%s[%d]: unknown role %q of client %q", cpath, i, n, c)
			}
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// group resolves a group path; like Keycloak it accepts a missing leading "/".
func (x *index) group(p string) (string, bool) {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	id, ok := x.groups[p]
	return id, ok
}

// planner lays out one realm's rows, checking names and references as it
// goes; each step may use what the earlier ones indexed.
type planner struct {
	r      *Realm
	prefix string // "" or "[i]" for an array element
	now    time.Time
	p      *plan
	x      *index
	ids    map[string]string // "kind id" -> path, for duplicate ids
	scopes map[string]string // client scope name -> path
}

// planRealm checks r (prepared by prepareRealm) and lays out its rows.
func planRealm(r *Realm, prefix string, now time.Time) (*plan, error) {
	row, err := RealmToStore(*r)
	if err != nil {
		return nil, err
	}
	row.Created = now
	pl := &planner{r: r, prefix: prefix, now: now, x: newIndex(r.ID), ids: map[string]string{}, scopes: map[string]string{}}
	pl.p = &plan{realm: item[store.Realm]{pl.at("realm"), row}}
	for _, step := range []func() error{pl.clientScopes, pl.clients, pl.roles, pl.groups, pl.references,
		pl.users, pl.serviceAccounts, pl.identityProviders, pl.components} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return pl.p, nil
}

func (pl *planner) at(format string, args ...any) string {
	return joinPath(pl.prefix, fmt.Sprintf(format, args...))
}

func (pl *planner) uniqueID(kind, id, path string) error {
	if prev, ok := pl.ids[kind+" "+id]; ok {
		return fmt.Errorf("%s.id: duplicate id %q (also %s)", path, id, prev)
	}
	pl.ids[kind+" "+id] = path
	return nil
}

func (pl *planner) clientScopes() error {
	for i, s := range pl.r.ClientScopes {
		path := pl.at("clientScopes[%d]", i)
		switch {
		case s.Name == "":
			return fmt.Errorf("%s.name: required", path)
		case pl.scopes[s.Name] != "":
			return fmt.Errorf("%s.name: duplicate client scope %q (also %s)", path, s.Name, pl.scopes[s.Name])
		}
		pl.scopes[s.Name] = path
		pl.x.scopes[s.Name] = s.ID
		if err := pl.uniqueID("scope", s.ID, path); err != nil {
			return err
		}
		if err := checkMappers(s.ProtocolMappers, path); err != nil {
			return err
		}
		row, err := ClientScopeToStore(pl.r.ID, s)
		if err != nil {
			return err
		}
		pl.p.scopes = append(pl.p.scopes, item[store.ClientScope]{path, row})
	}
	return nil
}

func (pl *planner) clients() error {
	seen := map[string]string{}
	for i, c := range pl.r.Clients {
		path := pl.at("clients[%d]", i)
		switch {
		case c.ClientID == "":
			return fmt.Errorf("%s.clientId: required", path)
		case seen[c.ClientID] != "":
			return fmt.Errorf("%s.clientId: duplicate clientId %q (also %s)", path, c.ClientID, seen[c.ClientID])
		}
		seen[c.ClientID] = path
		if err := pl.uniqueID("client", c.ID, path); err != nil {
			return err
		}
		if err := checkMappers(c.ProtocolMappers, path); err != nil {
			return err
		}
		row, err := ClientToStore(pl.r.ID, c)
		if err != nil {
			return err
		}
		row.Created = pl.now
		pl.p.clients = append(pl.p.clients, item[store.Client]{path, row})
		pl.x.clients[c.ClientID] = c.ID
		pl.x.clientRoles[c.ClientID] = map[string]string{}
	}
	return nil
}

// roles plans realm and client roles, then their composites (which may name
// any role of the realm).
func (pl *planner) roles() error {
	type ref struct {
		path string
		role Role
	}
	var all []ref
	add := func(path, clientID string, role Role, names map[string]string) error {
		switch {
		case role.Name == "":
			return fmt.Errorf("%s.name: required", path)
		case names[role.Name] != "":
			return fmt.Errorf("%s.name: duplicate role %q", path, role.Name)
		}
		if err := pl.uniqueID("role", role.ID, path); err != nil {
			return err
		}
		names[role.Name] = role.ID
		pl.p.roles = append(pl.p.roles, item[store.Role]{path, RoleToStore(pl.r.ID, clientID, role)})
		all = append(all, ref{path, role})
		return nil
	}
	for i, role := range pl.r.Roles.Realm {
		if err := add(pl.at("roles.realm[%d]", i), "", role, pl.x.realmRoles); err != nil {
			return err
		}
	}
	for _, c := range sortedKeys(pl.r.Roles.Client) {
		cpath := keyPath(pl.at("roles.client"), c)
		names, ok := pl.x.clientRoles[c]
		if !ok {
			return fmt.Errorf("%s: unknown client %q", cpath, c)
		}
		for i, role := range pl.r.Roles.Client[c] {
			if err := add(fmt.Sprintf("%s[%d]", cpath, i), pl.x.clients[c], role, names); err != nil {
				return err
			}
		}
	}
	for _, ref := range all {
		if ref.role.Composites == nil {
			continue
		}
		children, err := pl.x.roleIDs(joinPath(ref.path, "composites"), "realm", "client", ref.role.Composites.Realm, ref.role.Composites.Client)
		if err != nil {
			return err
		}
		if len(children) > 0 {
			pl.p.composites = append(pl.p.composites, grant{ref.path, ref.role.ID, children})
		}
	}
	pl.x.defaultRole = pl.x.realmRoles[pl.r.DefaultRole.Name]
	return nil
}

// groups plans the group tree parents first, then the groups' role
// mappings.
func (pl *planner) groups() error {
	var walk func(gs []Group, path, parentID, parentPath string) error
	walk = func(gs []Group, path, parentID, parentPath string) error {
		for i, g := range gs {
			gpath := fmt.Sprintf("%s[%d]", path, i)
			if g.Name == "" {
				return fmt.Errorf("%s.name: required", gpath)
			}
			full := GroupPath(parentPath, g.Name)
			if _, ok := pl.x.groups[full]; ok {
				return fmt.Errorf("%s.name: duplicate group %q", gpath, full)
			}
			if err := pl.uniqueID("group", g.ID, gpath); err != nil {
				return err
			}
			pl.x.groups[full] = g.ID
			pl.p.groups = append(pl.p.groups, item[store.Group]{gpath, GroupToStore(pl.r.ID, parentID, g)})
			roles, err := pl.x.roleIDs(gpath, "realmRoles", "clientRoles", g.RealmRoles, g.ClientRoles)
			if err != nil {
				return err
			}
			if len(roles) > 0 {
				pl.p.groupRoles = append(pl.p.groupRoles, grant{gpath, g.ID, roles})
			}
			if err := walk(g.SubGroups, joinPath(gpath, "subGroups"), g.ID, full); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(pl.r.Groups, pl.at("groups"), "", "")
}

// references checks what stays in the realm's settings by name: default
// groups and scope mappings.
func (pl *planner) references() error {
	for i, g := range pl.r.DefaultGroups {
		if _, ok := pl.x.group(g); !ok {
			return fmt.Errorf("%s[%d]: unknown group %q", pl.at("defaultGroups"), i, g)
		}
	}
	return checkScopeMappings(pl.r, pl.prefix, pl.x, pl.scopes)
}

func (pl *planner) users() (err error) {
	for _, p := range pl.r.IdentityProviders {
		pl.x.idps[p.Alias] = true
	}
	pl.p.users, pl.p.warnings, err = planUsers(pl.r.Users, pl.at("users"), pl.x, nil, pl.now)
	return err
}

// serviceAccounts adds the service-account user Keycloak would have created
// for each client with serviceAccountsEnabled that the file gives none.
func (pl *planner) serviceAccounts() error {
	taken := map[string]bool{}
	for _, u := range pl.p.users {
		taken[u.row.Username] = true
	}
	for i, c := range pl.r.Clients {
		if !boolOr(c.ServiceAccountsEnabled, false) || pl.x.saClients[c.ID] != "" {
			continue
		}
		path := pl.at("clients[%d]", i)
		u := plannedUser{path: path, row: store.User{ID: newID(), RealmID: pl.r.ID,
			Username: "service-account-" + strings.ToLower(c.ClientID), Enabled: true, Created: pl.now, ServiceAccount: c.ID}}
		if taken[u.row.Username] {
			return fmt.Errorf("%s: service-account username %q is taken by a user that is not this client's service account", path, u.row.Username)
		}
		if pl.x.defaultRole != "" {
			u.roleIDs = []string{pl.x.defaultRole}
		}
		pl.p.users = append(pl.p.users, u)
	}
	return nil
}

func (pl *planner) identityProviders() error {
	aliases := map[string]string{}
	providers := map[string]string{} // alias -> providerId
	for i, idp := range pl.r.IdentityProviders {
		path := pl.at("identityProviders[%d]", i)
		switch {
		case aliases[idp.Alias] != "":
			return fmt.Errorf("%s.alias: duplicate alias %q (also %s)", path, idp.Alias, aliases[idp.Alias])
		case idp.Alias == "":
			return fmt.Errorf("%s.alias: required", path)
		}
		NormalizeIdentityProvider(&idp)
		// An admin export's mask counts as a secret for validation (the
		// provider had one), and is then left unset.
		if err := ValidateIdentityProvider(idp); err != nil {
			return idpImportError(path, idp.Alias, "", err)
		}
		aliases[idp.Alias], providers[idp.Alias] = path, idp.ProviderID
		if w := IdentityProviderWarning(idp); w != "" {
			pl.p.warnings = append(pl.p.warnings, path+": "+w)
		}
		if idp.Config["clientSecret"] == SecretMask {
			delete(idp.Config, "clientSecret")
			pl.p.warnings = append(pl.p.warnings, fmt.Sprintf("%s: identity provider %q: clientSecret is masked in the file and left unset: set it before using the provider", path, idp.Alias))
		}
		row, err := IdentityProviderToStore(pl.r.ID, idp)
		if err != nil {
			return err
		}
		pl.p.idps = append(pl.p.idps, item[store.IdentityProvider]{path, row})
	}
	for i, m := range pl.r.IdentityProviderMappers {
		path := pl.at("identityProviderMappers[%d]", i)
		if aliases[m.IdentityProviderAlias] == "" {
			if m.Name == "" {
				return fmt.Errorf("%s.name: required", path)
			}
			return fmt.Errorf("%s.identityProviderAlias: unknown identity provider %q", path, m.IdentityProviderAlias)
		}
		NormalizeIdentityProviderMapper(&m)
		providerID := providers[m.IdentityProviderAlias]
		if err := ValidateIdentityProviderMapper(m, providerID); err != nil {
			return idpImportError(path, m.IdentityProviderAlias, m.Name, err)
		}
		if err := pl.uniqueID("idp-mapper", m.ID, path); err != nil {
			return err
		}
		if w := IdentityProviderMapperWarning(m, providerID); w != "" {
			pl.p.warnings = append(pl.p.warnings, path+": "+w)
		}
		pl.p.idpMappers = append(pl.p.idpMappers, item[store.IdentityProviderMapper]{path, IdentityProviderMapperToStore(pl.r.ID, m)})
	}
	return nil
}

// idpImportError names the JSON path of what an identity provider (or
// one of its mappers, named mapper) has wrong, and the provider's alias:
// `identityProviders[0].config.singleSignOnServiceUrl: identity provider
// "corp": required`.
func idpImportError(path, alias, mapper string, err error) error {
	var ie *IdPError
	if !errors.As(err, &ie) {
		return fmt.Errorf("%s: %w", path, err)
	}
	who := fmt.Sprintf("identity provider %q", alias)
	if mapper != "" {
		who += fmt.Sprintf(" mapper %q", mapper)
	}
	return fmt.Errorf("%s.%s: %s: %s", path, ie.Field, who, ie.Message)
}

// components plans the component tree parents first; top-level components
// hang under the realm, as in Keycloak. A masked secret (an export's
// "**********") is left unset; LDAP providers and their mappers get
// Keycloak's validation (see federation.go).
func (pl *planner) components() error {
	var walk func(m map[string][]ComponentExport, path string, parent *ComponentExport, parentID string) error
	walk = func(m map[string][]ComponentExport, path string, parent *ComponentExport, parentID string) error {
		for _, typ := range sortedKeys(m) {
			tpath := keyPath(path, typ)
			for i := range m[typ] {
				c := &m[typ][i]
				cpath := fmt.Sprintf("%s[%d]", tpath, i)
				if c.ProviderID == "" {
					return fmt.Errorf("%s.providerId: required", cpath)
				}
				if err := pl.uniqueID("component", c.ID, cpath); err != nil {
					return err
				}
				for k, v := range c.Config {
					if IsSecretConfigKey(k) && IsMasked(v) {
						delete(c.Config, k)
					}
				}
				if err := pl.checkComponent(typ, c, parent, cpath); err != nil {
					return err
				}
				pl.p.components = append(pl.p.components, item[store.Component]{cpath, store.Component{ID: c.ID, RealmID: pl.r.ID,
					ParentID: parentID, Name: c.Name, ProviderID: c.ProviderID, ProviderType: typ, SubType: c.SubType, Config: c.Config}})
				if err := walk(c.SubComponents, joinPath(cpath, "subComponents"), c, c.ID); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(pl.r.Components, pl.at("components"), nil, pl.r.ID)
}

// checkComponent validates an LDAP provider or one of its mappers as
// Keycloak's import does; other components are carried as they are.
func (pl *planner) checkComponent(typ string, c, parent *ComponentExport, path string) error {
	fail := func(err error) error {
		if ve, ok := err.(*ldap.ValidationError); ok {
			return fmt.Errorf("%s.config.%s: %s", path, ve.Field, ve.Message)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case typ == federation.UserStorageType && c.ProviderID == "ldap":
		if err := ValidateLDAPProvider(c.Config); err != nil {
			return fail(err)
		}
	case typ == federation.UserStorageType:
		pl.p.warnings = append(pl.p.warnings, fmt.Sprintf("%s.providerId: user storage provider %q is stored but keygate cannot use it", path, c.ProviderID))
	case typ == federation.LDAPMapperType && parent != nil && parent.ProviderID == "ldap":
		if !IsLDAPMapperType(c.ProviderID) {
			pl.p.warnings = append(pl.p.warnings, fmt.Sprintf("%s.providerId: unknown LDAP mapper %q is stored but not used", path, c.ProviderID))
			return nil
		}
		refs := MapperRefs{RoleExists: pl.x.roleString, GroupExists: func(p string) bool { _, ok := pl.x.group(p); return ok }}
		if err := ValidateLDAPMapper(c.ProviderID, c.Config, parent.Config, refs); err != nil {
			return fail(err)
		}
	}
	return nil
}

// roleString reports whether Keycloak's role string s ("role" or
// "clientId.role", a client id may hold dots) names a role of the realm.
func (x *index) roleString(s string) bool {
	if _, ok := x.realmRoles[s]; ok {
		return true
	}
	for i := range len(s) {
		if s[i] == '.' {
			if _, ok := x.clientRoles[s[:i]][s[i+1:]]; ok {
				return true
			}
		}
	}
	return false
}

// sealSecrets seals the secret config values of the planned components
// (an LDAP provider's bindCredential, a key provider's privateKey) and
// identity providers with seal.
func (p *plan) sealSecrets(seal func(string) (string, error)) error {
	if err := sealPlannedOTP(p.users, seal); err != nil {
		return err
	}
	for i, x := range p.idps {
		rp, err := IdentityProviderFromStore(x.row)
		if err != nil {
			return err
		}
		v := rp.Config["clientSecret"]
		if v == "" {
			continue
		}
		if rp.Config["clientSecret"], err = seal(v); err != nil {
			return fmt.Errorf("%s.config.clientSecret: %w", x.path, err)
		}
		row, err := IdentityProviderToStore(x.row.RealmID, rp)
		if err != nil {
			return err
		}
		row.InternalID = x.row.InternalID
		p.idps[i].row = row
	}
	for _, c := range p.components {
		for k, v := range c.row.Config {
			if !IsSecretConfigKey(k) || len(v) == 0 || v[0] == "" {
				continue
			}
			sealed, err := seal(v[0])
			if err != nil {
				return fmt.Errorf("%s.config.%s: %w", c.path, k, err)
			}
			c.row.Config[k] = append([]string{sealed}, v[1:]...)
		}
	}
	return nil
}

func checkMappers(ms []ProtocolMapper, path string) error {
	for i, m := range ms {
		mp := fmt.Sprintf("%s.protocolMappers[%d]", path, i)
		if m.Name == "" {
			return fmt.Errorf("%s.name: required", mp)
		}
		if m.ProtocolMapper == "" {
			return fmt.Errorf("%s.protocolMapper: required", mp)
		}
	}
	return nil
}

// checkScopeMappings checks that scope mappings name existing clients, client
// scopes and roles; they stay in the realm's settings, by name.
func checkScopeMappings(r *Realm, prefix string, x *index, scopes map[string]string) error {
	check := func(path string, m ScopeMapping, roles map[string]string, owner string) error {
		switch {
		case m.Client == "" && m.ClientScope == "":
			return fmt.Errorf("%s: needs client or clientScope", path)
		case m.Client != "" && x.clients[m.Client] == "":
			return fmt.Errorf("%s.client: unknown client %q", path, m.Client)
		case m.ClientScope != "" && scopes[m.ClientScope] == "":
			return fmt.Errorf("%s.clientScope: unknown client scope %q", path, m.ClientScope)
		}
		for i, n := range m.Roles {
			if _, ok := roles[n]; !ok {
				return fmt.Errorf("%s.roles[%d]: unknown role %q%s", path, i, n, owner)
			}
		}
		return nil
	}
	for i, m := range r.ScopeMappings {
		if err := check(fmt.Sprintf("%s[%d]", joinPath(prefix, "scopeMappings"), i), m, x.realmRoles, ""); err != nil {
			return err
		}
	}
	for _, c := range sortedKeys(r.ClientScopeMappings) {
		cpath := keyPath(joinPath(prefix, "clientScopeMappings"), c)
		roles, ok := x.clientRoles[c]
		if !ok {
			return fmt.Errorf("%s: unknown client %q", cpath, c)
		}
		for i, m := range r.ClientScopeMappings[c] {
			if err := check(fmt.Sprintf("%s[%d]", cpath, i), m, roles, fmt.Sprintf(" of client %q", c)); err != nil {
				return err
			}
		}
	}
	return nil
}

// planUsers checks users against x and lays out their rows. existing, when
// not nil, reports whether a user already exists in the store (users file):
// such users are returned in skipped instead.
func planUsers(users []User, path string, x *index, exists func(User) (bool, error), now time.Time) (planned []plannedUser, warnings []string, err error) {
	usernames, emails, userIDs := map[string]string{}, map[string]string{}, map[string]string{}
	for i, u := range users {
		up := fmt.Sprintf("%s[%d]", path, i)
		row := UserToStore(x.realmID, u)
		switch {
		case strings.TrimSpace(u.Username) == "":
			return nil, nil, fmt.Errorf("%s.username: required", up)
		case usernames[row.Username] != "":
			return nil, nil, fmt.Errorf("%s.username: duplicate username %q (also %s)", up, row.Username, usernames[row.Username])
		case row.Email != "" && emails[row.Email] != "":
			return nil, nil, fmt.Errorf("%s.email: duplicate email %q (also %s)", up, row.Email, emails[row.Email])
		case userIDs[row.ID] != "":
			return nil, nil, fmt.Errorf("%s.id: duplicate id %q (also %s)", up, row.ID, userIDs[row.ID])
		}
		usernames[row.Username], userIDs[row.ID] = up, up
		if row.Email != "" {
			emails[row.Email] = up
		}
		if exists != nil {
			skip, err := exists(u)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", up, err)
			}
			if skip {
				continue
			}
		}
		if row.Created.IsZero() {
			row.Created = now
		}
		if u.ServiceAccountClientID != "" {
			cid, ok := x.clients[u.ServiceAccountClientID]
			if !ok {
				return nil, nil, fmt.Errorf("%s.serviceAccountClientId: unknown client %q", up, u.ServiceAccountClientID)
			}
			if prev := x.saClients[cid]; prev != "" {
				return nil, nil, fmt.Errorf("%s.serviceAccountClientId: client %q already has a service account (%s)", up, u.ServiceAccountClientID, prev)
			}
			x.saClients[cid], row.ServiceAccount = up, cid
		}
		pu := plannedUser{path: up, row: row}
		if pu.roleIDs, err = x.roleIDs(up, "realmRoles", "clientRoles", u.RealmRoles, u.ClientRoles); err != nil {
			return nil, nil, err
		}
		for j, g := range u.Groups {
			id, ok := x.group(g)
			if !ok {
				return nil, nil, fmt.Errorf("%s.groups[%d]: unknown group %q", up, j, g)
			}
			pu.groupIDs = append(pu.groupIDs, id)
		}
		for _, c := range u.Credentials {
			pu.creds = append(pu.creds, CredentialToStore(row.ID, c))
		}
		seenIdP := map[string]bool{}
		for j, f := range u.FederatedIdentities {
			fp := fmt.Sprintf("%s.federatedIdentities[%d]", up, j)
			switch {
			case !x.idps[f.IdentityProvider]:
				return nil, nil, fmt.Errorf("%s.identityProvider: unknown identity provider %q", fp, f.IdentityProvider)
			case f.UserID == "":
				return nil, nil, fmt.Errorf("%s.userId: required", fp)
			case seenIdP[f.IdentityProvider]:
				return nil, nil, fmt.Errorf("%s.identityProvider: a second link to %q", fp, f.IdentityProvider)
			}
			seenIdP[f.IdentityProvider] = true
			pu.links = append(pu.links, store.FederatedIdentity{RealmID: x.realmID, UserID: row.ID, Alias: f.IdentityProvider,
				ExternalID: f.UserID, ExternalName: f.UserName})
		}
		if pu.consents, err = x.consents(up, row.ID, u.ClientConsents, now); err != nil {
			return nil, nil, err
		}
		planned = append(planned, pu)
	}
	return planned, warnings, nil
}

// importUsersFile adds a users file's users to an existing realm, resolving
// names against the store.
func importUsersFile(ctx context.Context, st store.Store, realm store.Realm, d *document, opts ImportOptions, res *ImportResult) error {
	x, err := loadIndex(ctx, st, realm)
	if err != nil {
		return err
	}
	skipped := 0
	exists := func(u User) (bool, error) {
		_, err := st.GetUserByUsername(ctx, realm.ID, u.Username)
		if errors.Is(err, store.ErrNotFound) && u.ID != "" {
			_, err = st.GetUser(ctx, realm.ID, u.ID)
		}
		switch {
		case errors.Is(err, store.ErrNotFound):
			return false, nil
		case err != nil:
			return false, err
		case opts.IfExists == IfExistsSkip:
			skipped++
			return true, nil
		}
		return false, fmt.Errorf("user %q already exists: %w", u.Username, store.ErrConflict)
	}
	for i := range d.realm.Users { // ids for users without one; prepare left them alone
		if d.realm.Users[i].ID == "" {
			d.realm.Users[i].ID = newID()
		}
		for j := range d.realm.Users[i].Credentials {
			if c := &d.realm.Users[i].Credentials[j]; c.ID == "" {
				c.ID = newID()
			}
		}
	}
	users, warnings, err := planUsers(d.realm.Users, joinPath(d.path, "users"), x, exists, time.Now().UTC())
	if err != nil {
		return err
	}
	if err := sealPlannedOTP(users, opts.SealSecret); err != nil {
		return err
	}
	if err := writeUsers(ctx, st, realm.ID, users); err != nil {
		return err
	}
	res.Users += len(users)
	res.SkippedUsers += skipped
	res.Warnings = append(res.Warnings, warnings...)
	return nil
}

// loadIndex reads the names of a stored realm's roles, clients, groups and
// service accounts.
func loadIndex(ctx context.Context, st store.Store, realm store.Realm) (*index, error) {
	_, s, err := DecodeRealm(realm)
	if err != nil {
		return nil, err
	}
	x := newIndex(realm.ID)
	clients, err := st.ListClients(ctx, realm.ID)
	if err != nil {
		return nil, err
	}
	byInternal := map[string]string{}
	for _, c := range clients {
		x.clients[c.ClientID], byInternal[c.ID] = c.ID, c.ClientID
		x.clientRoles[c.ClientID] = map[string]string{}
		if _, err := st.GetServiceAccountUser(ctx, realm.ID, c.ID); err == nil {
			x.saClients[c.ID] = "the store"
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	roles, err := st.ListAllRoles(ctx, realm.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range roles {
		if r.ClientID == "" {
			x.realmRoles[r.Name] = r.ID
		} else if c, ok := byInternal[r.ClientID]; ok {
			x.clientRoles[c][r.Name] = r.ID
		}
	}
	x.defaultRole = x.realmRoles[s.DefaultRole]
	idps, err := st.ListIdentityProviders(ctx, realm.ID)
	if err != nil {
		return nil, err
	}
	for _, p := range idps {
		x.idps[p.Alias] = true
	}
	groups, err := st.ListGroups(ctx, realm.ID)
	if err != nil {
		return nil, err
	}
	for id, path := range groupPaths(groups) {
		x.groups[path] = id
	}
	scopes, err := st.ListClientScopes(ctx, realm.ID)
	if err != nil {
		return nil, err
	}
	for _, sc := range scopes {
		x.scopes[sc.Name] = sc.ID
	}
	return x, nil
}

// groupPaths maps each group's id to its path.
func groupPaths(groups []store.Group) map[string]string {
	byID := make(map[string]store.Group, len(groups))
	for _, g := range groups {
		byID[g.ID] = g
	}
	paths := make(map[string]string, len(groups))
	var path func(g store.Group, depth int) string
	path = func(g store.Group, depth int) string {
		if p, ok := paths[g.ID]; ok {
			return p
		}
		parent, ok := byID[g.ParentID]
		p := GroupPath("", g.Name)
		if ok && depth < len(groups) { // depth bound: a corrupt cycle ends instead of recursing forever
			p = GroupPath(path(parent, depth+1), g.Name)
		}
		paths[g.ID] = p
		return p
	}
	for _, g := range groups {
		path(g, 0)
	}
	return paths
}

func newID() string { return uuid.NewString() }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
