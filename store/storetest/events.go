package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

// testEvents: login and admin events are written in batches, listed newest
// first through every filter with paging, cleared per realm, and expired
// by time.
func testEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r")
	realm(t, s, "other")
	var evs []store.Event
	for i := range 10 {
		e := store.Event{ID: fmt.Sprint("e", i), RealmID: "r", Time: t0.Add(time.Duration(i) * time.Hour), Type: "LOGIN",
			ClientID: "app", UserID: "u1", SessionID: "s", IPAddress: "10.0.0.1", Details: map[string]string{"username": "alice"}}
		if i%2 == 1 {
			e.Type, e.Error, e.UserID, e.IPAddress, e.ClientID = "LOGIN_ERROR", "invalid_user_credentials", "u2", "10.0.0.2", "cli"
		}
		evs = append(evs, e)
	}
	evs = append(evs, store.Event{ID: "x", RealmID: "other", Time: t0, Type: "LOGIN"})
	adm := []store.AdminEvent{
		{ID: "a1", RealmID: "r", Time: t0, OperationType: "CREATE", ResourceType: "USER", ResourcePath: "users/u1",
			AuthRealmID: "master", AuthClientID: "c1", AuthUserID: "admin", AuthIPAddress: "10.0.0.9", Representation: `{"username":"u1"}`},
		{ID: "a2", RealmID: "r", Time: t0.Add(time.Hour), OperationType: "DELETE", ResourceType: "USER", ResourcePath: "users/u1"},
		{ID: "a3", RealmID: "r", Time: t0.Add(2 * time.Hour), OperationType: "CREATE", ResourceType: "REALM_ROLE_MAPPING",
			ResourcePath: "users/u1/role-mappings/realm", AuthUserID: "admin"},
		{ID: "a4", RealmID: "r", Time: t0.Add(3 * time.Hour), OperationType: "UPDATE", ResourceType: "CLIENT", ResourcePath: "clients/100%_x"},
	}
	ok(t, s.AddEvents(ctx, evs, adm))
	ok(t, s.AddEvents(ctx, nil, nil))

	ids := func(es []store.Event, err error) []string {
		t.Helper()
		ok(t, err)
		out := []string{}
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	all := get[[]store.Event](t)(s.ListEvents(ctx, "r", store.EventQuery{}))
	eq(t, "first event", all[0], store.Event{ID: "e9", RealmID: "r", Time: t0.Add(9 * time.Hour), Type: "LOGIN_ERROR",
		ClientID: "cli", UserID: "u2", SessionID: "s", IPAddress: "10.0.0.2", Error: "invalid_user_credentials",
		Details: map[string]string{"username": "alice"}})
	eq(t, "newest first", ids(all, nil), []string{"e9", "e8", "e7", "e6", "e5", "e4", "e3", "e2", "e1", "e0"})
	eq(t, "type", ids(s.ListEvents(ctx, "r", store.EventQuery{Types: []string{"LOGIN"}})), []string{"e8", "e6", "e4", "e2", "e0"})
	eq(t, "types", len(ids(s.ListEvents(ctx, "r", store.EventQuery{Types: []string{"LOGIN", "LOGIN_ERROR"}}))), 10)
	eq(t, "user", ids(s.ListEvents(ctx, "r", store.EventQuery{User: "u2", Max: 2})), []string{"e9", "e7"})
	eq(t, "client+ip", ids(s.ListEvents(ctx, "r", store.EventQuery{Client: "app", IPAddress: "10.0.0.1", First: 1, Max: 2})), []string{"e6", "e4"})
	eq(t, "first only", ids(s.ListEvents(ctx, "r", store.EventQuery{First: 8})), []string{"e1", "e0"})
	eq(t, "dates", ids(s.ListEvents(ctx, "r", store.EventQuery{From: t0.Add(2 * time.Hour), To: t0.Add(4 * time.Hour)})), []string{"e4", "e3", "e2"})
	eq(t, "other realm", ids(s.ListEvents(ctx, "other", store.EventQuery{})), []string{"x"})

	aids := func(es []store.AdminEvent, err error) []string {
		t.Helper()
		ok(t, err)
		out := []string{}
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	a := get[[]store.AdminEvent](t)(s.ListAdminEvents(ctx, "r", store.AdminEventQuery{AuthIPAddress: "10.0.0.9"}))
	eq(t, "admin event", a, adm[:1])
	eq(t, "ops", aids(s.ListAdminEvents(ctx, "r", store.AdminEventQuery{OperationTypes: []string{"CREATE"}})), []string{"a3", "a1"})
	eq(t, "resource types", aids(s.ListAdminEvents(ctx, "r", store.AdminEventQuery{ResourceTypes: []string{"USER", "CLIENT"}, Max: 2})), []string{"a4", "a2"})
	eq(t, "path", aids(s.ListAdminEvents(ctx, "r", store.AdminEventQuery{ResourcePath: "users/u1"})), []string{"a2", "a1"})
	eq(t, "path wildcard", aids(s.ListAdminEvents(ctx, "r", store.AdminEventQuery{ResourcePath: "users/*"})), []string{"a3", "a2", "a1"})
	eq(t, "path literal %", aids(s.ListAdminEvents(ctx, "r", store.AdminEventQuery{ResourcePath: "clients/100%*"})), []string{"a4"})
	eq(t, "path literal _", aids(s.ListAdminEvents(ctx, "r", store.AdminEventQuery{ResourcePath: "clients/100_*"})), []string{})
	eq(t, "auth", aids(s.ListAdminEvents(ctx, "r", store.AdminEventQuery{AuthRealm: "master", AuthClient: "c1", AuthUser: "admin"})), []string{"a1"})
	eq(t, "admin dates", aids(s.ListAdminEvents(ctx, "r", store.AdminEventQuery{From: t0.Add(time.Hour), First: 1})), []string{"a3", "a2"})

	n := get[int](t)(s.DeleteExpiredEvents(ctx, "r", t0.Add(5*time.Hour)))
	eq(t, "expired", n, 5)
	eq(t, "after expiry", ids(s.ListEvents(ctx, "r", store.EventQuery{})), []string{"e9", "e8", "e7", "e6", "e5"})
	ok(t, s.DeleteEvents(ctx, "r"))
	eq(t, "cleared", ids(s.ListEvents(ctx, "r", store.EventQuery{})), []string{})
	eq(t, "other kept", ids(s.ListEvents(ctx, "other", store.EventQuery{})), []string{"x"})
	eq(t, "admin kept", len(aids(s.ListAdminEvents(ctx, "r", store.AdminEventQuery{}))), 4)
	ok(t, s.DeleteAdminEvents(ctx, "r"))
	eq(t, "admin cleared", aids(s.ListAdminEvents(ctx, "r", store.AdminEventQuery{})), []string{})
	// A batch with a duplicate id writes nothing of the batch.
	err := s.AddEvents(ctx, []store.Event{{ID: "n1", RealmID: "r", Time: t0, Type: "LOGIN"}, {ID: "x", RealmID: "r", Time: t0, Type: "LOGIN"}}, nil)
	if err == nil {
		t.Fatal("duplicate event id accepted")
	}
	eq(t, "batch rolled back", ids(s.ListEvents(ctx, "r", store.EventQuery{})), []string{})
}
