package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/ldap"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// A user's credentials beyond list and delete (users.go), as Keycloak's
// admin API has them: a device's label, the device a login asks for first,
// and removing every device of a type.

// updateCredentialLabel is PUT .../credentials/{cred}/userLabel: the body
// is the new label as text/plain, as Keycloak takes it.
func (a *API) updateCredentialLabel(c *call) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	id, err := c.id("cred", "Credential")
	if err != nil {
		return err
	}
	data, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, 4<<10))
	if err != nil {
		return badRequest("Invalid body")
	}
	label := strings.TrimSpace(string(data))
	if len(label) > 255 {
		return fieldError("userLabel", "error-invalid-length")
	}
	err = a.st.UpdateCredential(c.ctx, u.ID, id, func(old store.Credential) (store.Credential, error) {
		old.UserLabel = label
		return old, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return notFound("Credential not found")
	}
	if err != nil {
		return err
	}
	return c.noContent()
}

// moveCredentialToFirst is POST .../credentials/{cred}/moveToFirst: the
// credential goes before the others (for OTP: the device a login asks for
// when none is chosen).
func (a *API) moveCredentialToFirst(c *call) error { return a.moveCredential(c, "") }

// moveCredentialAfter is POST .../credentials/{cred}/moveAfter/{previous}:
// the credential goes right after previous.
func (a *API) moveCredentialAfter(c *call) error {
	return a.moveCredential(c, c.r.PathValue("previous"))
}

// moveCredential moves credential {cred} of the user to the front (after
// "") or right after credential after, as Keycloak's
// moveStoredCredentialTo.
func (a *API) moveCredential(c *call, after string) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	id, err := c.id("cred", "Credential")
	if err != nil {
		return err
	}
	creds, err := a.st.ListCredentials(c.ctx, u.ID)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(creds, func(cr store.Credential) bool { return cr.ID == id }) {
		return notFound("Credential not found")
	}
	var order []string
	if after == "" {
		order = append(order, id)
	}
	for _, cr := range creds {
		if cr.ID == id {
			continue
		}
		order = append(order, cr.ID)
		if cr.ID == after {
			order = append(order, id)
		}
	}
	if len(order) < len(creds) {
		// previous is not another credential of this user: Keycloak
		// moves nothing and still answers 204.
		return c.noContent()
	}
	// Keycloak renumbers the user's credentials in steps of 10, in the new
	// order.
	err = a.st.Tx(c.ctx, func(ctx context.Context) error {
		for i, cid := range order {
			err := a.st.UpdateCredential(ctx, u.ID, cid, func(old store.Credential) (store.Credential, error) {
				if old.Priority == (i+1)*10 {
					return old, store.ErrAbort
				}
				old.Priority = (i + 1) * 10
				return old, nil
			})
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.noContent()
}

// disableCredentialTypes is PUT .../disable-credential-types with a JSON
// list of types: every credential of those types goes. Only "otp" can be
// disabled, as in Keycloak (a password is reset, not disabled).
func (a *API) disableCredentialTypes(c *call) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	data, err := c.read(4 << 10)
	if err != nil {
		return err
	}
	var types []string
	if err := json.Unmarshal(data, &types); err != nil {
		return badRequest("Invalid JSON body: want a list of credential types")
	}
	for _, t := range types {
		if t != rep.OTPCredentialType {
			return badRequest("Credential type " + t + " cannot be disabled")
		}
	}
	if len(types) == 0 {
		return c.noContent()
	}
	creds, err := a.st.ListCredentials(c.ctx, u.ID)
	if err != nil {
		return err
	}
	for _, cr := range creds {
		if cr.Type != rep.OTPCredentialType {
			continue
		}
		if err := a.st.DeleteCredential(c.ctx, u.ID, cr.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return c.noContent()
}

// userStorageCredentialTypes is GET .../configured-user-storage-credential-
// types: the credential types the user's storage provider validates. Only
// LDAP is built, and it checks passwords; a local user, or one whose
// provider is gone or disabled, has none, as in Keycloak (a disabled
// provider has no instance to ask).
func (a *API) userStorageCredentialTypes(c *call) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	row, ok, err := a.userProvider(c.ctx, u)
	if err != nil {
		return err
	}
	out := []string{}
	if ok && row.ProviderType == federation.UserStorageType && row.ProviderID == ldap.ProviderID &&
		first(row.Config["enabled"]) != "false" { // as the federation registry reads it
		out = append(out, "password")
	}
	return c.ok(out)
}
