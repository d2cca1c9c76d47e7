package federation

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/keygate/keygate/store"
)

// Identity-provider mappers (Keycloak's identityProviderMappers) turn what
// an identity provider said of a person (a BrokeredIdentity) into what a
// brokered login writes to the local user. They run as Keycloak runs them:
//
//   - on every login, each mapper first preprocesses the brokered identity
//     (the username template, the email and names an attribute mapper
//     takes from the assertion or the claims, attributes to set);
//   - when the login creates a user (Keycloak's importNewUser) every mapper
//     contributes, whatever its sync mode;
//   - on a later login (also the first login that links an existing
//     account) a mapper contributes by its effective sync mode: the
//     mapper's own syncMode, or the provider's when the mapper says
//     INHERIT. IMPORT contributes nothing, FORCE updates what the mapper
//     maps (a role mapper grants its role, or removes it when the
//     assertion no longer matches), LEGACY does what each mapper type did
//     before sync modes existed.
//
// A mapper's syncMode defaults to LEGACY, as does the provider's, as in
// Keycloak's models.

// Keycloak's sync modes.
const (
	SyncImport  = "IMPORT"
	SyncForce   = "FORCE"
	SyncLegacy  = "LEGACY"
	SyncInherit = "INHERIT" // mappers only
)

// IdPSettings are the settings of an identity provider that shape what its
// mappers do.
type IdPSettings struct {
	Alias      string
	ProviderID string // "saml", "oidc", "keycloak-oidc"
	// SyncMode is the provider's config syncMode: IMPORT, FORCE or LEGACY
	// ("" is LEGACY).
	SyncMode string
	// TrustEmail marks the email the provider gives as verified.
	TrustEmail bool
	// CaseSensitiveOriginalUsername keeps the case of the provider's
	// username in the federated identity (else it is lowercased).
	CaseSensitiveOriginalUsername bool
	// EmailAsUsername is the realm's registrationEmailAsUsername: a new
	// user without a username template is named by their email.
	EmailAsUsername bool
}

// ParseIdPSettings reads the settings from an identity provider's stored
// representation. EmailAsUsername, a realm setting, is left to the caller.
func ParseIdPSettings(idp store.IdentityProvider) (IdPSettings, error) {
	var rep struct {
		Alias      string            `json:"alias"`
		ProviderID string            `json:"providerId"`
		TrustEmail bool              `json:"trustEmail"`
		Config     map[string]string `json:"config"`
	}
	if len(idp.Config) > 0 {
		if err := json.Unmarshal(idp.Config, &rep); err != nil {
			return IdPSettings{}, fmt.Errorf("identity provider %q: %w", idp.Alias, err)
		}
	}
	s := IdPSettings{Alias: idp.Alias, ProviderID: idp.ProviderID, TrustEmail: rep.TrustEmail,
		SyncMode:                      strings.ToUpper(strings.TrimSpace(rep.Config["syncMode"])),
		CaseSensitiveOriginalUsername: strings.EqualFold(rep.Config["caseSensitiveOriginalUsername"], "true")}
	if s.Alias == "" {
		s.Alias = rep.Alias
	}
	if s.ProviderID == "" {
		s.ProviderID = rep.ProviderID
	}
	switch s.SyncMode {
	case "", SyncImport, SyncForce, SyncLegacy:
	default:
		return s, fmt.Errorf("identity provider %q: syncMode %q: want IMPORT, FORCE or LEGACY", s.Alias, s.SyncMode)
	}
	return s, nil
}

// MappedIdentity is the user a brokered login writes, after the mappers.
type MappedIdentity struct {
	// Identity is what to write. ExternalID is the federated identity's
	// userId. For a new user it is the whole user: Username is the new
	// user's username ("" when a username template could not be resolved:
	// the user must choose one), EmailVerified is the provider's
	// trustEmail. For an existing user it holds only what changes: a
	// profile field (Username, Email, FirstName, LastName) that is "" is
	// left as it is, EmailVerified applies to a changed Email, Attributes
	// are the attributes to set (a nil value removes one), and Grants are
	// the mappers' role and group mappings with what each mapper owns (an
	// owned mapping that is not granted is removed).
	Identity
	// BrokerUsername is the federated identity's userName (the provider's
	// username, lowercased unless caseSensitiveOriginalUsername).
	BrokerUsername string
}

// ErrIdPMapper is what an identity-provider mapper that cannot run (a
// regular expression or a JSON list that does not parse, an unknown sync
// mode) returns, wrapped with the mapper's name.
var ErrIdPMapper = errors.New("federation: invalid identity provider mapper")

// ApplyIdPMappers runs an identity provider's mappers over b, the identity
// the provider asserted. newUser says the login creates the user (a first
// login that links an existing account is not one). The warnings name
// mapper types and config keys keygate does not know, or stores without
// running, for the caller to log.
func ApplyIdPMappers(mappers []store.IdentityProviderMapper, idp IdPSettings, b BrokeredIdentity, newUser bool) (MappedIdentity, []string, error) {
	c := &brokerCtx{idp: idp, b: b, id: b.UserID, brokerUsername: b.Username, email: b.Email,
		first: b.FirstName, last: b.LastName, attrs: map[string][]string{}}
	if !idp.CaseSensitiveOriginalUsername {
		c.brokerUsername = strings.ToLower(c.brokerUsername)
	}
	var warnings []string
	type runnable struct {
		m    store.IdentityProviderMapper
		spec *idpMapperSpec
		mode string
	}
	var run []runnable
	for _, m := range mappers {
		spec, w := lookupIdPMapper(m, idp.ProviderID)
		warnings = append(warnings, w...)
		if spec == nil || spec.storedOnly {
			continue
		}
		if err := spec.check(m); err != nil {
			var missing *missingKeyError
			if errors.As(err, &missing) {
				warnings = append(warnings, fmt.Sprintf("identity provider mapper %q: %v: skipped", m.Name, err))
				continue
			}
			return MappedIdentity{}, warnings, fmt.Errorf("%w %q: %w", ErrIdPMapper, m.Name, err)
		}
		mode := effectiveSyncMode(idp.SyncMode, m.Config["syncMode"])
		run = append(run, runnable{m, spec, mode})
	}

	// Every login: preprocess.
	for _, r := range run {
		if err := r.spec.preprocess(c, r.m.Config); err != nil {
			return MappedIdentity{}, warnings, fmt.Errorf("%w %q: %w", ErrIdPMapper, r.m.Name, err)
		}
	}
	out := MappedIdentity{Identity: Identity{ExternalID: c.id, Attributes: map[string][]string{}}, BrokerUsername: c.brokerUsername}

	if newUser {
		username := c.modelUsername
		if !c.modelUsernameSet {
			switch {
			case idp.EmailAsUsername && strings.TrimSpace(c.email) != "":
				username = c.email
			case c.brokerUsername == "":
				username = idp.Alias + "." + c.id
			default:
				username = c.brokerUsername
			}
		}
		out.Username = strings.TrimSpace(username)
		out.Email, out.FirstName, out.LastName = c.email, c.first, c.last
		out.EmailVerified = idp.TrustEmail && c.email != ""
		for k, v := range c.attrs {
			if len(v) > 0 {
				out.Attributes[k] = slices.Clone(v)
			}
		}
		for _, r := range run {
			g, err := r.spec.importNew(c, r.m.Config)
			if err != nil {
				return MappedIdentity{}, warnings, fmt.Errorf("%w %q: %w", ErrIdPMapper, r.m.Name, err)
			}
			if g != nil {
				g.ImportOnly = r.mode == SyncImport
				out.Grants = append(out.Grants, *g)
			}
		}
		return out, warnings, nil
	}

	// A later login: the provider's FORCE updates the email and names
	// (IdentityBrokerService's setBasicUserAttributes and updateEmail).
	if normSyncMode(idp.SyncMode) == SyncForce {
		out.Email, out.FirstName, out.LastName = c.email, c.first, c.last
	}
	for _, r := range run {
		var f func(*brokerCtx, map[string]string, *MappedIdentity) (*Grant, error)
		switch r.mode {
		case SyncForce:
			f = r.spec.update
		case SyncLegacy:
			f = r.spec.legacy
		}
		if f == nil {
			continue
		}
		g, err := f(c, r.m.Config, &out)
		if err != nil {
			return MappedIdentity{}, warnings, fmt.Errorf("%w %q: %w", ErrIdPMapper, r.m.Name, err)
		}
		if g != nil {
			out.Grants = append(out.Grants, *g)
		}
	}
	if out.Email != "" {
		out.EmailVerified = idp.TrustEmail
	}
	return out, warnings, nil
}

// brokerCtx is Keycloak's BrokeredIdentityContext as the mappers change it.
type brokerCtx struct {
	idp            IdPSettings
	b              BrokeredIdentity
	id             string // the federated identity's userId (BROKER_ID)
	brokerUsername string // its userName (BROKER_USERNAME)
	// modelUsername is the local username a template made (LOCAL).
	modelUsername    string
	modelUsernameSet bool
	email            string
	first, last      string
	attrs            map[string][]string // attributes to set on a new user
}

func normSyncMode(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return SyncLegacy
	}
	return s
}

func effectiveSyncMode(provider, mapper string) string {
	m := normSyncMode(mapper)
	if m == SyncInherit {
		return normSyncMode(provider)
	}
	return m
}

// ---- the mapper types

// IdPMapperType is Keycloak's IdentityProviderMapperTypeRepresentation, an
// entry of /identity-provider/instances/{alias}/mapper-types.
type IdPMapperType struct {
	ID         string              `json:"id"`
	Name       string              `json:"name"`
	Category   string              `json:"category"`
	HelpText   string              `json:"helpText"`
	Properties []IdPMapperProperty `json:"properties"`
}

// IdPMapperProperty is Keycloak's ConfigPropertyRepresentation.
type IdPMapperProperty struct {
	Name         string   `json:"name"`
	Label        string   `json:"label"`
	HelpText     string   `json:"helpText"`
	Type         string   `json:"type"`
	DefaultValue any      `json:"defaultValue,omitempty"`
	Options      []string `json:"options,omitempty"`
	Secret       bool     `json:"secret"`
	Required     bool     `json:"required"`
	ReadOnly     bool     `json:"readOnly"`
}

// Keycloak's ProviderConfigProperty types.
const (
	propString = "String"
	propBool   = "boolean"
	propList   = "List"
	propRole   = "Role"
	propGroup  = "Group"
	propMap    = "Map"
)

const anyProvider = "*"

var (
	samlOnly = []string{"saml"}
	oidcOnly = []string{"oidc", "keycloak-oidc"}
	anyIdP   = []string{anyProvider}
)

type idpMapperSpec struct {
	id, name, category, help string
	providers                []string
	props                    []IdPMapperProperty
	required                 []string // keys that must be set
	storedOnly               bool     // kept and exported, never run
	// validate checks the config beyond the required keys.
	validate func(cfg map[string]string) error
	// preprocess runs on every login.
	preprocess func(c *brokerCtx, cfg map[string]string) error
	// importNew runs when the login creates the user.
	importNew func(c *brokerCtx, cfg map[string]string) (*Grant, error)
	// update (FORCE) and legacy (LEGACY) run on later logins; nil does
	// nothing.
	update, legacy func(c *brokerCtx, cfg map[string]string, out *MappedIdentity) (*Grant, error)
}

func (s *idpMapperSpec) compatible(providerID string) bool {
	return slices.Contains(s.providers, anyProvider) || slices.Contains(s.providers, providerID)
}

func (s *idpMapperSpec) known(key string) bool {
	if key == "syncMode" {
		return true
	}
	for _, p := range s.props {
		if p.Name == key {
			return true
		}
	}
	return false
}

type missingKeyError struct{ key string }

func (e *missingKeyError) Error() string { return e.key + ": required" }

// check validates m's config: sync mode, required keys, the type's own
// rules.
func (s *idpMapperSpec) check(m store.IdentityProviderMapper) error {
	switch normSyncMode(m.Config["syncMode"]) {
	case SyncImport, SyncForce, SyncLegacy, SyncInherit:
	default:
		return fmt.Errorf("syncMode %q: want INHERIT, IMPORT, FORCE or LEGACY", m.Config["syncMode"])
	}
	for _, k := range s.required {
		if strings.TrimSpace(m.Config[k]) == "" {
			return &missingKeyError{k}
		}
	}
	if s.validate != nil {
		return s.validate(m.Config)
	}
	return nil
}

// Mapper types that Keycloak has and keygate keeps (stored and exported)
// without running.
var idpMappersNotRun = map[string]string{
	"saml-xpath-attribute-idp-mapper":   "XPath attribute importer",
	"oidc-user-session-note-idp-mapper": "claim to user session note",
}

// Legacy or mistaken names some scripts use, taken as the mapper they
// mean.
var idpMapperAliases = map[string]string{
	"hardcoded-role-idp-mapper": "oidc-hardcoded-role-idp-mapper",
}

func lookupIdPMapper(m store.IdentityProviderMapper, providerID string) (*idpMapperSpec, []string) {
	typ := m.Mapper
	if a, ok := idpMapperAliases[typ]; ok {
		typ = a
	}
	spec := idpMapperSpecs[typ]
	if spec == nil {
		if what, ok := idpMappersNotRun[m.Mapper]; ok {
			return nil, []string{fmt.Sprintf("identity provider mapper %q: type %s (%s) is stored but not run by keygate", m.Name, m.Mapper, what)}
		}
		return nil, []string{fmt.Sprintf("identity provider mapper %q: unknown type %q: ignored", m.Name, m.Mapper)}
	}
	var w []string
	if !spec.compatible(providerID) {
		return nil, []string{fmt.Sprintf("identity provider mapper %q: type %s does not apply to %q providers: ignored", m.Name, m.Mapper, providerID)}
	}
	if spec.storedOnly {
		w = append(w, fmt.Sprintf("identity provider mapper %q: type %s is stored but not run by keygate (no user-session notes)", m.Name, m.Mapper))
	}
	keys := slices.Sorted(maps.Keys(m.Config))
	for _, k := range keys {
		if !spec.known(k) {
			w = append(w, fmt.Sprintf("identity provider mapper %q (%s): unknown config key %q: ignored", m.Name, m.Mapper, k))
		}
	}
	return spec, w
}

// ValidateIdPMapper checks m for an identity provider of type providerID
// as the admin API and realm imports take it: an error (a 400) names what
// cannot work: an unknown sync mode, a missing required key, a regular
// expression or a JSON list that does not parse, a username template
// target that does not exist. Unknown types and keys are not errors (see
// IdPMapperWarnings).
func ValidateIdPMapper(m store.IdentityProviderMapper, providerID string) error {
	if strings.TrimSpace(m.Name) == "" {
		return errors.New("name: required")
	}
	if strings.TrimSpace(m.Mapper) == "" {
		return errors.New("identityProviderMapper: required")
	}
	typ := m.Mapper
	if a, ok := idpMapperAliases[typ]; ok {
		typ = a
	}
	spec := idpMapperSpecs[typ]
	if spec == nil {
		// Unknown types are kept (and warned about); only their sync mode
		// is Keycloak's to check.
		spec = &idpMapperSpec{}
	}
	return spec.check(m)
}

// IdPMapperWarnings names what keygate will not do with m: an unknown or
// stored-only type, a type that does not apply to the provider, unknown
// config keys.
func IdPMapperWarnings(m store.IdentityProviderMapper, providerID string) []string {
	_, w := lookupIdPMapper(m, providerID)
	return w
}

// IdPMapperTypes are the mapper types keygate runs for providers of type
// providerID, by id (the /mapper-types answer).
func IdPMapperTypes(providerID string) map[string]IdPMapperType {
	out := map[string]IdPMapperType{}
	for id, s := range idpMapperSpecs {
		if !s.compatible(providerID) {
			continue
		}
		props := slices.Clone(s.props)
		if props == nil {
			props = []IdPMapperProperty{}
		}
		out[id] = IdPMapperType{ID: id, Name: s.name, Category: s.category, HelpText: s.help, Properties: props}
	}
	return out
}

// ---- helpers shared by the mapper types

// roleRef is a role as Keycloak's mappers write it ("role" or
// "clientId.role"), resolved by the linker.
func roleRef(s string) RoleRef { return RoleRef{Name: strings.TrimSpace(s), Qualified: true} }

func roleGrant(role string, applies bool) *Grant {
	r := roleRef(role)
	g := &Grant{OwnedRoles: []RoleRef{r}}
	if applies {
		g.Roles = []RoleRef{r}
	}
	return g
}

func groupGrant(group string, applies bool) *Grant {
	p := strings.TrimSpace(group)
	g := &Grant{OwnedGroups: []string{p}}
	if applies {
		g.Groups = []string{p}
	}
	return g
}

// setProfileOrAttr sets a user property (email, firstName, lastName,
// username, as Keycloak's user model takes them by attribute name) or an
// attribute on a new user's context. An empty value list sets nothing.
func (c *brokerCtx) setProfileOrAttr(name string, values []string, fold bool) {
	if len(values) == 0 {
		return
	}
	switch profileField(name, fold) {
	case "email":
		c.email = values[0]
	case "firstName":
		c.first = values[0]
	case "lastName":
		c.last = values[0]
	case "username":
		c.modelUsername, c.modelUsernameSet = values[0], true
	default:
		c.attrs[name] = slices.Clone(values)
	}
}

// updateProfileOrAttr is setProfileOrAttr on a later login: a profile field
// is updated when a value is given; an attribute without values is
// removed.
func updateProfileOrAttr(out *MappedIdentity, name string, values []string, fold bool) {
	switch profileField(name, fold) {
	case "email":
		if len(values) > 0 {
			out.Email = values[0]
		}
	case "firstName":
		if len(values) > 0 {
			out.FirstName = values[0]
		}
	case "lastName":
		if len(values) > 0 {
			out.LastName = values[0]
		}
	case "username":
		if len(values) > 0 {
			out.Username = values[0]
		}
	default:
		if len(values) == 0 {
			out.Attributes[name] = nil
		} else {
			out.Attributes[name] = slices.Clone(values)
		}
	}
}

func profileField(name string, fold bool) string {
	for _, f := range []string{"email", "firstName", "lastName", "username"} {
		if name == f || fold && strings.EqualFold(name, f) {
			return f
		}
	}
	return ""
}

// keyValues is Keycloak's MAP_TYPE config: a JSON list of {key, value},
// several values per key allowed.
type keyValues []struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func parseKeyValues(cfg map[string]string, key string) (keyValues, error) {
	var kv keyValues
	if err := json.Unmarshal([]byte(cfg[key]), &kv); err != nil {
		return nil, fmt.Errorf("%s: not a JSON list of {\"key\",\"value\"}: %w", key, err)
	}
	return kv, nil
}

// fullMatch compiles a Java String.matches pattern: the whole value must
// match.
func fullMatch(pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return nil, fmt.Errorf("regular expression %q: %w", pattern, err)
	}
	return re, nil
}

func validateKeyValues(listKey, regexKey string) func(map[string]string) error {
	return func(cfg map[string]string) error {
		kv, err := parseKeyValues(cfg, listKey)
		if err != nil {
			return err
		}
		if err := validateBool(cfg, regexKey); err != nil {
			return err
		}
		if isTrue(cfg[regexKey]) {
			for _, e := range kv {
				if _, err := fullMatch(e.Value); err != nil {
					return fmt.Errorf("%s: %w", listKey, err)
				}
			}
		}
		return nil
	}
}

func validateBool(cfg map[string]string, key string) error {
	switch strings.ToLower(strings.TrimSpace(cfg[key])) {
	case "", "true", "false":
		return nil
	}
	return fmt.Errorf("%s: %q is not true or false", key, cfg[key])
}

func isTrue(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "true") }

// ---- SAML attributes

// samlValues are the values of the attribute named name (by Name or
// FriendlyName) in the assertion.
func (c *brokerCtx) samlValues(name string) []string { return c.b.Attributes[name] }

// samlAttrName is the attribute a SAML mapper reads: attribute.name, or
// attribute.friendly.name without one.
func samlAttrName(cfg map[string]string) string {
	if n := strings.TrimSpace(cfg["attribute.name"]); n != "" {
		return n
	}
	return strings.TrimSpace(cfg["attribute.friendly.name"])
}

// samlRoleApplies is AttributeToRoleMapper's test: an attribute with that
// name (and that friendly name) has the value. Attributes are keyed by
// Name and by FriendlyName, so an attribute configured by both must have
// the value under both; with neither, any attribute may.
func (c *brokerCtx) samlRoleApplies(cfg map[string]string) bool {
	name, friendly := strings.TrimSpace(cfg["attribute.name"]), strings.TrimSpace(cfg["attribute.friendly.name"])
	want := cfg["attribute.value"]
	switch {
	case name != "" && friendly != "":
		return slices.Contains(c.b.Attributes[name], want) && slices.Contains(c.b.Attributes[friendly], want)
	case name != "":
		return slices.Contains(c.b.Attributes[name], want)
	case friendly != "":
		return slices.Contains(c.b.Attributes[friendly], want)
	}
	for _, vs := range c.b.Attributes {
		if slices.Contains(vs, want) {
			return true
		}
	}
	return false
}

// samlAllMatch is the advanced SAML mappers' test: every configured
// key/value is among the values of the attributes with that name or
// friendly name (a regular expression must match one of them whole).
func (c *brokerCtx) samlAllMatch(cfg map[string]string) (bool, error) {
	kv, err := parseKeyValues(cfg, "attributes")
	if err != nil {
		return false, err
	}
	regex := isTrue(cfg["are.attribute.values.regex"])
	for _, e := range kv {
		values := c.b.Attributes[e.Key]
		if !regex {
			if !slices.Contains(values, e.Value) {
				return false, nil
			}
			continue
		}
		re, err := fullMatch(e.Value)
		if err != nil {
			return false, fmt.Errorf("attributes: %w", err)
		}
		if !slices.ContainsFunc(values, re.MatchString) {
			return false, nil
		}
	}
	return true, nil
}

// ---- OIDC claims

// splitClaimPath splits a claim path at the dots that are not escaped
// with a backslash; a backslash escapes any character.
func splitClaimPath(path string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(path); i++ {
		switch ch := path[i]; {
		case ch == '\\' && i+1 < len(path):
			i++
			cur.WriteByte(path[i])
		case ch == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	return append(parts, cur.String())
}

var arrayIndex = regexp.MustCompile(`^(.*)\[\s*(\d+)\s*\]$`)

// claimValue is a claim of the tokens or the userinfo by its path:
// nested objects by dots, and array elements as name[i], as Keycloak's
// claim mappers and JSON user-attribute mappers read them. nil: none.
func (c *brokerCtx) claimValue(path string) any {
	if path == "" {
		return nil
	}
	if path == "sub" && c.b.UserID != "" {
		if v, ok := c.b.Claims["sub"]; ok {
			return v
		}
		return c.b.UserID
	}
	var cur any = c.b.Claims
	for _, part := range splitClaimPath(path) {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		idx := -1
		if m := arrayIndex.FindStringSubmatch(part); m != nil {
			if _, direct := obj[part]; !direct {
				part = strings.TrimSpace(m[1])
				idx, _ = strconv.Atoi(m[2])
			}
		}
		cur, ok = obj[part]
		if !ok || cur == nil {
			return nil
		}
		if idx >= 0 {
			arr, ok := cur.([]any)
			if !ok || idx >= len(arr) {
				return nil
			}
			cur = arr[idx]
		}
	}
	return cur
}

// claimString is a claim value as Java's toString writes scalars.
func claimString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case []any:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = claimString(e)
		}
		return "[" + strings.Join(s, ", ") + "]"
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

// claimList is a claim as a list of strings (an array's elements, or the
// one value).
func claimList(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		var out []string
		for _, e := range x {
			if e != nil {
				out = append(out, claimString(e))
			}
		}
		return out
	case []string:
		return slices.Clone(x)
	}
	return []string{claimString(v)}
}

// claimEquals is AbstractClaimMapper.valueEquals: want, a string from the
// config, against a claim value of any JSON type; an array matches when
// one element does.
func claimEquals(want string, v any) bool {
	switch x := v.(type) {
	case string:
		return x == want
	case float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(want), 64)
		return err == nil && f == x
	case json.Number:
		f, err := strconv.ParseFloat(strings.TrimSpace(want), 64)
		g, err2 := x.Float64()
		return err == nil && err2 == nil && f == g
	case bool:
		return strings.EqualFold(want, "true") == x
	case []any:
		return slices.ContainsFunc(x, func(e any) bool { return claimEquals(want, e) })
	case []string:
		return slices.Contains(x, want)
	case map[string]any:
		var w any
		return json.Unmarshal([]byte(want), &w) == nil && reflect.DeepEqual(w, x)
	}
	return false
}

// claimMatches is RegexUtils.valueMatchesRegex: an array matches when one
// element does.
func claimMatches(re *regexp.Regexp, v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case []any:
		return slices.ContainsFunc(x, func(e any) bool { return claimMatches(re, e) })
	case []string:
		return slices.ContainsFunc(x, re.MatchString)
	}
	return re.MatchString(claimString(v))
}

// oidcAllMatch is the advanced claim mappers' test: every configured
// claim has the value (or a value matching the regular expression).
func (c *brokerCtx) oidcAllMatch(cfg map[string]string) (bool, error) {
	kv, err := parseKeyValues(cfg, "claims")
	if err != nil {
		return false, err
	}
	regex := isTrue(cfg["are.claim.values.regex"])
	for _, e := range kv {
		v := c.claimValue(e.Key)
		if !regex {
			if !claimEquals(e.Value, v) {
				return false, nil
			}
			continue
		}
		re, err := fullMatch(e.Value)
		if err != nil {
			return false, fmt.Errorf("claims: %w", err)
		}
		if !claimMatches(re, v) {
			return false, nil
		}
	}
	return true, nil
}

// externalRoleApplies is ExternalKeycloakRoleToRoleMapper's test: the
// upstream Keycloak's access token has the role ("role" a realm role,
// "client.role" a client role, split at the last dot).
func (c *brokerCtx) externalRoleApplies(cfg map[string]string) bool {
	role := strings.TrimSpace(cfg["external.role"])
	path := "realm_access.roles"
	if i := strings.LastIndexByte(role, '.'); i >= 0 {
		path = "resource_access." + strings.ReplaceAll(role[:i], ".", `\.`) + ".roles"
		role = role[i+1:]
	}
	return claimEquals(role, c.claimValue(path))
}

// ---- username templates

var templateVar = regexp.MustCompile(`\$\{([^}]+?)(?:\s*\|\s*(\S+)\s*)?\}`)

var templateTransformers = map[string]func(string) string{
	"uppercase": strings.ToUpper,
	"lowercase": strings.ToLower,
	"localpart": func(s string) string {
		if i := strings.LastIndexByte(s, '@'); i >= 0 {
			return strings.Replace(s[:i], "mailto:", "", 1)
		}
		return s
	},
}

var templateTargets = []string{"LOCAL", "BROKER_ID", "BROKER_USERNAME"}

// expandTemplate fills a username template: ${ALIAS}, ${UUID}, and for
// SAML ${NAMEID} and ${ATTRIBUTE.name}, for OIDC ${CLAIM.path}, each with
// an optional "| uppercase", "| lowercase" or "| localpart". It reports
// whether a SAML attribute was missing (the result is then unusable).
func (c *brokerCtx) expandTemplate(tmpl string, saml bool) (string, bool) {
	unresolved := false
	out := templateVar.ReplaceAllStringFunc(tmpl, func(m string) string {
		sub := templateVar.FindStringSubmatch(m)
		variable := strings.TrimSpace(sub[1])
		tf := templateTransformers[sub[2]]
		if tf == nil {
			tf = func(s string) string { return s }
		}
		switch {
		case variable == "ALIAS":
			return tf(c.idp.Alias)
		case variable == "UUID":
			return tf(uuid.NewString())
		case saml && variable == "NAMEID":
			return tf(c.b.NameID)
		case saml && strings.HasPrefix(variable, "ATTRIBUTE."):
			vs := c.samlValues(strings.TrimPrefix(variable, "ATTRIBUTE."))
			if len(vs) == 0 {
				unresolved = true
				return ""
			}
			return tf(vs[0])
		case !saml && strings.HasPrefix(variable, "CLAIM."):
			v := c.claimValue(strings.TrimPrefix(variable, "CLAIM."))
			if arr, ok := v.([]any); ok && len(arr) == 1 {
				v = arr[0]
			}
			return tf(claimString(v))
		default:
			return variable
		}
	})
	return out, unresolved
}

func templatePreprocess(saml bool) func(*brokerCtx, map[string]string) error {
	return func(c *brokerCtx, cfg map[string]string) error {
		tmpl, ok := cfg["template"]
		if !ok {
			if saml {
				tmpl = "${ALIAS}.${NAMEID}"
			} else {
				tmpl = "${ALIAS}.${CLAIM.preferred_username}"
			}
		}
		v, unresolved := c.expandTemplate(tmpl, saml)
		if unresolved {
			v = ""
		}
		switch templateTarget(cfg) {
		case "BROKER_ID":
			c.id = v
		case "BROKER_USERNAME":
			c.brokerUsername = v
		default:
			c.modelUsername, c.modelUsernameSet = v, true
		}
		return nil
	}
}

func templateTarget(cfg map[string]string) string {
	t := strings.ToUpper(strings.TrimSpace(cfg["target"]))
	if !slices.Contains(templateTargets, t) {
		return "LOCAL"
	}
	return t
}

// templateUpdate (FORCE) renames the local user when the template targets
// the local username and the realm does not use emails as usernames.
func templateUpdate(c *brokerCtx, cfg map[string]string, out *MappedIdentity) (*Grant, error) {
	if templateTarget(cfg) == "LOCAL" && !c.idp.EmailAsUsername && c.modelUsername != "" {
		out.Username = c.modelUsername
	}
	return nil, nil
}

func validateTemplate(cfg map[string]string) error {
	if t := strings.TrimSpace(cfg["target"]); t != "" && !slices.Contains(templateTargets, strings.ToUpper(t)) {
		return fmt.Errorf("target %q: want LOCAL, BROKER_ID or BROKER_USERNAME", t)
	}
	return nil
}

// ---- the table

func noPreprocess(*brokerCtx, map[string]string) error       { return nil }
func noImport(*brokerCtx, map[string]string) (*Grant, error) { return nil, nil }

// roleMapper builds a role mapper from its test. legacy is what LEGACY
// does: "force" what FORCE does (the SAML mappers), "revoke" only remove
// the role when the test fails, never grant it (the OIDC claim mappers),
// "" nothing.
func roleMapper(s idpMapperSpec, applies func(*brokerCtx, map[string]string) (bool, error), legacy string) *idpMapperSpec {
	s.preprocess = noPreprocess
	s.importNew = func(c *brokerCtx, cfg map[string]string) (*Grant, error) {
		ok, err := applies(c, cfg)
		if err != nil || !ok {
			return nil, err
		}
		return roleGrant(cfg["role"], true), nil
	}
	force := func(c *brokerCtx, cfg map[string]string, _ *MappedIdentity) (*Grant, error) {
		ok, err := applies(c, cfg)
		if err != nil {
			return nil, err
		}
		return roleGrant(cfg["role"], ok), nil
	}
	s.update = force
	switch legacy {
	case "force":
		s.legacy = force
	case "revoke":
		s.legacy = func(c *brokerCtx, cfg map[string]string, _ *MappedIdentity) (*Grant, error) {
			ok, err := applies(c, cfg)
			if err != nil || ok {
				return nil, err
			}
			return roleGrant(cfg["role"], false), nil
		}
	}
	return &s
}

// groupMapper builds a group mapper from its test; LEGACY is FORCE.
func groupMapper(s idpMapperSpec, applies func(*brokerCtx, map[string]string) (bool, error)) *idpMapperSpec {
	s.preprocess = noPreprocess
	s.importNew = func(c *brokerCtx, cfg map[string]string) (*Grant, error) {
		ok, err := applies(c, cfg)
		if err != nil || !ok {
			return nil, err
		}
		return groupGrant(cfg["group"], true), nil
	}
	s.update = func(c *brokerCtx, cfg map[string]string, _ *MappedIdentity) (*Grant, error) {
		ok, err := applies(c, cfg)
		if err != nil {
			return nil, err
		}
		return groupGrant(cfg["group"], ok), nil
	}
	s.legacy = s.update
	return &s
}

var (
	propRoleP = IdPMapperProperty{Name: "role", Label: "Role", Type: propRole,
		HelpText: "Role to grant to the user. A client role is written clientId.role, e.g. myclient.myrole."}
	propGroupP = IdPMapperProperty{Name: "group", Label: "Group", Type: propGroup,
		HelpText: "Path of the group the user joins, e.g. /team/dev."}
	propAttrName = IdPMapperProperty{Name: "attribute.name", Label: "Attribute Name", Type: propString,
		HelpText: "Name of the SAML attribute to look for in the assertion. Leave it blank to use the friendly name instead."}
	propAttrFriendly = IdPMapperProperty{Name: "attribute.friendly.name", Label: "Friendly Name", Type: propString,
		HelpText: "Friendly name of the SAML attribute to look for in the assertion. Leave it blank to use the name instead."}
	propClaim = IdPMapperProperty{Name: "claim", Label: "Claim", Type: propString,
		HelpText: "Claim of the tokens or the userinfo to read. Nested claims are written with dots, e.g. address.locality; a literal dot is escaped with a backslash (\\.)."}
	propTarget = IdPMapperProperty{Name: "target", Label: "Target", Type: propList, Options: templateTargets, DefaultValue: "LOCAL",
		HelpText: "What the template names: LOCAL the local username of a new user, BROKER_ID and BROKER_USERNAME the id and username of the federated identity."}
)

func regexProp(name, label string) IdPMapperProperty {
	return IdPMapperProperty{Name: name, Label: label, Type: propBool, DefaultValue: false,
		HelpText: "The values are regular expressions that must match a whole value."}
}

var idpMapperSpecs = func() map[string]*idpMapperSpec {
	specs := []*idpMapperSpec{
		// SAML
		{
			id: "saml-user-attribute-idp-mapper", name: "Attribute Importer", category: "Attribute Importer", providers: samlOnly,
			help:     "Import a SAML attribute of the assertion into a user property (email, firstName, lastName, username) or attribute.",
			required: []string{"user.attribute"},
			props: []IdPMapperProperty{propAttrName, propAttrFriendly,
				{Name: "attribute.name.format", Label: "Name Format", Type: propList, Options: []string{"ATTRIBUTE_FORMAT_BASIC", "ATTRIBUTE_FORMAT_URI", "ATTRIBUTE_FORMAT_UNSPECIFIED"},
					DefaultValue: "ATTRIBUTE_FORMAT_BASIC", HelpText: "Name format of the attribute, for the RequestedAttribute of the SP metadata."},
				{Name: "user.attribute", Label: "User Attribute Name", Type: propString,
					HelpText: "User attribute to store the values in; email, firstName, lastName and username set those user properties."}},
			preprocess: func(c *brokerCtx, cfg map[string]string) error {
				c.setProfileOrAttr(strings.TrimSpace(cfg["user.attribute"]), c.samlValues(samlAttrName(cfg)), true)
				return nil
			},
			importNew: noImport,
			update:    samlAttrUpdate,
			legacy:    samlAttrUpdate,
		},
		{
			id: "saml-username-idp-mapper", name: "Username Template Importer", category: "Preprocessor", providers: samlOnly,
			help: "Format the username to import.",
			props: []IdPMapperProperty{{Name: "template", Label: "Template", Type: propString, DefaultValue: "${ALIAS}.${NAMEID}",
				HelpText: "Template of the username. ${ALIAS} is the provider's alias, ${NAMEID} the assertion's NameID, ${ATTRIBUTE.name} the first value of an attribute by name or friendly name, ${UUID} a random id. Append | uppercase, | lowercase or | localpart to a substitution to transform it."},
				propTarget},
			validate:   validateTemplate,
			preprocess: templatePreprocess(true),
			importNew:  noImport,
			update:     templateUpdate,
		},
		roleMapper(idpMapperSpec{
			id: "saml-role-idp-mapper", name: "SAML Attribute to Role", category: "Role Mapper", providers: samlOnly,
			help: "If an attribute has the value, grant the user the realm or client role.", required: []string{"role"},
			props: []IdPMapperProperty{propAttrName, propAttrFriendly,
				{Name: "attribute.value", Label: "Attribute Value", Type: propString, HelpText: "Value the attribute must have; for a multi-valued attribute, one of its values."},
				propRoleP},
		}, func(c *brokerCtx, cfg map[string]string) (bool, error) { return c.samlRoleApplies(cfg), nil }, "force"),
		roleMapper(idpMapperSpec{
			id: "saml-advanced-role-idp-mapper", name: "Advanced Attribute to Role", category: "Role Importer", providers: samlOnly,
			help:     "If every configured attribute has its value, grant the user the realm or client role.",
			required: []string{"attributes", "role"},
			validate: validateKeyValues("attributes", "are.attribute.values.regex"),
			props: []IdPMapperProperty{{Name: "attributes", Label: "Attributes", Type: propMap,
				HelpText: "Names (name or friendly name) and values of the attributes the assertion must have, all of them; a multi-valued attribute matches when one of its values does."},
				regexProp("are.attribute.values.regex", "Regex Attribute Values"), propRoleP},
		}, func(c *brokerCtx, cfg map[string]string) (bool, error) { return c.samlAllMatch(cfg) }, "force"),
		groupMapper(idpMapperSpec{
			id: "saml-advanced-group-idp-mapper", name: "Advanced Attribute to Group", category: "Group Importer", providers: samlOnly,
			help:     "If every configured attribute has its value, make the user a member of the group.",
			required: []string{"attributes", "group"},
			validate: validateKeyValues("attributes", "are.attribute.values.regex"),
			props: []IdPMapperProperty{{Name: "attributes", Label: "Attributes", Type: propMap,
				HelpText: "Names (name or friendly name) and values of the attributes the assertion must have, all of them; a multi-valued attribute matches when one of its values does."},
				regexProp("are.attribute.values.regex", "Regex Attribute Values"), propGroupP},
		}, func(c *brokerCtx, cfg map[string]string) (bool, error) { return c.samlAllMatch(cfg) }),

		// OIDC
		{
			id: "oidc-user-attribute-idp-mapper", name: "Attribute Importer", category: "Attribute Importer", providers: oidcOnly,
			help:     "Import a claim of the ID token, access token or userinfo into a user property (email, firstName, lastName, username) or attribute.",
			required: []string{"claim", "user.attribute"},
			props: []IdPMapperProperty{propClaim, {Name: "user.attribute", Label: "User Attribute Name", Type: propString,
				HelpText: "User attribute to store the claim in; email, firstName, lastName and username set those user properties."}},
			preprocess: func(c *brokerCtx, cfg map[string]string) error {
				c.setProfileOrAttr(strings.TrimSpace(cfg["user.attribute"]), claimList(c.claimValue(cfg["claim"])), true)
				return nil
			},
			importNew: noImport,
			update:    oidcAttrUpdate,
			legacy:    oidcAttrUpdate,
		},
		{
			id: "oidc-username-idp-mapper", name: "Username Template Importer", category: "Preprocessor", providers: oidcOnly,
			help: "Format the username to import.",
			props: []IdPMapperProperty{{Name: "template", Label: "Template", Type: propString, DefaultValue: "${ALIAS}.${CLAIM.preferred_username}",
				HelpText: "Template of the username. ${ALIAS} is the provider's alias, ${CLAIM.name} a claim of the tokens or userinfo, ${UUID} a random id. Append | uppercase or | lowercase to a substitution to transform it."},
				propTarget},
			validate:   validateTemplate,
			preprocess: templatePreprocess(false),
			importNew:  noImport,
			update:     templateUpdate,
		},
		roleMapper(idpMapperSpec{
			id: "oidc-role-idp-mapper", name: "Claim to Role", category: "Role Importer", providers: oidcOnly,
			help: "If a claim has the value, grant the user the realm or client role.", required: []string{"claim", "role"},
			props: []IdPMapperProperty{propClaim,
				{Name: "claim.value", Label: "Claim Value", Type: propString, HelpText: "Value the claim must have; for an array, one of its elements."},
				propRoleP},
		}, func(c *brokerCtx, cfg map[string]string) (bool, error) {
			return claimEquals(cfg["claim.value"], c.claimValue(cfg["claim"])), nil
		}, "revoke"),
		roleMapper(idpMapperSpec{
			id: "oidc-advanced-role-idp-mapper", name: "Advanced Claim to Role", category: "Role Importer", providers: oidcOnly,
			help:     "If every configured claim has its value, grant the user the realm or client role.",
			required: []string{"claims", "role"},
			validate: validateKeyValues("claims", "are.claim.values.regex"),
			props: []IdPMapperProperty{{Name: "claims", Label: "Claims", Type: propMap,
				HelpText: "Names and values of the claims the tokens must have, all of them. Nested claims are written with dots."},
				regexProp("are.claim.values.regex", "Regex Claim Values"), propRoleP},
		}, func(c *brokerCtx, cfg map[string]string) (bool, error) { return c.oidcAllMatch(cfg) }, "revoke"),
		groupMapper(idpMapperSpec{
			id: "oidc-advanced-group-idp-mapper", name: "Advanced Claim to Group", category: "Group Importer", providers: oidcOnly,
			help:     "If every configured claim has its value, make the user a member of the group.",
			required: []string{"claims", "group"},
			validate: validateKeyValues("claims", "are.claim.values.regex"),
			props: []IdPMapperProperty{{Name: "claims", Label: "Claims", Type: propMap,
				HelpText: "Names and values of the claims the tokens must have, all of them. Nested claims are written with dots."},
				regexProp("are.claim.values.regex", "Regex Claim Values"), propGroupP},
		}, func(c *brokerCtx, cfg map[string]string) (bool, error) { return c.oidcAllMatch(cfg) }),
		roleMapper(idpMapperSpec{
			id: "keycloak-oidc-role-to-role-idp-mapper", name: "External Role to Role", category: "Role Importer", providers: []string{"keycloak-oidc"},
			help: "If the upstream Keycloak's access token has the role, grant the user the realm or client role.", required: []string{"external.role", "role"},
			props: []IdPMapperProperty{{Name: "external.role", Label: "External role", Type: propString,
				HelpText: "Role of the upstream realm to look for; a client role is written clientId.role."}, propRoleP},
		}, func(c *brokerCtx, cfg map[string]string) (bool, error) { return c.externalRoleApplies(cfg), nil }, ""),

		// Any provider
		{
			id: "oidc-hardcoded-role-idp-mapper", name: "Hardcoded Role", category: "Role Importer", providers: anyIdP,
			help: "Grant the user a realm or client role.", required: []string{"role"}, props: []IdPMapperProperty{propRoleP},
			preprocess: noPreprocess,
			importNew: func(_ *brokerCtx, cfg map[string]string) (*Grant, error) {
				return &Grant{Roles: []RoleRef{roleRef(cfg["role"])}}, nil
			},
			update: func(_ *brokerCtx, cfg map[string]string, _ *MappedIdentity) (*Grant, error) {
				return &Grant{Roles: []RoleRef{roleRef(cfg["role"])}}, nil
			},
		},
		groupMapper(idpMapperSpec{
			id: "oidc-hardcoded-group-idp-mapper", name: "Hardcoded Group", category: "Group Importer", providers: anyIdP,
			help: "Make the user a member of the group.", required: []string{"group"}, props: []IdPMapperProperty{propGroupP},
		}, func(*brokerCtx, map[string]string) (bool, error) { return true, nil }),
		{
			id: "hardcoded-attribute-idp-mapper", name: "Hardcoded Attribute", category: "Attribute Importer", providers: anyIdP,
			help: "Set a user attribute to a value.", required: []string{"attribute"},
			props: []IdPMapperProperty{{Name: "attribute", Label: "User Attribute", Type: propString, HelpText: "Name of the user attribute."},
				{Name: "attribute.value", Label: "User Attribute Value", Type: propString, HelpText: "Its value."}},
			preprocess: func(c *brokerCtx, cfg map[string]string) error {
				c.setProfileOrAttr(strings.TrimSpace(cfg["attribute"]), []string{cfg["attribute.value"]}, false)
				return nil
			},
			importNew: noImport,
			update:    hardcodedAttrUpdate,
			legacy:    hardcodedAttrUpdate,
		},
		{
			id: "hardcoded-user-session-attribute-idp-mapper", name: "Hardcoded User Session Attribute", category: "Attribute Importer", providers: anyIdP,
			help: "Set a user session note (stored; keygate keeps no user session notes).", storedOnly: true,
			props: []IdPMapperProperty{{Name: "attribute", Label: "User Session Attribute", Type: propString, HelpText: "Name of the user session note."},
				{Name: "attribute.value", Label: "User Session Attribute Value", Type: propString, HelpText: "Its value."}},
		},
	}
	m := map[string]*idpMapperSpec{}
	for _, s := range specs {
		m[s.id] = s
	}
	return m
}()

func samlAttrUpdate(c *brokerCtx, cfg map[string]string, out *MappedIdentity) (*Grant, error) {
	updateProfileOrAttr(out, strings.TrimSpace(cfg["user.attribute"]), c.samlValues(samlAttrName(cfg)), true)
	return nil, nil
}

func oidcAttrUpdate(c *brokerCtx, cfg map[string]string, out *MappedIdentity) (*Grant, error) {
	updateProfileOrAttr(out, strings.TrimSpace(cfg["user.attribute"]), claimList(c.claimValue(cfg["claim"])), true)
	return nil, nil
}

func hardcodedAttrUpdate(_ *brokerCtx, cfg map[string]string, out *MappedIdentity) (*Grant, error) {
	updateProfileOrAttr(out, strings.TrimSpace(cfg["attribute"]), []string{cfg["attribute.value"]}, false)
	return nil, nil
}
