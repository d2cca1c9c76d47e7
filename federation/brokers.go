package federation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/keygate/keygate/store"
)

// ErrNoBroker is Brokers.Open's answer for a providerId keygate has no
// broker for (Kerberos, social providers): the provider is stored and
// exported, never used to sign in.
var ErrNoBroker = errors.New("federation: no broker for this identity provider type")

// Brokers opens the brokers of identity providers by providerId through an
// explicit map of factories and keeps each open while its configuration
// (and the realm key it signs with) stays the same: a broker caches what
// it fetched (JWKS, metadata), and opening one logs its warnings.
type Brokers struct {
	factories map[string]BrokerFactory
	env       func(ctx context.Context, realmID string) (BrokerEnv, error)

	mu   sync.Mutex
	open map[string]openBroker // by realm id and alias
}

type openBroker struct {
	fingerprint string
	b           Broker
}

// NewBrokers returns brokers opened with factories (providerId ->
// BrokerFactory); env gives a realm's BrokerEnv (its signing key and
// certificate, the HTTP client, the replay cache) when one is opened.
func NewBrokers(factories map[string]BrokerFactory, env func(ctx context.Context, realmID string) (BrokerEnv, error)) *Brokers {
	return &Brokers{factories: factories, env: env, open: map[string]openBroker{}}
}

// Supports says whether providerID has a broker.
func (b *Brokers) Supports(providerID string) bool {
	_, ok := b.factories[providerID]
	return ok
}

// Open returns the broker of idp, reusing the open one while idp's
// configuration and the realm's key are unchanged.
func (b *Brokers) Open(ctx context.Context, idp store.IdentityProvider) (Broker, error) {
	f, ok := b.factories[idp.ProviderID]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoBroker, idp.ProviderID)
	}
	env, err := b.env(ctx, idp.RealmID)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte(idp.ProviderID))
	h.Write([]byte{0})
	h.Write(idp.Config)
	if env.Cert != nil {
		h.Write(env.Cert.Raw)
	}
	fp := hex.EncodeToString(h.Sum(nil))
	key := idp.RealmID + "\x00" + idp.Alias
	b.mu.Lock()
	defer b.mu.Unlock()
	if o, ok := b.open[key]; ok && o.fingerprint == fp {
		return o.b, nil
	}
	br, err := f(ctx, env, idp)
	if err != nil {
		return nil, err
	}
	b.open[key] = openBroker{fingerprint: fp, b: br}
	return br, nil
}
