package saml

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	crewsaml "github.com/crewjam/saml"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/store"
)

// Logout starts a logout at the IdP of the session that id's login left:
// a LogoutRequest (ID req.ID, or a new one) for its NameID and
// SessionIndex to singleLogoutServiceUrl, by the POST binding with
// postBindingLogout, else the Redirect binding, always signed with the
// realm key. The state to keep is the request's ID, which HandleLogout
// expects back as req.ID with the IdP's LogoutResponse. A zero
// BrokerStart means the IdP has no single logout service.
func (b *Broker) Logout(_ context.Context, req federation.BrokerRequest, id federation.BrokeredIdentity) (federation.BrokerStart, error) {
	if b.cfg.sloURL == "" {
		return federation.BrokerStart{}, nil
	}
	if id.NameID == "" {
		return federation.BrokerStart{}, errors.New("saml: logout needs the NameID of the login")
	}
	sp, err := b.serviceProvider(req, nil, b.cfg.idpEntityID)
	if err != nil {
		return federation.BrokerStart{}, err
	}
	unsigned := *sp
	unsigned.LogoutSignatureMethod, unsigned.SignatureMethod = "", ""
	lr, err := unsigned.MakeLogoutRequest(b.cfg.sloURL, id.NameID, crewsaml.WithSessionIndex(id.SessionIndex))
	if err != nil {
		return federation.BrokerStart{}, err
	}
	if req.ID != "" {
		lr.ID = req.ID
	} else {
		lr.ID = newID()
	}
	// The NameID as the IdP issued it: its Format, and no qualifiers
	// keygate did not receive.
	lr.NameID.Format = id.NameIDFormat
	lr.NameID.NameQualifier, lr.NameID.SPNameQualifier = "", ""
	start := federation.BrokerStart{State: encodeState(lr.ID)}
	if b.cfg.postBindingLogout {
		if err := sp.SignLogoutRequest(lr); err != nil {
			return federation.BrokerStart{}, fmt.Errorf("saml: signing the LogoutRequest: %w", err)
		}
		msg, err := elementBytes(lr.Element())
		if err != nil {
			return federation.BrokerStart{}, err
		}
		start.PostURL = b.cfg.sloURL
		start.PostForm = map[string]string{"SAMLRequest": base64.StdEncoding.EncodeToString(msg)}
		if req.RelayState != "" {
			start.PostForm["RelayState"] = req.RelayState
		}
		return start, nil
	}
	u, err := sp.RedirectLogoutRequestURL(lr, req.RelayState)
	if err != nil {
		return federation.BrokerStart{}, err
	}
	start.RedirectURL = u.String()
	return start, nil
}

func newID() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return "id-" + hex.EncodeToString(b[:])
}

// HandleLogout takes a logout message the IdP sent to the endpoint:
//   - a LogoutRequest (SAMLRequest) is validated (signature, by the
//     Redirect binding's query string or an enveloped one; Issuer;
//     Destination the endpoint; IssueInstant and NotOnOrAfter; never seen
//     before, through the replay store) and answered by a signed
//     LogoutResponse to singleLogoutServiceUrl (POST with
//     postBindingLogout, else Redirect) carrying RelayState back; the
//     caller ends the sessions of nameID (and sessionIndex when given);
//   - a LogoutResponse (SAMLResponse) must answer the LogoutRequest whose
//     ID is req.ID, be signed, come from the IdP to the endpoint and say
//     Success; nameID is then empty.
func (b *Broker) HandleLogout(ctx context.Context, req federation.BrokerRequest, params url.Values) (nameID, sessionIndex string, response federation.BrokerStart, err error) {
	switch {
	case params.Has("SAMLRequest") && !params.Has("SAMLResponse"):
		return b.handleLogoutRequest(ctx, req, params)
	case params.Has("SAMLResponse") && !params.Has("SAMLRequest"):
		return "", "", federation.BrokerStart{}, b.handleLogoutResponse(ctx, req, params)
	}
	return "", "", federation.BrokerStart{}, refuse("no logout message")
}

// logoutMessage reads a logout message and builds the request crewjam/saml
// reads it from.
func (b *Broker) logoutMessage(req federation.BrokerRequest, params url.Values, param, root string) (*http.Request, *messageInfo, error) {
	raw, redirect, err := readMessage(params, req.RawQuery, param)
	if err != nil {
		return nil, nil, refuse("%v", err)
	}
	info, err := inspect(raw)
	if err != nil {
		return nil, nil, refuse("%v", err)
	}
	if info.root != root || info.rootNS != nsProtocol {
		return nil, nil, refuse("not a SAML %s", root)
	}
	if b.trust != nil {
		resigned, err := b.trust.resign(raw)
		if err != nil {
			return nil, nil, refuse("%v", err)
		}
		form := url.Values{param: {base64.StdEncoding.EncodeToString(resigned)}}
		if rs := params.Get("RelayState"); rs != "" {
			form.Set("RelayState", rs)
		}
		return &http.Request{Method: http.MethodPost, URL: &url.URL{}, Form: form, PostForm: form}, info, nil
	}
	if redirect {
		rawQuery := req.RawQuery
		if rawQuery == "" {
			rawQuery = params.Encode()
		}
		return &http.Request{Method: http.MethodGet, URL: &url.URL{RawQuery: rawQuery}}, info, nil
	}
	return &http.Request{Method: http.MethodPost, URL: &url.URL{}, Form: params, PostForm: params}, info, nil
}

// logoutIssuer is the IdP entity id a logout message must come from.
func (b *Broker) logoutIssuer(info *messageInfo) (string, error) {
	if b.cfg.idpEntityID != "" {
		return b.cfg.idpEntityID, nil
	}
	if info.issuer == "" {
		return "", refuse("no Issuer")
	}
	return info.issuer, nil
}

// logoutSP is serviceProvider with the IdP's current certificates (the
// throwaway one with validateSignature=false).
func (b *Broker) logoutSP(ctx context.Context, req federation.BrokerRequest, issuer string) (*crewsaml.ServiceProvider, error) {
	certs, err := b.certs.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("saml identity provider %q: %w", b.alias, err)
	}
	if b.trust != nil {
		certs = []*x509.Certificate{b.trust.cert}
	}
	return b.serviceProvider(req, certs, issuer)
}

func (b *Broker) handleLogoutRequest(ctx context.Context, req federation.BrokerRequest, params url.Values) (string, string, federation.BrokerStart, error) {
	var none federation.BrokerStart
	httpReq, info, err := b.logoutMessage(req, params, "SAMLRequest", "LogoutRequest")
	if err != nil {
		return "", "", none, err
	}
	if info.destination != req.CallbackURL {
		return "", "", none, refuse("Destination is not this endpoint")
	}
	issuer, err := b.logoutIssuer(info)
	if err != nil {
		return "", "", none, err
	}
	validate := func() (*crewsaml.LogoutRequest, *crewsaml.ServiceProvider, error) {
		sp, err := b.logoutSP(ctx, req, issuer)
		if err != nil {
			return nil, nil, err
		}
		sp.ReplayCache = replayCache{ctx: ctx, replay: b.env.Replay, issuer: issuer}
		lr, err := sp.ValidateLogoutRequest(httpReq)
		return lr, sp, err
	}
	lr, sp, err := validate()
	if err != nil && b.trust == nil && isSignatureError(err) && b.certs.refresh(ctx) {
		lr, sp, err = validate()
	}
	if err != nil {
		if sp == nil {
			return "", "", none, err
		}
		return "", "", none, refusal(err)
	}
	if lr.NameID == nil || lr.NameID.Value == "" {
		return "", "", none, refuse("LogoutRequest has no NameID")
	}
	var session string
	if idx := lr.AllSessionIndexes(); len(idx) > 0 {
		session = idx[0].Value
	}
	resp, err := b.logoutResponse(sp, lr.ID, params.Get("RelayState"))
	if err != nil {
		return "", "", none, err
	}
	return lr.NameID.Value, session, resp, nil
}

// logoutResponse is the signed LogoutResponse to the IdP's single logout
// service (none when it has none).
func (b *Broker) logoutResponse(sp *crewsaml.ServiceProvider, requestID, relayState string) (federation.BrokerStart, error) {
	if b.cfg.sloURL == "" {
		return federation.BrokerStart{}, nil
	}
	if b.cfg.postBindingLogout {
		resp, err := sp.MakeLogoutResponse(b.cfg.sloURL, requestID)
		if err != nil {
			return federation.BrokerStart{}, err
		}
		msg, err := elementBytes(resp.Element())
		if err != nil {
			return federation.BrokerStart{}, err
		}
		start := federation.BrokerStart{PostURL: b.cfg.sloURL, PostForm: map[string]string{"SAMLResponse": base64.StdEncoding.EncodeToString(msg)}}
		if relayState != "" {
			start.PostForm["RelayState"] = relayState
		}
		return start, nil
	}
	u, err := sp.MakeRedirectLogoutResponse(requestID, relayState)
	if err != nil {
		return federation.BrokerStart{}, err
	}
	return federation.BrokerStart{RedirectURL: u.String()}, nil
}

func (b *Broker) handleLogoutResponse(ctx context.Context, req federation.BrokerRequest, params url.Values) error {
	if req.ID == "" {
		return refuse("a LogoutResponse without a pending logout")
	}
	httpReq, info, err := b.logoutMessage(req, params, "SAMLResponse", "LogoutResponse")
	if err != nil {
		return err
	}
	if info.inResponseTo != req.ID {
		return refuse("InResponseTo is not the pending logout")
	}
	if info.status != crewsaml.StatusSuccess {
		return refuse("logout status %s %s", info.status, info.subStatus)
	}
	issuer, err := b.logoutIssuer(info)
	if err != nil {
		return err
	}
	parse := func() error {
		sp, err := b.logoutSP(ctx, req, issuer)
		if err != nil {
			return err
		}
		if _, err := sp.ParseLogoutResponse(httpReq, []string{req.ID}); err != nil {
			return refusal(err)
		}
		return nil
	}
	err = parse()
	if err != nil && b.trust == nil && isSignatureError(err) && b.certs.refresh(ctx) {
		err = parse()
	}
	return err
}

func isSignatureError(err error) bool {
	var ire *crewsaml.InvalidResponseError
	if errors.As(err, &ire) && ire.PrivateErr != nil {
		err = ire.PrivateErr
	}
	return errors.Is(err, crewsaml.ErrInvalidSignature)
}

// replayCache is env.Replay as crewjam/saml's AssertionReplayCache (for
// LogoutRequest ids, which crewjam prefixes with "LogoutRequest:").
type replayCache struct {
	ctx    context.Context
	replay func(ctx context.Context, id string, until time.Time) error
	issuer string
}

func (r replayCache) Consume(id string, until time.Time) error {
	if r.replay == nil {
		return errors.New("no replay store")
	}
	err := r.replay(r.ctx, ReplayKey(r.issuer, id), until)
	if errors.Is(err, store.ErrConflict) {
		return crewsaml.ErrAssertionReplayed
	}
	return err
}
