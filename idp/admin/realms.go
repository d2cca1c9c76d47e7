package admin

import (
	"bytes"
	"context"
	"errors"

	"github.com/keygate/keygate/idp/mail"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// listRealms lists the realms the caller administers (all of them for a
// master admin), as full or brief representations.
func (a *API) listRealms(c *call) error {
	rows, err := a.st.ListRealms(c.ctx)
	if err != nil {
		return err
	}
	brief := c.flag("briefRepresentation", false)
	out := []any{}
	for _, row := range rows {
		if !c.caller.may(anyRole, row.Name) {
			continue
		}
		r, _, err := rep.DecodeRealm(row)
		if err != nil {
			return err
		}
		if brief {
			out = append(out, map[string]any{"id": r.ID, "realm": r.Realm, "displayName": r.DisplayName, "enabled": r.Enabled})
		} else if !c.caller.may(viewRealm, row.Name) {
			out = append(out, map[string]any{"realm": r.Realm}) // see getRealm
		} else {
			maskRealm(&r)
			out = append(out, r)
		}
	}
	return c.ok(out)
}

// createRealm imports the body as a realm, as Keycloak's POST /admin/realms
// does (a whole RealmRepresentation, users and clients included).
func (a *API) createRealm(c *call) error {
	data, err := c.read(maxRealmBody)
	if err != nil {
		return err
	}
	if data = bytes.TrimSpace(data); data[0] != '{' {
		return badRequest("Expected a realm representation (a JSON object)")
	}
	var r rep.Realm
	if err := rep.Decode(data, &r); err != nil {
		return err
	}
	if r.Realm == "" {
		return fieldError("realm", "Realm name cannot be empty")
	}
	if _, err := a.st.GetRealmByName(c.ctx, r.Realm); err == nil {
		return conflict("Conflict detected. See logs for details")
	}
	res, err := rep.ImportRealm(c.ctx, a.st, data, rep.ImportOptions{SealSecret: a.p.Keyring().Secrets().Seal, NewRealms: true})
	if err != nil {
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) || c.ctx.Err() != nil {
			return err
		}
		return badRequest(err.Error()) // the import names the JSON path
	}
	// What was accepted but not used (unknown fields, identity-provider
	// settings keygate does not act on), by JSON path, never values.
	for _, w := range res.Warnings {
		a.log.WarnContext(c.ctx, "realm import", "realm", r.Realm, "warning", w)
	}
	return c.created(r.Realm)
}

// getRealm answers the realm's representation to a caller with view-realm;
// any other admin of the realm gets its name only, as Keycloak's
// RealmAdminResource.getRealm answers: the settings (SMTP server and
// account, policies, brute-force limits) are not theirs to read.
func (a *API) getRealm(c *call) error {
	if !c.caller.may(viewRealm, c.realm.Name) {
		return c.ok(map[string]any{"realm": c.realm.Name})
	}
	r, _, err := rep.DecodeRealm(c.realm)
	if err != nil {
		return err
	}
	maskRealm(&r)
	return c.ok(r)
}

// updateRealm applies the fields the body has to the realm's settings
// (Keycloak's partial update). Collections in the body are ignored: they
// have their own endpoints. A new name renames the realm.
func (a *API) updateRealm(c *call) error {
	r, _, err := rep.DecodeRealm(c.realm)
	if err != nil {
		return err
	}
	// What grants roles keeps its value: the default role and groups and
	// the scope mappings change through their own endpoints, which check
	// the caller may grant what they add.
	defaultRole, defaultGroups, scopes, clientScopes := r.DefaultRole, r.DefaultGroups, r.ScopeMappings, r.ClientScopeMappings
	requiredActions := r.RequiredActions
	smtp := r.SMTPServer
	r.SMTPServer = nil
	if err := c.body(&r, maxBody); err != nil {
		return err
	}
	r.DefaultRole, r.DefaultGroups, r.ScopeMappings, r.ClientScopeMappings = defaultRole, defaultGroups, scopes, clientScopes
	// So do the required actions, which Keycloak's realm update ignores
	// (authentication/required-actions changes them).
	r.RequiredActions = requiredActions
	// The SMTP password is sealed at rest; the mask keeps the stored one.
	if r.SMTPServer == nil {
		r.SMTPServer = smtp
	} else if err := smtpMaskMoved(r.SMTPServer, smtp); err != nil {
		return err
	} else if r.SMTPServer, err = mail.MergeStored(r.SMTPServer, smtp, a.p.Keyring().Secrets().Seal); err != nil {
		return err
	}
	if r.Realm == "" {
		return fieldError("realm", "Realm name cannot be empty")
	}
	if c.realm.Name == masterRealm && r.Realm != masterRealm {
		return badRequest("Can't rename master realm")
	}
	if _, err := password.ParsePolicy(r.PasswordPolicy); err != nil {
		return badRequest("Invalid config for passwordPolicy: " + err.Error())
	}
	r.ID = c.realm.ID // the id cannot change
	row, err := rep.RealmToStore(r)
	if err != nil {
		return err
	}
	row.Created = c.realm.Created
	var realmClient *store.Client // master's "<realm>-realm", renamed along
	if row.Name != c.realm.Name {
		if _, err := a.st.GetRealmByName(c.ctx, row.Name); err == nil {
			return conflict("Realm " + row.Name + " already exists")
		}
		if realmClient, err = a.renamedAdminClient(c, row.Name); err != nil {
			return err
		}
	}
	err = a.st.Tx(c.ctx, func(ctx context.Context) error {
		if err := a.st.UpdateRealm(ctx, row); err != nil || realmClient == nil {
			return err
		}
		return a.st.UpdateClient(ctx, *realmClient)
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) && c.realm.DuplicateEmailsAllowed && !row.DuplicateEmailsAllowed {
			// Keycloak turns the setting off regardless and leaves the
			// existing duplicates to the database administrator; the store
			// refuses to hold a rule its own rows break.
			return conflict("Duplicate emails cannot be disallowed: some users of this realm share an email")
		}
		return err
	}
	c.realm = row
	return c.noContent()
}

// renamedAdminClient is master's "<realm>-realm" client of the realm c
// names, renamed for its new name (nil when there is none), as Keycloak's
// RealmManager renames it: its roles are the rights master users hold in
// the realm. A "<name>-realm" client that exists already is a conflict:
// its role holders would manage the renamed realm.
func (a *API) renamedAdminClient(c *call, name string) (*store.Client, error) {
	master, err := a.st.GetRealmByName(c.ctx, masterRealm)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if _, err := a.st.GetClientByClientID(c.ctx, master.ID, name+realmClientSuffix); err == nil {
		return nil, conflict("Client " + name + realmClientSuffix + " of the master realm already exists: its roles would manage the renamed realm")
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	row, err := a.st.GetClientByClientID(c.ctx, master.ID, c.realm.Name+realmClientSuffix)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	r, err := rep.ClientFromStore(row)
	if err != nil {
		return nil, err
	}
	r.ClientID = name + realmClientSuffix
	next, err := rep.ClientToStore(master.ID, r)
	if err != nil {
		return nil, err
	}
	next.Created, next.Secret, next.RegistrationTokenHash = row.Created, row.Secret, row.RegistrationTokenHash
	return &next, nil
}

func (a *API) deleteRealm(c *call) error {
	if c.realm.Name == masterRealm {
		return badRequest("The master realm cannot be deleted")
	}
	// Master's "<realm>-realm" client goes too, as Keycloak's RealmManager
	// removes it: left behind, its role holders would manage the next
	// realm created under this name.
	master, err := a.st.GetRealmByName(c.ctx, masterRealm)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	err = a.st.Tx(c.ctx, func(ctx context.Context) error {
		if err := a.st.DeleteRealm(ctx, c.realm.ID); err != nil || master.ID == "" {
			return err
		}
		cl, err := a.st.GetClientByClientID(ctx, master.ID, c.realm.Name+realmClientSuffix)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		return a.st.DeleteClient(ctx, master.ID, cl.ID)
	})
	if err != nil {
		return err
	}
	return c.noContent()
}
