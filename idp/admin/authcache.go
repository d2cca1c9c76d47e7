package admin

import (
	"sync"
	"time"
)

// authCache remembers, for a second, who a bearer token is and what it may
// do (verifying it — RS256, the token record, the SSO session — and
// computing the caller's roles is most of the cost of a cheap admin call,
// and admin clients reuse one token for many calls), and the realm rows and
// default roles that every call reads. Every admin write except user
// creation clears it; a token revoked elsewhere (logout, revocation) stops
// working within authTTL.
type authCache struct {
	mu sync.Mutex
	m  map[string]cachedCaller
}

type cachedCaller struct {
	c    any // *caller, store.Realm or a role id
	seen time.Time
}

const (
	authTTL      = time.Second
	authCacheMax = 4096
)

func (ac *authCache) get(key string) any {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	e, ok := ac.m[key]
	if !ok || time.Since(e.seen) > authTTL {
		return nil
	}
	return e.c
}

func (ac *authCache) put(key string, c any) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if ac.m == nil || len(ac.m) >= authCacheMax {
		ac.m = map[string]cachedCaller{}
	}
	ac.m[key] = cachedCaller{c, time.Now()}
}

func (ac *authCache) clear() {
	ac.mu.Lock()
	ac.m = nil
	ac.mu.Unlock()
}
