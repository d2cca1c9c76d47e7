package oidc

import "sync"

// preflightOrigins holds, per issuer, the origins some client of a realm
// model admits (webOrigins "*", "+" and exact), so that a preflight that
// names no client is one lookup rather than a pass over every client's
// redirect URIs for whatever Origin the caller sent. The "+" origins of
// relative redirect URIs follow the issuer, which without --hostname is
// the Host header's: only the first few issuers are kept, as discoveryDocs
// does, and the rest are built per request.
type preflightOrigins struct {
	mu sync.Mutex
	m  map[string]*originSet
}

type originSet struct {
	any     bool // some client admits "*"
	origins map[origin]bool
}

func (p *preflightOrigins) get(m *realmModel, realm *Realm) *originSet {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.m[realm.Issuer]; s != nil {
		return s
	}
	s := buildOriginSet(m, realm)
	if p.m == nil {
		p.m = map[string]*originSet{}
	}
	if len(p.m) < maxDiscoveryIssuers {
		p.m[realm.Issuer] = s
	}
	return s
}

// buildOriginSet is allowsOrigin's answer for every client that may get
// tokens (loadClient's), gathered.
func buildOriginSet(m *realmModel, realm *Realm) *originSet {
	s := &originSet{origins: map[origin]bool{}}
	for _, c := range m.clients {
		if !c.getsTokens() {
			continue
		}
		for _, w := range c.Settings.WebOrigins {
			switch w {
			case "*":
				s.any = true
			case "+":
				for _, u := range c.redirectURIs(realm) {
					if p, reason := parsePattern(u); reason == "" {
						if o, ok := originOf(p); ok {
							s.origins[o] = true
						}
					}
				}
			default:
				if o, reason := parseOrigin(w); reason == "" {
					s.origins[o] = true
				}
			}
		}
	}
	return s
}
