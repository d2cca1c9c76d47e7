// Package ldap is keygate's LDAP user storage provider: Keycloak's "ldap"
// component, with its mappers, on github.com/go-ldap/ldap/v3.
package ldap

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config is an "ldap" component's configuration, with Keycloak's keys
// and defaults (LDAPStorageProviderFactory, LDAPConfig).
type Config struct {
	Vendor                      string   // ad, rhds, tivoli, edirectory, other
	URLs                        []string // connectionUrl, space-separated: tried in order
	StartTLS                    bool
	UseTruststore               string // useTruststoreSpi: always, never, ldapsOnly
	ConnectionTimeout           time.Duration
	ReadTimeout                 time.Duration
	AuthType                    string // simple or none
	BindDN                      string
	BindCredential              string // the secret, revealed
	UsersDN                     string
	UsernameAttribute           string
	RDNAttribute                string
	UUIDAttribute               string
	UserObjectClasses           []string
	CustomUserSearchFilter      string
	SearchScope                 int // 1 one level, 2 subtree
	EditMode                    string
	ImportEnabled               bool
	SyncRegistrations           bool
	UsePasswordModifyExtendedOp bool
	ValidatePasswordPolicy      bool
	TrustEmail                  bool
	Pagination                  bool
	BatchSizeForSync            int
	FullSyncPeriod              time.Duration // <= 0: no periodic full sync
	ChangedSyncPeriod           time.Duration
	LastSync                    time.Time
	ConnectionPooling           bool
	PoolSize                    int // connectionPoolingMaxSize, else a default
	RemoveInvalidUsers          bool
	Enabled                     bool
	Priority                    int

	// Not Keycloak keys: set by whoever opens the provider.
	Name            string        // the component's name, for logs and metrics
	BreakerFailures int           // consecutive failures that open the circuit; 0: DefaultBreakerFailures
	BreakerCooldown time.Duration // how long it stays open; 0: DefaultBreakerCooldown
}

// Defaults when a timeout is unset: Keycloak waits forever, which lets a
// slow directory pile up logins.
const (
	DefaultConnectionTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultPoolSize          = 8
)

// Unimplemented are the keys keygate stores and exports but does not act
// on (Kerberos, Keycloak's user cache).
var Unimplemented = []string{"allowKerberosAuthentication", "kerberosRealm", "serverPrincipal", "keyTab",
	"krbPrincipalAttribute", "useKerberosForPasswordAuthentication", "debug", "cachePolicy", "evictionDay",
	"evictionHour", "evictionMinute", "maxLifespan", "enableLdapPasswordPolicy"}

// ValidationError is a configuration Keycloak refuses: Key is Keycloak's
// message key (ldapErrorEditModeMandatory, ...), Field the config key.
type ValidationError struct {
	Key, Field, Message string
}

func (e *ValidationError) Error() string { return e.Message }

func invalid(key, field, format string, args ...any) error {
	return &ValidationError{Key: key, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ParseConfig reads and validates an "ldap" component's config (all values
// are lists, as Keycloak stores them). bindCredential is taken as it is:
// the caller reveals a sealed one first.
func ParseConfig(cfg map[string][]string) (Config, error) {
	get := func(k string) string {
		if v := cfg[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	boolOr := func(k string, def bool) (bool, error) {
		switch strings.ToLower(get(k)) {
		case "":
			return def, nil
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return def, invalid("ldapErrorInvalidBoolean", k, "%s must be true or false", k)
	}
	c := Config{Vendor: strings.ToLower(get("vendor"))}
	c.URLs = strings.Fields(get("connectionUrl"))
	if len(c.URLs) == 0 {
		return c, invalid("ldapErrorConnectionURLMissing", "connectionUrl", "connectionUrl is required")
	}
	for _, u := range c.URLs {
		if !strings.HasPrefix(strings.ToLower(u), "ldap://") && !strings.HasPrefix(strings.ToLower(u), "ldaps://") {
			return c, invalid("ldapErrorInvalidConnectionURL", "connectionUrl", "connectionUrl %q must start with ldap:// or ldaps://", u)
		}
	}
	var err error
	for _, b := range []struct {
		p   *bool
		k   string
		def bool
	}{
		{&c.StartTLS, "startTls", false}, {&c.ImportEnabled, "importEnabled", true},
		{&c.SyncRegistrations, "syncRegistrations", false}, {&c.UsePasswordModifyExtendedOp, "usePasswordModifyExtendedOp", false},
		{&c.ValidatePasswordPolicy, "validatePasswordPolicy", false}, {&c.TrustEmail, "trustEmail", false},
		{&c.Pagination, "pagination", true}, {&c.ConnectionPooling, "connectionPooling", true},
		{&c.RemoveInvalidUsers, "removeInvalidUsersEnabled", true}, {&c.Enabled, "enabled", true},
	} {
		if *b.p, err = boolOr(b.k, b.def); err != nil {
			return c, err
		}
	}
	c.UseTruststore = get("useTruststoreSpi")
	if c.UseTruststore == "" {
		c.UseTruststore = "always"
	}
	ms := func(k, key string, def time.Duration) (time.Duration, error) {
		v := get(k)
		if v == "" {
			return def, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return def, invalid(key, k, "%s must be a number of milliseconds", k)
		}
		if n == 0 {
			return def, nil
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	if c.ConnectionTimeout, err = ms("connectionTimeout", "ldapErrorConnectionTimeoutNotNumber", DefaultConnectionTimeout); err != nil {
		return c, err
	}
	if c.ReadTimeout, err = ms("readTimeout", "ldapErrorReadTimeoutNotNumber", DefaultReadTimeout); err != nil {
		return c, err
	}
	c.AuthType = strings.ToLower(get("authType"))
	if c.AuthType == "" {
		c.AuthType = "simple"
	}
	if c.AuthType != "simple" && c.AuthType != "none" {
		return c, invalid("ldapErrorInvalidAuthType", "authType", "authType must be simple or none")
	}
	c.BindDN, c.BindCredential = get("bindDn"), get("bindCredential")
	c.UsersDN = get("usersDn")
	if c.UsersDN == "" {
		c.UsersDN = get("userDnSuffix") // the legacy name
	}
	if c.UsersDN == "" {
		return c, invalid("ldapErrorUsersDnMissing", "usersDn", "usersDn is required")
	}
	c.UsernameAttribute = get("usernameLDAPAttribute")
	if c.UsernameAttribute == "" {
		c.UsernameAttribute = "uid"
		if c.Vendor == "ad" {
			c.UsernameAttribute = "cn"
		}
	}
	c.RDNAttribute = get("rdnLDAPAttribute")
	if c.RDNAttribute == "" {
		c.RDNAttribute = c.UsernameAttribute
	}
	c.UUIDAttribute = get("uuidLDAPAttribute")
	if c.UUIDAttribute == "" {
		c.UUIDAttribute = vendorUUID(c.Vendor)
	}
	for _, oc := range strings.Split(get("userObjectClasses"), ",") {
		if oc = strings.TrimSpace(oc); oc != "" {
			c.UserObjectClasses = append(c.UserObjectClasses, oc)
		}
	}
	if len(c.UserObjectClasses) == 0 {
		c.UserObjectClasses = []string{"inetOrgPerson", "organizationalPerson"}
	}
	c.CustomUserSearchFilter = get("customUserSearchFilter")
	if f := c.CustomUserSearchFilter; f != "" && (!strings.HasPrefix(f, "(") || !strings.HasSuffix(f, ")")) {
		return c, invalid("ldapErrorInvalidCustomFilter", "customUserSearchFilter", "customUserSearchFilter must be enclosed in parentheses")
	}
	switch get("searchScope") {
	case "", "1":
		c.SearchScope = 1
	case "2":
		c.SearchScope = 2
	default:
		return c, invalid("ldapErrorInvalidSearchScope", "searchScope", "searchScope must be 1 (one level) or 2 (subtree)")
	}
	c.EditMode = strings.ToUpper(get("editMode"))
	switch c.EditMode {
	case "READ_ONLY", "WRITABLE", "UNSYNCED":
	case "":
		return c, invalid("ldapErrorEditModeMandatory", "editMode", "editMode is required")
	default:
		return c, invalid("ldapErrorEditModeMandatory", "editMode", "editMode must be READ_ONLY, WRITABLE or UNSYNCED")
	}
	if c.StartTLS && c.ConnectionPooling && get("connectionPooling") == "true" {
		// Keycloak refuses the pair (JNDI cannot pool StartTLS sockets);
		// keygate's pool can, so only an explicit request is refused, as
		// Keycloak's admin console would.
		return c, invalid("ldapErrorCantEnableStartTlsAndConnectionPooling", "startTls", "StartTLS and connection pooling cannot both be enabled")
	}
	if c.ValidatePasswordPolicy && c.EditMode != "WRITABLE" {
		return c, invalid("ldapErrorValidatePasswordPolicyAvailableForWritableOnly", "validatePasswordPolicy",
			"validatePasswordPolicy is available for WRITABLE edit mode only")
	}
	if c.EditMode == "UNSYNCED" && !c.ImportEnabled {
		return c, invalid("ldapErrorCantEnableUnsyncedAndImportOff", "editMode", "UNSYNCED edit mode needs importEnabled")
	}
	if !c.ImportEnabled {
		return c, invalid("ldapErrorImportDisabledUnsupported", "importEnabled",
			"importEnabled false is not supported by keygate: LDAP users are always imported")
	}
	intOr := func(k string, def int) (int, error) {
		v := get(k)
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return def, invalid("ldapErrorNotNumber", k, "%s must be a number", k)
		}
		return n, nil
	}
	if c.BatchSizeForSync, err = intOr("batchSizeForSync", 1000); err != nil {
		return c, err
	}
	if c.BatchSizeForSync <= 0 {
		c.BatchSizeForSync = 1000
	}
	full, err := intOr("fullSyncPeriod", -1)
	if err != nil {
		return c, err
	}
	changed, err := intOr("changedSyncPeriod", -1)
	if err != nil {
		return c, err
	}
	c.FullSyncPeriod, c.ChangedSyncPeriod = time.Duration(full)*time.Second, time.Duration(changed)*time.Second
	last, err := intOr("lastSync", 0)
	if err != nil {
		return c, err
	}
	if last > 0 {
		c.LastSync = time.Unix(int64(last), 0).UTC()
	}
	if c.PoolSize, err = intOr("connectionPoolingMaxSize", DefaultPoolSize); err != nil {
		return c, err
	}
	if c.PoolSize <= 0 {
		c.PoolSize = DefaultPoolSize
	}
	if c.Priority, err = intOr("priority", 0); err != nil {
		return c, err
	}
	return c, nil
}

// vendorUUID is the vendor's immutable entry id attribute
// (LDAPConstants.getUuidAttributeName).
func vendorUUID(vendor string) string {
	switch vendor {
	case "ad":
		return "objectGUID"
	case "rhds":
		return "nsuniqueid"
	case "tivoli":
		return "uniqueidentifier"
	case "edirectory":
		return "guid"
	}
	return "entryUUID"
}
