// @keycloak/keycloak-admin-client against keygate's admin REST API.
// KEYGATE_URL: a server with the bootstrap admin admin / admin-secret-pw.
import { test } from "node:test";
import assert from "node:assert/strict";
import KcAdminClient from "@keycloak/keycloak-admin-client";

const baseUrl = process.env.KEYGATE_URL;
const realm = "e2e-admin";

async function adminClient() {
  const kc = new KcAdminClient({ baseUrl, realmName: "master" });
  await kc.auth({ username: "admin", password: "admin-secret-pw", grantType: "password", clientId: "admin-cli" });
  return kc;
}

// status runs fn and returns the HTTP status of the NetworkError it throws.
async function status(fn) {
  try {
    await fn();
  } catch (e) {
    if (e.response) return { status: e.response.status, data: e.responseData };
    throw e;
  }
  return { status: 200 };
}

async function rawFetch(kc, method, path, body) {
  return fetch(`${baseUrl}/admin/realms/${path}`, {
    method,
    headers: { authorization: `Bearer ${kc.accessToken}`, "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
}

test("admin client drives every call", async (t) => {
  const kc = await adminClient();

  await t.test("realms", async () => {
    await kc.realms.create({ realm, enabled: true, passwordPolicy: "length(8)" });
    assert.equal((await status(() => kc.realms.create({ realm }))).status, 409);
    const r = await kc.realms.findOne({ realm });
    assert.equal(r.realm, realm);
    assert.equal(r.enabled, true);
    await kc.realms.update({ realm }, { displayName: "E2E" });
    assert.equal((await kc.realms.findOne({ realm })).displayName, "E2E");
    assert.ok((await kc.realms.find()).some((x) => x.realm === realm));
    assert.equal(await kc.realms.findOne({ realm: "no-such-realm" }), null);
    const res = await rawFetch(kc, "POST", "", { realm: 42, enabled: "maybe" });
    assert.equal(res.status, 400);
    assert.ok((await res.json()).errorMessage);
  });
  kc.setConfig({ realmName: realm });

  let userId;
  await t.test("users", async () => {
    const { id } = await kc.users.create({ username: "alice", email: "alice@example.com", enabled: true, firstName: "Alice", lastName: "Liddell" });
    userId = id;
    assert.match(id, /^[0-9a-f-]{36}$/);
    const dup = await status(() => kc.users.create({ username: "alice" }));
    assert.equal(dup.status, 409);
    assert.equal(dup.data.errorMessage, "User exists with same username");
    assert.equal((await status(() => kc.users.create({ username: "bob", email: "alice@example.com" }))).data.errorMessage, "User exists with same email");
    for (let i = 0; i < 5; i++) await kc.users.create({ username: `user${i}`, enabled: i % 2 === 0 });
    assert.equal((await kc.users.find({ search: "user", max: 3 })).length, 3);
    assert.equal((await kc.users.find({ search: "user", first: 3 })).length, 2);
    assert.deepEqual((await kc.users.find({ username: "alice", exact: true })).map((u) => u.id), [id]);
    assert.equal((await kc.users.find({ email: "alice@example.com" })).length, 1);
    assert.equal((await kc.users.find({ search: "%" })).length, 0);
    assert.equal((await kc.users.find({ search: "' OR '1'='1" })).length, 0);
    const brief = await kc.users.find({ search: "alice", briefRepresentation: true });
    assert.equal(brief[0].username, "alice");
    assert.equal(await kc.users.count({ search: "user" }), 5);
    assert.equal(await kc.users.count(), 6);
    await kc.users.update({ id: (await kc.users.find({ username: "user3", exact: true }))[0].id }, { attributes: { team: ["ops"] } });
    assert.deepEqual((await kc.users.find({ q: "team:ops" })).map((u) => u.username), ["user3"]);
    assert.equal((await kc.users.find({ q: "team:dev" })).length, 0);
    const alice = await kc.users.findOne({ id });
    assert.equal(alice.email, "alice@example.com");
    assert.equal(await kc.users.findOne({ id: "00000000-0000-4000-8000-000000000000" }), null);
    assert.equal(await kc.users.findOne({ id: "not-a-uuid" }), null);
    await kc.users.update({ id }, { firstName: "Alicia" });
    assert.equal((await kc.users.findOne({ id })).firstName, "Alicia");
    assert.equal((await kc.users.findOne({ id })).lastName, "Liddell");
  });

  await t.test("passwords and credentials", async () => {
    const weak = await status(() => kc.users.resetPassword({ id: userId, credential: { type: "password", value: "short", temporary: false } }));
    assert.equal(weak.status, 400);
    assert.equal(weak.data.error, "invalidPasswordMinLengthMessage");
    await kc.users.resetPassword({ id: userId, credential: { type: "password", value: "wonderland-1", temporary: false } });
    const creds = await kc.users.getCredentials({ id: userId });
    assert.equal(creds.length, 1);
    assert.equal(creds[0].type, "password");
    assert.equal(creds[0].secretData, undefined);
    const data = JSON.parse(creds[0].credentialData);
    assert.equal(data.algorithm, "pbkdf2-sha256");
    assert.ok(data.hashIterations > 0);
    const tok = await fetch(`${baseUrl}/realms/${realm}/protocol/openid-connect/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", client_id: "admin-cli", username: "alice", password: "wonderland-1" }),
    });
    assert.equal(tok.status, 200);
    const email = await status(() => kc.users.executeActionsEmail({ id: userId, actions: ["UPDATE_PASSWORD"] }));
    // No smtpServer in this realm: Keycloak's 500 (TestE2EEmail sends for real).
    assert.equal(email.status, 500);
    assert.equal(email.data.errorMessage, "Failed to send execute actions email");
    // One credential: moving it after itself changes nothing (204, as Keycloak).
    await kc.users.moveCredentialPositionDown({ id: userId, credentialId: creds[0].id, newPreviousCredentialId: creds[0].id });
    const unknown = "00000000-0000-4000-8000-000000000000";
    assert.equal((await status(() => kc.users.moveCredentialPositionDown({ id: userId, credentialId: unknown, newPreviousCredentialId: creds[0].id }))).status, 404);
    assert.deepEqual(await kc.users.getUserStorageCredentialTypes({ id: userId }), []); // a local user
    // Keycloak 26 has no remove-totp (disable-credential-types replaced it).
    assert.equal((await status(() => kc.users.removeTotp({ id: userId }))).status, 404);
    await kc.users.deleteCredential({ id: userId, credentialId: creds[0].id });
    assert.equal((await kc.users.getCredentials({ id: userId })).length, 0);
  });

  let clientUuid;
  await t.test("clients", async () => {
    const { id } = await kc.clients.create({ clientId: "app", redirectUris: ["https://app.example.com/*"], serviceAccountsEnabled: true });
    clientUuid = id;
    assert.equal((await status(() => kc.clients.create({ clientId: "app" }))).status, 409);
    const found = await kc.clients.find({ clientId: "app" });
    assert.equal(found.length, 1);
    assert.equal(found[0].id, id);
    const c = await kc.clients.findOne({ id });
    assert.equal(c.clientId, "app");
    assert.deepEqual(c.redirectUris, ["https://app.example.com/*"]);
    await kc.clients.update({ id }, { description: "the app" });
    assert.equal((await kc.clients.findOne({ id })).description, "the app");
    const s1 = await kc.clients.getClientSecret({ id });
    assert.equal(s1.type, "secret");
    assert.ok(s1.value.length >= 32);
    const s2 = await kc.clients.generateNewClientSecret({ id });
    assert.notEqual(s2.value, s1.value);
    assert.equal((await kc.clients.getClientSecret({ id })).value, s2.value);
    const sa = await kc.clients.getServiceAccountUser({ id });
    assert.equal(sa.username, "service-account-app");
    const cc = await fetch(`${baseUrl}/realms/${realm}/protocol/openid-connect/token`, {
      method: "POST",
      headers: { authorization: "Basic " + Buffer.from(`app:${s2.value}`).toString("base64") },
      body: new URLSearchParams({ grant_type: "client_credentials" }),
    });
    assert.equal(cc.status, 200);
    // keycloak.json as the admin console offers it (text/plain; the client parses it).
    const kcJson = await kc.clients.getInstallationProviders({ id, providerId: "keycloak-oidc-keycloak-json" });
    assert.deepEqual(kcJson, { realm, "auth-server-url": `${baseUrl}/`, "ssl-required": "external", resource: "app",
      credentials: { secret: s2.value }, "confidential-port": 0 });
    const xml = await kc.clients.getInstallationProviders({ id, providerId: "keycloak-oidc-jboss-subsystem" });
    assert.match(xml, /<resource>app<\/resource>/);
    assert.equal((await status(() => kc.clients.getInstallationProviders({ id, providerId: "mod-auth-mellon" }))).status, 404);
    assert.equal(await kc.clients.findOne({ id: "00000000-0000-4000-8000-000000000000" }), null);
  });

  await t.test("client scopes and protocol mappers", async () => {
    const claim = (name, value) => ({ name, protocol: "openid-connect", protocolMapper: "oidc-hardcoded-claim-mapper",
      config: { "claim.name": name, "claim.value": value, "jsonType.label": "String", "access.token.claim": "true" } });
    const accessClaims = async () => {
      const { value } = await kc.clients.getClientSecret({ id: clientUuid });
      const res = await fetch(`${baseUrl}/realms/${realm}/protocol/openid-connect/token`, {
        method: "POST",
        headers: { authorization: "Basic " + Buffer.from(`app:${value}`).toString("base64") },
        body: new URLSearchParams({ grant_type: "client_credentials" }),
      });
      assert.equal(res.status, 200);
      const { access_token } = await res.json();
      return JSON.parse(Buffer.from(access_token.split(".")[1], "base64url").toString());
    };

    await kc.clients.addProtocolMapper({ id: clientUuid }, claim("tier", "gold"));
    const [tier] = await kc.clients.listProtocolMappers({ id: clientUuid });
    assert.equal((await kc.clients.findProtocolMapperById({ id: clientUuid, mapperId: tier.id })).name, "tier");
    assert.equal((await accessClaims()).tier, "gold");
    await kc.clients.updateProtocolMapper({ id: clientUuid, mapperId: tier.id }, { ...tier, config: { ...tier.config, "claim.value": "silver" } });
    assert.equal((await accessClaims()).tier, "silver");
    await kc.clients.delProtocolMapper({ id: clientUuid, mapperId: tier.id });
    assert.equal((await accessClaims()).tier, undefined);

    await kc.clientScopes.create({ name: "dashboards", protocol: "openid-connect" });
    const scope = await kc.clientScopes.findOneByName({ name: "dashboards" });
    await kc.clientScopes.addProtocolMapper({ id: scope.id }, claim("team", "ops"));
    assert.equal((await kc.clientScopes.listProtocolMappers({ id: scope.id })).length, 1);
    await kc.clients.addDefaultClientScope({ id: clientUuid, clientScopeId: scope.id });
    assert.ok((await kc.clients.listDefaultClientScopes({ id: clientUuid })).some((s) => s.name === "dashboards"));
    assert.equal((await accessClaims()).team, "ops");
    await kc.clients.delDefaultClientScope({ id: clientUuid, clientScopeId: scope.id });
    await kc.clients.addOptionalClientScope({ id: clientUuid, clientScopeId: scope.id });
    assert.ok((await kc.clients.listOptionalClientScopes({ id: clientUuid })).some((s) => s.name === "dashboards"));
    assert.equal((await accessClaims()).team, undefined);
    await kc.clientScopes.addDefaultClientScope({ id: scope.id });
    assert.ok((await kc.clientScopes.listDefaultClientScopes()).some((s) => s.name === "dashboards"));
    await kc.clientScopes.delDefaultClientScope({ id: scope.id });
    await kc.clients.delOptionalClientScope({ id: clientUuid, clientScopeId: scope.id });
    await kc.clientScopes.update({ id: scope.id }, { ...scope, description: "Dashboards" });
    assert.equal((await kc.clientScopes.findOne({ id: scope.id })).description, "Dashboards");
    await kc.clientScopes.del({ id: scope.id });
    assert.equal(await kc.clientScopes.findOne({ id: scope.id }), null);
  });

  await t.test("roles and role mappings", async () => {
    const { roleName } = await kc.roles.create({ name: "editor", description: "Edits" });
    assert.equal(roleName, "editor");
    assert.equal((await status(() => kc.roles.create({ name: "editor" }))).status, 409);
    const editor = await kc.roles.findOneByName({ name: "editor" });
    assert.equal(editor.description, "Edits");
    await kc.roles.updateByName({ name: "editor" }, { name: "editor", description: "Edits things" });
    assert.equal((await kc.roles.findOneByName({ name: "editor" })).description, "Edits things");
    assert.ok((await kc.roles.find()).some((r) => r.name === "editor"));
    assert.equal(await kc.roles.findOneByName({ name: "nope" }), null);

    await kc.clients.createRole({ id: clientUuid, name: "reader" });
    const reader = await kc.clients.findRole({ id: clientUuid, roleName: "reader" });
    assert.equal(reader.clientRole, true);
    assert.equal((await kc.clients.listRoles({ id: clientUuid })).length, 1);

    await kc.users.addRealmRoleMappings({ id: userId, roles: [{ id: editor.id, name: "editor" }] });
    assert.ok((await kc.users.listRealmRoleMappings({ id: userId })).some((r) => r.name === "editor"));
    const composite = await kc.users.listCompositeRealmRoleMappings({ id: userId });
    assert.ok(composite.some((r) => r.name === "offline_access"), "default role composites are effective");
    await kc.users.addClientRoleMappings({ id: userId, clientUniqueId: clientUuid, roles: [{ id: reader.id, name: "reader" }] });
    assert.deepEqual((await kc.users.listClientRoleMappings({ id: userId, clientUniqueId: clientUuid })).map((r) => r.name), ["reader"]);
    assert.deepEqual((await kc.users.listCompositeClientRoleMappings({ id: userId, clientUniqueId: clientUuid })).map((r) => r.name), ["reader"]);
    const all = await kc.users.listRoleMappings({ id: userId });
    assert.ok(all.realmMappings.some((r) => r.name === "editor"));
    assert.equal(all.clientMappings.app.mappings[0].name, "reader");
    assert.deepEqual((await kc.roles.findUsersWithRole({ name: "editor" })).map((u) => u.username), ["alice"]);

    // Composites and roles-by-id: editor includes viewer and the client's reader.
    await kc.roles.create({ name: "viewer" });
    const viewer = await kc.roles.findOneByName({ name: "viewer" });
    await kc.roles.createComposite({ roleId: editor.id }, [viewer, reader]);
    assert.deepEqual((await kc.roles.getCompositeRoles({ id: editor.id })).map((r) => r.name).sort(), ["reader", "viewer"]);
    assert.deepEqual((await kc.roles.getCompositeRolesForRealm({ id: editor.id })).map((r) => r.name), ["viewer"]);
    assert.deepEqual((await kc.roles.getCompositeRolesForClient({ id: editor.id, clientId: clientUuid })).map((r) => r.name), ["reader"]);
    assert.equal((await kc.roles.findOneById({ id: editor.id })).composite, true);
    assert.ok((await kc.users.listCompositeRealmRoleMappings({ id: userId })).some((r) => r.name === "viewer"));
    await kc.roles.updateById({ id: viewer.id }, { name: "viewer", description: "Reads" });
    assert.equal((await kc.roles.findOneById({ id: viewer.id })).description, "Reads");
    await kc.roles.delCompositeRoles({ id: editor.id }, [viewer]);
    assert.deepEqual((await kc.roles.getCompositeRoles({ id: editor.id })).map((r) => r.name), ["reader"]);
    // Scope mappings of the client (they bind once fullScopeAllowed is off).
    await kc.clients.addRealmScopeMappings({ id: clientUuid }, [editor]);
    assert.deepEqual((await kc.clients.listRealmScopeMappings({ id: clientUuid })).map((r) => r.name), ["editor"]);
    assert.ok((await kc.clients.listCompositeRealmScopeMappings({ id: clientUuid })).some((r) => r.name === "editor"));
    const available = (await kc.clients.listAvailableRealmScopeMappings({ id: clientUuid })).map((r) => r.name);
    assert.ok(available.includes("viewer") && !available.includes("editor"), available.join());
    // editor includes the client's reader: the client composite view shows it.
    assert.deepEqual((await kc.clients.listCompositeClientScopeMappings({ id: clientUuid, client: clientUuid })).map((r) => r.name), ["reader"]);
    await kc.clients.addClientScopeMappings({ id: clientUuid, client: clientUuid }, [reader]);
    assert.deepEqual((await kc.clients.listClientScopeMappings({ id: clientUuid, client: clientUuid })).map((r) => r.name), ["reader"]);
    const sms = await kc.clients.listScopeMappings({ id: clientUuid });
    assert.equal(sms.realmMappings[0].name, "editor");
    assert.equal(sms.clientMappings.app.mappings[0].name, "reader");
    await kc.clients.delRealmScopeMappings({ id: clientUuid }, [editor]);
    await kc.clients.delClientScopeMappings({ id: clientUuid, client: clientUuid }, [reader]);
    assert.deepEqual(await kc.clients.listRealmScopeMappings({ id: clientUuid }), []);
    await kc.roles.delById({ id: viewer.id });
    assert.equal(await kc.roles.findOneById({ id: viewer.id }), null); // the client maps 404 to null
    await kc.users.delClientRoleMappings({ id: userId, clientUniqueId: clientUuid, roles: [{ id: reader.id, name: "reader" }] });
    await kc.users.delRealmRoleMappings({ id: userId, roles: [{ id: editor.id, name: "editor" }] });
    assert.ok(!(await kc.users.listRealmRoleMappings({ id: userId })).some((r) => r.name === "editor"));
    await kc.clients.delRole({ id: clientUuid, roleName: "reader" });
    await kc.roles.delByName({ name: "editor" });
  });

  await t.test("groups", async () => {
    const { id } = await kc.groups.create({ name: "staff" });
    assert.equal((await status(() => kc.groups.create({ name: "staff" }))).status, 409);
    const child = await kc.groups.createChildGroup({ id }, { name: "ops" });
    const subs = await kc.groups.listSubGroups({ parentId: id });
    assert.deepEqual(subs.map((g) => g.path), ["/staff/ops"]);
    const g = await kc.groups.findOne({ id });
    assert.equal(g.subGroupCount, 1);
    const byPath = await kc.realms.getGroupByPath({ realm, path: "staff" });
    assert.equal(byPath.id, id);
    assert.deepEqual(byPath.subGroups.map((x) => x.path), ["/staff/ops"]);
    assert.equal((await kc.realms.getGroupByPath({ realm, path: "staff/ops" })).id, child.id); // sent as staff%2Fops
    assert.equal((await status(() => kc.realms.getGroupByPath({ realm, path: "staff/nope" }))).status, 404);
    assert.ok((await kc.groups.find()).some((x) => x.name === "staff"));
    await kc.users.addToGroup({ id: userId, groupId: child.id });
    assert.deepEqual((await kc.users.listGroups({ id: userId })).map((x) => x.path), ["/staff/ops"]);
    assert.deepEqual((await kc.groups.listMembers({ id: child.id })).map((u) => u.username), ["alice"]);
    await kc.users.delFromGroup({ id: userId, groupId: child.id });
    assert.equal((await kc.groups.listMembers({ id: child.id })).length, 0);

    // Role mappings of a group: the child's effective roles include its
    // parent's (Keycloak's GroupModel.hasRole walks the parents).
    await kc.roles.create({ name: "staffer" });
    await kc.roles.create({ name: "unused" });
    const staffer = await kc.roles.findOneByName({ name: "staffer" });
    await kc.groups.addRealmRoleMappings({ id, roles: [{ id: staffer.id, name: "staffer" }] });
    const { id: gApp } = await kc.clients.create({ clientId: "group-app" });
    await kc.clients.createRole({ id: gApp, name: "use" });
    await kc.clients.createRole({ id: gApp, name: "spare" });
    const use = await kc.clients.findRole({ id: gApp, roleName: "use" });
    await kc.groups.addClientRoleMappings({ id, clientUniqueId: gApp, roles: [{ id: use.id, name: "use" }] });
    const mappings = await kc.groups.listRoleMappings({ id });
    assert.deepEqual(mappings.realmMappings.map((r) => r.name), ["staffer"]);
    assert.deepEqual(mappings.clientMappings["group-app"].mappings.map((r) => r.name), ["use"]);
    assert.deepEqual(await kc.groups.listRoleMappings({ id: child.id }), {});
    assert.deepEqual((await kc.groups.listCompositeRealmRoleMappings({ id: child.id })).map((r) => r.name), ["staffer"]);
    const availableRealm = (await kc.groups.listAvailableRealmRoleMappings({ id: child.id })).map((r) => r.name);
    assert.ok(availableRealm.includes("unused") && !availableRealm.includes("staffer"));
    assert.deepEqual((await kc.groups.listCompositeClientRoleMappings({ id: child.id, clientUniqueId: gApp })).map((r) => r.name), ["use"]);
    assert.deepEqual((await kc.groups.listAvailableClientRoleMappings({ id: child.id, clientUniqueId: gApp })).map((r) => r.name), ["spare"]);
    await kc.clients.del({ id: gApp });
    await kc.roles.delByName({ name: "staffer" });
    await kc.roles.delByName({ name: "unused" });
    await kc.groups.update({ id }, { name: "people" });
    assert.equal((await kc.groups.findOne({ id })).name, "people");
    await kc.groups.del({ id });
    assert.equal(await kc.groups.findOne({ id: child.id }), null);
  });

  await t.test("clients-initial-access", async () => {
    const iat = await kc.realms.createClientsInitialAccess({ realm }, { count: 2, expiration: 600 });
    assert.ok(iat.token && iat.id);
    assert.equal(iat.remainingCount, 2);
    const list = await kc.realms.getClientsInitialAccess({ realm });
    assert.equal(list.length, 1);
    assert.equal(list[0].token, undefined);
    await kc.realms.delClientsInitialAccess({ realm, id: iat.id });
    assert.equal((await kc.realms.getClientsInitialAccess({ realm })).length, 0);
  });

  await t.test("attack detection", async () => {
    await kc.realms.update({ realm }, { bruteForceProtected: true, failureFactor: 2 });
    const [target] = await kc.users.find({ username: "user0", exact: true });
    await kc.users.resetPassword({ id: target.id, credential: { type: "password", value: "user0-password", temporary: false } });
    for (let i = 0; i < 3; i++) {
      await fetch(`${baseUrl}/realms/${realm}/protocol/openid-connect/token`, {
        method: "POST",
        body: new URLSearchParams({ grant_type: "password", client_id: "admin-cli", username: "user0", password: "wrong-password" }),
      });
    }
    const users = await kc.users.find({ username: "user0", exact: true });
    const st = await kc.attackDetection.findOne({ id: users[0].id });
    assert.ok(st.numFailures >= 1, JSON.stringify(st));
    assert.equal(st.disabled, true);
    await kc.attackDetection.del({ id: users[0].id });
    assert.equal((await kc.attackDetection.findOne({ id: users[0].id })).numFailures, 0);
    await kc.attackDetection.delAll();
  });

  await t.test("server info", async () => {
    const info = await kc.serverInfo.find();
    assert.match(info.systemInfo.version, /^26\./);
    assert.ok(info.memoryInfo.total > 0 && info.memoryInfo.usedFormated, JSON.stringify(info.memoryInfo));
    assert.ok(info.protocolMapperTypes["openid-connect"].some((m) => m.id === "oidc-usermodel-attribute-mapper"));
    assert.ok(info.builtinProtocolMappers["openid-connect"].some((m) => m.name === "email"));
    assert.ok(info.passwordPolicies.some((p) => p.id === "length" && p.displayName === "Minimum Length"));
    assert.deepEqual(info.identityProviders.map((p) => p.id).sort(), ["keycloak-oidc", "oidc", "saml"]);
    assert.ok(info.componentTypes["org.keycloak.storage.UserStorageProvider"].some((c) => c.id === "ldap"));
    assert.ok(info.providers["login-protocol"].providers["openid-connect"]);
    assert.ok(info.enums.eventType.includes("LOGIN") && info.enums.resourceType.includes("USER"));
    assert.deepEqual(info.themes.login.map((th) => th.name), ["keycloak"]);
  });

  await t.test("realm keys", async () => {
    const keys = await kc.realms.getKeys({ realm });
    const rsa = keys.keys.find((k) => k.algorithm === "RS256");
    assert.equal(keys.active.RS256, rsa.kid);
    assert.equal(rsa.status, "ACTIVE");
    assert.ok(rsa.publicKey && rsa.certificate, JSON.stringify(rsa));
    assert.equal(keys.keys.find((k) => k.algorithm === "HS512").certificate, undefined);
  });

  await t.test("caches", async () => {
    await kc.cache.clearRealmCache();
    await kc.cache.clearUserCache();
    await kc.cache.clearKeysCache();
    assert.equal((await kc.realms.findOne({ realm })).realm, realm); // reloaded after the clear
  });

  await t.test("components", async () => {
    const ldap = "org.keycloak.storage.UserStorageProvider";
    const ldapMapper = "org.keycloak.storage.ldap.mappers.LDAPStorageMapper";
    const config = { connectionUrl: ["ldap://ldap.example.com"], usersDn: ["ou=people,dc=example,dc=com"], editMode: ["READ_ONLY"],
      vendor: ["other"], bindDn: ["cn=svc,dc=example,dc=com"], bindCredential: ["s3cret"] };
    // Keycloak's validation names the key.
    const { editMode, ...noEditMode } = config;
    const bad = await status(() => kc.components.create({ name: "bad", providerId: "ldap", providerType: ldap, config: noEditMode }));
    assert.equal(bad.status, 400);
    assert.equal(bad.data.field, "editMode");
    assert.equal(bad.data.errorMessage, "Edit Mode is mandatory");
    const timeout = await status(() => kc.components.create({ name: "bad", providerId: "ldap", providerType: ldap,
      config: { ...config, connectionTimeout: ["soon"] } }));
    assert.equal(timeout.data.field, "connectionTimeout");

    const { id } = await kc.components.create({ name: "corp-ldap", providerId: "ldap", providerType: ldap, config });
    const c = await kc.components.findOne({ id });
    assert.equal(c.config.bindCredential[0], "**********");
    assert.equal(c.parentId, (await kc.realms.findOne({ realm })).id);
    // Keycloak's default mappers come with a new provider.
    const defaults = (await kc.components.find({ parent: id, type: ldapMapper })).map((m) => m.name).sort();
    assert.deepEqual(defaults, ["creation date", "email", "first name", "last name", "modify date", "username"]);
    const noMode = await status(() => kc.components.create({ name: "groups", providerId: "group-ldap-mapper", parentId: id,
      providerType: ldapMapper, config: { "groups.dn": ["ou=groups,dc=example,dc=com"] } }));
    assert.equal(noMode.data.field, "mode");
    const mapper = await kc.components.create({ name: "groups", providerId: "group-ldap-mapper", parentId: id,
      providerType: ldapMapper, config: { "groups.dn": ["ou=groups,dc=example,dc=com"], mode: ["READ_ONLY"] } });
    assert.equal((await kc.components.find({ parent: id })).length, 7);
    // The masked credential is kept only for the server it was entered for
    // (as Keycloak's keycloak#51748): a new connectionUrl needs it again.
    const moved = await status(() => kc.components.update({ id }, { ...c, config: { ...c.config, connectionUrl: ["ldaps://ldap.example.com"] } }));
    assert.equal(moved.status, 400);
    assert.equal(moved.data.field, "config.bindCredential");
    await kc.components.update({ id }, { ...c, config: { ...c.config, connectionUrl: ["ldaps://ldap.example.com"], bindCredential: ["s3cret"] } });
    assert.deepEqual((await kc.components.findOne({ id })).config.connectionUrl, ["ldaps://ldap.example.com"]);
    assert.deepEqual(await kc.userStorageProvider.name({ id }), { id, name: "corp-ldap" });

    // A directory that is not there: 400 with the reason, whichever way.
    const dead = { connectionUrl: "ldap://127.0.0.1:1", bindDn: "cn=svc,dc=example,dc=com", bindCredential: "pw",
      authType: "simple", useTruststoreSpi: "always", connectionTimeout: "2000", startTls: "false" };
    for (const action of ["testConnection", "testAuthentication"]) {
      const r = await status(() => kc.realms.testLDAPConnection({ realm }, { ...dead, action }));
      assert.equal(r.status, 400, action);
      assert.match(r.data.errorMessage, /refused/, action);
    }
    const caps = await status(() => kc.realms.ldapServerCapabilities({ realm }, { ...dead, action: "queryServerCapabilities" }));
    assert.equal(caps.status, 400);
    // The stored credential goes only to the provider's own server.
    const stolen = await status(() => kc.realms.testLDAPConnection({ realm },
      { ...dead, action: "testAuthentication", bindCredential: "**********", componentId: id }));
    assert.equal(stolen.status, 400);

    await kc.userStorageProvider.unlinkUsers({ id });
    await kc.userStorageProvider.removeImportedUsers({ id });
    await kc.components.del({ id });
    assert.equal(await kc.components.findOne({ id: mapper.id }), null);
  });

  await t.test("identity providers", async () => {
    await kc.identityProviders.create({ alias: "corp", providerId: "saml", enabled: true,
      config: { singleSignOnServiceUrl: "https://idp.example.com/sso", idpEntityId: "https://idp.example.com", validateSignature: "false" } });
    assert.equal((await status(() => kc.identityProviders.create({ alias: "corp", providerId: "saml" }))).status, 409);
    const p = await kc.identityProviders.findOne({ alias: "corp" });
    assert.equal(p.config.idpEntityId, "https://idp.example.com");
    await kc.identityProviders.update({ alias: "corp" }, { ...p, displayName: "Corp" });
    assert.equal((await kc.identityProviders.findOne({ alias: "corp" })).displayName, "Corp");
    await kc.identityProviders.createMapper({ alias: "corp", identityProviderMapper: { name: "email", identityProviderMapper: "saml-user-attribute-idp-mapper", config: { "attribute.name": "mail", "user.attribute": "email" } } });
    assert.equal((await kc.identityProviders.findMappers({ alias: "corp" })).length, 1);
    assert.equal((await kc.identityProviders.find()).length, 1);
    await kc.identityProviders.del({ alias: "corp" });
    assert.equal(await kc.identityProviders.findOne({ alias: "corp" }), null);
  });

  await t.test("a realm user without the role gets 403", async () => {
    await kc.users.resetPassword({ id: userId, credential: { type: "password", value: "wonderland-1", temporary: false } });
    const alice = new KcAdminClient({ baseUrl, realmName: realm });
    await alice.auth({ username: "alice", password: "wonderland-1", grantType: "password", clientId: "admin-cli" });
    assert.equal((await status(() => alice.users.find())).status, 403);
    assert.equal((await status(() => alice.users.create({ username: "mallory" }))).status, 403);
    // With realm-management's view-users she may read users, still not write.
    const mgmt = (await kc.clients.find({ clientId: "realm-management" }))[0];
    const viewUsers = await kc.clients.findRole({ id: mgmt.id, roleName: "view-users" });
    await kc.users.addClientRoleMappings({ id: userId, clientUniqueId: mgmt.id, roles: [{ id: viewUsers.id, name: "view-users" }] });
    assert.ok((await alice.users.find()).length > 0);
    assert.equal((await status(() => alice.users.create({ username: "mallory" }))).status, 403);
    assert.equal((await status(() => alice.clients.find())).status, 403);
    const anon = await fetch(`${baseUrl}/admin/realms/${realm}/users`);
    assert.equal(anon.status, 401);
  });

  await t.test("sessions", async () => {
    const { id: cliId } = await kc.clients.create({ clientId: "sess-cli", publicClient: true, directAccessGrantsEnabled: true });
    const grant = async (form) => fetch(`${baseUrl}/realms/${realm}/protocol/openid-connect/token`, {
      method: "POST", body: new URLSearchParams({ client_id: "sess-cli", ...form }) });
    const res = await grant({ grant_type: "password", username: "alice", password: "wonderland-1", scope: "openid offline_access" });
    assert.equal(res.status, 200);
    const tok = await res.json();
    const mine = (xs) => xs.filter((s) => s.id === tok.session_state);

    const [s] = mine(await kc.users.listSessions({ id: userId }));
    assert.equal(s.userId, userId);
    assert.equal(s.username, "alice");
    assert.deepEqual(s.clients, { [cliId]: "sess-cli" });
    assert.ok(s.start > 0 && s.lastAccess >= s.start);
    assert.deepEqual((await kc.clients.listSessions({ id: cliId })).map((x) => x.id), [tok.session_state]);
    assert.deepEqual(await kc.clients.getSessionCount({ id: cliId }), { count: 1 });
    assert.deepEqual(await kc.clients.getOfflineSessionCount({ id: cliId }), { count: 1 });
    assert.deepEqual((await kc.clients.listOfflineSessions({ id: cliId })).map((x) => x.id), [tok.session_state]);
    const [off] = await kc.users.listOfflineSessions({ id: userId, clientId: cliId });
    assert.equal(off.id, tok.session_state);
    assert.deepEqual(off.clients, { [cliId]: "sess-cli" });
    const stat = (await kc.realms.getClientSessionStats({ realm })).find((x) => x.clientId === "sess-cli");
    assert.deepEqual(stat, { id: cliId, clientId: "sess-cli", active: "1", offline: "1" });

    // Revoking the offline session ends its token; the SSO session stays
    // until removed.
    await kc.realms.deleteSession({ realm, session: tok.session_state, isOffline: true });
    assert.equal((await grant({ grant_type: "refresh_token", refresh_token: tok.refresh_token })).status, 400);
    assert.deepEqual(await kc.clients.getOfflineSessionCount({ id: cliId }), { count: 0 });
    assert.equal(mine(await kc.users.listSessions({ id: userId })).length, 1);
    await kc.realms.removeSession({ realm, sessionId: tok.session_state });
    assert.equal(mine(await kc.users.listSessions({ id: userId })).length, 0);
    assert.equal((await status(() => kc.realms.deleteSession({ realm, session: tok.session_state, isOffline: false }))).status, 404);

    // A client with an offline token is a consent with an "Offline Token"
    // grant; revoking it ends the token.
    const off2 = await (await grant({ grant_type: "password", username: "alice", password: "wonderland-1", scope: "openid offline_access" })).json();
    const consents = await kc.users.listConsents({ id: userId });
    assert.deepEqual(consents, [{ clientId: "sess-cli", grantedClientScopes: [], additionalGrants: [{ client: cliId, key: "Offline Token" }] }]);
    await kc.users.revokeConsent({ id: userId, clientId: "sess-cli" });
    assert.deepEqual(await kc.users.listConsents({ id: userId }), []);
    assert.equal((await grant({ grant_type: "refresh_token", refresh_token: off2.refresh_token })).status, 400);

    // logout-all ends every session, and a token issued before it is stale.
    const again = await (await grant({ grant_type: "password", username: "alice", password: "wonderland-1", scope: "openid" })).json();
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5)); // notBefore has a one-second grain
    await kc.realms.logoutAll({ realm });
    assert.deepEqual(await kc.users.listSessions({ id: userId }), []);
    assert.equal((await grant({ grant_type: "refresh_token", refresh_token: again.refresh_token })).status, 400);
    assert.ok((await kc.realms.findOne({ realm })).notBefore > 0);
  });

  await t.test("deletes", async () => {
    await kc.clients.del({ id: clientUuid });
    assert.equal(await kc.clients.findOne({ id: clientUuid }), null);
    await kc.users.del({ id: userId });
    assert.equal(await kc.users.findOne({ id: userId }), null);
    assert.equal((await status(() => kc.users.del({ id: userId }))).status, 404);
    kc.setConfig({ realmName: "master" });
    await kc.realms.del({ realm });
    assert.equal(await kc.realms.findOne({ realm }), null);
  });
});
