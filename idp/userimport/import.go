package userimport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// OnConflict says what happens to a record whose username already exists in
// the realm.
type OnConflict string

const (
	// ConflictSkip leaves the existing user as it is.
	ConflictSkip OnConflict = "skip"
	// ConflictUpdate merges the record into the existing user (see Import).
	ConflictUpdate OnConflict = "update"
	// ConflictFail makes the record invalid.
	ConflictFail OnConflict = "fail"
)

// File is one input of an import.
type File struct {
	Name   string // for messages: "users.csv"
	Format Format // FormatAuto detects it
	R      io.Reader
}

// Options tune Import.
type Options struct {
	Realm       string // name of an existing realm
	OnConflict  OnConflict
	DryRun      bool // do everything, then roll back
	SkipInvalid bool // write the valid records and count the rest
	// BatchSize is how many records share one lookup and one multi-row
	// insert; 0 means 500.
	BatchSize int
	// MaxProblems bounds Result.Problems; 0 means 100.
	MaxProblems int
	// Progress, when set, is called after each batch with the totals so far.
	Progress func(Result)
	// SealSecret and RevealSecret (oidc.SecretSealer's, with the server's
	// --db-key) seal the secrets of Keycloak `otp` credentials at rest and
	// open the stored ones an update compares; nil keeps them in the clear.
	SealSecret, RevealSecret func(string) (string, error)
}

// Result counts what an import did (or, on a dry run, would have done).
type Result struct {
	Read                        int // records read, invalid ones included
	Created, Updated, Skipped   int
	Invalid                     int
	RolesCreated, GroupsCreated int
	Problems                    []string // "source: reason" of invalid records, the first MaxProblems
	Notes                       []string // records left out on purpose, with why
	DryRun                      bool
	Elapsed                     time.Duration
}

// ErrInvalid is wrapped by Import's error when records were invalid and
// Options.SkipInvalid was off; nothing was written.
var ErrInvalid = errors.New("invalid records")

var errDryRun = errors.New("dry run")

// Import reads every record of files and writes them to the realm in ONE
// transaction: a crash, a cancelled ctx, a store error or (unless
// SkipInvalid) a single invalid record leaves the store as it was. Invalid
// records are all reported (Result.Problems), not just the first.
//
// A record is invalid when its reader says so (a malformed hash, a bad CSV
// row), when its username or email breaks Keycloak's rules, repeats one
// earlier in the run, or clashes with a different existing user, or when it
// names a client role of a client the realm lacks. Realm roles, client
// roles of existing clients and groups that the records name are created
// when missing.
//
// New users get fresh time-ordered ids (Keycloak files keep theirs), their
// credentials as the file has them, the role and group mappings the file
// lists and, except for Keycloak files, the realm's default role.
//
// Existing users (same username): skip leaves them; fail makes the record
// invalid; update sets the names, email and flags the record has, merges
// attributes and required actions, adds its role and group mappings, and
// replaces the password only while the stored one is still a legacy hash
// (not yet re-hashed under the realm policy by a login or reset: that one is
// newer than any file). So re-running a file changes nothing, and such users
// count as skipped.
func Import(ctx context.Context, st store.Store, files []File, opts Options) (Result, error) {
	start := time.Now()
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.MaxProblems <= 0 {
		opts.MaxProblems = 100
	}
	switch opts.OnConflict {
	case "":
		opts.OnConflict = ConflictSkip
	case ConflictSkip, ConflictUpdate, ConflictFail:
	default:
		return Result{}, fmt.Errorf("on-conflict %q: want skip, update or fail", opts.OnConflict)
	}
	realm, err := st.GetRealmByName(ctx, opts.Realm)
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, fmt.Errorf("realm %q does not exist (create it first, e.g. with `keygate realm import`): %w", opts.Realm, err)
	}
	if err != nil {
		return Result{}, err
	}
	_, settings, err := rep.DecodeRealm(realm)
	if err != nil {
		return Result{}, err
	}
	policy, err := password.ParsePolicy(settings.PasswordPolicy)
	if err != nil {
		return Result{}, fmt.Errorf("realm %q: passwordPolicy: %w", opts.Realm, err)
	}
	// Readers first, outside the transaction: a file that cannot be parsed
	// at all fails before the store's writer is taken.
	readers := make([]Reader, len(files))
	for i, f := range files {
		if readers[i], err = NewReader(f.R, f.Name, f.Format, policy); err != nil {
			return Result{}, err
		}
	}
	im := &importer{st: st, opts: opts, realm: realm, policy: policy, now: time.Now().UTC(),
		usernames: map[string]uint32{}, emails: map[string]uint32{}, defaultRoleName: settings.DefaultRole}
	err = st.Tx(ctx, func(ctx context.Context) error {
		if err := im.loadIndex(ctx); err != nil {
			return err
		}
		for i, r := range readers {
			im.file = files[i].Name
			next, stop := prefetch(r)
			defer stop()
			for {
				rec, err := next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return err
				}
				if err := im.add(ctx, rec); err != nil {
					return err
				}
			}
		}
		if err := im.flush(ctx); err != nil {
			return err
		}
		switch {
		case im.failed:
			return ErrInvalid
		case opts.DryRun:
			return errDryRun
		}
		return nil
	})
	slices.SortStableFunc(im.problems, func(a, b problem) int { return a.seq - b.seq })
	for _, p := range im.problems {
		im.res.Problems = append(im.res.Problems, p.msg)
	}
	im.res.Elapsed = time.Since(start)
	im.res.DryRun = opts.DryRun
	switch {
	case errors.Is(err, errDryRun):
		return im.res, nil
	case errors.Is(err, ErrInvalid):
		return im.res, fmt.Errorf("%d invalid record(s); nothing was written: %w", im.res.Invalid, ErrInvalid)
	}
	return im.res, err
}

type importer struct {
	st     store.Store
	opts   Options
	realm  store.Realm
	policy password.Policy
	now    time.Time
	res    Result

	realmRoles      map[string]string            // name -> id
	clients         map[string]string            // clientId -> internal id
	clientRoles     map[string]map[string]string // clientId -> name -> id
	groups          map[string]string            // path -> id
	idps            map[string]bool              // identity provider aliases
	providers       map[string]map[string]string // user storage provider (component) id -> its users' LDAP_ID -> user id
	linked          map[[2]string]uint32         // (provider, LDAP_ID) of this run's linked records
	defaultRoleName string                       // from the realm's settings
	defaultRole     string                       // its id, "" when the realm has none
	emptyRealm      bool                         // no users when the transaction began: skip username and email lookups

	// This run's usernames and emails, lower-cased, for duplicates: a
	// million users must fit in memory, so the keys are copied out of the
	// reader's buffers and the values index a compact list of sources.
	usernames, emails map[string]uint32
	sources           sources
	file              string // name of the file being read
	batch             []Record
	problems          []problem
	failed            bool // an invalid record was seen and SkipInvalid is off: validate on, write no more
}

func (im *importer) loadIndex(ctx context.Context) error {
	rid := im.realm.ID
	im.realmRoles, im.clients, im.clientRoles, im.groups = map[string]string{}, map[string]string{}, map[string]map[string]string{}, map[string]string{}
	clients, err := im.st.ListClients(ctx, rid)
	if err != nil {
		return err
	}
	byInternal := map[string]string{}
	for _, c := range clients {
		im.clients[c.ClientID], byInternal[c.ID] = c.ID, c.ClientID
		im.clientRoles[c.ClientID] = map[string]string{}
	}
	roles, err := im.st.ListAllRoles(ctx, rid)
	if err != nil {
		return err
	}
	for _, r := range roles {
		if r.ClientID == "" {
			im.realmRoles[r.Name] = r.ID
		} else if c, ok := byInternal[r.ClientID]; ok {
			im.clientRoles[c][r.Name] = r.ID
		}
	}
	im.defaultRole = im.realmRoles[im.defaultRoleName]
	idps, err := im.st.ListIdentityProviders(ctx, rid)
	if err != nil {
		return err
	}
	im.idps = map[string]bool{}
	for _, p := range idps {
		im.idps[p.Alias] = true
	}
	comps, err := im.st.ListComponents(ctx, rid, "", federation.UserStorageType)
	if err != nil {
		return err
	}
	im.providers, im.linked = map[string]map[string]string{}, map[[2]string]uint32{}
	for _, c := range comps {
		if c.ParentID == "" || c.ParentID == rid {
			// Read once: which entries are linked already (one query per
			// provider, not one per record).
			if im.providers[c.ID], err = im.st.ListFederationIDs(ctx, rid, c.ID); err != nil {
				return err
			}
		}
	}
	n, err := im.st.CountUsers(ctx, rid, store.UserQuery{IncludeServiceAccounts: true, Max: 1})
	if err != nil {
		return err
	}
	im.emptyRealm = n == 0
	groups, err := im.st.ListGroups(ctx, rid)
	if err != nil {
		return err
	}
	byID := map[string]store.Group{}
	for _, g := range groups {
		byID[g.ID] = g
	}
	for _, g := range groups {
		path := rep.GroupPath("", g.Name)
		for p, depth := byID[g.ParentID], 0; p.ID != "" && depth < len(groups); p, depth = byID[p.ParentID], depth+1 {
			path = rep.GroupPath("", p.Name) + path
		}
		im.groups[path] = g.ID
	}
	return nil
}

func (im *importer) invalid(rec Record, err error) {
	im.res.Invalid++
	if !im.opts.SkipInvalid {
		im.failed = true
	}
	if len(im.problems) < im.opts.MaxProblems {
		im.problems = append(im.problems, problem{rec.seq, rec.Source + ": " + err.Error()})
	}
}

// problem is an invalid record's message and its place in the run, so the
// list reads in file order although batch checks report later.
type problem struct {
	seq int
	msg string
}

// add checks what a record can be checked for alone and queues it.
func (im *importer) add(ctx context.Context, rec Record) error {
	im.res.Read++
	rec.seq = im.res.Read
	if rec.Skip != "" {
		im.res.Skipped++
		if len(im.res.Notes) < im.opts.MaxProblems {
			im.res.Notes = append(im.res.Notes, fmt.Sprintf("%s: %s: %s", rec.Source, rec.Username, rec.Skip))
		}
		return nil
	}
	if rec.Err == nil {
		rec.Err = errors.Join(checkUsername(rec.Username), checkEmail(rec.Email))
	}
	name, email := strings.ToLower(rec.Username), strings.ToLower(rec.Email)
	if rec.Err == nil {
		if prev, dup := im.usernames[name]; dup {
			rec.Err = fmt.Errorf("username %q: duplicate of %s", rec.Username, im.sources.get(prev))
		} else if prev, dup := im.emails[email]; dup && email != "" {
			rec.Err = fmt.Errorf("email %q: duplicate of %s", rec.Email, im.sources.get(prev))
		}
	}
	link := im.link(rec)
	if rec.Err == nil && link[0] != "" {
		if prev, dup := im.linked[link]; dup {
			rec.Err = fmt.Errorf("LDAP_ID %q: duplicate of %s", link[1], im.sources.get(prev))
		}
	}
	if rec.Err != nil {
		im.invalid(rec, rec.Err)
		return nil
	}
	at := im.sources.add(im.file, rec.Source)
	if link[0] != "" {
		im.linked[[2]string{strings.Clone(link[0]), strings.Clone(link[1])}] = at
	}
	im.usernames[strings.Clone(name)] = at
	if email != "" {
		im.emails[strings.Clone(email)] = at
	}
	im.batch = append(im.batch, rec)
	if len(im.batch) >= im.opts.BatchSize {
		return im.flush(ctx)
	}
	return nil
}

// flush meets the queued records with the store: one lookup for the batch,
// conflicts decided, roles and groups resolved, one bulk insert.
func (im *importer) flush(ctx context.Context) error {
	recs := im.batch
	im.batch = im.batch[:0]
	if len(recs) == 0 {
		return nil
	}
	var names, emails, ids []string
	for _, r := range recs {
		names, emails = append(names, r.Username), append(emails, r.Email)
		if r.ID != "" {
			ids = append(ids, r.ID)
		}
	}
	if im.emptyRealm {
		// Nobody to clash with but this run's records, which add has
		// checked against each other; the store's unique indexes still
		// guard against a writer racing the import.
		names, emails = nil, nil
	}
	var found []store.User
	if len(names)+len(emails)+len(ids) > 0 {
		var err error
		if found, err = im.st.LookupUsers(ctx, im.realm.ID, names, emails, ids); err != nil {
			return err
		}
	}
	byName, byEmail, byID := map[string]store.User{}, map[string]store.User{}, map[string]store.User{}
	for _, u := range found {
		byID[u.ID] = u
		if u.RealmID == im.realm.ID {
			byName[u.Username] = u
			if u.Email != "" {
				byEmail[u.Email] = u
			}
		}
	}
	var creates []store.NewUser
	for _, r := range recs {
		old, exists := byName[strings.ToLower(r.Username)]
		if exists && im.opts.OnConflict == ConflictSkip {
			im.res.Skipped++
			continue
		}
		if err := im.clash(ctx, r, old, exists, byEmail, byID); err != nil {
			if errors.Is(err, errStore) {
				return err
			}
			im.invalid(r, err)
			continue
		}
		roleIDs, groupIDs, err := im.resolve(ctx, r)
		if err != nil {
			if errors.Is(err, errStore) {
				return err
			}
			im.invalid(r, err)
			continue
		}
		if exists {
			changed := false
			if !im.failed {
				if changed, err = im.update(ctx, old, r, roleIDs, groupIDs); err != nil {
					return fmt.Errorf("%s: %w", r.Source, err)
				}
			}
			if changed {
				im.res.Updated++
			} else {
				im.res.Skipped++
			}
			continue
		}
		if err := rep.SealOTPSecrets(r.Credentials, im.opts.SealSecret); err != nil {
			return fmt.Errorf("%s: %w", r.Source, err)
		}
		creates = append(creates, im.newUser(r, roleIDs, groupIDs))
	}
	if !im.failed {
		if err := im.st.CreateUsers(ctx, creates); err != nil {
			return err
		}
	}
	im.res.Created += len(creates)
	if im.opts.Progress != nil {
		im.opts.Progress(im.res)
	}
	return nil
}

// clash says why r cannot become (or update) a user given what the store
// holds.
func (im *importer) clash(ctx context.Context, r Record, old store.User, exists bool, byEmail, byID map[string]store.User) error {
	if exists && im.opts.OnConflict == ConflictFail {
		return fmt.Errorf("user %q already exists (--on-conflict fail)", r.Username)
	}
	if o, ok := byEmail[strings.ToLower(r.Email)]; ok && r.Email != "" && (!exists || o.ID != old.ID) {
		return fmt.Errorf("email %q belongs to existing user %q", r.Email, o.Username)
	}
	if link := im.link(r); link[0] != "" && !exists {
		if id, linked := im.providers[link[0]][link[1]]; linked {
			name := id
			if o, err := im.st.GetUser(ctx, im.realm.ID, id); err == nil {
				name = o.Username
			} else if !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: %w", errStore, err)
			}
			return fmt.Errorf("LDAP_ID %q is linked to existing user %q", link[1], name)
		}
	}
	if o, ok := byID[r.ID]; ok && r.ID != "" && !exists {
		if o.RealmID != im.realm.ID {
			return fmt.Errorf("id %q is taken by a user of another realm", r.ID)
		}
		return fmt.Errorf("id %q is taken by existing user %q", r.ID, o.Username)
	}
	return nil
}

// errStore marks resolve's store failures, which end the import, apart from
// a record's bad references, which make it invalid.
var errStore = errors.New("store")

// resolve maps r's role names and group paths to ids, creating missing realm
// roles, client roles (of existing clients) and groups. Once the run has
// failed it only validates.
func (im *importer) resolve(ctx context.Context, r Record) (roleIDs, groupIDs []string, err error) {
	rid := im.realm.ID
	role := func(names map[string]string, clientID, name string) error {
		if id, ok := names[name]; ok {
			roleIDs = append(roleIDs, id)
			return nil
		}
		if im.failed {
			return nil
		}
		ro := store.Role{ID: uuid.NewString(), RealmID: rid, ClientID: clientID, Name: name}
		if err := im.st.CreateRole(ctx, ro); err != nil {
			return fmt.Errorf("%w: %w", errStore, err)
		}
		names[name] = ro.ID
		im.res.RolesCreated++
		roleIDs = append(roleIDs, ro.ID)
		return nil
	}
	if r.DefaultRole && im.defaultRole != "" {
		roleIDs = append(roleIDs, im.defaultRole)
	}
	for _, n := range r.RealmRoles {
		if strings.TrimSpace(n) == "" {
			return nil, nil, errors.New("realm role with an empty name")
		}
		if err := role(im.realmRoles, "", n); err != nil {
			return nil, nil, err
		}
	}
	for _, c := range slices.Sorted(maps.Keys(r.ClientRoles)) {
		names, ok := im.clientRoles[c]
		if !ok {
			return nil, nil, fmt.Errorf("clientRoles.%s: the realm has no client %q", c, c)
		}
		for _, n := range r.ClientRoles[c] {
			if strings.TrimSpace(n) == "" {
				return nil, nil, fmt.Errorf("clientRoles.%s: a role with an empty name", c)
			}
			if err := role(names, im.clients[c], n); err != nil {
				return nil, nil, err
			}
		}
	}
	for _, p := range r.Groups {
		id, err := im.group(ctx, p)
		if err != nil {
			return nil, nil, err
		}
		if id != "" {
			groupIDs = append(groupIDs, id)
		}
	}
	seen := map[string]bool{}
	for _, f := range r.FederatedIdentities {
		switch {
		case !im.idps[f.Alias]:
			return nil, nil, fmt.Errorf("federatedIdentities: the realm has no identity provider %q", f.Alias)
		case f.ExternalID == "":
			return nil, nil, fmt.Errorf("federatedIdentities: the link to %q has no userId", f.Alias)
		case seen[f.Alias]:
			return nil, nil, fmt.Errorf("federatedIdentities: two links to %q", f.Alias)
		}
		seen[f.Alias] = true
	}
	return roleIDs, groupIDs, nil
}

// group returns the id of the group at path, creating it and its missing
// ancestors. Paths are Keycloak's: "/parent/child", "~/" for a "/" inside a
// name; a missing leading "/" is tolerated as old exports omit it.
func (im *importer) group(ctx context.Context, path string) (string, error) {
	names := splitGroupPath(path)
	if len(names) == 0 {
		return "", fmt.Errorf("group %q: empty path", path)
	}
	parentID, full := "", ""
	for _, n := range names {
		if strings.TrimSpace(n) == "" {
			return "", fmt.Errorf("group %q: empty name in path", path)
		}
		full = rep.GroupPath(full, n)
		id, ok := im.groups[full]
		if !ok {
			if im.failed {
				return "", nil
			}
			g := store.Group{ID: uuid.NewString(), RealmID: im.realm.ID, ParentID: parentID, Name: n}
			if err := im.st.CreateGroup(ctx, g); err != nil {
				return "", fmt.Errorf("%w: %w", errStore, err)
			}
			id, im.groups[full] = g.ID, g.ID
			im.res.GroupsCreated++
		}
		parentID = id
	}
	return parentID, nil
}

func splitGroupPath(p string) []string {
	p = strings.TrimPrefix(strings.TrimSpace(p), "/")
	var names []string
	var cur strings.Builder
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '~' && i+1 < len(p) && p[i+1] == '/':
			cur.WriteByte('/')
			i++
		case p[i] == '/':
			names = append(names, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(p[i])
		}
	}
	if p != "" {
		names = append(names, cur.String())
	}
	return names
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// newUser lays out the rows of a new user. Ids are UUIDv7: time-ordered,
// so a million inserts append to the primary-key B-trees instead of
// scattering across them.
func (im *importer) newUser(r Record, roleIDs, groupIDs []string) store.NewUser {
	u := store.User{ID: r.ID, RealmID: im.realm.ID, Username: r.Username, Email: r.Email, FirstName: r.FirstName,
		LastName: r.LastName, Enabled: boolOr(r.Enabled, true), EmailVerified: boolOr(r.EmailVerified, false),
		Created: r.Created, Attributes: r.Attributes, RequiredActions: r.RequiredActions}
	if link := im.link(r); link[0] != "" {
		u.FederationLink, u.FederationID = link[0], link[1]
	}
	if u.ID == "" {
		u.ID = newID()
	}
	if u.Created.IsZero() {
		u.Created = im.now
	}
	creds := make([]store.Credential, len(r.Credentials))
	for i, c := range r.Credentials {
		c.ID, c.UserID = newID(), u.ID
		if c.Created.IsZero() {
			c.Created = im.now
		}
		creds[i] = c
	}
	return store.NewUser{User: u, Credentials: creds, RoleIDs: roleIDs, GroupIDs: groupIDs, FederatedIdentities: r.FederatedIdentities}
}

// link is the (provider, LDAP_ID) a new user from r is linked to: a
// Keycloak export's federationLink kept when the realm has that user
// storage provider and the record its LDAP_ID, as realm import keeps it;
// zero otherwise (the user is local, as before).
func (im *importer) link(r Record) [2]string {
	ext := ""
	if v := r.Attributes[federation.AttrExternalID]; len(v) > 0 {
		ext = v[0]
	}
	if _, ok := im.providers[r.FederationLink]; r.FederationLink == "" || ext == "" || !ok {
		return [2]string{}
	}
	return [2]string{r.FederationLink, ext}
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// update merges r into the existing user old; see Import for the rules.
func (im *importer) update(ctx context.Context, old store.User, r Record, roleIDs, groupIDs []string) (changed bool, err error) {
	rid := im.realm.ID
	u := old
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&u.Email, strings.ToLower(r.Email))
	set(&u.FirstName, r.FirstName)
	set(&u.LastName, r.LastName)
	u.Enabled, u.EmailVerified = boolOr(r.Enabled, u.Enabled), boolOr(r.EmailVerified, u.EmailVerified)
	if len(r.Attributes) > 0 {
		u.Attributes = maps.Clone(u.Attributes)
		if u.Attributes == nil {
			u.Attributes = map[string][]string{}
		}
		for k, v := range r.Attributes {
			if k == federation.AttrExternalID || k == federation.AttrEntryDN {
				// The link to a directory entry is the provider's: a file
				// re-pointing it would hand this user (roles, credentials)
				// to another entry's owner at the next login.
				continue
			}
			u.Attributes[k] = v
		}
	}
	for _, a := range r.RequiredActions {
		if !slices.Contains(u.RequiredActions, a) {
			u.RequiredActions = append(slices.Clip(u.RequiredActions), a)
		}
	}
	if !reflect.DeepEqual(u, old) {
		if err := im.st.UpdateUser(ctx, u); err != nil {
			return false, err
		}
		changed = true
	}
	have, err := im.st.ListUserRoles(ctx, rid, old.ID)
	if err != nil {
		return false, err
	}
	if add := missing(roleIDs, have, func(r store.Role) string { return r.ID }); len(add) > 0 {
		if err := im.st.GrantUserRoles(ctx, rid, old.ID, add); err != nil {
			return false, err
		}
		changed = true
	}
	in, err := im.st.ListUserGroups(ctx, rid, old.ID)
	if err != nil {
		return false, err
	}
	for _, g := range missing(groupIDs, in, func(g store.Group) string { return g.ID }) {
		if err := im.st.AddUserToGroup(ctx, rid, old.ID, g); err != nil {
			return false, err
		}
		changed = true
	}
	links, err := im.st.ListFederatedIdentities(ctx, rid, old.ID)
	if err != nil {
		return false, err
	}
	for _, f := range r.FederatedIdentities {
		if slices.ContainsFunc(links, func(l store.FederatedIdentity) bool { return l.Alias == f.Alias }) {
			continue // an existing link is the user's; the file does not move it
		}
		f.RealmID, f.UserID = rid, old.ID
		if err := im.st.AddFederatedIdentity(ctx, f); err != nil {
			return false, fmt.Errorf("link to %s: %w", f.Alias, err)
		}
		changed = true
	}
	credChanged, err := im.updatePassword(ctx, old.ID, r)
	if err != nil {
		return false, err
	}
	otpChanged, err := im.addOTP(ctx, old.ID, r)
	return changed || credChanged || otpChanged, err
}

// updatePassword replaces the stored password with the record's unless they
// are the same or the stored one is already under the realm policy.
func (im *importer) updatePassword(ctx context.Context, userID string, r Record) (bool, error) {
	i := slices.IndexFunc(r.Credentials, func(c store.Credential) bool { return c.Type == "password" })
	if i < 0 {
		return false, nil
	}
	want := r.Credentials[i]
	creds, err := im.st.ListCredentials(ctx, userID)
	if err != nil {
		return false, err
	}
	var stored []store.Credential
	for _, c := range creds {
		if c.Type == "password" {
			if c.SecretData == want.SecretData && c.CredentialData == want.CredentialData {
				return false, nil
			}
			stored = append(stored, c)
		}
	}
	if len(stored) > 0 {
		if pc, err := password.FromKeycloak(stored[0].SecretData, stored[0].CredentialData); err == nil && !pc.NeedsRehash(im.policy) {
			return false, nil // keygate wrote it after the file's hash: keep the newer one
		}
	}
	want.ID = newID()
	if want.Created.IsZero() {
		want.Created = im.now
	}
	return true, im.st.SetPassword(ctx, userID, want)
}

func missing[T any](want []string, have []T, id func(T) string) []string {
	var out []string
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h T) bool { return id(h) == w }) && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// sources keeps the Source of every accepted record in little memory:
// Sources start with their file's name, so only the rest (":12",
// ": users[3]") is stored, end to end in one byte slice.
type sources struct {
	files  []string // file names, in order
	starts []uint32 // index of each file's first source
	text   []byte
	ends   []uint32 // end of each source in text
}

func (s *sources) add(file, source string) uint32 {
	if n := len(s.files); n == 0 || s.files[n-1] != file {
		s.files, s.starts = append(s.files, file), append(s.starts, uint32(len(s.ends)))
	}
	s.text = append(s.text, strings.TrimPrefix(source, file)...)
	s.ends = append(s.ends, uint32(len(s.text)))
	return uint32(len(s.ends) - 1)
}

func (s *sources) get(i uint32) string {
	f := sort.Search(len(s.starts), func(j int) bool { return s.starts[j] > i }) - 1
	start := uint32(0)
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.files[f] + string(s.text[start:s.ends[i]])
}

// prefetch reads r in a goroutine of its own, a batch ahead, so that parsing
// overlaps writing (on two cores, a fifth off a million-user import). stop
// releases the goroutine when the caller quits early.
func prefetch(r Reader) (next func() (Record, error), stop func()) {
	type item struct {
		rec Record
		err error
	}
	ch, done := make(chan item, 1024), make(chan struct{})
	go func() {
		defer close(ch)
		for {
			rec, err := r.Next()
			select {
			case ch <- item{rec, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var once sync.Once
	return func() (Record, error) {
			it, ok := <-ch
			if !ok {
				return Record{}, io.EOF
			}
			return it.rec, it.err
		}, func() {
			once.Do(func() { close(done) })
		}
}
