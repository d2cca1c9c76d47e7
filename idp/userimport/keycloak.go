package userimport

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// keycloakReader streams the users array of a Keycloak realm export or of a
// `<realm>-users-N.json` partial export ({"realm": .., "users": [..]}): one
// user is decoded at a time (rep.DecodeUser, so exactly as `realm import`
// reads it), and every other key of the realm is skipped. Credentials stay
// as they are (rep.ResolveUserCredentials checks them); a plain `value` is
// hashed under the target realm's policy.
type keycloakReader struct {
	name    string
	dec     *json.Decoder
	policy  password.Policy
	now     time.Time
	inUsers bool
	i       int // index in users
	done    bool
}

func newKeycloakReader(r io.Reader, name string, policy password.Policy) (Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		_, _ = br.Discard(3)
	}
	dec := json.NewDecoder(br)
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%s: not JSON: %v", name, err)
	}
	switch tok {
	case json.Delim('{'):
	case json.Delim('['):
		return nil, fmt.Errorf("%s: a JSON array of realms; import one realm's users per file", name)
	default:
		return nil, fmt.Errorf("%s: want a Keycloak realm export (a JSON object)", name)
	}
	return &keycloakReader{name: name, dec: dec, policy: policy, now: time.Now().UTC()}, nil
}

func (k *keycloakReader) fail(format string, a ...any) error {
	return fmt.Errorf("%s: offset %d: "+format, append([]any{k.name, k.dec.InputOffset()}, a...)...)
}

func (k *keycloakReader) Next() (Record, error) {
	for !k.done {
		if k.inUsers {
			if k.dec.More() {
				var raw json.RawMessage
				if err := k.dec.Decode(&raw); err != nil {
					return Record{}, k.fail("users[%d]: %v", k.i, err)
				}
				rec := k.record(raw, fmt.Sprintf("users[%d]", k.i))
				k.i++
				return rec, nil
			}
			if _, err := k.dec.Token(); err != nil { // ]
				return Record{}, k.fail("users: %v", err)
			}
			k.inUsers = false
			continue
		}
		tok, err := k.dec.Token()
		if err != nil {
			return Record{}, k.fail("%v", err)
		}
		if tok == json.Delim('}') {
			k.done = true
			break
		}
		key, _ := tok.(string)
		if key != "users" {
			var skip json.RawMessage // the realm's other parts are not users' business
			if err := k.dec.Decode(&skip); err != nil {
				return Record{}, k.fail("%s: %v", key, err)
			}
			continue
		}
		if tok, err = k.dec.Token(); err != nil {
			return Record{}, k.fail("users: %v", err)
		}
		if tok == nil {
			continue // "users": null
		}
		if tok != json.Delim('[') {
			return Record{}, k.fail("users: want an array")
		}
		k.inUsers = true
	}
	if _, err := k.dec.Token(); !errors.Is(err, io.EOF) {
		return Record{}, k.fail("data after the realm object")
	}
	return Record{}, io.EOF
}

// record turns one UserRepresentation into a Record.
func (k *keycloakReader) record(raw json.RawMessage, path string) Record {
	rec := Record{Source: k.name + ": " + path}
	u, err := rep.DecodeUser(raw, path)
	if err == nil {
		err = rep.ResolveUserCredentials(&u, path, k.policy, k.now)
	}
	if err != nil {
		rec.Err = errors.New(trimPathPrefix(err.Error(), path))
		return rec
	}
	if u.ServiceAccountClientID != "" {
		rec.Username = u.Username
		rec.Skip = fmt.Sprintf("service account of client %q (created with its client, not by users import)", u.ServiceAccountClientID)
		return rec
	}
	// UserToStore applies Keycloak's import defaults (enabled and
	// emailVerified false when absent).
	row := rep.UserToStore("", u)
	rec.ID, rec.Username, rec.Email, rec.FirstName, rec.LastName = u.ID, u.Username, u.Email, u.FirstName, u.LastName
	rec.Enabled, rec.EmailVerified = &row.Enabled, &row.EmailVerified
	rec.Created, rec.Attributes, rec.RequiredActions = row.Created, u.Attributes, u.RequiredActions
	rec.RealmRoles, rec.ClientRoles, rec.Groups = u.RealmRoles, u.ClientRoles, u.Groups
	rec.FederationLink = u.FederationLink
	for _, f := range u.FederatedIdentities {
		rec.FederatedIdentities = append(rec.FederatedIdentities, store.FederatedIdentity{Alias: f.IdentityProvider,
			ExternalID: f.UserID, ExternalName: f.UserName})
	}
	for _, c := range u.Credentials {
		sc := rep.CredentialToStore("", c)
		sc.ID = "" // credential ids are internal; the writer makes new ones
		rec.Credentials = append(rec.Credentials, sc)
	}
	return rec
}

// trimPathPrefix drops "users[3]." from an error that starts with it: the
// record's Source already names the user.
func trimPathPrefix(msg, path string) string {
	if len(msg) > len(path) && msg[:len(path)] == path && (msg[len(path)] == '.' || msg[len(path)] == ':') {
		return strings.TrimSpace(msg[len(path)+1:])
	}
	return msg
}
