package oidc

import (
	"context"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// RealmSettings returns the settings of the named, enabled realm from the
// provider's realm cache, without its keys or issuer: the server's
// sslRequired check reads them on every realm request before any handler
// resolves the realm. An unknown or disabled realm is store.ErrNotFound.
func (p *Provider) RealmSettings(ctx context.Context, name string) (rep.RealmSettings, error) {
	cr, err := p.realms.get(ctx, name)
	if err != nil {
		return rep.RealmSettings{}, err
	}
	if !cr.row.Enabled {
		return rep.RealmSettings{}, store.ErrNotFound
	}
	return cr.settings, nil
}
