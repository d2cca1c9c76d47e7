package oidc

import "sync"

// maxDiscoveryIssuers bounds the documents kept per realm: without
// --hostname the issuer follows the request's Host header, which a client
// chooses, so only the first few issuers seen are kept (the rest are
// encoded on every request, as all were before).
const maxDiscoveryIssuers = 8

// discoveryDocs holds a realm model's encoded discovery documents by issuer.
type discoveryDocs struct {
	mu sync.RWMutex
	m  map[string][]byte
}

func (d *discoveryDocs) get(iss string) []byte {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.m[iss]
}

func (d *discoveryDocs) put(iss string, body []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string][]byte{}
	}
	if len(d.m) < maxDiscoveryIssuers {
		d.m[iss] = body
	}
}
