package federation

import (
	"context"
	"strconv"
	"time"
)

// DefaultsFunc gives a realm's RealmDefaults (the caller reads realm
// settings; federation does not).
type DefaultsFunc func(ctx context.Context, realmID string) (RealmDefaults, error)

// RunPeriodic runs the periodic syncs that providers ask for with
// Keycloak's fullSyncPeriod and changedSyncPeriod (seconds; -1 or unset:
// never), checking every tick until ctx ends. A changed-users sync is due
// when lastSync is older than its period; a full sync when this process
// has not run one for its period (so a replica starts its first full sync
// one period after it starts). Syncs run one at a time, here, and once
// across replicas (Sync's lock); logins never wait for them.
func (s *Service) RunPeriodic(ctx context.Context, tick time.Duration, realms func(ctx context.Context) ([]string, error), defaults DefaultsFunc) {
	lastFull := map[string]time.Time{}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ids, err := realms(ctx)
		if err != nil {
			s.log.WarnContext(ctx, "periodic sync: cannot list realms", "err", err)
			continue
		}
		for _, realmID := range ids {
			s.syncDue(ctx, realmID, lastFull, defaults)
		}
	}
}

func (s *Service) syncDue(ctx context.Context, realmID string, lastFull map[string]time.Time, defaults DefaultsFunc) {
	providers, err := s.reg.Providers(ctx, realmID)
	if err != nil {
		s.log.WarnContext(ctx, "periodic sync: cannot load providers", "realm", realmID, "err", err)
		return
	}
	now := time.Now()
	for _, p := range providers {
		if _, ok := p.Storage.(Syncer); !ok || !p.Enabled {
			continue
		}
		id := p.Component.ID
		full := seconds(p.Component.Config["fullSyncPeriod"])
		changed := seconds(p.Component.Config["changedSyncPeriod"])
		if _, seen := lastFull[id]; !seen {
			lastFull[id] = now
		}
		var kind string
		switch {
		case full > 0 && now.Sub(lastFull[id]) >= full:
			kind = "full"
		case changed > 0:
			c, err := s.link.st.GetComponent(ctx, realmID, id)
			if err != nil {
				continue
			}
			last, _ := strconv.ParseInt(first(c.Config["lastSync"]), 10, 64)
			if now.Sub(time.Unix(last, 0)) >= changed {
				kind = "changed"
			}
		}
		if kind == "" {
			continue
		}
		d, err := defaults(ctx, realmID)
		if err != nil {
			s.log.WarnContext(ctx, "periodic sync: realm settings", "realm", realmID, "err", err)
			continue
		}
		if kind == "full" {
			lastFull[id] = now
		}
		if _, err := s.Sync(ctx, realmID, d, id, kind == "full", nil); err != nil {
			s.log.WarnContext(ctx, "periodic sync failed", "realm", realmID, "provider", p.Name, "kind", kind, "err", err)
		}
	}
}

func seconds(v []string) time.Duration {
	n, err := strconv.Atoi(first(v))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
