package registration_test

import (
	"testing"
)

// TestRegistrationBackchannelLogoutURI: keygate posts logout tokens to a
// registered client's backchannel_logout_uri, so it is checked as redirect
// URIs are: https (http only on loopback), a host, no fragment, no user
// info. One that passes is kept, with session_required as sent.
func TestRegistrationBackchannelLogoutURI(t *testing.T) {
	e := newEnv(t)
	iat := e.initialAccess(20, 0)
	md := func(uri string) map[string]any {
		return map[string]any{"client_name": "bcl", "redirect_uris": []string{"https://rp.example.com/cb"},
			"backchannel_logout_uri": uri, "backchannel_logout_session_required": false}
	}
	for _, bad := range []string{
		"http://rp.example.com/logout",       // plain http off loopback
		"https://rp.example.com/logout#frag", // a fragment
		"https://rp.example.com/logout#",     // an empty one
		"https://user:pw@rp.example.com/out", // user info
		"https:///logout",                    // no host
		"/logout",                            // relative
		"javascript:alert(1)",                // not a URL to post to
		"ftp://rp.example.com/logout",        // another scheme
		"https://rp.example.com:bad/logout",  // unparsable
	} {
		var out map[string]any
		e.call(400, "POST", regURL, iat, md(bad), &out)
		if out["error"] != "invalid_client_metadata" {
			t.Errorf("%q: %v, want invalid_client_metadata", bad, out)
		}
	}
	for _, good := range []string{"https://rp.example.com/logout?x=1", "http://127.0.0.1:9000/logout", "http://localhost/logout"} {
		var reg map[string]any
		e.call(201, "POST", regURL, iat, md(good), &reg)
		if reg["backchannel_logout_uri"] != good || reg["backchannel_logout_session_required"] != false {
			t.Errorf("%q: registered as %v / %v", good, reg["backchannel_logout_uri"], reg["backchannel_logout_session_required"])
		}
	}
}
