// Package federationtest has an in-memory user storage for fast tests of
// what sits on top of federation (the linker, the service, authn). It is
// a stand-in for unit tests only: the LDAP provider is tested against a
// real slapd.
package federationtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/store"
)

// Fake is an in-memory UserStorage. Its fields may be changed between
// calls under Lock.
type Fake struct {
	sync.Mutex
	// Users by ExternalID, with their passwords.
	Users     map[string]federation.Identity
	Passwords map[string]string
	// Down makes every call fail as an unreachable directory would.
	Down bool
	// PasswordErr, when set, is CheckPassword's answer to a right password
	// (e.g. federation.ErrMustChangePassword).
	PasswordErr error

	// Changed records when each user last changed, for changed-user syncs
	// (users without an entry count as changed long ago).
	Changed map[string]time.Time
	// PageSize is SyncUsers' page size (default 100); SyncHook, when set,
	// runs before each page is handed over and may fail the sync.
	PageSize int
	SyncHook func(page int) error

	Lookups, Loads, Checks atomic.Int64
	closed                 atomic.Bool
}

// NewFake returns an empty fake.
func NewFake() *Fake {
	return &Fake{Users: map[string]federation.Identity{}, Passwords: map[string]string{}, Changed: map[string]time.Time{}}
}

// Add puts a user with password pw into the fake.
func (f *Fake) Add(id federation.Identity, pw string) {
	f.Lock()
	defer f.Unlock()
	f.Users[id.ExternalID] = id
	f.Passwords[id.ExternalID] = pw
}

// Remove takes the user with this ExternalID out of the fake.
func (f *Fake) Remove(externalID string) {
	f.Lock()
	defer f.Unlock()
	delete(f.Users, externalID)
}

var errDown = fmt.Errorf("%w: connection refused", federation.ErrUnavailable)

func (f *Fake) LookupUser(_ context.Context, name string, byEmail bool) (federation.Identity, error) {
	f.Lookups.Add(1)
	f.Lock()
	defer f.Unlock()
	if f.Down {
		return federation.Identity{}, errDown
	}
	var found []federation.Identity
	for _, id := range f.Users {
		if (!byEmail && strings.EqualFold(id.Username, name)) || (byEmail && strings.EqualFold(id.Email, name)) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
		return federation.Identity{}, federation.ErrNotFound
	case 1:
		return found[0], nil
	}
	return federation.Identity{}, federation.ErrAmbiguous
}

func (f *Fake) LoadUser(_ context.Context, externalID string) (federation.Identity, error) {
	f.Loads.Add(1)
	f.Lock()
	defer f.Unlock()
	if f.Down {
		return federation.Identity{}, errDown
	}
	id, ok := f.Users[externalID]
	if !ok {
		return federation.Identity{}, federation.ErrNotFound
	}
	return id, nil
}

func (f *Fake) CheckPassword(_ context.Context, id federation.Identity, pw string) (bool, error) {
	if pw == "" {
		return false, nil
	}
	f.Checks.Add(1)
	f.Lock()
	defer f.Unlock()
	if f.Down {
		return false, errDown
	}
	want, ok := f.Passwords[id.ExternalID]
	if !ok || want != pw {
		return false, nil
	}
	return true, f.PasswordErr
}

// SearchUsers finds the users whose username or email contains query.
func (f *Fake) SearchUsers(_ context.Context, query string, max int) ([]federation.Identity, error) {
	f.Lock()
	defer f.Unlock()
	if f.Down {
		return nil, errDown
	}
	var out []federation.Identity
	q := strings.ToLower(strings.Trim(query, "*"))
	for _, id := range f.Users {
		if strings.Contains(strings.ToLower(id.Username), q) || strings.Contains(strings.ToLower(id.Email), q) {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b federation.Identity) int { return strings.Compare(a.Username, b.Username) })
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out, nil
}

// SyncUsers hands over the users (changed since since, unless it is zero)
// in pages, ordered by ExternalID.
func (f *Fake) SyncUsers(ctx context.Context, since time.Time, page func([]federation.Identity) error) error {
	f.Lock()
	if f.Down {
		f.Unlock()
		return errDown
	}
	var all []federation.Identity
	for _, id := range f.Users {
		if since.IsZero() || !f.Changed[id.ExternalID].Before(since) {
			all = append(all, id)
		}
	}
	size, hook := f.PageSize, f.SyncHook
	f.Unlock()
	if size <= 0 {
		size = 100
	}
	slices.SortFunc(all, func(a, b federation.Identity) int { return strings.Compare(a.ExternalID, b.ExternalID) })
	for i, n := 0, 0; i < len(all); i, n = i+size, n+1 {
		if hook != nil {
			if err := hook(n); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := page(all[i:min(i+size, len(all))]); err != nil {
			return err
		}
	}
	return nil
}

// Close marks the fake closed.
func (f *Fake) Close() error {
	f.closed.Store(true)
	return nil
}

// Closed reports whether Close was called.
func (f *Fake) Closed() bool { return f.closed.Load() }

// Factory opens the fakes by component id: a test sets fakes[id] and
// creates a component with providerId "fake" (or whatever it registers).
func Factory(fakes map[string]*Fake) federation.Factory {
	return func(_ context.Context, _ federation.Env, c store.Component, _ []store.Component) (federation.UserStorage, error) {
		f, ok := fakes[c.ID]
		if !ok {
			return nil, fmt.Errorf("no fake for component %s", c.ID)
		}
		return f, nil
	}
}
