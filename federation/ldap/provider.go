package ldap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/store"
)

// directory is what the provider needs from its transport (*Client).
type directory interface {
	Search(ctx context.Context, req *goldap.SearchRequest) (*goldap.SearchResult, error)
	SearchPaged(ctx context.Context, req *goldap.SearchRequest, pageSize uint32, fn func([]*goldap.Entry) error) error
	Authenticate(ctx context.Context, dn, password string) (bool, error)
	Close() error
}

// How the entry id attribute is encoded.
type guidKind int

const (
	guidString     guidKind = iota // entryUUID, nsuniqueid, ...: a string
	guidAD                         // objectGUID: 16 bytes, Microsoft's layout
	guidEDirectory                 // eDirectory's guid: 16 bytes in order
)

// defaultSearchMax bounds an admin search that asks for no maximum.
const defaultSearchMax = 100

// Provider is Keycloak's "ldap" user storage provider: users looked up
// and loaded from a directory, described by the provider's mappers,
// passwords checked by binding as the user.
type Provider struct {
	cfg     Config
	name    string
	log     *slog.Logger
	dir     directory
	mappers *mapperSet
	attrs   []string // what every user search asks for
	guid    guidKind
}

var (
	_ federation.UserStorage  = (*Provider)(nil)
	_ federation.Searcher     = (*Provider)(nil)
	_ federation.Syncer       = (*Provider)(nil)
	_ federation.MapperSyncer = (*Provider)(nil)
	_ federation.Factory      = Open
)

// Open is the federation.Factory of providerId "ldap": it parses the
// component's configuration (revealing a sealed bindCredential) and its
// mappers, and makes a client. It does no I/O.
func Open(_ context.Context, env federation.Env, c store.Component, mappers []store.Component) (federation.UserStorage, error) {
	raw := maps.Clone(c.Config)
	if v := first(raw["bindCredential"]); v != "" && env.Reveal != nil {
		s, err := env.Reveal(v)
		if err != nil {
			return nil, fmt.Errorf("bindCredential cannot be revealed: %w", err)
		}
		raw["bindCredential"] = []string{s}
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		return nil, err
	}
	cfg.Name = c.Name
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	client := NewClient(cfg, env)
	p, err := newProvider(cfg, log, client, mappers)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	if len(p.mappers.stored) > 0 {
		// The provider's own unimplemented keys are named by the server
		// when it loads the realm (Unimplemented).
		log.Info("LDAP mappers kept but not applied by keygate", "provider", c.Name, "mappers", p.mappers.stored)
	}
	return p, nil
}

// newProvider builds a provider over dir.
func newProvider(cfg Config, log *slog.Logger, dir directory, mappers []store.Component) (*Provider, error) {
	for key, a := range map[string]string{"usernameLDAPAttribute": cfg.UsernameAttribute, "uuidLDAPAttribute": cfg.UUIDAttribute} {
		if err := checkAttr(key, a); err != nil {
			return nil, err
		}
	}
	if err := validFilter(customFilter(cfg.CustomUserSearchFilter)); err != nil {
		return nil, fmt.Errorf("customUserSearchFilter: %w", err)
	}
	p := &Provider{cfg: cfg, name: cfg.Name, log: log, dir: dir}
	switch {
	case strings.EqualFold(cfg.UUIDAttribute, "objectGUID"):
		p.guid = guidAD
	case cfg.Vendor == "edirectory" && strings.EqualFold(cfg.UUIDAttribute, "guid"):
		p.guid = guidEDirectory
	}
	var err error
	if p.mappers, err = parseMappers(&p.cfg, dir, log, mappers); err != nil {
		return nil, err
	}
	if err := checkAttr("email mapper ldap.attribute", p.mappers.emailAt); err != nil {
		return nil, err
	}
	for _, a := range append([]string{cfg.UsernameAttribute, cfg.UUIDAttribute}, p.mappers.attributes()...) {
		if !slices.ContainsFunc(p.attrs, func(x string) bool { return strings.EqualFold(x, a) }) {
			p.attrs = append(p.attrs, a)
		}
	}
	return p, nil
}

// userSearch is a search for users under usersDn with the configured
// scope, asking for what the mappers read.
func (p *Provider) userSearch(filter string, sizeLimit int) *goldap.SearchRequest {
	return &goldap.SearchRequest{BaseDN: p.cfg.UsersDN, Scope: p.cfg.SearchScope, DerefAliases: goldap.NeverDerefAliases,
		SizeLimit: sizeLimit, Filter: filter, Attributes: p.attrs}
}

// unavailable is err as a failure of the directory: a search base that
// does not exist is misconfiguration, never "no such user".
func (p *Provider) unavailable(what string, err error) error {
	if errors.Is(err, federation.ErrUnavailable) {
		return fmt.Errorf("%s: %s: %w", p.name, what, err)
	}
	return fmt.Errorf("%w: %s: %s: %w", federation.ErrUnavailable, p.name, what, err)
}

// LookupUser finds the entry whose username attribute (or, byEmail, the
// attribute the email mapper reads) is name.
func (p *Provider) LookupUser(ctx context.Context, name string, byEmail bool) (federation.Identity, error) {
	if name == "" {
		return federation.Identity{}, federation.ErrNotFound
	}
	attr := p.cfg.UsernameAttribute
	if byEmail {
		attr = p.mappers.emailAt
	}
	// Two entries are enough to know the name is ambiguous.
	res, err := p.dir.Search(ctx, p.userSearch(userFilter(&p.cfg, eq(attr, name)), 2))
	if err != nil {
		return federation.Identity{}, p.unavailable("lookup", err)
	}
	return p.one(ctx, res, fmt.Sprintf("%s=%q", attr, name))
}

// LoadUser finds the entry with the immutable id externalID, wherever it
// has moved or however it was renamed.
func (p *Provider) LoadUser(ctx context.Context, externalID string) (federation.Identity, error) {
	f, err := p.idFilter(externalID)
	if err != nil {
		// Not an id this provider hands out: the configuration changed
		// under the user, which says nothing about the entry.
		return federation.Identity{}, p.unavailable("load", err)
	}
	res, err := p.dir.Search(ctx, p.userSearch(userFilter(&p.cfg, f), 2))
	if err != nil {
		return federation.Identity{}, p.unavailable("load", err)
	}
	id, err := p.one(ctx, res, fmt.Sprintf("%s=%s", p.cfg.UUIDAttribute, externalID))
	if err == nil && !strings.EqualFold(id.ExternalID, externalID) {
		// Keycloak's loadAndValidateUser: an entry answering for another
		// id is not this user.
		return federation.Identity{}, fmt.Errorf("%w: %s answers for %s", federation.ErrNotFound, id.DN, id.ExternalID)
	}
	return id, err
}

// one turns a search for one user into its identity.
func (p *Provider) one(ctx context.Context, res *goldap.SearchResult, what string) (federation.Identity, error) {
	switch n := len(res.Entries); {
	case n == 0:
		return federation.Identity{}, federation.ErrNotFound
	case n > 1:
		return federation.Identity{}, fmt.Errorf("%w: %s: %s matches %s and %s", federation.ErrAmbiguous, p.name, what,
			res.Entries[0].DN, res.Entries[1].DN)
	}
	e := res.Entries[0]
	id, err := p.identity(e)
	if err != nil {
		return federation.Identity{}, p.unavailable(what, err)
	}
	if err := p.withGrants(ctx, e, &id); err != nil {
		return federation.Identity{}, p.unavailable(what, err)
	}
	return id, nil
}

// CheckPassword binds as the user's entry. An empty password never
// reaches the directory (a simple bind with one is anonymous, and
// succeeds).
func (p *Provider) CheckPassword(ctx context.Context, id federation.Identity, password string) (bool, error) {
	if password == "" {
		return false, nil
	}
	if id.DN == "" {
		return false, p.unavailable("bind", errors.New("the user has no entry DN"))
	}
	return p.dir.Authenticate(ctx, id.DN, password)
}

// SearchUsers is Keycloak's admin search in the directory: every word of
// query must match the username, email, first or last name attribute;
// a quoted word matches exactly, any other is a prefix ("*" inside is a
// wildcard). At most max users (defaultSearchMax when max <= 0).
func (p *Provider) SearchUsers(ctx context.Context, query string, max int) ([]federation.Identity, error) {
	if max <= 0 {
		max = defaultSearchMax
	}
	attrs := []string{p.cfg.UsernameAttribute, p.mappers.emailAt}
	for _, a := range p.mappers.names {
		if !slices.ContainsFunc(attrs, func(x string) bool { return strings.EqualFold(x, a) }) {
			attrs = append(attrs, a)
		}
	}
	terms := strings.Fields(query)
	if len(terms) == 0 {
		terms = []string{"*"}
	}
	var conds []string
	for _, t := range terms {
		exact := len(t) >= 2 && strings.HasPrefix(t, `"`) && strings.HasSuffix(t, `"`)
		if exact {
			t = t[1 : len(t)-1]
		} else if !strings.HasSuffix(t, "*") {
			t += "*"
		}
		var any []string
		for _, a := range attrs {
			if exact {
				any = append(any, eq(a, t))
			} else {
				any = append(any, substring(a, t))
			}
		}
		conds = append(conds, or(any...))
	}
	res, err := p.dir.Search(ctx, p.userSearch(userFilter(&p.cfg, conds...), max))
	if err != nil {
		return nil, p.unavailable("search", err)
	}
	entries := res.Entries
	if len(entries) > max {
		entries = entries[:max]
	}
	ids, err := p.identities(ctx, entries, false)
	if err != nil {
		return nil, p.unavailable("search", err)
	}
	return ids, nil
}

// SyncUsers reads every user (since zero) or those created or modified
// since a time (Keycloak's changed-users sync), in pages of
// batchSizeForSync, and hands each page to page. Membership mappers
// forget what they cached first, so a sync sees the directory as it is.
// An entry that cannot be a user is in its page with what could be read
// of it (see identities). A listing the directory cut short is an error,
// never a page: a full sync takes the users it did not see for gone. An
// error from page stops the sync and is returned as it is.
func (p *Provider) SyncUsers(ctx context.Context, since time.Time, page func([]federation.Identity) error) error {
	for _, m := range p.mappers.grant {
		m.refresh()
	}
	var conds []string
	if !since.IsZero() {
		conds = append(conds, changedSince(since))
	}
	req := p.userSearch(userFilter(&p.cfg, conds...), 0)
	batch := max(p.cfg.BatchSizeForSync, 1)
	var pageErr error
	deliver := func(entries []*goldap.Entry) error {
		// Without paging the directory sends everything at once; pages
		// stay batchSizeForSync users either way.
		for chunk := range slices.Chunk(entries, batch) {
			ids, err := p.identities(ctx, chunk, true)
			if err != nil {
				return err
			}
			if err := page(ids); err != nil {
				pageErr = err
				return err
			}
		}
		return nil
	}
	var err error
	if p.cfg.Pagination {
		err = p.dir.SearchPaged(ctx, req, uint32(batch), deliver)
	} else {
		var res *goldap.SearchResult
		if res, err = p.dir.Search(ctx, req); err == nil {
			if res.ResultCode != goldap.LDAPResultSuccess {
				return p.unavailable("sync", fmt.Errorf("the directory cut the listing short (%s); enable pagination",
					goldap.LDAPResultCodeMap[res.ResultCode]))
			}
			err = deliver(res.Entries)
		}
	}
	switch {
	case err == nil:
		return nil
	case pageErr != nil && errors.Is(err, pageErr):
		return err
	}
	return p.unavailable("sync", err)
}

// Close releases the provider's connections.
func (p *Provider) Close() error { return p.dir.Close() }

// MapperGrant is every group (or role) the group or role mapper with
// component id mapperID finds in the directory.
func (p *Provider) MapperGrant(ctx context.Context, mapperID string) (federation.Grant, error) {
	for _, gm := range p.mappers.grant {
		if m, ok := gm.(*membershipMapper); ok && m.id == mapperID {
			return m.all(ctx)
		}
	}
	return federation.Grant{}, federation.ErrSyncUnsupported
}
