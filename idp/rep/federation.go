package rep

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/ldap"
	"github.com/keygate/keygate/store"
)

// User federation components (Keycloak's "ldap" user storage provider and
// its mappers) as realm import/export and the admin API share them:
// Keycloak's validation, the mappers it adds to a new provider, secret
// masking, and the legacy userFederationProviders shape.

// SecretMask is what Keycloak shows instead of a stored secret
// (ComponentRepresentation.SECRET_VALUE). Sent back in an update it means
// "keep the stored value"; in an import, "unset".
const SecretMask = "**********"

// secretConfigKeys are the component config keys Keycloak declares secret:
// an LDAP provider's bind password, and key providers' private parts.
var secretConfigKeys = []string{"bindCredential", "clientSecret", "privateKey", "secret", "keystorePassword", "keyPassword"}

// IsSecretConfigKey reports whether component config key k holds a secret.
func IsSecretConfigKey(k string) bool {
	return slices.ContainsFunc(secretConfigKeys, func(s string) bool { return strings.EqualFold(k, s) })
}

// MaskSecrets returns cfg with every set secret value replaced by
// SecretMask (cfg itself is not changed).
func MaskSecrets(cfg map[string][]string) map[string][]string {
	if cfg == nil {
		return nil
	}
	out := make(map[string][]string, len(cfg))
	for k, v := range cfg {
		out[k] = v
		if IsSecretConfigKey(k) && len(v) > 0 && v[0] != "" {
			out[k] = []string{SecretMask}
		}
	}
	return out
}

// IsMasked reports whether a config value is the mask.
func IsMasked(v []string) bool { return len(v) == 1 && v[0] == SecretMask }

// ldapMapperTypes are the LDAP mapper provider ids Keycloak 26 ships; keygate
// stores them all and acts on those federation/ldap implements.
var ldapMapperTypes = []string{
	"user-attribute-ldap-mapper", "full-name-ldap-mapper", "group-ldap-mapper", "role-ldap-mapper",
	"hardcoded-ldap-role-mapper", "hardcoded-ldap-group-mapper", "hardcoded-attribute-mapper",
	"hardcoded-ldap-attribute-mapper", "certificate-ldap-mapper", "msad-user-account-control-mapper",
	"msad-lds-user-account-control-mapper", "kerberos-principal-attribute-mapper",
}

// IsLDAPMapperType reports whether providerID is a Keycloak LDAP mapper.
func IsLDAPMapperType(providerID string) bool { return slices.Contains(ldapMapperTypes, providerID) }

// keycloakMessages are Keycloak's English texts (admin-messages) for its
// LDAP validation keys: Keycloak answers the text, not the key.
var keycloakMessages = map[string]string{
	"ldapErrorEditModeMandatory":                                 "Edit Mode is mandatory",
	"ldapErrorInvalidCustomFilter":                               `Custom configured LDAP filter does not start with "(" or does not end with ")".`,
	"ldapErrorConnectionTimeoutNotNumber":                        "Connection Timeout must be a number",
	"ldapErrorReadTimeoutNotNumber":                              "Read Timeout must be a number",
	"ldapErrorMissingClientId":                                   "Client ID needs to be provided in config when Realm Roles Mapping is not used.",
	"ldapErrorCantPreserveGroupInheritanceWithUIDMembershipType": "Not possible to preserve group inheritance and use UID membership type together.",
	"ldapErrorCantWriteOnlyForReadOnlyLdap":                      "Can not set write only when LDAP provider mode is not WRITABLE",
	"ldapErrorCantWriteOnlyAndReadOnly":                          "Can not set write-only and read-only together",
	"ldapErrorCantEnableStartTlsAndConnectionPooling":            "Can not enable both StartTLS and connection pooling.",
	"ldapErrorCantEnableUnsyncedAndImportOff":                    "Can not disable Importing users when LDAP provider mode is UNSYNCED",
	"ldapErrorMissingGroupsPathGroup":                            "Groups path group does not exist - please create the group on specified path first",
	"ldapErrorValidatePasswordPolicyAvailableForWritableOnly":    "Validate Password Policy is applicable only with WRITABLE edit mode",
}

// componentError is a refused component config: Key is Keycloak's message
// key (or keygate's, for what Keycloak accepts and keygate does not), Field
// the config key, Message Keycloak's text.
func componentError(key, field, msg string) *ldap.ValidationError {
	if m, ok := keycloakMessages[key]; ok {
		msg = m
	}
	return &ldap.ValidationError{Key: key, Field: field, Message: msg}
}

// ValidateLDAPProvider applies Keycloak's (and keygate's) validation to an
// "ldap" user storage provider's config, with ldap.ParseConfig. The error
// is an *ldap.ValidationError whose Message is Keycloak's text.
func ValidateLDAPProvider(cfg map[string][]string) error {
	if _, err := ldap.ParseConfig(cfg); err != nil {
		if ve, ok := err.(*ldap.ValidationError); ok {
			return componentError(ve.Key, ve.Field, ve.Message)
		}
		return err
	}
	return nil
}

// MapperRefs resolves what a mapper's config names in its realm; a nil
// func does not check.
type MapperRefs struct {
	RoleExists  func(role string) bool // Keycloak's role string: "role" or "clientId.role"
	GroupExists func(path string) bool
}

// ValidateLDAPMapper applies Keycloak's validateConfiguration of mapper
// providerID (an *ldap.ValidationError naming the config key) to cfg, whose
// parent LDAP provider has config parent. An unknown mapper type is an
// error too.
func ValidateLDAPMapper(providerID string, cfg, parent map[string][]string, refs MapperRefs) error {
	get := func(k string) string { return strings.TrimSpace(first(cfg[k])) }
	// Keycloak's checkMandatoryConfigAttribute; MessageFormat eats its quotes.
	required := func(k, label string) error {
		if get(k) == "" {
			return componentError("ldapErrorMissingAttribute", k, "Missing configuration for "+label)
		}
		return nil
	}
	filter := func(k string) error {
		if f := get(k); f != "" && (!strings.HasPrefix(f, "(") || !strings.HasSuffix(f, ")")) {
			return componentError("ldapErrorInvalidCustomFilter", k, "")
		}
		return nil
	}
	isTrue := func(k string) bool { return strings.EqualFold(get(k), "true") }
	switch providerID {
	case "user-attribute-ldap-mapper", "certificate-ldap-mapper":
		if err := required("user.model.attribute", "User Model Attribute"); err != nil {
			return err
		}
		if err := required("ldap.attribute", "LDAP Attribute"); err != nil {
			return err
		}
		if isTrue("is.binary.attribute") && !isTrue("always.read.value.from.ldap") {
			return componentError("ldapErrorBinaryAttributeNeedsAlwaysRead", "always.read.value.from.ldap",
				"With Binary attribute enabled, the 'Always read value from LDAP' must be enabled too")
		}
	case "full-name-ldap-mapper":
		if err := required("ldap.full.name.attribute", "LDAP Full Name Attribute"); err != nil {
			return err
		}
		writeOnly := isTrue("write.only")
		if writeOnly && !strings.EqualFold(strings.TrimSpace(first(parent["editMode"])), "WRITABLE") {
			return componentError("ldapErrorCantWriteOnlyForReadOnlyLdap", "write.only", "")
		}
		if writeOnly && isTrue("read.only") {
			return componentError("ldapErrorCantWriteOnlyAndReadOnly", "write.only", "")
		}
	case "group-ldap-mapper":
		if err := required("groups.dn", "LDAP Groups DN"); err != nil {
			return err
		}
		if err := required("mode", "Mode"); err != nil {
			return err
		}
		if err := mapperMode(get("mode")); err != nil {
			return err
		}
		mt := get("membership.attribute.type")
		if mt != "" && mt != "DN" && mt != "UID" {
			return componentError("ldapErrorInvalidMembershipType", "membership.attribute.type", "Membership Attribute Type must be DN or UID")
		}
		if isTrue("preserve.group.inheritance") && mt == "UID" {
			return componentError("ldapErrorCantPreserveGroupInheritanceWithUIDMembershipType", "preserve.group.inheritance", "")
		}
		if err := filter("groups.ldap.filter"); err != nil {
			return err
		}
		if p := get("groups.path"); p != "" && p != "/" && refs.GroupExists != nil && !refs.GroupExists(p) {
			return componentError("ldapErrorMissingGroupsPathGroup", "groups.path", "")
		}
	case "role-ldap-mapper":
		if err := required("roles.dn", "LDAP Roles DN"); err != nil {
			return err
		}
		if err := required("mode", "Mode"); err != nil {
			return err
		}
		if err := mapperMode(get("mode")); err != nil {
			return err
		}
		// Keycloak reads an absent use.realm.roles.mapping as false.
		if !isTrue("use.realm.roles.mapping") && get("client.id") == "" {
			return componentError("ldapErrorMissingClientId", "client.id", "")
		}
		if err := filter("roles.ldap.filter"); err != nil {
			return err
		}
	case "hardcoded-ldap-role-mapper":
		role := get("role")
		if role == "" {
			return componentError("ldapErrorMissingRole", "role", "Role can't be null")
		}
		if refs.RoleExists != nil && !refs.RoleExists(role) {
			return componentError("ldapErrorUnknownRole", "role", "There is no role corresponding to configured value")
		}
	case "hardcoded-ldap-group-mapper":
		group := get("group")
		if group == "" {
			return componentError("ldapErrorMissingGroup", "group", "Group can't be null")
		}
		if refs.GroupExists != nil && !refs.GroupExists(group) {
			return componentError("ldapErrorUnknownGroup", "group", "There is no group corresponding to configured value")
		}
	case "hardcoded-attribute-mapper":
		if _, ok := cfg["user.model.attribute"]; !ok {
			return componentError("ldapErrorMissingAttribute", "user.model.attribute", "'Attribute Name' is required")
		}
		if _, ok := cfg["attribute.value"]; !ok {
			return componentError("ldapErrorMissingAttribute", "attribute.value", "'Attribute Value' is required")
		}
		if a := get("user.model.attribute"); strings.EqualFold(a, "username") || strings.EqualFold(a, "email") {
			return componentError("ldapErrorHardcodedUsernameOrEmail", "user.model.attribute", "Attribute Name cannot be set to username or email")
		}
	case "hardcoded-ldap-attribute-mapper":
		if err := required("ldap.attribute.name", "LDAP Attribute Name"); err != nil {
			return err
		}
		if err := required("ldap.attribute.value", "LDAP Attribute Value"); err != nil {
			return err
		}
	case "msad-user-account-control-mapper", "msad-lds-user-account-control-mapper", "kerberos-principal-attribute-mapper":
	default:
		return componentError("ldapErrorUnknownMapper", "providerId", fmt.Sprintf("unknown LDAP mapper type %q", providerID))
	}
	return nil
}

func mapperMode(m string) error {
	switch m {
	case "READ_ONLY", "LDAP_ONLY", "IMPORT":
		return nil
	}
	return componentError("ldapErrorInvalidMode", "mode", "Mode must be READ_ONLY, LDAP_ONLY or IMPORT")
}

// DefaultLDAPMappers returns the mappers Keycloak's
// LDAPStorageProviderFactory.onCreate adds to a new "ldap" provider: the
// username, first name (or full name), last name, email, creation and
// modify date attributes, and Active Directory's account controls. Only
// the admin API adds them; an import carries its own.
func DefaultLDAPMappers(realmID, parentID string, cfg map[string][]string) []store.Component {
	get := func(k string) string { return strings.TrimSpace(first(cfg[k])) }
	ad := strings.EqualFold(get("vendor"), "ad")
	edit := strings.ToUpper(get("editMode"))
	readOnly := strconv.FormatBool(edit == "READ_ONLY" || edit == "UNSYNCED")
	alwaysRead := strconv.FormatBool(edit == "READ_ONLY" || edit == "WRITABLE")
	username := get("usernameLDAPAttribute")
	if username == "" {
		username = "uid"
		if ad {
			username = "cn"
		}
	}
	rdn := get("rdnLDAPAttribute")
	if rdn == "" {
		rdn = username
		if strings.EqualFold(rdn, "sAMAccountName") {
			rdn = "cn"
		}
	}
	var out []store.Component
	add := func(name, providerID string, kv ...string) {
		c := store.Component{ID: uuid.NewString(), RealmID: realmID, ParentID: parentID, Name: name,
			ProviderID: providerID, ProviderType: federation.LDAPMapperType, Config: map[string][]string{}}
		for i := 0; i+1 < len(kv); i += 2 {
			c.Config[kv[i]] = []string{kv[i+1]}
		}
		out = append(out, c)
	}
	attr := func(name, model, ldapAttr, ro, always, mandatory string) {
		add(name, "user-attribute-ldap-mapper", "user.model.attribute", model, "ldap.attribute", ldapAttr,
			"read.only", ro, "always.read.value.from.ldap", always, "is.mandatory.in.ldap", mandatory)
	}
	attr("username", "username", username, readOnly, "false", "true")
	switch {
	case !strings.EqualFold(rdn, "cn"):
		attr("first name", "firstName", "cn", readOnly, alwaysRead, "true")
	case strings.EqualFold(username, "cn"):
		// Active Directory with cn as the username: givenName is the first name.
		attr("first name", "firstName", "givenName", readOnly, alwaysRead, "true")
	case edit == "WRITABLE":
		attr("first name", "firstName", "givenName", readOnly, alwaysRead, "true")
		attr("username-cn", "username", "cn", readOnly, "false", "true")
	default:
		add("full name", "full-name-ldap-mapper", "ldap.full.name.attribute", "cn", "read.only", readOnly, "write.only", "false")
	}
	attr("last name", "lastName", "sn", readOnly, alwaysRead, "true")
	attr("email", "email", "mail", readOnly, "false", "false")
	created, modified := "createTimestamp", "modifyTimestamp"
	if ad {
		created, modified = "whenCreated", "whenChanged"
	}
	attr("creation date", "createTimestamp", created, "true", alwaysRead, "false")
	attr("modify date", "modifyTimestamp", modified, "true", alwaysRead, "false")
	if ad {
		add("MSAD account controls", "msad-user-account-control-mapper")
	}
	if !ad && strings.EqualFold(get("syncRegistrations"), "true") && strings.EqualFold(get("usePasswordModifyExtendedOp"), "true") {
		// New users written to the directory need some password before the
		// password modify operation sets theirs.
		add("random initial password", "hardcoded-ldap-attribute-mapper", "ldap.attribute.name", "userPassword",
			"ldap.attribute.value", "${RANDOM}")
	}
	return out
}

// ---- legacy userFederationProviders / userFederationMappers

// LegacyFederationProvider is Keycloak 1.x's UserFederationProviderRepresentation.
type LegacyFederationProvider struct {
	ID                string            `json:"id,omitempty"`
	DisplayName       string            `json:"displayName"`
	ProviderName      string            `json:"providerName"`
	Config            map[string]string `json:"config,omitempty"`
	Priority          int               `json:"priority"`
	FullSyncPeriod    int               `json:"fullSyncPeriod"`
	ChangedSyncPeriod int               `json:"changedSyncPeriod"`
	LastSync          int               `json:"lastSync"`
}

// LegacyFederationMapper is Keycloak 1.x's UserFederationMapperRepresentation.
type LegacyFederationMapper struct {
	ID                            string            `json:"id,omitempty"`
	Name                          string            `json:"name"`
	FederationProviderDisplayName string            `json:"federationProviderDisplayName"`
	FederationMapperType          string            `json:"federationMapperType"`
	Config                        map[string]string `json:"config,omitempty"`
}

// convertLegacyFederation folds r's userFederationProviders and
// userFederationMappers into components, as Keycloak's import does
// (RepresentationToModel.convertDeprecatedUserFederationProviders): a
// provider becomes a user storage component (displayName its name,
// providerName its providerId, priority and sync periods config keys),
// each mapper a sub-component of the provider with its displayName.
func convertLegacyFederation(r *Realm, prefix string) error {
	if len(r.UserFederationProviders) == 0 && len(r.UserFederationMappers) == 0 {
		return nil
	}
	if r.Components == nil {
		r.Components = map[string][]ComponentExport{}
	}
	byName := map[string]int{} // displayName -> index in converted
	var converted []ComponentExport
	for i, p := range r.UserFederationProviders {
		path := joinPath(prefix, fmt.Sprintf("userFederationProviders[%d]", i))
		switch {
		case p.ProviderName == "":
			return fmt.Errorf("%s.providerName: required", path)
		case p.DisplayName == "":
			return fmt.Errorf("%s.displayName: required", path)
		case slices.ContainsFunc(converted, func(c ComponentExport) bool { return c.Name == p.DisplayName }):
			return fmt.Errorf("%s.displayName: duplicate provider %q", path, p.DisplayName)
		}
		cfg := map[string][]string{
			"priority": {strconv.Itoa(p.Priority)}, "fullSyncPeriod": {strconv.Itoa(p.FullSyncPeriod)},
			"changedSyncPeriod": {strconv.Itoa(p.ChangedSyncPeriod)}, "lastSync": {strconv.Itoa(p.LastSync)},
		}
		for _, k := range slices.Sorted(maps.Keys(p.Config)) {
			cfg[k] = []string{p.Config[k]}
		}
		converted = append(converted, ComponentExport{ID: p.ID, Name: p.DisplayName, ProviderID: p.ProviderName, Config: cfg})
		byName[p.DisplayName] = len(converted) - 1
	}
	for i, m := range r.UserFederationMappers {
		path := joinPath(prefix, fmt.Sprintf("userFederationMappers[%d]", i))
		at, ok := byName[m.FederationProviderDisplayName]
		switch {
		case m.FederationMapperType == "":
			return fmt.Errorf("%s.federationMapperType: required", path)
		case !ok:
			return fmt.Errorf("%s.federationProviderDisplayName: unknown provider %q", path, m.FederationProviderDisplayName)
		}
		parent := &converted[at]
		cfg := map[string][]string{}
		for k, v := range m.Config {
			cfg[k] = []string{v}
		}
		if parent.SubComponents == nil {
			parent.SubComponents = map[string][]ComponentExport{}
		}
		parent.SubComponents[federation.LDAPMapperType] = append(parent.SubComponents[federation.LDAPMapperType],
			ComponentExport{ID: m.ID, Name: m.Name, ProviderID: m.FederationMapperType, Config: cfg})
	}
	r.Components[federation.UserStorageType] = append(r.Components[federation.UserStorageType], converted...)
	r.UserFederationProviders, r.UserFederationMappers = nil, nil
	return nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
