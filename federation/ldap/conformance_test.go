package ldap

import (
	"context"
	"errors"
	"testing"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/ldap/ldaptest"
)

// storageFixture is what the conformance table needs from a source: a
// UserStorage with at least two users (name, email, password) and ways to
// delete one and to make the source unreachable. It depends only on
// federation's interfaces, so that it can move to federationtest and run
// against any UserStorage.
type storageFixture struct {
	storage         federation.UserStorage
	name, email, pw string // a user of the source
	other           string // another user's name
	remove          func(t *testing.T, name string)
	down            func(t *testing.T)
}

// runConformance checks the contract of federation.UserStorage: what a
// wrong password, an unknown user, a deleted user and an unreachable
// source each answer. Down runs last.
func runConformance(t *testing.T, fx storageFixture) {
	ctx := t.Context()
	s := fx.storage
	id, err := s.LookupUser(ctx, fx.name, false)
	if err != nil {
		t.Fatalf("lookup %q: %v", fx.name, err)
	}
	if id.ExternalID == "" || id.Username == "" {
		t.Fatalf("identity without id or username: %+v", id)
	}
	for _, tc := range []struct {
		name string
		run  func() error
		want error // nil: no error
	}{
		{"lookup by email", func() error {
			got, err := s.LookupUser(ctx, fx.email, true)
			if err == nil && got.ExternalID != id.ExternalID {
				return errors.New("another user")
			}
			return err
		}, nil},
		{"load by id", func() error {
			got, err := s.LoadUser(ctx, id.ExternalID)
			if err == nil && (got.ExternalID != id.ExternalID || got.Username != id.Username) {
				return errors.New("another user")
			}
			return err
		}, nil},
		{"unknown name", func() error { return second(s.LookupUser(ctx, "no-such-user-"+fx.name, false)) }, federation.ErrNotFound},
		{"unknown email", func() error { return second(s.LookupUser(ctx, "nobody@nowhere.invalid", true)) }, federation.ErrNotFound},
		{"empty name", func() error { return second(s.LookupUser(ctx, "", false)) }, federation.ErrNotFound},
		{"wildcard name", func() error { return second(s.LookupUser(ctx, "*", false)) }, federation.ErrNotFound},
		{"right password", func() error { return passwordIs(ctx, s, id, fx.pw, true) }, nil},
		{"wrong password", func() error { return passwordIs(ctx, s, id, fx.pw+"x", false) }, nil},
		{"empty password", func() error { return passwordIs(ctx, s, id, "", false) }, nil},
	} {
		if err := tc.run(); (tc.want == nil && err != nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}

	other, err := s.LookupUser(ctx, fx.other, false)
	if err != nil {
		t.Fatalf("lookup %q: %v", fx.other, err)
	}
	fx.remove(t, fx.other)
	if _, err := s.LoadUser(ctx, other.ExternalID); !errors.Is(err, federation.ErrNotFound) {
		t.Errorf("load of a removed user: %v", err)
	}
	if _, err := s.LookupUser(ctx, fx.other, false); !errors.Is(err, federation.ErrNotFound) {
		t.Errorf("lookup of a removed user: %v", err)
	}

	fx.down(t)
	for what, err := range map[string]error{
		"lookup":   second(s.LookupUser(ctx, fx.name, false)),
		"load":     second(s.LoadUser(ctx, id.ExternalID)),
		"password": second(s.CheckPassword(ctx, id, fx.pw)),
	} {
		if !errors.Is(err, federation.ErrUnavailable) || errors.Is(err, federation.ErrNotFound) {
			t.Errorf("%s with the source down: %v", what, err)
		}
	}
	if ok, err := s.CheckPassword(ctx, id, ""); ok || err != nil {
		t.Errorf("an empty password with the source down: %v, %v (it must not ask)", ok, err)
	}
}

func passwordIs(ctx context.Context, s federation.UserStorage, id federation.Identity, pw string, want bool) error {
	ok, err := s.CheckPassword(ctx, id, pw)
	if err != nil {
		return err
	}
	if ok != want {
		return errors.New("wrong verdict")
	}
	return nil
}

func TestConformanceSlapd(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 3})
	runConformance(t, storageFixture{
		storage: slapdProvider(t, s, map[string]string{"connectionTimeout": "1000", "readTimeout": "1000"}, defaultMappers()...),
		name:    "user1", email: "user1@example.org", pw: ldaptest.DefaultUserPassword, other: "user2",
		remove: func(t *testing.T, name string) { s.Delete(t, "uid="+name+","+s.PeopleDN) },
		down:   func(t *testing.T) { s.Stop(t) },
	})
}

func TestConformanceActiveDirectoryFake(t *testing.T) {
	f := ldaptest.NewFake(t, ldaptest.FakeOptions{BaseDN: adBase})
	adUser(f, 1, "ann", "512", "1")
	bob := adUser(f, 2, "bob", "512", "1")
	runConformance(t, storageFixture{
		storage: adProvider(t, f, "READ_ONLY", adMappers()...),
		name:    "ann", email: "ann@corp.example", pw: "pw-ann", other: "bob",
		remove: func(*testing.T, string) { f.DeleteEntry(bob) },
		down:   func(*testing.T) { f.Down() },
	})
}
