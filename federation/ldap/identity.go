package ldap

import (
	"context"
	"errors"
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/keygate/keygate/federation"
)

// errBadEntry marks an entry the directory returned that cannot be a
// user: no id or no username (a configuration that names the wrong
// attributes, or a malformed entry).
var errBadEntry = errors.New("unusable directory entry")

// externalID reads the entry's immutable id as Keycloak stores it in
// LDAP_ID: binary GUIDs as dashed hex, anything else as its string.
func (p *Provider) externalID(e *goldap.Entry) (string, error) {
	switch p.guid {
	case guidAD, guidEDirectory:
		raw := e.GetEqualFoldRawAttributeValue(p.cfg.UUIDAttribute)
		if len(raw) == 0 {
			break
		}
		if p.guid == guidAD {
			return decodeObjectGUID(raw)
		}
		return decodeEDirectoryGUID(raw)
	default:
		if v := value(e, p.cfg.UUIDAttribute); v != "" {
			return v, nil
		}
	}
	return "", fmt.Errorf("no %s", p.cfg.UUIDAttribute)
}

// idFilter is the assertion finding the entry with externalID: binary
// GUIDs are searched for by their bytes, each escaped.
func (p *Provider) idFilter(externalID string) (string, error) {
	switch p.guid {
	case guidAD:
		b, err := encodeObjectGUID(externalID)
		if err != nil {
			return "", err
		}
		return eqBytes(p.cfg.UUIDAttribute, b), nil
	case guidEDirectory:
		b, err := encodeEDirectoryGUID(externalID)
		if err != nil {
			return "", err
		}
		return eqBytes(p.cfg.UUIDAttribute, b), nil
	}
	return eq(p.cfg.UUIDAttribute, externalID), nil
}

// identity is what the entry itself says of the user: id, DN, username,
// trustEmail, then the entry mappers in Keycloak's import order. Grants
// are added by the caller.
func (p *Provider) identity(e *goldap.Entry) (federation.Identity, error) {
	ext, err := p.externalID(e)
	if err != nil {
		return federation.Identity{}, fmt.Errorf("%w %q: %w", errBadEntry, e.DN, err)
	}
	id := federation.Identity{ExternalID: ext, DN: e.DN, Username: value(e, p.cfg.UsernameAttribute), Unmapped: p.mappers.unmapped}
	for _, m := range p.mappers.entry {
		m.apply(e, &id)
	}
	if strings.TrimSpace(id.Username) == "" {
		return federation.Identity{}, fmt.Errorf("%w %q: no %s", errBadEntry, e.DN, p.cfg.UsernameAttribute)
	}
	if p.cfg.TrustEmail {
		// After the mappers, as doImportUser: trustEmail only ever says yes.
		id.EmailVerified = true
	}
	return id, nil
}

// withGrants adds every grant mapper's decision for one user.
func (p *Provider) withGrants(ctx context.Context, e *goldap.Entry, id *federation.Identity) error {
	for _, m := range p.mappers.grant {
		g, err := m.grant(ctx, e)
		if err != nil {
			return err
		}
		id.Grants = append(id.Grants, g)
	}
	return nil
}

// identities converts a page of entries, resolving grants for the whole
// page at once. An entry that cannot be a user is logged; with keepBad
// it stays in the page as what could be read of it (its DN, and its id
// when it has one), so that a sync counts it as failed and does not take
// its user for gone; otherwise it is left out.
func (p *Provider) identities(ctx context.Context, entries []*goldap.Entry, keepBad bool) ([]federation.Identity, error) {
	ids := make([]federation.Identity, 0, len(entries))
	var kept []*goldap.Entry
	var at []int // index in ids of each kept entry
	for _, e := range entries {
		id, err := p.identity(e)
		if err != nil {
			p.log.WarnContext(ctx, "LDAP entry is not a usable user", "provider", p.name, "err", err)
			if keepBad {
				ext, _ := p.externalID(e)
				ids = append(ids, federation.Identity{DN: e.DN, ExternalID: ext})
			}
			continue
		}
		at = append(at, len(ids))
		ids = append(ids, id)
		kept = append(kept, e)
	}
	if len(kept) == 0 {
		return ids, nil
	}
	for _, m := range p.mappers.grant {
		gs, err := m.grants(ctx, kept)
		if err != nil {
			return nil, err
		}
		for i, g := range gs {
			ids[at[i]].Grants = append(ids[at[i]].Grants, g)
		}
	}
	return ids, nil
}
