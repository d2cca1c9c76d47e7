package federation

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/cache"
)

// Env is what the server gives every provider.
type Env struct {
	Logger *slog.Logger
	// RootCAs verify the sources' TLS certificates (--truststore-paths);
	// nil means the system roots.
	RootCAs *x509.CertPool
	// Reveal turns a stored secret config value (sealed with --db-key)
	// into the secret; nil means values are stored as they are.
	Reveal func(value string) (string, error)
}

// Factory opens a provider from its component and its mapper
// sub-components. It must not touch the network: connections are made
// when they are first needed, so a directory that is down never stops a
// realm from loading.
type Factory func(ctx context.Context, env Env, c store.Component, mappers []store.Component) (UserStorage, error)

// Registry opens the user storage providers of each realm from its
// components, by providerId through an explicit map of factories, and
// keeps them open: a provider is reopened (and the old one closed) only
// when its component or one of its mappers changes. A realm's list is
// read again once its components change, whoever changed them (the
// store's change counters, store/cache).
type Registry struct {
	st        store.Store
	env       Env
	factories map[string]Factory

	realms *cache.Cache[string, []*Provider] // by realm id
	mu     sync.Mutex                        // guards open; held while a realm's list loads
	open   map[string]*openProvider          // by component id
}

type openProvider struct {
	fingerprint string
	p           *Provider
}

// NewRegistry returns a registry over st opening providers with factories
// (providerId -> Factory).
func NewRegistry(st store.Store, env Env, factories map[string]Factory) *Registry {
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	realms := cache.New(cache.For(st), cache.Options[string, []*Provider]{Kinds: cache.Components})
	return &Registry{st: st, env: env, factories: factories, realms: realms, open: map[string]*openProvider{}}
}

// Providers returns realmID's user storage providers, enabled or not, in
// priority order (then by name). A provider whose configuration cannot
// be opened is listed with a Storage that answers ErrUnavailable.
func (r *Registry) Providers(ctx context.Context, realmID string) ([]*Provider, error) {
	return r.realms.Get(ctx, realmID, func(ctx context.Context) ([]*Provider, error) { return r.load(ctx, realmID) })
}

// load reads realmID's components and opens its providers.
func (r *Registry) load(ctx context.Context, realmID string) ([]*Provider, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	comps, err := r.st.ListComponents(ctx, realmID, "", "")
	if err != nil {
		return nil, err
	}
	var out []*Provider
	for _, c := range comps {
		if c.ProviderType != UserStorageType || (c.ParentID != "" && c.ParentID != realmID) {
			continue
		}
		var mappers []store.Component
		for _, m := range comps {
			if m.ParentID == c.ID {
				mappers = append(mappers, m)
			}
		}
		slices.SortFunc(mappers, func(a, b store.Component) int { return strings.Compare(a.ID, b.ID) })
		out = append(out, r.openLocked(ctx, c, mappers))
	}
	slices.SortStableFunc(out, func(a, b *Provider) int {
		if a.Priority != b.Priority {
			return a.Priority - b.Priority
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// Provider returns the realm's provider with component id, or ErrNotFound
// (store's) when the realm has none.
func (r *Registry) Provider(ctx context.Context, realmID, id string) (*Provider, error) {
	ps, err := r.Providers(ctx, realmID)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if p.Component.ID == id {
			return p, nil
		}
	}
	return nil, store.ErrNotFound
}

// Invalidate drops realmID's cached provider list; the next use reloads
// it and reopens the providers whose configuration changed. Writes through
// the store do this by themselves; it is for stores without change
// counters.
func (r *Registry) Invalidate(realmID string) {
	r.realms.Invalidate(realmID)
}

// Close closes every open provider.
func (r *Registry) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for id, o := range r.open {
		if o.p.Storage != nil {
			errs = append(errs, o.p.Storage.Close())
		}
		delete(r.open, id)
	}
	r.realms.Clear()
	return errors.Join(errs...)
}

// openLocked returns the open provider for c, reopening it when c or its
// mappers changed.
func (r *Registry) openLocked(ctx context.Context, c store.Component, mappers []store.Component) *Provider {
	fp := fingerprint(c, mappers)
	if o, ok := r.open[c.ID]; ok {
		if o.fingerprint == fp {
			return o.p
		}
		// Connections in use finish on the old provider; Close only stops
		// it from being handed out.
		if o.p.Storage != nil {
			_ = o.p.Storage.Close()
		}
	}
	p := &Provider{Component: c, Name: c.Name, Enabled: boolKey(c.Config, "enabled", true),
		Priority: intKey(c.Config, "priority", 0), EditMode: EditMode(first(c.Config["editMode"])),
		RemoveInvalidUsers: boolKey(c.Config, "removeInvalidUsersEnabled", true)}
	f, ok := r.factories[c.ProviderID]
	var err error
	if !ok {
		err = fmt.Errorf("no user storage provider %q", c.ProviderID)
	} else {
		p.Storage, err = f(ctx, r.env, c, mappers)
	}
	if err != nil {
		r.env.Logger.Error("user storage provider cannot be opened; its users cannot log in",
			"realm", c.RealmID, "provider", c.Name, "id", c.ID, "err", err)
		p.Storage = broken{fmt.Errorf("%w: %s: %v", ErrUnavailable, c.Name, err)}
	}
	r.open[c.ID] = &openProvider{fingerprint: fp, p: p}
	return p
}

func fingerprint(c store.Component, mappers []store.Component) string {
	// A sync writes lastSync after every run; that is no reason to reopen.
	c.Config = maps.Clone(c.Config)
	delete(c.Config, "lastSync")
	b, _ := json.Marshal(struct {
		C store.Component
		M []store.Component
	}{c, mappers})
	return string(b)
}

// broken stands in for a provider that could not be opened.
type broken struct{ err error }

func (b broken) LookupUser(context.Context, string, bool) (Identity, error) { return Identity{}, b.err }
func (b broken) LoadUser(context.Context, string) (Identity, error)         { return Identity{}, b.err }
func (b broken) CheckPassword(context.Context, Identity, string) (bool, error) {
	return false, b.err
}
func (b broken) Close() error { return nil }

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func boolKey(cfg map[string][]string, key string, def bool) bool {
	switch first(cfg[key]) {
	case "true":
		return true
	case "false":
		return false
	}
	return def
}

func intKey(cfg map[string][]string, key string, def int) int {
	if n, err := strconv.Atoi(first(cfg[key])); err == nil {
		return n
	}
	return def
}
