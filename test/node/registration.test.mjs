// openid-client's dynamic registration (RFC 7591) with an initial access
// token, a client_credentials grant with the result, then RFC 7592 read,
// update (the registration access token rotates) and delete.
// KEYGATE_URL: a server with the bootstrap admin admin / admin-secret-pw.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import KcAdminClient from "@keycloak/keycloak-admin-client";

const baseUrl = process.env.KEYGATE_URL;
const realm = "e2e-registration";

test("dynamic client registration", async () => {
  const kc = new KcAdminClient({ baseUrl, realmName: "master" });
  await kc.auth({ username: "admin", password: "admin-secret-pw", grantType: "password", clientId: "admin-cli" });
  await kc.realms.create({ realm, enabled: true });
  const iat = await kc.realms.createClientsInitialAccess({ realm }, { count: 1, expiration: 300 });

  const issuer = new URL(`${baseUrl}/realms/${realm}`);
  const metadata = {
    client_name: "e2e service",
    redirect_uris: ["http://127.0.0.1:9999/callback"],
    grant_types: ["client_credentials", "authorization_code"],
    token_endpoint_auth_method: "client_secret_basic",
  };
  const config = await client.dynamicClientRegistration(issuer, metadata, undefined, {
    initialAccessToken: iat.token,
    execute: [client.allowInsecureRequests],
  });
  const md = config.clientMetadata();
  assert.ok(md.client_id);
  assert.ok(md.client_secret);
  assert.ok(md.registration_access_token);
  assert.equal(md.registration_client_uri, `${issuer.href}/clients-registrations/openid-connect/${md.client_id}`);
  assert.equal(md.client_name, "e2e service");

  // The initial access token had a count of 1.
  await assert.rejects(client.dynamicClientRegistration(issuer, metadata, undefined, {
    initialAccessToken: iat.token, execute: [client.allowInsecureRequests],
  }));
  const [left] = await kc.realms.getClientsInitialAccess({ realm });
  assert.equal(left.remainingCount, 0);

  const tokens = await client.clientCredentialsGrant(config);
  assert.ok(tokens.access_token);
  assert.equal(tokens.token_type.toLowerCase(), "bearer");
  const claims = JSON.parse(Buffer.from(tokens.access_token.split(".")[1], "base64url").toString());
  assert.equal(claims.azp, md.client_id);

  // RFC 7592 with the registration access token.
  const uri = md.registration_client_uri;
  const bearer = (t) => ({ authorization: `Bearer ${t}`, "content-type": "application/json" });
  let res = await fetch(uri, { headers: bearer(md.registration_access_token) });
  assert.equal(res.status, 200);
  const read = await res.json();
  assert.equal(read.client_id, md.client_id);
  assert.deepEqual(read.redirect_uris, metadata.redirect_uris);

  res = await fetch(uri, { method: "PUT", headers: bearer(md.registration_access_token),
    body: JSON.stringify({ ...metadata, client_id: md.client_id, client_name: "renamed" }) });
  assert.equal(res.status, 200);
  const updated = await res.json();
  assert.equal(updated.client_name, "renamed");
  assert.notEqual(updated.registration_access_token, md.registration_access_token);
  res = await fetch(uri, { headers: bearer(md.registration_access_token) });
  assert.equal(res.status, 401, "the old registration access token is rotated out");

  res = await fetch(uri, { method: "PUT", headers: bearer(updated.registration_access_token),
    body: JSON.stringify({ ...metadata, client_id: md.client_id, redirect_uris: ["http://evil.example.com/cb"] }) });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error, "invalid_redirect_uri");

  res = await fetch(uri, { method: "DELETE", headers: bearer(updated.registration_access_token) });
  assert.equal(res.status, 204);
  res = await fetch(uri, { headers: bearer(updated.registration_access_token) });
  assert.equal(res.status, 401);
  await assert.rejects(client.clientCredentialsGrant(config));

  await kc.realms.del({ realm });
});
