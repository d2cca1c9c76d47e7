package idp

import (
	"fmt"
	"math"
	"os"
	"os/user"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"time"

	"github.com/keygate/keygate/federation/ldap"
	oidcbroker "github.com/keygate/keygate/federation/oidc"
	samlbroker "github.com/keygate/keygate/federation/saml"
	"github.com/keygate/keygate/idp/admin"
	"github.com/keygate/keygate/idp/events"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/templates"
)

// KeycloakVersion is the Keycloak release whose APIs keygate speaks, the
// systemInfo.version of /admin/serverinfo: clients such as the Terraform
// provider read it to decide which API shapes to use.
const KeycloakVersion = "26.0.0"

// brokerNames are Keycloak's display names of the identity provider
// types keygate can broker.
var brokerNames = map[string]string{
	samlbroker.ProviderID:           "SAML v2.0",
	oidcbroker.ProviderOIDC:         "OpenID Connect v1.0",
	oidcbroker.ProviderKeycloakOIDC: "Keycloak OpenID Connect",
}

// disabledFeatures are Keycloak features keygate does not implement, for
// profileInfo: clients that look for them see them off.
var disabledFeatures = []string{"ADMIN2", "ADMIN_FINE_GRAINED_AUTHZ", "AUTHORIZATION", "CIBA", "DEVICE_FLOW", "DOCKER",
	"KERBEROS", "ORGANIZATION", "PAR", "TOKEN_EXCHANGE", "WEB_AUTHN"}

// serverInfo is Keycloak's ServerInfoRepresentation, with what keygate
// supports: the lists come from the code that implements them (the broker
// and user storage factories the server wires, the claims code's mapper
// types, the policies ParsePolicy enforces, the event types emitted).
func (s *Server) serverInfo(started time.Time, brokers, storage []string) map[string]any {
	now := time.Now()
	type provider struct {
		Order int `json:"order"`
	}
	type spi struct {
		Internal  bool                `json:"internal"`
		Providers map[string]provider `json:"providers"`
	}
	spiOf := func(internal bool, ids ...string) spi {
		p := map[string]provider{}
		for _, id := range ids {
			p[id] = provider{}
		}
		return spi{Internal: internal, Providers: p}
	}
	var mapperIDs, policyIDs []string
	for _, m := range oidc.MapperTypes() {
		mapperIDs = append(mapperIDs, m.ID)
	}
	for _, p := range password.PolicyTypes() {
		policyIDs = append(policyIDs, p.ID)
	}
	idps := []map[string]string{}
	for _, id := range brokers {
		idps = append(idps, map[string]string{"groupName": "User-defined", "name": brokerNames[id], "id": id})
	}
	type componentType struct {
		ID         string                `json:"id"`
		HelpText   string                `json:"helpText"`
		Properties []oidc.ConfigProperty `json:"properties"`
		Metadata   map[string]any        `json:"metadata"`
	}
	components := map[string][]componentType{}
	providers := map[string]spi{
		"login-protocol":    spiOf(true, "openid-connect"),
		"password-hashing":  spiOf(true, password.PBKDF2SHA1, password.PBKDF2SHA256, password.PBKDF2SHA512, password.Argon2),
		"password-policy":   spiOf(true, policyIDs...),
		"protocol-mapper":   spiOf(true, mapperIDs...),
		"identity_provider": spiOf(true, brokers...),
		"eventsListener":    spiOf(false, "jboss-logging"),
		"storage":           spiOf(false, storage...),
	}
	for _, id := range storage {
		components["org.keycloak.storage.UserStorageProvider"] = append(components["org.keycloak.storage.UserStorageProvider"],
			componentType{ID: id, HelpText: strings.ToUpper(id), Properties: []oidc.ConfigProperty{}, Metadata: map[string]any{"synchronizable": true}})
		if id == ldap.ProviderID {
			providers["ldap-mapper"] = spiOf(false, ldap.MapperTypes()...)
			for _, m := range ldap.MapperTypes() {
				components["org.keycloak.storage.ldap.mappers.LDAPStorageMapper"] = append(components["org.keycloak.storage.ldap.mappers.LDAPStorageMapper"],
					componentType{ID: m, HelpText: "", Properties: []oidc.ConfigProperty{}, Metadata: map[string]any{}})
			}
		}
	}
	themes := map[string][]map[string]any{"admin": {}, "common": {}, "welcome": {}}
	for _, t := range []string{"login", "account", "email"} {
		themes[t] = []map[string]any{{"name": "keycloak", "locales": templates.Languages}}
	}
	ops, resources := admin.AdminEventTypes()
	up := now.Sub(started)
	return map[string]any{
		"systemInfo":  systemInfo(now, up),
		"memoryInfo":  memoryInfo(),
		"profileInfo": map[string]any{"name": "community", "disabledFeatures": disabledFeatures, "previewFeatures": []string{}, "experimentalFeatures": []string{}},
		"cryptoInfo": map[string]any{"cryptoProvider": "go", "supportedKeystoreTypes": []string{},
			"clientSignatureSymmetricAlgorithms": []string{}, "clientSignatureAsymmetricAlgorithms": []string{}},
		"themes":                 themes,
		"socialProviders":        []map[string]string{},
		"identityProviders":      idps,
		"clientImporters":        []map[string]string{},
		"providers":              providers,
		"protocolMapperTypes":    map[string]any{"openid-connect": oidc.MapperTypes()},
		"builtinProtocolMappers": map[string]any{"openid-connect": rep.BuiltinProtocolMappers()},
		"clientInstallations":    map[string]any{},
		"componentTypes":         components,
		"passwordPolicies":       password.PolicyTypes(),
		"enums":                  map[string][]string{"eventType": events.Types(), "operationType": ops, "resourceType": resources},
	}
}

// systemInfo is Keycloak's SystemInfoRepresentation for this process; the
// Java fields are left out.
func systemInfo(now time.Time, up time.Duration) map[string]any {
	osName := map[string]string{"linux": "Linux", "darwin": "Mac OS X", "windows": "Windows"}[runtime.GOOS]
	if osName == "" {
		osName = runtime.GOOS
	}
	arch := runtime.GOARCH
	if arch == "arm64" {
		arch = "aarch64" // as the JVM names it
	}
	info := map[string]any{
		"version":        KeycloakVersion,
		"serverTime":     now.Format("Mon Jan 02 15:04:05 MST 2006"), // Java's Date.toString
		"uptime":         formatUptime(up),
		"uptimeMillis":   up.Milliseconds(),
		"osName":         osName,
		"osArchitecture": arch,
		"fileEncoding":   "UTF-8",
		"userTimezone":   now.Location().String(),
	}
	if tz := now.Location().String(); tz == "Local" { // no TZ: the zone's abbreviation, e.g. UTC
		info["userTimezone"], _ = now.Zone()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		info["osVersion"] = strings.TrimSpace(string(b))
	}
	if u, err := user.Current(); err == nil {
		info["userName"] = u.Username
	}
	if wd, err := os.Getwd(); err == nil {
		info["userDir"] = wd
	}
	return info
}

// formatUptime is Keycloak's "1 day, 2 hours, 3 minutes, 4 seconds".
func formatUptime(d time.Duration) string {
	s := int64(d / time.Second)
	plural := func(n int64, unit string) string {
		if n != 1 {
			unit += "s"
		}
		return fmt.Sprintf("%d %s", n, unit)
	}
	return strings.Join([]string{plural(s/86400, "day"), plural(s/3600%24, "hour"), plural(s/60%60, "minute"), plural(s%60, "second")}, ", ")
}

// memoryInfo is Keycloak's MemoryInfoRepresentation: total is the Go
// memory limit when one is set (GOMEMLIMIT), else the memory the runtime
// holds from the OS; used is the heap and stacks in use.
// (Read from runtime/metrics: runtime.ReadMemStats stops the world.)
func memoryInfo() map[string]any {
	samples := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
	}
	metrics.Read(samples)
	v := func(i int) int64 {
		if samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return int64(samples[i].Value.Uint64())
	}
	total := v(0)
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
		total = limit
	}
	used := v(1) + v(2) + v(3)
	free := max(total-used, 0)
	pct := int64(0)
	if total > 0 {
		pct = free * 100 / total
	}
	return map[string]any{"total": total, "totalFormated": formatMemory(total), "used": used, "usedFormated": formatMemory(used),
		"free": free, "freeFormated": formatMemory(free), "freePercentage": pct}
}

// formatMemory is Keycloak's "12 MB", "3 kB", "5 B".
func formatMemory(b int64) string {
	switch {
	case b > 1<<20:
		return fmt.Sprintf("%d MB", b>>20)
	case b > 1<<10:
		return fmt.Sprintf("%d kB", b>>10)
	}
	return fmt.Sprintf("%d B", b)
}

// sortedKeys are m's keys, sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
