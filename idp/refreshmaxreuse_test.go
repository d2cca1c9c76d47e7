package idp_test

import (
	"net/url"
	"sync"
	"testing"
)

// Keycloak's refreshTokenMaxReuse with revokeRefreshToken on
// (TokenManager.validateTokenReuse): a refresh token makes maxReuse+1
// refreshes; a token older than the newest one used is "Stale token"; a
// use past the count is "Maximum allowed refresh token reuse exceeded";
// either refusal ends the tokens of the grant (Keycloak detaches the
// client session).

// nbRefreshError refreshes with rt at realm nb and returns the status and
// the error_description (empty on success).
func nbRefreshError(t *testing.T, k *keygate, rt string) (int, string) {
	t.Helper()
	s, out := postStatus(t, k.URL+"/realms/nb/protocol/openid-connect/token", url.Values{"grant_type": {"refresh_token"},
		"client_id": {"svc"}, "client_secret": {"svc-secret-1"}, "refresh_token": {rt}})
	d, _ := out["error_description"].(string)
	if s != 200 && out["error"] != "invalid_grant" {
		t.Errorf("refresh: %d %v, want invalid_grant", s, out)
	}
	return s, d
}

const (
	reuseExceeded = "Maximum allowed refresh token reuse exceeded"
	staleToken    = "Stale token"
)

func TestRefreshMaxReuse(t *testing.T) {
	k, admin := lifeKeygate(t)
	set := func(revoke bool, maxReuse int) {
		t.Helper()
		if s, b := adminDo(t, "PUT", k.URL+"/admin/realms/nb", admin,
			map[string]any{"revokeRefreshToken": revoke, "refreshTokenMaxReuse": maxReuse}); s != 204 {
			t.Fatalf("put realm: %d %s", s, b)
		}
	}
	defer set(false, 0)
	refused := func(name, rt, want string) {
		t.Helper()
		if s, d := nbRefreshError(t, k, rt); s != 400 || d != want {
			t.Errorf("%s: %d %q, want 400 %q", name, s, d, want)
		}
	}
	rt := func(m map[string]any) string { return m["refresh_token"].(string) }

	t.Run("N+1 uses", func(t *testing.T) {
		set(true, 2)
		for _, scope := range []string{"openid", "openid offline_access"} {
			a := nbTokens(t, k, scope)
			var last map[string]any
			for range 3 {
				last = nbRefresh(t, k, rt(a), 200)
			}
			refused(scope+": a fourth use", rt(a), reuseExceeded)
			// The refusal ended the grant: the newest token too.
			if tryRefresh(t, k, "nb", rt(last)) != nil {
				t.Errorf("%s: the newest token refreshed after its grant's reuse was refused", scope)
			}
			if s := nbUserinfo(t, k, last["access_token"].(string)); s != 401 {
				t.Errorf("%s: userinfo with the newest access token after the refusal: %d", scope, s)
			}
		}
		// The newest token has its own count.
		a := nbTokens(t, k, "openid")
		b := nbRefresh(t, k, rt(a), 200)
		for range 3 {
			nbRefresh(t, k, rt(b), 200)
		}
		refused("b's fourth use", rt(b), reuseExceeded)
	})

	t.Run("stale", func(t *testing.T) {
		set(true, 2)
		a := nbTokens(t, k, "openid")
		b := nbRefresh(t, k, rt(a), 200) // a has two uses left
		c := nbRefresh(t, k, rt(b), 200) // b is the newest token used: a is stale
		refused("a after b's use", rt(a), staleToken)
		if tryRefresh(t, k, "nb", rt(c)) != nil {
			t.Error("c refreshed after a stale token's use was refused")
		}
		// A token issued by an earlier use of the token used since is
		// older than the newest one issued: stale too.
		a = nbTokens(t, k, "openid")
		b1 := nbRefresh(t, k, rt(a), 200)
		b2 := nbRefresh(t, k, rt(a), 200)
		refused("b1 after a's second use", rt(b1), staleToken)
		if tryRefresh(t, k, "nb", rt(b2)) != nil {
			t.Error("b2 refreshed after a stale token's use was refused")
		}
		if nbIntrospect(t, k, rt(b1)) {
			t.Error("a stale token introspects active")
		}
	})

	t.Run("concurrent uses", func(t *testing.T) {
		set(true, 2)
		a := nbTokens(t, k, "openid")
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, words := 0, map[string]int{}
		for range 8 {
			wg.Go(func() {
				s, d := nbRefreshError(t, k, rt(a))
				mu.Lock()
				defer mu.Unlock()
				if s == 200 {
					won++
				} else {
					words[d]++
				}
			})
		}
		wg.Wait()
		if won != 3 {
			t.Errorf("8 concurrent uses with refreshTokenMaxReuse 2: %d succeeded, want 3", won)
		}
		if words[reuseExceeded] != 8-won {
			t.Errorf("refusals %v, want %d x %q", words, 8-won, reuseExceeded)
		}
	})

	t.Run("switching", func(t *testing.T) {
		// Lowering maxReuse counts the uses already made.
		set(true, 2)
		a := nbTokens(t, k, "openid")
		b := nbRefresh(t, k, rt(a), 200)
		set(true, 0)
		if nbIntrospect(t, k, rt(a)) {
			t.Error("a token with more uses than maxReuse now allows introspects active")
		}
		refused("a used once, then maxReuse 0", rt(a), reuseExceeded)
		if tryRefresh(t, k, "nb", rt(b)) != nil {
			t.Error("b refreshed after its grant's reuse was refused")
		}
		// Raising it gives a token spent under maxReuse 0 nothing back
		// (that spend counts no use; Keycloak would allow it again), and
		// a fresh one the new count.
		a = nbTokens(t, k, "openid")
		b = nbRefresh(t, k, rt(a), 200)
		set(true, 1)
		if s, d := nbRefreshError(t, k, rt(a)); s != 400 || d != "Token is not active" {
			t.Errorf("a spent under maxReuse 0, then 1: %d %q", s, d)
		}
		if tryRefresh(t, k, "nb", rt(b)) != nil {
			t.Error("b refreshed after a's reuse")
		}
		a = nbTokens(t, k, "openid")
		nbRefresh(t, k, rt(a), 200)
		nbRefresh(t, k, rt(a), 200)
		refused("a's third use under maxReuse 1", rt(a), reuseExceeded)
		// revokeRefreshToken off: nothing is counted; a token with uses
		// left is spent by one refresh into a reusable family.
		set(true, 2)
		a = nbTokens(t, k, "openid")
		nbRefresh(t, k, rt(a), 200)
		set(false, 2)
		f := nbRefresh(t, k, rt(a), 200)
		nbRefresh(t, k, rt(f), 200)
		nbRefresh(t, k, rt(f), 200)
		if tryRefresh(t, k, "nb", rt(a)) != nil {
			t.Error("a refreshed again after it was spent with revokeRefreshToken off")
		}
	})

	t.Run("maxReuse 0", func(t *testing.T) {
		set(true, 0)
		a := nbTokens(t, k, "openid")
		b := nbRefresh(t, k, rt(a), 200)
		if s, d := nbRefreshError(t, k, rt(a)); s != 400 || d != "Token is not active" {
			t.Errorf("a reused under maxReuse 0: %d %q, want 400 %q", s, d, "Token is not active")
		}
		if tryRefresh(t, k, "nb", rt(b)) != nil {
			t.Error("b refreshed after a's reuse")
		}
		a = nbTokens(t, k, "openid")
		won := 0
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range 8 {
			wg.Go(func() {
				if s, _ := nbRefreshError(t, k, rt(a)); s == 200 {
					mu.Lock()
					won++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if won != 1 {
			t.Errorf("8 concurrent uses with refreshTokenMaxReuse 0: %d succeeded, want 1", won)
		}
	})
}
