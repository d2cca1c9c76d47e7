package federation_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/store"
)

// LinkBrokered: a first login creates the user with the realm's defaults,
// its grants and its link; a later login that changes nothing takes no
// transaction; owned grants follow the provider; a user linked to another
// account of the provider, or a taken email, writes nothing.
func TestLinkBrokered(t *testing.T) {
	each(t, func(e *env) {
		t := e.t
		must(t, e.st.CreateIdentityProvider(e.ctx, store.IdentityProvider{InternalID: "idp1", RealmID: realmID, Alias: "corp",
			ProviderID: "saml", Enabled: true, Config: []byte(`{"alias":"corp","providerId":"saml"}`)}))
		must(t, e.st.CreateRole(e.ctx, store.Role{ID: "role-admin", RealmID: realmID, Name: "stackstate-admin"}))
		l := federation.NewLinker(e.st)
		m := federation.MappedIdentity{BrokerUsername: "alice", Identity: federation.Identity{ExternalID: "nameid-1",
			Username: "Alice", Email: "alice@corp.example", EmailVerified: true, FirstName: "Alice",
			Attributes: map[string][]string{"dept": {"ops"}},
			Grants: []federation.Grant{{Roles: []federation.RoleRef{{Name: "stackstate-admin", Qualified: true}},
				OwnedRoles: []federation.RoleRef{{Name: "stackstate-admin", Qualified: true}}}}}}
		u, err := l.LinkBrokered(e.ctx, realmID, e.d, federation.BrokerLink{Alias: "corp", Identity: m})
		must(t, err)
		if u.Username != "alice" || u.Email != "alice@corp.example" || !u.EmailVerified || u.Attributes["dept"][0] != "ops" {
			t.Fatalf("created %+v", u)
		}
		if got := e.roles(u.ID); !slices.Equal(got, []string{"default-roles-acme", "stackstate-admin"}) {
			t.Fatalf("roles %v", got)
		}
		if got := e.groups(u.ID); !slices.Equal(got, []string{"/everyone"}) {
			t.Fatalf("groups %v", got)
		}
		if byLink, err := e.st.GetUserByFederatedIdentity(e.ctx, realmID, "corp", "nameid-1"); err != nil || byLink.ID != u.ID {
			t.Fatalf("link: %v %v", byLink.ID, err)
		}

		// A later login: only changes, nothing new.
		later := m
		later.Username, later.Email, later.FirstName = "", "", ""
		later.Attributes = nil
		before := e.st.txs.Load()
		u2, err := l.LinkBrokered(e.ctx, realmID, e.d, federation.BrokerLink{Alias: "corp", UserID: u.ID, Identity: later})
		must(t, err)
		if e.st.txs.Load() != before || u2.ID != u.ID || u2.Email != u.Email {
			t.Fatalf("unchanged login: %d transactions, user %+v", e.st.txs.Load()-before, u2)
		}
		// The provider stops giving the owned role: removed.
		later.Grants = []federation.Grant{{OwnedRoles: []federation.RoleRef{{Name: "stackstate-admin", Qualified: true}}}}
		_, err = l.LinkBrokered(e.ctx, realmID, e.d, federation.BrokerLink{Alias: "corp", UserID: u.ID, Identity: later})
		must(t, err)
		if got := e.roles(u.ID); !slices.Equal(got, []string{"default-roles-acme"}) {
			t.Fatalf("roles after FORCE removal %v", got)
		}

		// Another account of the same provider cannot take this user.
		other := m
		other.ExternalID, other.Grants = "nameid-2", nil
		if _, err := l.LinkBrokered(e.ctx, realmID, e.d, federation.BrokerLink{Alias: "corp", UserID: u.ID, Identity: other}); !errors.Is(err, federation.ErrConflict) {
			t.Fatalf("second account of corp: %v", err)
		}
		// A new user with alice's email: conflict, nothing written.
		other.Username = "mallory"
		if _, err := l.LinkBrokered(e.ctx, realmID, e.d, federation.BrokerLink{Alias: "corp", Identity: other}); !errors.Is(err, federation.ErrConflict) {
			t.Fatalf("taken email: %v", err)
		}
		if _, err := e.st.GetUserByUsername(e.ctx, realmID, "mallory"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("mallory written: %v", err)
		}
	})
}
