package rep

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/store"
)

// What the admin API and client registration need from this layer: decoding
// a single representation, and writing one client the way import writes
// them (defaults, secret, service account).

// Decode decodes one representation into v (a pointer) as Keycloak's
// Jackson reads it: unknown fields ignored, scalars coerced, and errors
// naming the JSON path of the first invalid value (`enabled: expected
// boolean, got string`). Decoding into a value already holding a
// representation replaces only the fields data has, which is Keycloak's
// partial-update semantics for PUT.
func Decode(data []byte, v any) error {
	if err := decodeAt(data, v, ""); err != nil {
		return &DecodeError{msg: err.Error()}
	}
	return nil
}

// DecodeError is a representation that does not fit its type.
type DecodeError struct{ msg string }

func (e *DecodeError) Error() string { return e.msg }

// Field is the JSON path the error names ("" for the whole document).
func (e *DecodeError) Field() string {
	f, _, ok := strings.Cut(e.msg, ": ")
	if !ok || f == "(document)" {
		return ""
	}
	return f
}

// The built-in clients that carry or stand for admin rights, which the
// admin API lets only a server admin create or change and which client
// registration never creates.
const (
	// MgmtClient is every realm's admin client, whose roles
	// (realm-admin, manage-users, ...) manage the realm.
	MgmtClient = "realm-management"
	// RealmClientSuffix names the master realm's per-realm admin clients,
	// "<realm>-realm", whose roles grant rights in that realm to master
	// users.
	RealmClientSuffix = "-realm"
)

// FullRoleClients are the clients whose tokens stand for all of their
// user's roles in the admin API, as Keycloak's MgmtPermissions treats
// admin-cli and the admin console.
var FullRoleClients = []string{"admin-cli", "security-admin-console"}

// AdminClient reports whether clientID is an admin client of realm (a
// realm name): its realm-management client or, in master, a
// "<realm>-realm" client.
func AdminClient(realm, clientID string) bool {
	return clientID == MgmtClient || (realm == "master" && strings.HasSuffix(clientID, RealmClientSuffix))
}

// PrivilegedClient reports whether clientID of realm is an admin client or
// one whose tokens stand for all of their user's roles.
func PrivilegedClient(realm, clientID string) bool {
	return AdminClient(realm, clientID) || slices.Contains(FullRoleClients, clientID)
}

// GroupPaths maps each group's id to its path ("/parent/child").
func GroupPaths(groups []store.Group) map[string]string { return groupPaths(groups) }

// PrepareClient fills in c as a new client of realm: Keycloak's defaults
// made explicit, the realm's default client scopes when c names none, a
// secret for a confidential OIDC client, ids for c and its protocol mappers.
// It returns warnings about unknown client scopes it dropped.
func PrepareClient(ctx context.Context, st store.Store, realm store.Realm, c *Client) ([]string, error) {
	r, _, err := DecodeRealm(realm)
	if err != nil {
		return nil, err
	}
	scopes, err := st.ListClientScopes(ctx, realm.ID)
	if err != nil {
		return nil, err
	}
	scopeProtocol := map[string]string{}
	for _, s := range scopes {
		rs, err := ClientScopeFromStore(s)
		if err != nil {
			return nil, err
		}
		scopeProtocol[s.Name] = strOr(rs.Protocol, "openid-connect")
	}
	if c.ID == "" {
		c.ID = newID()
	}
	AssignMapperIDs(c.ProtocolMappers)
	return prepareClient(c, &r, scopeProtocol, "", nil)
}

// AssignMapperIDs gives protocol mappers without an id a new one, so the
// admin API's protocol-mappers routes can address every stored mapper.
func AssignMapperIDs(ms []ProtocolMapper) {
	for i := range ms {
		if ms[i].ID == "" {
			ms[i].ID = newID()
		}
	}
}

// CreateClient prepares c (see PrepareClient) and writes it, with its
// service-account user when serviceAccountsEnabled, in one transaction. It
// returns the stored row; store.ErrConflict when the clientId is taken.
func CreateClient(ctx context.Context, st store.Store, realm store.Realm, c *Client) (store.Client, []string, error) {
	warnings, err := PrepareClient(ctx, st, realm, c)
	if err != nil {
		return store.Client{}, nil, err
	}
	row, err := ClientToStore(realm.ID, *c)
	if err != nil {
		return store.Client{}, nil, err
	}
	row.Created = time.Now().UTC()
	err = st.Tx(ctx, func(ctx context.Context) error {
		if err := st.CreateClient(ctx, row); err != nil {
			return err
		}
		return EnsureServiceAccount(ctx, st, realm, row)
	})
	return row, warnings, err
}

// EnsureServiceAccount creates the service-account user
// (`service-account-<clientId>`, holding the realm's default role) of a
// client with serviceAccountsEnabled that has none yet; otherwise it does
// nothing.
func EnsureServiceAccount(ctx context.Context, st store.Store, realm store.Realm, row store.Client) error {
	_, cs, err := DecodeClient(row)
	if err != nil || !cs.ServiceAccountsEnabled {
		return err
	}
	if _, err := st.GetServiceAccountUser(ctx, realm.ID, row.ID); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	_, s, err := DecodeRealm(realm)
	if err != nil {
		return err
	}
	u := store.User{ID: uuid.NewString(), RealmID: realm.ID, Username: "service-account-" + strings.ToLower(row.ClientID),
		Enabled: true, Created: time.Now().UTC(), ServiceAccount: row.ID}
	if err := st.CreateUser(ctx, u); err != nil {
		return fmt.Errorf("service account of client %q: %w", row.ClientID, err)
	}
	role, err := st.GetRoleByName(ctx, realm.ID, "", s.DefaultRole)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return st.GrantUserRoles(ctx, realm.ID, u.ID, []string{role.ID})
}
