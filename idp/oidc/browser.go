package oidc

import (
	"net/http"
	"net/url"

	"github.com/keygate/keygate/store"
)

// Browser is what the authorization endpoint needs from the browser side
// of logins (idp/login, which imports this package): the SSO session, the
// login form, and the error page. Every request that reaches it has been
// validated (ParseAuthorizeRequest); it finishes with IssueAuthorizeResponse.
type Browser interface {
	// LiveSession returns the live SSO session the request's cookies name,
	// or nil; an error (store.ErrUnavailable) when the store could not say.
	LiveSession(r *http.Request, realm *Realm) (*store.Session, error)
	// ResumeSession answers req from sso, a live SSO session that
	// satisfies the request's prompt and max_age.
	ResumeSession(w http.ResponseWriter, r *http.Request, realm *Realm, req *AuthorizeRequest, sso *store.Session)
	// ForwardsPromptNone says whether a prompt=none request with no session
	// goes on to the identity provider alias (kc_idp_hint) names, which
	// answers it without asking (its acceptsPromptNoneForwardFromClient),
	// instead of login_required; an error when the store could not say.
	ForwardsPromptNone(r *http.Request, realm *Realm, alias string) (bool, error)
	// StartLogin asks the person to sign in, to answer the authorization
	// request form of client c.
	StartLogin(w http.ResponseWriter, r *http.Request, realm *Realm, c *Client, form url.Values)
	// ErrorPage shows the error page with message msgKey and status.
	ErrorPage(w http.ResponseWriter, r *http.Request, realm *Realm, status int, msgKey string)
}

// SetBrowser sets the browser side of logins. It must be set before the
// provider serves requests.
func (p *Provider) SetBrowser(b Browser) { p.browser = b }
