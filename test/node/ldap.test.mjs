// LDAP user federation configured through @keycloak/keycloak-admin-client,
// against a real slapd, used by the password grant and by Chromium
// (run by test/e2e_ldap_test.go, which then changes the directory).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import KcAdminClient from "@keycloak/keycloak-admin-client";
import { chromium } from "playwright-core";

const KG = process.env.KEYGATE_URL;
const APP = process.env.APP_URL;
const OUT = process.env.KEYGATE_OUT;
const env = (k) => process.env[k];
const realm = "corp";

const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: flags });
after(() => browser.close());

async function passwordGrant(username, password) {
  const res = await fetch(`${KG}/realms/${realm}/protocol/openid-connect/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "password", client_id: "dash", username, password, scope: "openid" }),
  });
  return { status: res.status, body: await res.json() };
}

const claims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());

test("an LDAP directory configured with the admin client signs people in", async (t) => {
  const kc = new KcAdminClient({ baseUrl: KG, realmName: "master" });
  await kc.auth({ username: "admin", password: "admin-secret-pw", grantType: "password", clientId: "admin-cli" });
  await kc.realms.create({ realm, enabled: true });
  kc.setConfig({ realmName: realm });
  for (const name of ["stackstate-admin", "stackstate-power-user", "stackstate-guest"]) await kc.roles.create({ name });
  const { id: dash } = await kc.clients.create({
    clientId: "dash", publicClient: true, directAccessGrantsEnabled: true, redirectUris: [`${APP}/*`],
    attributes: { "pkce.code.challenge.method": "S256" },
  });
  await kc.clients.addProtocolMapper({ id: dash }, {
    name: "groups", protocol: "openid-connect", protocolMapper: "oidc-group-membership-mapper",
    config: { "claim.name": "groups", "full.path": "true", "access.token.claim": "true", "id.token.claim": "true" },
  });

  const conn = { connectionUrl: env("LDAP_URL"), bindDn: env("LDAP_BIND_DN"), bindCredential: env("LDAP_BIND_PW") };
  await t.test("testLDAPConnection", async () => {
    await kc.realms.testLDAPConnection({ realm }, { action: "testAuthentication", authType: "simple", ...conn, connectionTimeout: "5000" });
    await assert.rejects(kc.realms.testLDAPConnection({ realm }, { action: "testAuthentication", authType: "simple", ...conn,
      bindCredential: "wrong-password", connectionTimeout: "5000" }), (e) => e.response?.status === 400);
  });

  const storage = "org.keycloak.storage.UserStorageProvider";
  const mapperType = "org.keycloak.storage.ldap.mappers.LDAPStorageMapper";
  const { id } = await kc.components.create({
    name: "corp-ldap", providerId: "ldap", providerType: storage,
    config: {
      enabled: ["true"], vendor: ["other"], editMode: ["READ_ONLY"], connectionUrl: [conn.connectionUrl],
      bindDn: [conn.bindDn], bindCredential: [conn.bindCredential], usersDn: [env("LDAP_USERS_DN")],
      usernameLDAPAttribute: ["uid"], rdnLDAPAttribute: ["uid"], uuidLDAPAttribute: ["entryUUID"],
      userObjectClasses: ["inetOrgPerson, organizationalPerson"], searchScope: ["1"], trustEmail: ["true"],
      batchSizeForSync: ["7"],
    },
  });
  const c = await kc.components.findOne({ id });
  assert.deepEqual(c.config.bindCredential, ["**********"], "the bind password is masked");
  const defaults = (await kc.components.find({ parent: id, type: mapperType })).map((m) => m.name).sort();
  assert.deepEqual(defaults, ["creation date", "email", "first name", "last name", "modify date", "username"]);
  await kc.components.create({
    name: "stackstate roles", providerId: "role-ldap-mapper", providerType: mapperType, parentId: id,
    config: { "roles.dn": [env("LDAP_GROUPS_DN")], "role.name.ldap.attribute": ["cn"], "role.object.classes": ["groupOfNames"],
      "membership.ldap.attribute": ["member"], "membership.attribute.type": ["DN"], mode: ["READ_ONLY"],
      "use.realm.roles.mapping": ["true"], "roles.ldap.filter": ["(cn=stackstate-*)"],
      "user.roles.retrieve.strategy": ["GET_ROLES_FROM_USER_MEMBEROF_ATTRIBUTE"], "memberof.ldap.attribute": ["memberOf"] },
  });
  await kc.components.create({
    name: "groups", providerId: "group-ldap-mapper", providerType: mapperType, parentId: id,
    config: { "groups.dn": [env("LDAP_GROUPS_DN")], "group.name.ldap.attribute": ["cn"], "group.object.classes": ["groupOfNames"],
      "membership.ldap.attribute": ["member"], "membership.attribute.type": ["DN"], mode: ["READ_ONLY"],
      "preserve.group.inheritance": ["true"], "groups.path": ["/"] },
  });
  await kc.components.create({
    name: "everyone is a guest", providerId: "hardcoded-ldap-role-mapper", providerType: mapperType, parentId: id,
    config: { role: ["stackstate-guest"] },
  });

  await t.test("full sync", async () => {
    const res = await kc.userStorageProvider.sync({ id, action: "triggerFullSync" });
    assert.equal(res.ignored, false);
    assert.equal(res.added, Number(env("LDAP_USERS")), res.status);
    assert.equal(res.failed, 0, res.status);
    const [u] = await kc.users.find({ username: "user1", exact: true });
    assert.equal(u.federationLink, id);
    assert.ok(u.attributes.LDAP_ID?.[0], "LDAP_ID");
    assert.match(u.attributes.LDAP_ENTRY_DN?.[0], /^uid=user1,/);
    assert.equal(u.emailVerified, true, "trustEmail");
    const again = await kc.userStorageProvider.sync({ id, action: "triggerChangedUsersSync" });
    assert.equal(again.failed, 0);
  });

  await t.test("password grant: StackState roles and groups in the token", async () => {
    const { status, body } = await passwordGrant("user1", env("LDAP_USER_PW"));
    assert.equal(status, 200, JSON.stringify(body));
    const at = claims(body.access_token);
    assert.ok(at.realm_access.roles.includes("stackstate-admin"), JSON.stringify(at.realm_access));
    assert.ok(at.realm_access.roles.includes("stackstate-guest"), "the hardcoded role");
    assert.ok(!at.realm_access.roles.includes("stackstate-power-user"));
    assert.ok(at.groups.includes("/stackstate-admin"), JSON.stringify(at.groups));
    const bad = await passwordGrant("user1", "not-the-password");
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error_description, "Invalid user credentials");
    const injected = await passwordGrant("*", env("LDAP_USER_PW"));
    assert.equal(injected.status, 401, "a filter metacharacter as the username matches nobody");
  });

  await t.test("browser login of a directory user", async () => {
    const verifier = crypto.randomBytes(32).toString("base64url");
    const challenge = crypto.createHash("sha256").update(verifier).digest("base64url");
    const auth = new URL(`${KG}/realms/${realm}/protocol/openid-connect/auth`);
    auth.search = new URLSearchParams({ client_id: "dash", redirect_uri: `${APP}/cb`, response_type: "code", scope: "openid",
      state: "s1", code_challenge: challenge, code_challenge_method: "S256" });
    const page = await (await browser.newContext()).newPage();
    await page.goto(auth.href);
    await page.waitForSelector("#kc-form-login");
    await page.fill("#username", "user2");
    await page.fill("#password", env("LDAP_USER_PW"));
    await page.screenshot({ path: `${OUT}/ldap-login.png` });
    await page.click("#kc-login");
    await page.waitForURL((u) => u.href.startsWith(APP), { timeout: 15000 });
    const code = new URL(page.url()).searchParams.get("code");
    assert.ok(code, page.url());
    const res = await fetch(`${KG}/realms/${realm}/protocol/openid-connect/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "authorization_code", client_id: "dash", code, redirect_uri: `${APP}/cb`, code_verifier: verifier }),
    });
    const tok = await res.json();
    assert.equal(res.status, 200, JSON.stringify(tok));
    const at = claims(tok.access_token);
    assert.equal(at.preferred_username, "user2");
    assert.ok(at.realm_access.roles.includes("stackstate-power-user"), JSON.stringify(at.realm_access));
  });
});
