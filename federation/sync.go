package federation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keygate/keygate/store"
)

// SyncResult is Keycloak's SynchronizationResult.
type SyncResult struct {
	Ignored bool   `json:"ignored"`
	Added   int    `json:"added"`
	Updated int    `json:"updated"`
	Removed int    `json:"removed"`
	Failed  int    `json:"failed"`
	Status  string `json:"status"`
}

func (r *SyncResult) setStatus() {
	if r.Ignored {
		r.Status = "Synchronization ignored as it's already in progress"
		return
	}
	r.Status = fmt.Sprintf("%d imported users, %d updated users", r.Added, r.Updated)
	if r.Removed > 0 {
		r.Status += fmt.Sprintf(", %d removed users", r.Removed)
	}
	if r.Failed > 0 {
		r.Status += fmt.Sprintf(", %d users failed sync! See server log for more details", r.Failed)
	}
}

// ErrSyncUnsupported: the provider cannot list its users.
var ErrSyncUnsupported = errors.New("federation: this provider cannot synchronize users")

// Locker is a store that can hold a lock across replicas (PostgreSQL's
// advisory locks). TryLock reports false when another holder has it.
type Locker interface {
	TryLock(ctx context.Context, key string) (unlock func(), ok bool, err error)
}

// Progress hears about a running sync, page by page.
type Progress func(component string, done SyncResult)

// SyncObserver hears about every sync the service runs (metrics): after
// each page, and when it ends.
type SyncObserver interface {
	SyncPage(realmID, provider string, full bool, sofar SyncResult)
	SyncDone(realmID, provider string, full bool, res SyncResult, took time.Duration, err error)
}

// SetSyncObserver makes o hear about every sync from now on.
func (s *Service) SetSyncObserver(o SyncObserver) { s.observer = o }

// syncs serializes syncs per component in this process.
type syncs struct {
	mu      sync.Mutex
	running map[string]bool
}

func (s *syncs) start(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == nil {
		s.running = map[string]bool{}
	}
	if s.running[id] {
		return false
	}
	s.running[id] = true
	return true
}

func (s *syncs) done(id string) {
	s.mu.Lock()
	delete(s.running, id)
	s.mu.Unlock()
}

// Sync imports and updates the users of provider componentID: all of them
// (full) or those created or changed since its lastSync. Each page of
// users is one transaction. A full sync then removes (or disables, with
// removeInvalidUsersEnabled false) the imported users the directory no
// longer has, which Keycloak never does, and only after it listed every
// entry without an error. A sync of the same provider already running,
// here or on another replica sharing the store, answers Ignored.
func (s *Service) Sync(ctx context.Context, realmID string, d RealmDefaults, componentID string, full bool, progress Progress) (SyncResult, error) {
	p, err := s.reg.Provider(ctx, realmID, componentID)
	if err != nil {
		return SyncResult{}, err
	}
	start := time.Now()
	res, err := s.sync(ctx, realmID, d, p, full, progress)
	if s.observer != nil && !res.Ignored {
		s.observer.SyncDone(realmID, p.Name, full, res, time.Since(start), err)
	}
	return res, err
}

func (s *Service) sync(ctx context.Context, realmID string, d RealmDefaults, p *Provider, full bool, progress Progress) (SyncResult, error) {
	var res SyncResult
	componentID := p.Component.ID
	syncer, ok := p.Storage.(Syncer)
	if !ok {
		return res, fmt.Errorf("%w: %s", ErrSyncUnsupported, p.Name)
	}
	if !p.Enabled {
		// Keycloak's UserStorageSyncManager ignores a disabled provider:
		// its directory may be the wrong one, and a full sync removes users.
		s.log.InfoContext(ctx, "sync ignored: the provider is disabled", "realm", realmID, "provider", p.Name)
		res.Ignored = true
		res.setStatus()
		return res, nil
	}
	if !s.syncs.start(componentID) {
		res.Ignored = true
		res.setStatus()
		return res, nil
	}
	defer s.syncs.done(componentID)
	if l, ok := s.link.st.(Locker); ok {
		unlock, held, err := l.TryLock(ctx, "keygate-sync-"+componentID)
		if err != nil {
			return res, err
		}
		if !held {
			res.Ignored = true
			res.setStatus()
			return res, nil
		}
		defer unlock()
	}

	started := time.Now()
	var since time.Time
	if !full {
		// From the store, not the registry's copy: another replica may
		// have synced since.
		c, err := s.link.st.GetComponent(ctx, realmID, componentID)
		if err != nil {
			return res, err
		}
		if n, err := strconv.ParseInt(first(c.Config["lastSync"]), 10, 64); err == nil && n > 0 {
			since = time.Unix(n, 0)
		}
	}
	known, err := s.link.st.ListFederationIDs(ctx, realmID, componentID)
	if err != nil {
		return res, err
	}
	seen := listing{ids: map[string]bool{}, names: map[string]bool{}, dns: map[string]bool{}}
	err = syncer.SyncUsers(ctx, since, func(page []Identity) error {
		r, errs, err := s.link.LinkPage(ctx, realmID, d, p, page, known)
		if err != nil {
			return err
		}
		for _, e := range errs {
			s.log.WarnContext(ctx, "sync: user not imported", "realm", realmID, "provider", p.Name, "err", e)
		}
		for _, id := range page {
			seen.add(id)
		}
		res.Added += r.Added
		res.Updated += r.Updated
		res.Failed += r.Failed
		if progress != nil {
			progress(componentID, res)
		}
		if s.observer != nil {
			s.observer.SyncPage(realmID, p.Name, full, res)
		}
		return nil
	})

	if err != nil {
		res.setStatus()
		return res, err
	}
	if full {
		removed, err := s.sweep(ctx, realmID, p, seen)
		res.Removed = removed
		if err != nil {
			res.setStatus()
			return res, err
		}
	}
	if err := s.setLastSync(ctx, realmID, componentID, started); err != nil {
		return res, err
	}
	res.setStatus()
	s.log.InfoContext(ctx, "sync finished", "realm", realmID, "provider", p.Name, "full", full, "added", res.Added,
		"updated", res.Updated, "removed", res.Removed, "failed", res.Failed, "took", time.Since(started).Round(time.Millisecond))
	return res, nil
}

// listing is what a full sync saw of each entry: its id, and its username
// and DN, so that an entry the provider can no longer identify (its id
// attribute unreadable, or the configured one changed) does not count as
// gone.
type listing struct {
	ids, names, dns map[string]bool
}

func (l listing) add(id Identity) {
	if id.ExternalID != "" {
		l.ids[id.ExternalID] = true
	}
	if n := strings.ToLower(strings.TrimSpace(id.Username)); n != "" {
		l.names[n] = true
	}
	if id.DN != "" {
		l.dns[strings.ToLower(id.DN)] = true
	}
}

// has reports whether the listing showed u's entry: by its id, or, when
// that did not match, by its username or its entry's DN.
func (l listing) has(ext string, u store.User) bool {
	if l.ids[ext] || l.names[u.Username] {
		return true
	}
	dn := first(u.Attributes[AttrEntryDN])
	return dn != "" && l.dns[strings.ToLower(dn)]
}

// sweep removes (or disables) p's imported users that a full listing did
// not show. A user whose username or entry DN the listing showed is kept:
// its entry is there, though the provider could not tie it to the user
// (Keycloak's sync never removes anyone).
func (s *Service) sweep(ctx context.Context, realmID string, p *Provider, seen listing) (int, error) {
	ids, err := s.link.st.ListFederationIDs(ctx, realmID, p.Component.ID)
	if err != nil {
		return 0, err
	}
	n := 0
	for ext, userID := range ids {
		if seen.ids[ext] {
			continue
		}
		u, err := s.link.st.GetUser(ctx, realmID, userID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		if seen.has(ext, u) {
			s.log.WarnContext(ctx, "sync: user kept: its entry is listed but not under its id", "realm", realmID,
				"provider", p.Name, "user", u.ID, "id", ext)
			continue
		}
		if !p.RemoveInvalidUsers && !u.Enabled {
			continue // disabled by an earlier sweep
		}
		if err := s.gone(ctx, realmID, p, &u); !errors.Is(err, ErrNotFound) {
			return n, err
		}
		n++
	}
	return n, nil
}

// setLastSync records when a sync started, as Keycloak's lastSync (unix
// seconds) in the component's config: the next changed-users sync starts
// there.
func (s *Service) setLastSync(ctx context.Context, realmID, componentID string, at time.Time) error {
	return s.link.st.Tx(ctx, func(ctx context.Context) error {
		c, err := s.link.st.GetComponent(ctx, realmID, componentID)
		if err != nil {
			return err
		}
		if c.Config == nil {
			c.Config = map[string][]string{}
		}
		c.Config["lastSync"] = []string{strconv.FormatInt(at.Unix(), 10)}
		return s.link.st.UpdateComponent(ctx, c)
	})
}

// SyncMapper is Keycloak's mapper sync from the directory (fedToKeycloak):
// the groups (or roles) the mapper finds are created in the realm; Added
// counts them. Memberships follow at each user's next login or sync.
func (s *Service) SyncMapper(ctx context.Context, realmID, componentID, mapperID string) (SyncResult, error) {
	var res SyncResult
	p, err := s.reg.Provider(ctx, realmID, componentID)
	if err != nil {
		return res, err
	}
	ms, ok := p.Storage.(MapperSyncer)
	if !ok {
		return res, fmt.Errorf("%w: %s", ErrSyncUnsupported, p.Name)
	}
	g, err := ms.MapperGrant(ctx, mapperID)
	if err != nil {
		return res, err
	}
	if res.Added, err = s.link.Ensure(ctx, realmID, g); err != nil {
		return res, err
	}
	kind := "roles"
	if len(g.Groups) > 0 {
		kind = "groups"
	}
	res.Status = fmt.Sprintf("%d imported %s, 0 updated %s", res.Added, kind, kind)
	return res, nil
}
