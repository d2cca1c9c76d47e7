package main

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sync"
)

// The bench realm: what realm.json holds and the load generator uses.
const (
	realmName      = "bench"
	esRealmName    = "bench-es256" // the same realm signing tokens with ES256
	clientID       = "bench"
	clientSecret   = "bench-secret-0123456789"
	publicClientID = "bench-spa"
	redirectURI    = "http://127.0.0.1:9/cb"
	userCount      = 200
)

func userName(i int) string     { return fmt.Sprintf("user%03d", i) }
func userPassword(i int) string { return fmt.Sprintf("bench-pass-%03d", i) }

// writeRealm writes the bench realm as a Keycloak realm export: brute-force
// protection off (so a flood cannot lock users out), a confidential client
// with direct access grants and a service account, a public client for the
// browser flow, and userCount users whose passwords are already stored under
// the default policy (pbkdf2-sha256, 20000 iterations, 32-byte key), so no
// login re-hashes during the run.
//
// esPath gets the same realm named esRealmName with defaultSignatureAlgorithm
// ES256 (Keycloak's realm setting).
func writeRealm(path, esPath string) error {
	users := make([]map[string]any, userCount)
	var wg sync.WaitGroup
	next := make(chan int)
	errs := make(chan error, userCount)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				u, err := benchUser(i)
				if err != nil {
					errs <- err
					continue
				}
				users[i] = u
			}
		})
	}
	for i := range userCount {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	cu, err := consoleUser() // account.go
	if err != nil {
		return err
	}
	users = append(users, cu)

	realm := map[string]any{
		"realm":               realmName,
		"enabled":             true,
		"sslRequired":         "none",
		"bruteForceProtected": false,
		"clients": []map[string]any{
			{
				"clientId":                  clientID,
				"enabled":                   true,
				"publicClient":              false,
				"secret":                    clientSecret,
				"standardFlowEnabled":       true,
				"directAccessGrantsEnabled": true,
				"serviceAccountsEnabled":    true,
				"redirectUris":              []string{redirectURI},
			},
			{
				"clientId":                  publicClientID,
				"enabled":                   true,
				"publicClient":              true,
				"standardFlowEnabled":       true,
				"directAccessGrantsEnabled": false,
				"redirectUris":              []string{redirectURI},
				"webOrigins":                []string{"+"},
			},
		},
		"users": users,
	}
	if os.Getenv("KEYGATE_BENCH_EVENTS") == "1" {
		// Store every login event keygate emits (the writer's cost).
		realm["eventsEnabled"], realm["adminEventsEnabled"] = true, true
	}
	data, err := json.MarshalIndent(realm, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return err
	}
	realm["realm"], realm["defaultSignatureAlgorithm"] = esRealmName, "ES256"
	if data, err = json.MarshalIndent(realm, "", "  "); err != nil {
		return err
	}
	return os.WriteFile(esPath, data, 0o600)
}

func benchUser(i int) (map[string]any, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	key, err := pbkdf2.Key(sha256.New, userPassword(i), salt, pbkdf2Iterations, pbkdf2KeyLen)
	if err != nil {
		return nil, err
	}
	secret, err := json.Marshal(map[string]any{
		"value": base64.StdEncoding.EncodeToString(key), "salt": base64.StdEncoding.EncodeToString(salt),
		"additionalParameters": map[string]any{},
	})
	if err != nil {
		return nil, err
	}
	cred, err := json.Marshal(map[string]any{
		"hashIterations": pbkdf2Iterations, "algorithm": "pbkdf2-sha256", "additionalParameters": map[string]any{},
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"username":      userName(i),
		"enabled":       true,
		"email":         userName(i) + "@bench.example",
		"emailVerified": true,
		"firstName":     "User",
		"lastName":      fmt.Sprintf("N%03d", i),
		"credentials": []map[string]any{{
			"type":           "password",
			"secretData":     string(secret),
			"credentialData": string(cred),
		}},
	}, nil
}
