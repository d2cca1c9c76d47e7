package oidc

import (
	"context"
	"errors"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// Realm is a resolved realm for one request: its row, its settings with
// Keycloak defaults applied, and the issuer URL it is reached under. It is
// shared by every request that resolves the realm under the same issuer
// and keys: read it, never write it.
type Realm struct {
	Row      store.Realm
	Rep      rep.Realm
	Settings rep.RealmSettings
	Issuer   string // {base}/realms/{name}, no trailing slash
	keys     *realmKeys
}

type realmKey struct{}

// WithRealm returns ctx carrying r. Every fosite call runs with it, which is
// how one fosite provider serves every realm.
func WithRealm(ctx context.Context, r *Realm) context.Context {
	return context.WithValue(ctx, realmKey{}, r)
}

// RealmFrom returns the realm ctx carries, or nil.
func RealmFrom(ctx context.Context) *Realm {
	r, _ := ctx.Value(realmKey{}).(*Realm)
	return r
}

var errNoRealm = errors.New("oidc: no realm in context")

func mustRealm(ctx context.Context) (*Realm, error) {
	if r := RealmFrom(ctx); r != nil {
		return r, nil
	}
	return nil, errNoRealm
}

type prefixKey struct{}

// WithPathPrefix records that the request arrived under a prefix ("/auth").
func WithPathPrefix(ctx context.Context, prefix string) context.Context {
	return context.WithValue(ctx, prefixKey{}, prefix)
}

// PathPrefix returns the prefix WithPathPrefix recorded, or "".
func PathPrefix(ctx context.Context) string {
	s, _ := ctx.Value(prefixKey{}).(string)
	return s
}
