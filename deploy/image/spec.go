package main

import "strconv"

// The image's contract, in one place: the Go builder writes it and the
// Dockerfile test compares the Dockerfile with it.
const (
	binaryPath = "/usr/local/bin/keygate"
	uid        = 65532
	dataDir    = "/data"
	httpPort   = "8080/tcp"
	caBundle   = "/etc/ssl/certs/ca-certificates.crt"
	sourceURL  = "https://github.com/keygate/keygate"
)

var (
	user       = strconv.Itoa(uid) + ":" + strconv.Itoa(uid)
	entrypoint = []string{binaryPath}
	// "serve" by default; "docker run IMAGE version" or "... realm import"
	// run the other commands. Defaults go in the environment, not in Cmd:
	// every flag reads KEYGATE_<FLAG>, and a flag in Cmd would silently win
	// over the KEYGATE_DB a deployment sets.
	cmd = []string{"serve"}
	env = []string{
		"PATH=/usr/local/bin",
		"KEYGATE_HTTP_ADDR=:8080",
		"KEYGATE_DB=sqlite:/data/keygate.db",
	}
)

// labels are the OCI annotations set as image labels.
func labels(version, revision string) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "keygate",
		"org.opencontainers.image.description": "Keycloak-compatible identity gateway: OpenID Connect on Keycloak's URL layout from one static binary",
		"org.opencontainers.image.source":      sourceURL,
		"org.opencontainers.image.url":         sourceURL,
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.version":     version,
		"org.opencontainers.image.revision":    revision,
	}
}
