// Package events records Keycloak's login and admin events.
//
// Every event goes to the realm's listeners at once: "jboss-logging" (the
// default, as in Keycloak) writes one log line per event with the logger
// attribute org.keycloak.events, whether or not the realm stores events.
// When the realm stores them (eventsEnabled, enabledEventTypes;
// adminEventsEnabled), the event is queued for a background writer that
// inserts what has gathered in one transaction, so a login adds no write
// transaction of its own. The queue is bounded: when the database falls
// behind, events are dropped, counted, and said so in one log line per
// overflow episode, rather than slowing logins down.
package events

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// Keycloak's event types keygate emits.
const (
	Login                    = "LOGIN"
	LoginError               = "LOGIN_ERROR"
	CodeToToken              = "CODE_TO_TOKEN"
	CodeToTokenError         = "CODE_TO_TOKEN_ERROR"
	RefreshToken             = "REFRESH_TOKEN"
	RefreshTokenError        = "REFRESH_TOKEN_ERROR"
	Logout                   = "LOGOUT"
	LogoutError              = "LOGOUT_ERROR"
	ClientLogin              = "CLIENT_LOGIN"
	ClientLoginError         = "CLIENT_LOGIN_ERROR"
	UpdatePassword           = "UPDATE_PASSWORD"
	UpdatePasswordError      = "UPDATE_PASSWORD_ERROR"
	IdentityProviderLogin    = "IDENTITY_PROVIDER_LOGIN"
	IdentityProviderLoginErr = "IDENTITY_PROVIDER_LOGIN_ERROR"
	// IdentityProviderRetrieveToken: a client read a user's stored IdP
	// token (/broker/{alias}/token).
	IdentityProviderRetrieveToken    = "IDENTITY_PROVIDER_RETRIEVE_TOKEN"
	IdentityProviderRetrieveTokenErr = "IDENTITY_PROVIDER_RETRIEVE_TOKEN_ERROR"
)

// notSavedByDefault are the types Keycloak does not store when the realm's
// enabledEventTypes is empty (EventType.isSaveByDefault() false).
var notSavedByDefault = map[string]bool{
	RefreshToken: true, RefreshTokenError: true, "VALIDATE_ACCESS_TOKEN": true, "VALIDATE_ACCESS_TOKEN_ERROR": true,
	"INTROSPECT_TOKEN": true, "INTROSPECT_TOKEN_ERROR": true, "USER_INFO_REQUEST": true, "USER_INFO_REQUEST_ERROR": true,
	IdentityProviderLogin: true, IdentityProviderLoginErr: true, "IDENTITY_PROVIDER_RESPONSE": true,
	"IDENTITY_PROVIDER_RESPONSE_ERROR": true, "IDENTITY_PROVIDER_RETRIEVE_TOKEN": true,
	"IDENTITY_PROVIDER_RETRIEVE_TOKEN_ERROR": true, "INVALID_SIGNATURE": true, "INVALID_SIGNATURE_ERROR": true,
	"REGISTER_NODE": true, "UNREGISTER_NODE": true, "PERMISSION_TOKEN": true,
}

// Stored reports whether realm settings s store an event of type t.
func Stored(s rep.EventsSettings, t string) bool {
	if !s.EventsEnabled {
		return false
	}
	if len(s.EnabledEventTypes) == 0 {
		return !notSavedByDefault[t]
	}
	return slices.Contains(s.EnabledEventTypes, t)
}

// Caps on the caller's text an event keeps: a failed token request's
// client_id and username are whatever the request said, up to a whole
// form, and a full queue holds Buffer events. Keycloak's event table
// keeps ids in 255 characters.
const (
	maxIDBytes     = 255
	maxDetailBytes = 1024
)

// Options size the writer.
type Options struct {
	Buffer   int           // queued events before dropping; 0 = 8192
	Batch    int           // events per transaction at most; 0 = 512
	Interval time.Duration // longest an event waits for company; 0 = 200ms
}

// Recorder is the events entry point: listeners and the batching writer.
type Recorder struct {
	st      store.EventStore
	log     *slog.Logger
	opts    Options
	ch      chan any // store.Event or store.AdminEvent
	dropped atomic.Int64
	// overflowing is set while the queue is full, so one log line tells
	// of an overflow episode, not one per event.
	overflowing atomic.Bool
	flushReq    chan chan struct{}
	done        chan struct{}
	closeOnce   sync.Once
	stop        chan struct{}
	// observer sees every login event, stored or not (metrics).
	observer atomic.Pointer[func(realmName string, e store.Event)]
}

// SetObserver has fn told of every login event passed to Notify, whatever
// the realm stores or logs; the server counts them in its metrics. fn runs
// on the request's goroutine and must be quick.
func (r *Recorder) SetObserver(fn func(realmName string, e store.Event)) { r.observer.Store(&fn) }

// Notify tells the observer (SetObserver) of e in the realm named
// realmName. Safe on a nil Recorder.
func (r *Recorder) Notify(realmName string, e store.Event) {
	if r == nil {
		return
	}
	if fn := r.observer.Load(); fn != nil {
		(*fn)(realmName, e)
	}
}

// New starts a recorder writing to st and logging to log.
func New(st store.EventStore, log *slog.Logger, opts Options) *Recorder {
	if opts.Buffer <= 0 {
		opts.Buffer = 8192
	}
	if opts.Batch <= 0 {
		opts.Batch = 512
	}
	if opts.Interval <= 0 {
		opts.Interval = 200 * time.Millisecond
	}
	if log == nil {
		log = slog.Default()
	}
	r := &Recorder{st: st, log: log.With("logger", "org.keycloak.events"), opts: opts, ch: make(chan any, opts.Buffer),
		flushReq: make(chan chan struct{}), done: make(chan struct{}), stop: make(chan struct{})}
	go r.run()
	return r
}

// Dropped is how many events the full queue turned away.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Event sends a login event to the realm's listeners and, when the realm
// stores its type, to the store. Time and ID are filled in when empty.
// Safe on a nil Recorder (no events).
func (r *Recorder) Event(s rep.EventsSettings, e store.Event) {
	if r == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.ID == "" {
		e.ID = newID()
	}
	if e.RealmID == "" {
		e.RealmID = s.ID
	}
	scrubDetails(e.Details)
	clipEvent(&e)
	if slices.Contains(s.EventsListeners, "jboss-logging") {
		r.logEvent(e)
	}
	if Stored(s, e.Type) {
		r.enqueue(e)
	}
}

// Admin sends an admin event to the realm's listeners and, with
// adminEventsEnabled, to the store; the representation is kept only with
// adminEventsDetailsEnabled, and is masked (Mask) first.
func (r *Recorder) Admin(s rep.EventsSettings, e store.AdminEvent) {
	if r == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.ID == "" {
		e.ID = newID()
	}
	if e.RealmID == "" {
		e.RealmID = s.ID
	}
	if s.AdminEventsDetailsEnabled && e.Representation != "" {
		e.Representation = Mask(e.Representation)
	} else {
		e.Representation = ""
	}
	if slices.Contains(s.EventsListeners, "jboss-logging") {
		r.logAdmin(e)
	}
	if s.AdminEventsEnabled {
		r.enqueue(e)
	}
}

func (r *Recorder) enqueue(v any) {
	select {
	case r.ch <- v:
		if r.overflowing.Load() && len(r.ch) < cap(r.ch)/2 {
			r.overflowing.Store(false)
		}
	default:
		n := r.dropped.Add(1)
		if !r.overflowing.Swap(true) {
			r.log.Warn("event queue full: dropping events until the database catches up", "queue", cap(r.ch), "dropped_total", n)
		}
	}
}

func (r *Recorder) logEvent(e store.Event) {
	// Keycloak's jboss-logging listener logs successes at DEBUG and errors
	// at WARN (its success-level and error-level defaults); a refresh or a
	// client_credentials grant then builds no log line at the default level.
	level := slog.LevelDebug
	if e.Error != "" {
		level = slog.LevelWarn
	}
	if !r.log.Enabled(context.Background(), level) {
		return
	}
	attrs := []slog.Attr{slog.String("type", e.Type), slog.String("realmId", e.RealmID), slog.String("clientId", e.ClientID),
		slog.String("userId", e.UserID), slog.String("sessionId", e.SessionID), slog.String("ipAddress", e.IPAddress)}
	if e.Error != "" {
		attrs = append(attrs, slog.String("error", e.Error))
	}
	if len(e.Details) > 0 {
		d := make([]any, 0, len(e.Details))
		for _, k := range sortedKeys(e.Details) {
			d = append(d, slog.String(k, e.Details[k]))
		}
		attrs = append(attrs, slog.Group("details", d...))
	}
	r.log.LogAttrs(context.Background(), level, "event", attrs...)
}

func (r *Recorder) logAdmin(e store.AdminEvent) {
	attrs := []slog.Attr{slog.String("operationType", e.OperationType), slog.String("realmId", e.RealmID),
		slog.String("resourceType", e.ResourceType), slog.String("resourcePath", e.ResourcePath),
		slog.Group("authDetails", slog.String("realmId", e.AuthRealmID), slog.String("clientId", e.AuthClientID),
			slog.String("userId", e.AuthUserID), slog.String("ipAddress", e.AuthIPAddress))}
	level := slog.LevelInfo
	if e.Error != "" {
		attrs = append(attrs, slog.String("error", e.Error))
		level = slog.LevelWarn
	}
	if e.Representation != "" {
		attrs = append(attrs, slog.String("representation", e.Representation))
	}
	r.log.LogAttrs(context.Background(), level, "admin event", attrs...)
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// run is the writer: it gathers queued events until Batch of them or
// Interval has passed since the first, then writes them in one
// transaction.
func (r *Recorder) run() {
	defer close(r.done)
	var evs []store.Event
	var adm []store.AdminEvent
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	write := func() {
		if len(evs)+len(adm) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := r.st.AddEvents(ctx, evs, adm)
		cancel()
		if err != nil {
			r.dropped.Add(int64(len(evs) + len(adm)))
			r.log.Warn("events not stored", "events", len(evs)+len(adm), "err", err)
		}
		evs, adm = evs[:0], adm[:0]
	}
	add := func(v any) {
		switch e := v.(type) {
		case store.Event:
			evs = append(evs, e)
		case store.AdminEvent:
			adm = append(adm, e)
		}
	}
	drain := func() {
		for {
			select {
			case v := <-r.ch:
				add(v)
				if len(evs)+len(adm) >= r.opts.Batch {
					write()
				}
			default:
				write()
				return
			}
		}
	}
	for {
		select {
		case v := <-r.ch:
			add(v)
			if len(evs)+len(adm) >= r.opts.Batch {
				write()
			} else if !armed {
				timer.Reset(r.opts.Interval)
				armed = true
			}
		case <-timer.C:
			armed = false
			write()
		case ack := <-r.flushReq:
			drain()
			close(ack)
		case <-r.stop:
			drain()
			return
		}
	}
}

// Flush writes every event queued so far before it returns (tests, the
// admin events endpoints' read-your-writes).
func (r *Recorder) Flush(ctx context.Context) {
	if r == nil {
		return
	}
	ack := make(chan struct{})
	select {
	case r.flushReq <- ack:
	case <-r.done:
		return
	case <-ctx.Done():
		return
	}
	select {
	case <-ack:
	case <-ctx.Done():
	}
}

// Close writes what is queued and stops the writer.
func (r *Recorder) Close() {
	if r == nil {
		return
	}
	r.closeOnce.Do(func() { close(r.stop) })
	<-r.done
}

// secretDetail names details that must never be recorded.
func secretDetail(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"password", "secret", "token", "credential", "code_verifier", "assertion"} {
		if strings.Contains(k, s) && !strings.HasSuffix(k, "_id") && k != "token_type" {
			return true
		}
	}
	return false
}

// clipEvent bounds e's text (maxIDBytes, maxDetailBytes) and makes it
// valid UTF-8 without NUL, which PostgreSQL refuses in text columns.
func clipEvent(e *store.Event) {
	for _, f := range []*string{&e.ClientID, &e.UserID, &e.SessionID, &e.IPAddress, &e.Error} {
		*f = clip(*f, maxIDBytes)
	}
	for k, v := range e.Details {
		e.Details[k] = clip(v, maxDetailBytes)
	}
}

// clip returns s as valid UTF-8 without NUL, cut to at most n bytes at a
// character boundary.
func clip(s string, n int) string {
	if len(s) <= n && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	s = strings.ReplaceAll(strings.ToValidUTF8(s, ""), "\x00", "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func scrubDetails(d map[string]string) {
	for k := range d {
		if secretDetail(k) {
			delete(d, k)
		}
	}
}

// maskedKeys are representation fields whose values are secrets
// (lower-cased): users' credentials, clients' secrets, LDAP bind
// credentials, identity providers' client secrets, keys.
var maskedKeys = map[string]bool{
	"value": true, "secret": true, "password": true, "bindcredential": true, "clientsecret": true,
	"secretdata": true, "privatekey": true, "hashedsaltedvalue": true, "salt": true, "registrationaccesstoken": true,
	"credentialdata": true, "token": true,
}

// Mask returns the JSON document doc with every secret value replaced by
// "**********" (and "credentials" lists emptied of their values); a
// document that is not JSON is dropped whole rather than risk a secret.
func Mask(doc string) string {
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return ""
	}
	v = mask(v, "")
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func mask(v any, key string) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			lk := strings.ToLower(k)
			if maskedKeys[lk] || secretName(lk) && !isContainer(x) {
				if _, ok := x.(string); ok || x == nil {
					t[k] = "**********"
				} else {
					t[k] = mask(x, lk)
				}
				continue
			}
			t[k] = mask(x, lk)
		}
		return t
	case []any:
		for i, x := range t {
			if s, ok := x.(string); ok && s != "" && (secretName(key) || maskedKeys[key]) {
				t[i] = "**********"
				continue
			}
			t[i] = mask(x, key)
		}
		return t
	}
	return v
}

// secretName reports whether a lower-cased representation field name
// names a secret: a secret, password or credential, a private key
// ("privateKey", a SAML client's "saml.signing.private.key"), or a token
// ("accessToken", "refresh_token"; not "tokenUrl").
func secretName(lk string) bool {
	if strings.Contains(lk, "secret") || strings.Contains(lk, "password") || strings.Contains(lk, "credential") {
		return true
	}
	n := strings.NewReplacer(".", "", "_", "", "-", "").Replace(lk)
	return strings.Contains(n, "privatekey") || strings.HasSuffix(n, "token")
}

func isContainer(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// newID is a time-ordered UUID (version 7, monotonic within the process):
// events of one millisecond, listed by time then id, keep the order they
// happened in.
func newID() string {
	if id, err := uuid.NewV7(); err == nil {
		return id.String()
	}
	return uuid.NewString()
}
