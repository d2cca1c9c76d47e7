package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlstore"
)

// testDuplicateEmails: a realm's DuplicateEmailsAllowed decides whether the
// store keeps its users' emails unique, for every write (one user, an
// update, a bulk batch) and across a flip of the setting, which refuses to
// disallow duplicates that exist. GetUserByEmail never picks one of several.
func testDuplicateEmails(t *testing.T, s store.Store) {
	ctx := t.Context()
	allow := store.Realm{ID: "allow", Name: "allow", Enabled: true, Settings: raw(`{"duplicateEmailsAllowed":true}`),
		Created: t0, DuplicateEmailsAllowed: true}
	ok(t, s.CreateRealm(ctx, allow))
	deny := realm(t, s, "deny")
	eq(t, "GetRealm of a realm allowing duplicates", get[store.Realm](t)(s.GetRealm(ctx, "allow")), allow)
	eq(t, "GetRealm of a realm refusing them", get[store.Realm](t)(s.GetRealm(ctx, "deny")).DuplicateEmailsAllowed, false)

	mk := func(realmID, id, email string) store.User {
		return store.User{ID: realmID + "-" + id, RealmID: realmID, Username: id, Email: email, Enabled: true, Created: t0}
	}
	// Allowed: two users, one email (compared lower-cased).
	a1, a2 := mk("allow", "a1", "twin@example.com"), mk("allow", "a2", "TWIN@example.com")
	ok(t, s.CreateUser(ctx, a1))
	ok(t, s.CreateUser(ctx, a2))
	_, err := s.GetUserByEmail(ctx, "allow", "Twin@Example.com")
	isErr(t, err, store.ErrAmbiguous)
	isErr(t, err, store.ErrNotFound) // no one user: a lookup treats it as nobody
	eq(t, "exact email search lists both", usernames(get[[]store.User](t)(s.ListUsers(ctx, "allow",
		store.UserQuery{Email: "twin@example.com", Exact: true}))), []string{"a1", "a2"})
	// The username stays unique whatever the setting.
	isErr(t, s.CreateUser(ctx, store.User{ID: "allow-x", RealmID: "allow", Username: "A1", Created: t0}), store.ErrConflict)

	// Refused: the second user and an update to a taken email.
	d1, d2 := mk("deny", "d1", "one@example.com"), mk("deny", "d2", "ONE@example.com")
	ok(t, s.CreateUser(ctx, d1))
	isErr(t, s.CreateUser(ctx, d2), store.ErrConflict)
	d2.Email = "two@example.com"
	ok(t, s.CreateUser(ctx, d2))
	d2.Email = "one@example.com"
	isErr(t, s.UpdateUser(ctx, d2), store.ErrConflict)
	d2.Email = "two@example.com"
	eq(t, "user after a refused update", get[store.User](t)(s.GetUser(ctx, "deny", d2.ID)), d2)
	eq(t, "GetUserByEmail of the one user", get[store.User](t)(s.GetUserByEmail(ctx, "deny", "ONE@example.com")).ID, d1.ID)
	// Another realm's email never counts.
	ok(t, s.CreateUser(ctx, mk("deny", "d3", "twin@example.com")))
	// Allowed: an update to a taken email.
	a3 := mk("allow", "a3", "")
	ok(t, s.CreateUser(ctx, a3))
	a3.Email = "twin@example.com"
	ok(t, s.UpdateUser(ctx, a3))

	// Disallowing while users share an email is refused, and writes nothing.
	flip := allow
	flip.DuplicateEmailsAllowed, flip.Settings, flip.Name = false, raw(`{"duplicateEmailsAllowed":false}`), "renamed"
	isErr(t, s.UpdateRealm(ctx, flip), store.ErrConflict)
	eq(t, "realm after a refused flip", get[store.Realm](t)(s.GetRealm(ctx, "allow")), allow)
	ok(t, s.CreateUser(ctx, mk("allow", "a4", "twin@example.com"))) // still allowed
	// Once the emails differ it succeeds, and the rule holds at once.
	for i, id := range []string{"allow-a2", "allow-a3", "allow-a4"} {
		u := get[store.User](t)(s.GetUser(ctx, "allow", id))
		u.Email = fmt.Sprintf("other%d@example.com", i)
		ok(t, s.UpdateUser(ctx, u))
	}
	ok(t, s.UpdateRealm(ctx, flip))
	eq(t, "realm after the flip", get[store.Realm](t)(s.GetRealm(ctx, "allow")), flip)
	isErr(t, s.CreateUser(ctx, mk("allow", "a5", "twin@example.com")), store.ErrConflict)
	a1.Email = "other0@example.com"
	isErr(t, s.UpdateUser(ctx, a1), store.ErrConflict)
	// An update that keeps the setting leaves the rule as it is.
	flip.Name = "renamed-again"
	ok(t, s.UpdateRealm(ctx, flip))
	isErr(t, s.CreateUser(ctx, mk("allow", "a5", "twin@example.com")), store.ErrConflict)
	// And back: duplicates are allowed again.
	flip.DuplicateEmailsAllowed = true
	ok(t, s.UpdateRealm(ctx, flip))
	ok(t, s.CreateUser(ctx, mk("allow", "a5", "twin@example.com")))
	ok(t, s.UpdateUser(ctx, a1))

	// Flipping the refusing realm to allow, then back, with no duplicates.
	deny.DuplicateEmailsAllowed = true
	ok(t, s.UpdateRealm(ctx, deny))
	ok(t, s.CreateUser(ctx, mk("deny", "d4", "one@example.com")))
	deny.DuplicateEmailsAllowed = false
	isErr(t, s.UpdateRealm(ctx, deny), store.ErrConflict)
	ok(t, s.DeleteUser(ctx, "deny", "deny-d4"))
	ok(t, s.UpdateRealm(ctx, deny))
	isErr(t, s.CreateUser(ctx, mk("deny", "d4", "one@example.com")), store.ErrConflict)

	// Bulk writes follow the setting too, among the batch and against the store.
	batch := func(realmID, prefix string, emails ...string) []store.NewUser {
		var out []store.NewUser
		for i, e := range emails {
			out = append(out, store.NewUser{User: mk(realmID, fmt.Sprint(prefix, i), e)})
		}
		return out
	}
	ok(t, s.CreateUsers(ctx, batch("allow", "b", "bulk@example.com", "BULK@example.com", "twin@example.com")))
	_, err = s.GetUserByEmail(ctx, "allow", "bulk@example.com")
	isErr(t, err, store.ErrAmbiguous)
	isErr(t, s.CreateUsers(ctx, batch("deny", "b", "bulk@example.com", "BULK@example.com")), store.ErrConflict)
	isErr(t, s.CreateUsers(ctx, batch("deny", "b", "fresh@example.com", "one@example.com")), store.ErrConflict)
	_, err = s.GetUserByEmail(ctx, "deny", "fresh@example.com")
	isErr(t, err, store.ErrNotFound) // all or nothing
	ok(t, s.CreateUsers(ctx, batch("deny", "b", "fresh@example.com")))
	if bw, isBulk := s.(store.BulkUserWriter); isBulk {
		us := get[[]store.User](t)(bw.LookupUsers(ctx, "allow", nil, []string{"BULK@example.com"}, nil))
		eq(t, "LookupUsers finds every user with the email", len(us), 2)
	}
}

// testConcurrentDuplicateEmails: the database decides races, not the
// callers' checks. Of several users created at once with one email in a
// realm that refuses duplicates exactly one is stored; and a flip to
// "refuse" racing a duplicate's creation never leaves the realm refusing
// duplicates it holds: one of the two fails.
func testConcurrentDuplicateEmails(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "deny")
	const n = 6
	warm(t, s, n)
	for round := range 5 {
		email := fmt.Sprintf("race%d@example.com", round)
		errs := parallel(n, func(i int) error {
			return s.CreateUser(ctx, store.User{ID: fmt.Sprintf("u%d-%d", round, i), RealmID: "deny",
				Username: fmt.Sprintf("user%d-%d", round, i), Email: email, Enabled: true, Created: t0})
		})
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrConflict):
				t.Fatalf("round %d: a losing create failed with %v, want ErrConflict", round, err)
			}
		}
		eq(t, fmt.Sprintf("round %d: creates that won", round), won, 1)
		get[store.User](t)(s.GetUserByEmail(ctx, "deny", email))
	}

	r := store.Realm{ID: "flip", Name: "flip", Enabled: true, Created: t0, DuplicateEmailsAllowed: true}
	var flips, creates int
	ok(t, s.CreateRealm(ctx, r))
	for round := range 10 {
		email := fmt.Sprintf("flip%d@example.com", round)
		ok(t, s.CreateUser(ctx, store.User{ID: fmt.Sprintf("f%d-a", round), RealmID: "flip", Username: fmt.Sprintf("f%d-a", round),
			Email: email, Created: t0}))
		r.DuplicateEmailsAllowed = true
		ok(t, s.UpdateRealm(ctx, r))
		errs := parallel(2, func(i int) error {
			if i == 0 {
				off := r
				off.DuplicateEmailsAllowed = false
				return s.UpdateRealm(ctx, off)
			}
			return s.CreateUser(ctx, store.User{ID: fmt.Sprintf("f%d-b", round), RealmID: "flip", Username: fmt.Sprintf("f%d-b", round),
				Email: email, Created: t0})
		})
		for i, err := range errs {
			if err != nil && !errors.Is(err, store.ErrConflict) {
				t.Fatalf("round %d: %s failed with %v, want ErrConflict", round, []string{"flip", "create"}[i], err)
			}
		}
		got := get[store.Realm](t)(s.GetRealm(ctx, "flip"))
		_, lerr := s.GetUserByEmail(ctx, "flip", email)
		switch {
		case errs[0] == nil && errs[1] == nil:
			t.Fatalf("round %d: both the flip and the duplicate succeeded (realm allows duplicates: %v, lookup: %v)",
				round, got.DuplicateEmailsAllowed, lerr)
		case errs[0] == nil:
			flips++
			eq(t, "allowed after the flip", got.DuplicateEmailsAllowed, false)
			ok(t, lerr)
		default:
			creates++
			eq(t, "allowed after the refused flip", got.DuplicateEmailsAllowed, true)
			isErr(t, lerr, store.ErrAmbiguous)
		}
		// Every row obeys the realm's rule as it stands.
		if !got.DuplicateEmailsAllowed {
			ok(t, s.Tx(ctx, func(ctx context.Context) error {
				us, err := s.ListUsers(ctx, "flip", store.UserQuery{Email: email, Exact: true})
				if err == nil && len(us) != 1 {
					err = fmt.Errorf("round %d: %d users share %s in a realm refusing duplicates", round, len(us), email)
				}
				return err
			}))
		}
		// The next round starts from a realm with no duplicates.
		if err := s.DeleteUser(ctx, "flip", fmt.Sprintf("f%d-b", round)); err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
	}
	t.Logf("flip against create: the flip won %d rounds, the create %d", flips, creates)
}

// RunDuplicateEmailsMigration checks migration 0010 on a database at
// version 9 with users: a realm whose settings allow duplicate emails
// (however the JSON is spaced) gets the setting as a column and its users
// may then share an email; the others, and a realm whose settings are not
// JSON, keep emails unique; users with no email stay unconstrained; the
// rows survive.
func RunDuplicateEmailsMigration(t *testing.T, s *sqlstore.Store) {
	ctx := t.Context()
	ok(t, s.MigrateTo(ctx, 9))
	exec := func(q string) {
		t.Helper()
		_, err := s.DB().ExecContext(ctx, q)
		ok(t, err)
	}
	exec(`INSERT INTO realms (id, name, enabled, settings, created) VALUES
		('dup', 'dup', TRUE, '{"sslRequired":"external", "duplicateEmailsAllowed" : true}', 0),
		('nodup', 'nodup', TRUE, '{"duplicateEmailsAllowed":false,"attributes":{"duplicateEmailsAllowed":"true"}}', 0),
		('plain', 'plain', TRUE, '{}', 0),
		('bare', 'bare', TRUE, '', 0)`)
	exec(`INSERT INTO users (id, realm_id, username, email, enabled, created) VALUES
		('d1', 'dup', 'd1', 'same@example.com', TRUE, 0), ('n1', 'nodup', 'n1', 'same@example.com', TRUE, 0),
		('p1', 'plain', 'p1', 'same@example.com', TRUE, 0), ('p2', 'plain', 'p2', '', TRUE, 0),
		('b1', 'bare', 'b1', 'same@example.com', TRUE, 0)`)
	ok(t, s.Migrate(ctx))
	for id, want := range map[string]bool{"dup": true, "nodup": false, "plain": false, "bare": false} {
		eq(t, "realm "+id+" allows duplicate emails", get[store.Realm](t)(s.GetRealm(ctx, id)).DuplicateEmailsAllowed, want)
		eq(t, "user of realm "+id, get[store.User](t)(s.GetUserByEmail(ctx, id, "same@example.com")).RealmID, id)
	}
	ok(t, s.CreateUser(ctx, store.User{ID: "d2", RealmID: "dup", Username: "d2", Email: "same@example.com", Created: t0}))
	_, err := s.GetUserByEmail(ctx, "dup", "same@example.com")
	isErr(t, err, store.ErrAmbiguous)
	for _, realmID := range []string{"nodup", "plain", "bare"} {
		err := s.CreateUser(ctx, store.User{ID: realmID + "2", RealmID: realmID, Username: "x2", Email: "SAME@example.com", Created: t0})
		isErr(t, err, store.ErrConflict)
	}
	ok(t, s.CreateUser(ctx, store.User{ID: "p3", RealmID: "plain", Username: "p3", Created: t0}))
	// The copy on the users follows the realm.
	r := get[store.Realm](t)(s.GetRealm(ctx, "plain"))
	r.DuplicateEmailsAllowed = true
	ok(t, s.UpdateRealm(ctx, r))
	ok(t, s.CreateUser(ctx, store.User{ID: "p4", RealmID: "plain", Username: "p4", Email: "same@example.com", Created: t0}))
}
