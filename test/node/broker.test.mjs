// Identity brokering against real peers (run by test/e2e_broker_test.go).
// BROKER=saml: Debian's SimpleSAMLphp is the realm's SAML identity
// provider; BROKER=oidc: a second keygate is its OpenID Connect upstream.
// @keycloak/keycloak-admin-client configures the realm, the provider and
// its mappers; Chromium signs in through the login page's button; the
// application is a keycloak-js page served by the Go test.
//
// Nothing secret is printed: assertion messages carry claims and paths,
// never tokens, assertions or URLs with their query. What the browser sees
// (the SAML response, tokens, the upstream's code) goes to the Go test,
// which looks for it in the server log afterwards.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import KcAdminClient from '@keycloak/keycloak-admin-client';
import { chromium } from 'playwright-core';

const need = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run by test/e2e_broker_test.go)`);
  return v;
};
const KG = need('KEYGATE_URL');
const APP = need('APP_URL');
const OUT = need('KEYGATE_OUT');
const MODE = need('BROKER');
if (!['saml', 'oidc'].includes(MODE)) throw new Error(`BROKER=${MODE}: want saml or oidc`);
const KG_ORIGIN = new URL(KG).origin;

const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: flags });
after(() => browser.close());

const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
// A URL without its query and fragment, safe to print.
const bare = (u) => { try { const x = new URL(u); return x.origin + x.pathname; } catch { return '(not a URL)'; } };

// report hands a value the run saw to the Go test (kept in memory there).
async function report(label, value) {
  assert.ok(value && value.length >= 8, `nothing to report as ${label}`);
  const res = await fetch(`${APP}/_control/secret`, { method: 'POST', body: JSON.stringify({ label, value }) });
  assert.equal(res.status, 204, `reporting ${label}`);
}

// admin re-authenticates before each use: the master realm's access
// tokens live a minute, and a run takes longer.
const kc = new KcAdminClient({ baseUrl: KG, realmName: 'master' });
async function admin(realm) {
  kc.setConfig({ realmName: 'master' });
  await kc.auth({ username: 'admin', password: need('ADMIN_PASSWORD'), grantType: 'password', clientId: 'admin-cli' });
  kc.setConfig({ realmName: realm });
  return kc;
}

// Every keygate response a browser gets with a 5xx status, over the run.
const serverErrors = [];

// Keycloak page ids whose presence a keygate document is checked for.
const MARKERS = ['kc-form-login', 'linkAccount', 'kc-idp-review-profile-form', 'kc-error-message', 'input-error'];

// session opens a browser context that records, in order, the top-level
// navigation requests ({origin, path, method, params}) and responses
// ({origin, path, status, ids}: for keygate's 200 pages, which of MARKERS
// they hold). params hold SAML and OIDC parameters and are never printed.
async function session(name) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const nav = [];
  const requests = [];
  const reads = [];
  const top = (req) => req.isNavigationRequest() && req.frame() === page.mainFrame();
  page.on('request', (req) => {
    if (!top(req)) return;
    const u = new URL(req.url());
    const params = new URLSearchParams(u.search);
    if (req.method() === 'POST' && /x-www-form-urlencoded/.test(req.headers()['content-type'] ?? '')) {
      for (const [k, v] of new URLSearchParams(req.postData() ?? '')) params.append(k, v);
    }
    requests.push({ origin: u.origin, path: u.pathname, method: req.method(), params });
  });
  page.on('response', (resp) => {
    const req = resp.request();
    const u = new URL(resp.url());
    if (u.origin === KG_ORIGIN && resp.status() >= 500) serverErrors.push(`${req.method()} ${bare(resp.url())} answered ${resp.status()}`);
    if (!top(req)) return;
    const doc = { origin: u.origin, path: u.pathname, status: resp.status(), ids: [] };
    nav.push(doc);
    if (u.origin === KG_ORIGIN && resp.status() === 200) {
      reads.push(resp.text().then((body) => { doc.ids = MARKERS.filter((id) => body.includes(`id="${id}"`)); }, () => { doc.ids = null; }));
    }
  });
  return {
    ctx, page, requests,
    // nav, once the pages' bodies are read.
    nav: async () => { await Promise.all(reads); return nav; },
    // keygate's documents.
    docs: async () => { await Promise.all(reads); return nav.filter((d) => d.origin === KG_ORIGIN); },
    shot: (what) => page.screenshot({ path: `${OUT}/${MODE}-${name}-${what}.png`, fullPage: true }),
    close: () => ctx.close(),
  };
}

// describe says where a page is, for failure messages.
async function describe(page) {
  const text = await page.locator('body').innerText({ timeout: 2000 }).catch(() => '');
  return `at ${bare(page.url())}: ${text.replace(/\s+/g, ' ').slice(0, 300)}`;
}

// waitFor waits for a selector, failing with where the browser is instead.
async function waitFor(s, selector, what, timeout = 20000) {
  try {
    await s.page.waitForSelector(selector, { timeout });
  } catch {
    await s.shot(`no-${what.replace(/\W+/g, '-')}`).catch(() => {});
    assert.fail(`expected ${what} (${selector}), ${await describe(s.page)}`);
  }
}

// arrive waits until the app holds a session of username.
async function arrive(s, username) {
  const status = s.page.locator('#status');
  try {
    await status.filter({ hasText: /^authenticated:/ }).waitFor({ timeout: 25000 });
  } catch {
    await s.shot('not-in-app').catch(() => {});
    assert.fail(`expected the app signed in as ${username}, ${await describe(s.page)}`);
  }
  assert.equal(await status.innerText(), `authenticated:${username}`);
  const t = await s.page.evaluate(() => ({ access: window.kc.token, refresh: window.kc.refreshToken, id: window.kc.idToken }));
  await report('access token', t.access);
  await report('refresh token', t.refresh);
  await report('ID token', t.id);
  return { at: claims(t.access), id: claims(t.id) };
}

// onlyRedirectsAfter checks that after the identity provider's last answer
// keygate answered the browser with redirects only, the broker endpoint
// among them: no page (confirmation, review, error) between the IdP and
// the app.
async function onlyRedirectsAfter(s, idpOrigin, what) {
  const nav = await s.nav();
  const last = nav.findLastIndex((d) => d.origin === idpOrigin);
  assert.ok(last >= 0, `the browser never went to the identity provider (${what})`);
  const after = nav.slice(last + 1).filter((d) => d.origin === KG_ORIGIN);
  assert.ok(after.some((d) => d.path.endsWith('/endpoint')), `the identity provider never sent the browser to the broker endpoint (${what})`);
  const pages = after.filter((d) => d.status !== 302 && d.status !== 303);
  assert.deepEqual(pages.map((d) => `${d.status} ${d.path}`), [], `keygate answered with a page between the identity provider and the app (${what})`);
}

// loginPage opens the app, which sends the browser to keygate's login form,
// and checks the provider's button.
async function loginPage(s, realm, alias, displayName) {
  await s.page.goto(`${APP}/`);
  await waitFor(s, '#kc-form-login', "keygate's login form");
  const button = s.page.locator(`a#social-${alias}`);
  assert.equal(await button.count(), 1, `one #social-${alias} link on the login page`);
  const href = new URL(await button.getAttribute('href'), s.page.url());
  assert.equal(href.origin + href.pathname, `${KG}/realms/${realm}/broker/${alias}/login`);
  if (displayName) assert.match(await button.innerText(), new RegExp(displayName));
  const docs = await s.docs();
  const auth = docs.filter((d) => d.path === `/realms/${realm}/protocol/openid-connect/auth`);
  assert.equal(auth.at(-1)?.status, 200, 'the authorization endpoint shows the login page');
  assert.ok(auth.at(-1).ids?.includes('kc-form-login'));
  return button;
}

function assertNoServerErrors() {
  assert.deepEqual(serverErrors, [], 'keygate answered the browser with a 5xx');
}

// ---------------------------------------------------------------- SAML

if (MODE === 'saml') test('SAML brokering with SimpleSAMLphp', async (t) => {
  const realm = 'corp';
  const alias = 'corp-saml';
  const SSP = new URL(need('SAML_URL')).origin;
  const ENDPOINT = `${KG}/realms/${realm}/broker/${alias}/endpoint`;
  const pw = { alice: need('ALICE_PASSWORD'), bob: need('BOB_PASSWORD'), carol: need('CAROL_PASSWORD'), dave: need('DAVE_PASSWORD') };
  const localPW = need('LOCAL_PASSWORD');
  let firstResponse; // alice's first SAML response and RelayState, replayed later

  async function sspLogin(s, username, password) {
    try {
      await s.page.waitForURL((u) => u.origin === SSP, { timeout: 20000 });
    } catch {
      assert.fail(`expected SimpleSAMLphp, ${await describe(s.page)}`);
    }
    await waitFor(s, '#password', "SimpleSAMLphp's login form");
    await s.page.fill('#username', username);
    await s.page.fill('#password', password);
    await s.page.click('#submit_button');
  }

  // The SAML responses the browser posts to the endpoint.
  function captureResponses(s) {
    const seen = [];
    s.page.on('request', (req) => {
      if (req.method() !== 'POST' || !req.url().startsWith(ENDPOINT)) return;
      const form = new URLSearchParams(req.postData() ?? '');
      if (form.get('SAMLResponse')) seen.push({ response: form.get('SAMLResponse'), relayState: form.get('RelayState') });
    });
    return seen;
  }

  await t.test('configure the realm, the SAML identity provider and its mappers', async () => {
    const kc = await admin('master');
    await kc.realms.create({ realm, enabled: true, displayName: 'Corp' });
    kc.setConfig({ realmName: realm });
    for (const name of ['stackstate-admin', 'stackstate-power-user', 'stackstate-guest', 'staff']) await kc.roles.create({ name });
    for (const name of ['sre', 'admins']) await kc.groups.create({ name });
    const { id: dash } = await kc.clients.create({
      clientId: 'dash', publicClient: true, redirectUris: [`${APP}/*`], webOrigins: ['+'],
      attributes: { 'post.logout.redirect.uris': '+', 'pkce.code.challenge.method': 'S256' },
    });
    await kc.clients.addProtocolMapper({ id: dash }, {
      name: 'groups', protocol: 'openid-connect', protocolMapper: 'oidc-group-membership-mapper',
      config: { 'claim.name': 'groups', 'full.path': 'true', 'access.token.claim': 'true', 'id.token.claim': 'true' },
    });
    await kc.users.create({
      username: 'robert', enabled: true, email: 'bob@corp.example', emailVerified: true, firstName: 'Robert', lastName: 'Local',
      credentials: [{ type: 'password', value: localPW, temporary: false }],
    });

    await kc.identityProviders.create({
      alias, displayName: 'Corp SSO', providerId: 'saml', enabled: true, trustEmail: false,
      config: {
        idpEntityId: need('SAML_ENTITY_ID'),
        singleSignOnServiceUrl: need('SAML_SSO_URL'),
        singleLogoutServiceUrl: need('SAML_SLO_URL'),
        signingCertificate: need('SAML_CERT'),
        validateSignature: 'true',
        wantAssertionsSigned: 'true',
        wantAuthnRequestsSigned: 'true',
        postBindingAuthnRequest: 'true', // the AuthnRequest through keygate's auto-submitted form
        postBindingResponse: 'true',
        postBindingLogout: 'false', // the LogoutRequest by redirect
        nameIDPolicyFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
        principalType: 'ATTRIBUTE',
        principalAttribute: 'uid',
        // Profile and username on the first login only; the role and group
        // mappers say FORCE and follow the IdP on every login.
        syncMode: 'IMPORT',
      },
    });
    const mappers = [
      ['email', 'saml-user-attribute-idp-mapper', { 'attribute.name': 'mail', 'user.attribute': 'email' }],
      ['first name', 'saml-user-attribute-idp-mapper', { 'attribute.name': 'givenName', 'user.attribute': 'firstName' }],
      ['last name', 'saml-user-attribute-idp-mapper', { 'attribute.name': 'sn', 'user.attribute': 'lastName' }],
      ['department', 'saml-user-attribute-idp-mapper', { 'attribute.name': 'ou', 'user.attribute': 'department' }],
      ['username', 'saml-username-idp-mapper', { template: '${ATTRIBUTE.uid}' }],
      ['admins', 'saml-role-idp-mapper', { 'attribute.name': 'memberOf', 'attribute.value': 'sso-stackstate-admins', role: 'stackstate-admin' }],
      ['power users', 'saml-role-idp-mapper', { 'attribute.name': 'memberOf', 'attribute.value': 'sso-power-users', role: 'stackstate-power-user' }],
      ['staff', 'saml-role-idp-mapper', { 'attribute.name': 'eduPersonAffiliation', 'attribute.value': 'staff', role: 'staff' }],
      ['sre group', 'saml-advanced-group-idp-mapper', { attributes: JSON.stringify([{ key: 'memberOf', value: 'sso-sre' }]), 'are.attribute.values.regex': 'false', group: '/sre' }],
      ['admins group', 'saml-advanced-group-idp-mapper', { attributes: JSON.stringify([{ key: 'memberOf', value: 'sso-.*-admins' }]), 'are.attribute.values.regex': 'true', group: '/admins' }],
      ['guest', 'hardcoded-role-idp-mapper', { role: 'stackstate-guest' }],
    ];
    for (const [name, type, config] of mappers) {
      const syncMode = /role|group/.test(type) && type !== 'hardcoded-role-idp-mapper' ? 'FORCE' : 'INHERIT';
      await kc.identityProviders.createMapper({
        alias, identityProviderMapper: { name, identityProviderAlias: alias, identityProviderMapper: type, config: { syncMode, ...config } },
      });
    }
    const stored = await kc.identityProviders.findOne({ alias });
    assert.equal(stored.providerId, 'saml');
    assert.equal(stored.config.singleSignOnServiceUrl, need('SAML_SSO_URL'));
    assert.equal(stored.config.principalAttribute, 'uid');
    assert.deepEqual((await kc.identityProviders.findMappers({ alias })).map((m) => m.name).sort(), mappers.map((m) => m[0]).sort());

    // The SP descriptor names the endpoint; SimpleSAMLphp learns the SP from it.
    const res = await fetch(`${ENDPOINT}/descriptor`);
    assert.equal(res.status, 200);
    const md = await res.text();
    assert.match(md, /<(\w+:)?EntityDescriptor\b/);
    assert.ok(md.includes(`Location="${ENDPOINT}"`), 'the descriptor names the broker endpoint as AssertionConsumerService');
    assert.match(md, /AuthnRequestsSigned="true"/);
    const reg = await fetch(`${APP}/_control/register-sp`, { method: 'POST' });
    assert.equal(reg.status, 204, await reg.text());
  });

  let aliceSub;
  await t.test('the login button signs alice in at SimpleSAMLphp; roles and groups reach the tokens', async () => {
    const s = await session('alice');
    const responses = captureResponses(s);
    const button = await loginPage(s, realm, alias, 'Corp SSO');
    await s.shot('login-page');
    await button.click();
    await sspLogin(s, 'alice', pw.alice);
    const { at, id } = await arrive(s, 'alice');
    await s.shot('app');

    // The AuthnRequest went by POST (keygate's auto-submitted form), the
    // response came back by POST.
    const authn = s.requests.find((r) => r.origin === SSP && r.params.has('SAMLRequest'));
    assert.ok(authn, 'an AuthnRequest reached SimpleSAMLphp');
    assert.equal(authn.method, 'POST', 'postBindingAuthnRequest sends the AuthnRequest by POST');
    assert.equal(responses.length, 1, 'one SAML response posted to the endpoint');
    [firstResponse] = responses;
    await report('SAMLResponse', firstResponse.response);
    const xml = Buffer.from(firstResponse.response, 'base64').toString();
    const sig = xml.match(/<ds:SignatureValue>([^<]+)</)?.[1]?.replace(/\s+/g, '');
    await report('SignatureValue', sig);
    await onlyRedirectsAfter(s, SSP, 'alice, first login');

    assert.equal(at.preferred_username, 'alice');
    assert.equal(id.email, 'alice@corp.example');
    assert.equal(id.given_name, 'Alice');
    assert.equal(id.family_name, 'Liddell');
    const roles = at.realm_access?.roles ?? [];
    for (const r of ['stackstate-admin', 'staff', 'stackstate-guest']) assert.ok(roles.includes(r), `realm role ${r} in ${JSON.stringify(roles)}`);
    assert.ok(!roles.includes('stackstate-power-user'), 'no role from a memberOf value alice lacks');
    assert.deepEqual([...(at.groups ?? [])].sort(), ['/admins', '/sre'], 'groups from the advanced group mappers (exact and regex)');
    assert.equal(at.sub, id.sub);
    aliceSub = at.sub;

    const kc = await admin(realm);
    const users = await kc.users.find({ username: 'alice', exact: true });
    assert.equal(users.length, 1);
    const [u] = users;
    assert.equal(u.id, aliceSub, "the token's sub is the keygate user");
    assert.equal(u.email, 'alice@corp.example');
    assert.equal(u.firstName, 'Alice');
    assert.equal(u.lastName, 'Liddell');
    assert.deepEqual(u.attributes?.department, ['platform']);
    assert.deepEqual(await kc.users.listFederatedIdentities({ id: u.id }),
      [{ identityProvider: alias, userId: 'alice', userName: 'alice' }]);
    assert.deepEqual((await kc.users.listGroups({ id: u.id })).map((g) => g.path).sort(), ['/admins', '/sre']);

    // Logout at keygate, as keycloak-js does it, goes through
    // SimpleSAMLphp's single logout and lands on the redirect URI.
    const before = s.requests.length;
    await s.page.evaluate((r) => window.kc.logout({ redirectUri: r }), `${APP}/?mode=anonymous`);
    try {
      await s.page.locator('#status').filter({ hasText: 'anonymous' }).waitFor({ timeout: 20000 });
    } catch {
      await s.shot('logout');
      assert.fail(`expected the app after logout, ${await describe(s.page)}`);
    }
    const out = s.requests.slice(before);
    const slo = out.findIndex((r) => r.origin === SSP && r.params.has('SAMLRequest'));
    assert.ok(slo >= 0, `keygate sent a LogoutRequest to SimpleSAMLphp (went to ${JSON.stringify(out.map((r) => r.origin + r.path))})`);
    assert.equal(out[slo].method, 'GET', 'postBindingLogout=false: the LogoutRequest by redirect');
    const back = out.findIndex((r, i) => i > slo && r.origin === KG_ORIGIN && r.params.has('SAMLResponse'));
    assert.ok(back > slo, "SimpleSAMLphp's LogoutResponse came back to keygate");
    assert.ok(out.slice(back + 1).some((r) => r.origin === new URL(APP).origin), 'and the browser went on to post_logout_redirect_uri');

    // The next login asks SimpleSAMLphp for the password again and reuses
    // the link.
    const usersBefore = (await (await admin(realm)).users.find({ max: 1000 })).length;
    const again = await loginPage(s, realm, alias);
    await again.click();
    await sspLogin(s, 'alice', pw.alice);
    const second = await arrive(s, 'alice');
    assert.equal(second.at.sub, aliceSub, 'the second login is the same keygate user');
    const kc2 = await admin(realm);
    assert.equal((await kc2.users.find({ max: 1000 })).length, usersBefore, 'no user created by the second login');
    assert.equal((await kc2.users.listFederatedIdentities({ id: aliceSub })).length, 1);
    assert.equal(responses.length, 2);
    await report('SAMLResponse', responses[1].response);
    await s.close();
  });

  await t.test('kc_idp_hint goes straight to SimpleSAMLphp; logout started there ends the keygate session', async () => {
    const s = await session('hint');
    await s.page.goto(`${APP}/?idp=${alias}`);
    await sspLogin(s, 'alice', pw.alice);
    const { at } = await arrive(s, 'alice');
    assert.equal(at.sub, aliceSub);
    // Nobody clicked anything at keygate, and no page of it held the form.
    const docs = await s.docs();
    const auth = docs.filter((d) => d.path === `/realms/${realm}/protocol/openid-connect/auth`);
    assert.equal(auth.length, 1);
    assert.ok(!docs.some((d) => d.ids?.includes('kc-form-login')), 'no login form');

    // Logout started at SimpleSAMLphp: its LogoutRequest ends the keygate
    // session, keygate answers, and SimpleSAMLphp returns to ReturnTo.
    const before = s.requests.length;
    await s.page.goto(`${need('SAML_SLO_URL')}?ReturnTo=${encodeURIComponent(`${APP}/?mode=anonymous`)}`);
    try {
      await s.page.locator('#status').filter({ hasText: 'anonymous' }).waitFor({ timeout: 20000 });
    } catch {
      await s.shot('idp-logout');
      assert.fail(`expected the app after logging out at the IdP, ${await describe(s.page)}`);
    }
    const out = s.requests.slice(before);
    const toKG = out.findIndex((r) => r.origin === KG_ORIGIN && r.params.has('SAMLRequest'));
    assert.ok(toKG >= 0, "SimpleSAMLphp's LogoutRequest reached keygate");
    assert.ok(out.slice(toKG + 1).some((r) => r.origin === SSP && r.params.has('SAMLResponse')), "keygate's LogoutResponse went back to SimpleSAMLphp");
    // No keygate session any more: the app's next login shows the form.
    await loginPage(s, realm, alias);
    await s.close();
  });

  await t.test("bob's email is robert's: confirm, re-authenticate, link", async () => {
    const s = await session('bob');
    await (await loginPage(s, realm, alias)).click();
    await sspLogin(s, 'bob', pw.bob);
    await waitFor(s, 'button#linkAccount', 'the confirm-link page');
    await s.shot('confirm-link');
    await s.page.click('button#linkAccount');
    await waitFor(s, '#password', 'the re-authentication form');
    await s.shot('reauthenticate');
    // A wrong password links nothing.
    await s.page.fill('#password', 'not-the-password');
    if (await s.page.locator('#username').isEditable().catch(() => false)) await s.page.fill('#username', 'robert');
    await s.page.click('#kc-login');
    await waitFor(s, '#input-error', 'an error after a wrong password');
    assert.ok(s.page.url().startsWith(KG), 'a wrong password stays at keygate');
    let kc = await admin(realm);
    const [robert] = await kc.users.find({ username: 'robert', exact: true });
    assert.deepEqual(await kc.users.listFederatedIdentities({ id: robert.id }), [], 'no link after a wrong password');

    await s.page.fill('#password', localPW);
    if (await s.page.locator('#username').isEditable().catch(() => false)) await s.page.fill('#username', 'robert');
    await s.page.click('#kc-login');
    const { at } = await arrive(s, 'robert');
    assert.equal(at.sub, robert.id, 'signed in as the local user, whose username the IMPORT-mode template leaves alone');
    assert.equal(at.email, 'bob@corp.example');
    kc = await admin(realm);
    assert.deepEqual(await kc.users.listFederatedIdentities({ id: robert.id }),
      [{ identityProvider: alias, userId: 'bob', userName: 'bob' }]);
    assert.deepEqual(await kc.users.find({ username: 'bob', exact: true }), [], 'no user bob');
    await s.close();

    // The link holds: bob's next login is robert's, without asking.
    const s2 = await session('bob-again');
    await (await loginPage(s2, realm, alias)).click();
    await sspLogin(s2, 'bob', pw.bob);
    const next = await arrive(s2, 'robert');
    assert.equal(next.at.sub, robert.id);
    await onlyRedirectsAfter(s2, SSP, 'bob, after linking');
    await s2.close();
  });

  await t.test('no email from the IdP: the review-profile page asks for it', async () => {
    const s = await session('carol');
    await (await loginPage(s, realm, alias)).click();
    await sspLogin(s, 'carol', pw.carol);
    await waitFor(s, 'form#kc-idp-review-profile-form', 'the review-profile page');
    await s.shot('review-profile');
    assert.equal(await s.page.inputValue('#username'), 'carol');
    assert.equal(await s.page.inputValue('#email'), '');
    assert.equal(await s.page.inputValue('#firstName'), 'Carol');
    assert.equal(await s.page.inputValue('#lastName'), 'Danvers');
    await s.page.fill('#email', 'carol@corp.example');
    await s.page.click('button[type=submit]');
    const { at } = await arrive(s, 'carol');
    assert.equal(at.email, 'carol@corp.example');
    assert.deepEqual(at.groups, ['/sre']);
    const kc = await admin(realm);
    const [carol] = await kc.users.find({ username: 'carol', exact: true });
    assert.equal(carol.email, 'carol@corp.example');
    assert.deepEqual(await kc.users.listFederatedIdentities({ id: carol.id }), [{ identityProvider: alias, userId: 'carol', userName: 'carol' }]);
    await s.close();
  });

  await t.test('a taken username: confirm page, then the review-profile page asks for another', async () => {
    const s = await session('dave');
    await (await loginPage(s, realm, alias)).click();
    await sspLogin(s, 'dave', pw.dave);
    // As Keycloak: "User with username robert already exists", with a
    // choice between linking and reviewing the profile.
    await waitFor(s, 'button#updateProfile', "the confirm page's review-profile button");
    assert.equal(await s.page.locator('button#linkAccount').count(), 1);
    assert.match(await s.page.locator('body').innerText(), /robert/);
    await s.shot('confirm-username');
    await s.page.click('button#updateProfile');
    await waitFor(s, 'form#kc-idp-review-profile-form', 'the review-profile page');
    await s.shot('review-username');
    assert.equal(await s.page.inputValue('#username'), 'robert');
    assert.equal(await s.page.inputValue('#email'), 'dave@corp.example');
    await s.page.fill('#username', 'dave');
    await s.page.click('button[type=submit]');
    const { at } = await arrive(s, 'dave');
    assert.equal(at.email, 'dave@corp.example');
    const kc = await admin(realm);
    const [dave] = await kc.users.find({ username: 'dave', exact: true });
    assert.equal(dave.id, at.sub);
    assert.deepEqual(await kc.users.listFederatedIdentities({ id: dave.id }), [{ identityProvider: alias, userId: 'robert', userName: 'robert' }]);
    const [robert] = await kc.users.find({ username: 'robert', exact: true });
    assert.equal((await kc.users.listFederatedIdentities({ id: robert.id })).length, 1, "robert keeps only bob's link");
    await s.close();
  });

  await t.test('a tampered, a replayed and a garbage response get a clear page', async () => {
    // The browser changes alice's uid in the signed assertion on its way
    // to keygate: the signature no longer holds.
    const s = await session('tampered');
    let tampered = false;
    await s.page.route((u) => u.href.startsWith(ENDPOINT), async (route) => {
      const req = route.request();
      if (req.method() !== 'POST') return route.continue();
      const form = new URLSearchParams(req.postData() ?? '');
      const xml = Buffer.from(form.get('SAMLResponse') ?? '', 'base64').toString();
      tampered = xml.includes('>alice<');
      form.set('SAMLResponse', Buffer.from(xml.replaceAll('>alice<', '>admin<')).toString('base64'));
      return route.continue({ postData: form.toString() });
    });
    await (await loginPage(s, realm, alias)).click();
    await sspLogin(s, 'alice', pw.alice);
    await waitFor(s, '#kc-error-message', "keygate's error page");
    await s.shot('tampered');
    assert.ok(tampered, "the assertion carried alice's uid, and the test changed it");
    const docs = await s.docs();
    const ep = docs.filter((d) => d.path.endsWith('/endpoint')).at(-1);
    assert.ok(ep.status >= 400 && ep.status < 500, `a tampered response answered ${ep.status}, want 4xx`);
    const message = await s.page.locator('#kc-error-message').innerText();
    assert.ok(message.trim().length > 0, 'the error page says something');
    assert.doesNotMatch(await s.page.content(), /<saml|PHNhbWxw|&lt;saml/i, 'the page shows nothing of the response');
    assert.ok(!(await s.page.locator('#status').count()), 'not in the app');
    const kc = await admin(realm);
    assert.deepEqual(await kc.users.find({ username: 'admin', exact: true }), [], 'no user from a tampered assertion');
    await s.close();

    // alice's first response again, as an attacker who kept it would post it.
    assert.ok(firstResponse, 'a captured response to replay');
    const replay = await fetch(ENDPOINT, {
      method: 'POST', redirect: 'manual',
      body: new URLSearchParams({ SAMLResponse: firstResponse.response, RelayState: firstResponse.relayState ?? '' }),
    });
    const replayBody = await replay.text();
    assert.ok(replay.status >= 400 && replay.status < 500, `a replayed response answered ${replay.status}, want 4xx`);
    assert.match(replayBody, /id="kc-(error|info)-message"/);

    const garbage = await fetch(ENDPOINT, {
      method: 'POST', redirect: 'manual',
      body: new URLSearchParams({ SAMLResponse: Buffer.from('<not-saml/>').toString('base64'), RelayState: 'nothing-pending' }),
    });
    assert.ok(garbage.status >= 400 && garbage.status < 500, `a garbage response answered ${garbage.status}, want 4xx`);
    assert.match(await garbage.text(), /id="kc-(error|info)-message"/);
    const empty = await fetch(ENDPOINT, { method: 'POST', redirect: 'manual', body: new URLSearchParams({}) });
    assert.ok(empty.status >= 400 && empty.status < 500, `an empty post answered ${empty.status}, want 4xx`);
  });

  assertNoServerErrors();
});

// ---------------------------------------------------------------- OIDC

if (MODE === 'oidc') test('OpenID Connect brokering with a second keygate upstream', async (t) => {
  const realm = 'apps';
  const alias = 'upstream';
  const UP = need('UP_URL');
  const UP_ORIGIN = new URL(UP).origin;
  const ENDPOINT = `${KG}/realms/${realm}/broker/${alias}/endpoint`;
  const localPW = need('LOCAL_PASSWORD');

  async function upstreamLogin(s, username, password) {
    try {
      await s.page.waitForURL((u) => u.origin === UP_ORIGIN, { timeout: 20000 });
    } catch {
      assert.fail(`expected the upstream keygate, ${await describe(s.page)}`);
    }
    await waitFor(s, '#kc-form-login', "the upstream's login form");
    await s.page.fill('#username', username);
    await s.page.fill('#password', password);
    await s.page.click('#kc-login');
  }

  // The upstream's authorization codes as they reach the endpoint.
  function captureCodes(s) {
    s.page.on('request', (req) => {
      if (!req.url().startsWith(ENDPOINT)) return;
      const code = new URL(req.url()).searchParams.get('code');
      if (code) report('upstream code', code).catch(() => {});
    });
  }

  await t.test('configure the realm, the upstream and its mappers', async () => {
    const disco = await (await fetch(`${UP}/realms/${need('UP_REALM')}/.well-known/openid-configuration`)).json();
    const kc = await admin('master');
    await kc.realms.create({ realm, enabled: true });
    kc.setConfig({ realmName: realm });
    for (const name of ['ops', 'viewer', 'auditor-downstream']) await kc.roles.create({ name });
    await kc.clients.create({
      clientId: 'dash', publicClient: true, redirectUris: [`${APP}/*`], webOrigins: ['+'],
      attributes: { 'post.logout.redirect.uris': '+', 'pkce.code.challenge.method': 'S256' },
    });
    await kc.users.create({
      username: 'paul.local', enabled: true, email: 'paul@corp.example', emailVerified: true, firstName: 'Paul', lastName: 'Local',
      credentials: [{ type: 'password', value: localPW, temporary: false }],
    });
    await kc.identityProviders.create({
      alias, displayName: 'Upstream keygate', providerId: 'keycloak-oidc', enabled: true, trustEmail: true,
      config: {
        issuer: disco.issuer,
        authorizationUrl: disco.authorization_endpoint,
        tokenUrl: need('UP_TOKEN_URL'), // the upstream's token endpoint behind the test's recording proxy
        jwksUrl: disco.jwks_uri,
        userInfoUrl: disco.userinfo_endpoint,
        clientId: need('UP_CLIENT'),
        clientSecret: need('UP_SECRET'),
        clientAuthMethod: 'client_secret_post',
        pkceEnabled: 'true',
        pkceMethod: 'S256',
        validateSignature: 'true',
        useJwksUrl: 'true',
        defaultScope: 'openid profile email',
        syncMode: 'FORCE',
        autoLinkByEmail: 'true',
      },
    });
    const mappers = [
      ['sre to ops', 'oidc-role-idp-mapper', { claim: 'realm_access.roles', 'claim.value': 'sre', role: 'ops' }],
      ['auditor', 'oidc-role-idp-mapper', { claim: 'realm_access.roles', 'claim.value': 'auditor', role: 'auditor-downstream' }],
      ['department', 'oidc-user-attribute-idp-mapper', { claim: 'department', 'user.attribute': 'department' }],
      ['viewer', 'oidc-hardcoded-role-idp-mapper', { role: 'viewer' }],
    ];
    for (const [name, type, config] of mappers) {
      await kc.identityProviders.createMapper({
        alias, identityProviderMapper: { name, identityProviderAlias: alias, identityProviderMapper: type, config: { syncMode: 'INHERIT', ...config } },
      });
    }
    const stored = await kc.identityProviders.findOne({ alias });
    assert.equal(stored.providerId, 'keycloak-oidc');
    assert.equal(stored.config.clientSecret, '**********', 'the client secret is masked');
    assert.equal(stored.config.clientAuthMethod, 'client_secret_post');
    assert.equal((await kc.identityProviders.findMappers({ alias })).length, mappers.length);
  });

  let oliviaSub;
  await t.test('the login button signs olivia in at the upstream; mapped roles reach the tokens', async () => {
    const s = await session('olivia');
    captureCodes(s);
    const button = await loginPage(s, realm, alias, 'Upstream keygate');
    await s.shot('login-page');
    await button.click();
    await upstreamLogin(s, 'olivia', need('OLIVIA_PASSWORD'));
    const { at, id } = await arrive(s, 'olivia');
    await s.shot('app');
    await onlyRedirectsAfter(s, UP_ORIGIN, 'olivia, first login');
    const authz = s.requests.find((r) => r.origin === UP_ORIGIN && r.path.endsWith('/protocol/openid-connect/auth'));
    assert.equal(authz?.params.get('code_challenge_method'), 'S256', 'PKCE towards the upstream');
    assert.equal(authz.params.get('client_id'), need('UP_CLIENT'));
    assert.equal(authz.params.get('redirect_uri'), ENDPOINT);

    const roles = at.realm_access?.roles ?? [];
    assert.ok(roles.includes('ops'), `ops from the upstream's sre role, in ${JSON.stringify(roles)}`);
    assert.ok(roles.includes('viewer'), 'the hardcoded role');
    assert.ok(!roles.includes('auditor-downstream'), 'no role from an upstream role olivia lacks');
    assert.ok(!roles.includes('sre'), "the upstream's roles do not leak as such");
    assert.equal(id.email, 'olivia@up.example');
    assert.equal(id.given_name, 'Olivia');
    oliviaSub = at.sub;

    const kc = await admin(realm);
    const [u] = await kc.users.find({ username: 'olivia', exact: true });
    assert.equal(u.id, oliviaSub);
    assert.equal(u.emailVerified, true, 'trustEmail');
    assert.deepEqual(u.attributes?.department, ['platform'], 'the oidc-user-attribute-idp-mapper');
    assert.deepEqual(await kc.users.listFederatedIdentities({ id: u.id }),
      [{ identityProvider: alias, userId: need('OLIVIA_ID'), userName: 'olivia' }]);

    // Logout, then a second login through the upstream's SSO session.
    const usersBefore = (await kc.users.find({ max: 1000 })).length;
    await s.page.evaluate((r) => window.kc.logout({ redirectUri: r }), `${APP}/?mode=anonymous`);
    await s.page.locator('#status').filter({ hasText: 'anonymous' }).waitFor({ timeout: 20000 });
    await (await loginPage(s, realm, alias)).click();
    const second = await arrive(s, 'olivia');
    assert.equal(second.at.sub, oliviaSub, 'the second login is the same keygate user');
    const kc2 = await admin(realm);
    assert.equal((await kc2.users.find({ max: 1000 })).length, usersBefore, 'no user created by the second login');
    assert.equal((await kc2.users.listFederatedIdentities({ id: oliviaSub })).length, 1);

    // With the upstream's end_session_endpoint as logoutUrl (as
    // import-config sets it), a logout goes through the upstream's logout
    // with its ID token and back through the broker's logout_response to
    // the redirect URI; the next login asks the upstream for the password.
    const disco = await (await fetch(`${UP}/realms/${need('UP_REALM')}/.well-known/openid-configuration`)).json();
    const idp = await kc2.identityProviders.findOne({ alias });
    await kc2.identityProviders.update({ alias }, { ...idp, config: { ...idp.config, logoutUrl: disco.end_session_endpoint } });
    const before = s.requests.length;
    await s.page.evaluate((r) => window.kc.logout({ redirectUri: r }), `${APP}/?mode=anonymous`);
    try {
      await s.page.locator('#status').filter({ hasText: 'anonymous' }).waitFor({ timeout: 20000 });
    } catch {
      await s.shot('logout-upstream');
      assert.fail(`expected the app after logout, ${await describe(s.page)}`);
    }
    const out = s.requests.slice(before);
    const where = JSON.stringify(out.map((r) => r.origin + r.path));
    const upLogout = out.findIndex((r) => r.origin + r.path === disco.end_session_endpoint);
    assert.ok(upLogout >= 0, `keygate sent the browser to the upstream's logout (went to ${where})`);
    assert.ok(out[upLogout].params.has('id_token_hint'), "with the upstream's ID token");
    const back = out.findIndex((r, i) => i > upLogout && r.origin === KG_ORIGIN && r.path === `/realms/${realm}/broker/${alias}/endpoint/logout_response`);
    assert.ok(back > upLogout, `the upstream sent the browser back to logout_response (went to ${where})`);
    assert.ok(out.slice(back + 1).some((r) => r.origin === new URL(APP).origin), 'and on to post_logout_redirect_uri');
    await (await loginPage(s, realm, alias)).click();
    await upstreamLogin(s, 'olivia', need('OLIVIA_PASSWORD'));
    const third = await arrive(s, 'olivia');
    assert.equal(third.at.sub, oliviaSub, 'the login after the upstream logout is the same keygate user');
    await s.close();
  });

  await t.test('kc_idp_hint goes straight to the upstream', async () => {
    const s = await session('hint');
    await s.page.goto(`${APP}/?idp=${alias}`);
    await upstreamLogin(s, 'olivia', need('OLIVIA_PASSWORD'));
    const { at } = await arrive(s, 'olivia');
    assert.equal(at.sub, oliviaSub);
    const auth = (await s.docs()).filter((d) => d.path === `/realms/${realm}/protocol/openid-connect/auth`);
    assert.ok(auth.length === 1 && (auth[0].status === 302 || auth[0].status === 303), 'the authorization endpoint redirects to the upstream');
    await s.close();
  });

  await t.test("a trusted email with autoLinkByEmail links paul to paul.local without asking", async () => {
    const s = await session('paul');
    captureCodes(s);
    await (await loginPage(s, realm, alias)).click();
    await upstreamLogin(s, 'paul', need('PAUL_PASSWORD'));
    const { at } = await arrive(s, 'paul.local');
    await onlyRedirectsAfter(s, UP_ORIGIN, 'paul, auto-linked');
    const kc = await admin(realm);
    const [local] = await kc.users.find({ username: 'paul.local', exact: true });
    assert.equal(at.sub, local.id);
    const links = await kc.users.listFederatedIdentities({ id: local.id });
    assert.equal(links.length, 1);
    assert.equal(links[0].identityProvider, alias);
    assert.equal(links[0].userName, 'paul');
    assert.deepEqual(await kc.users.find({ username: 'paul', exact: true }), [], 'no user paul');
    await s.close();
  });

  await t.test('the upstream answering access_denied gets a clear page', async () => {
    const s = await session('denied');
    // The upstream's answer to its login form, rewritten into what an IdP
    // sends when the user cancels: the state kept, an error instead of the
    // code. (Routes see the first request of a redirect chain only.)
    let rewritten = false;
    await s.page.route((u) => u.origin === UP_ORIGIN && u.pathname.endsWith('/login-actions/authenticate'), async (route) => {
      const resp = await route.fetch({ maxRedirects: 0 });
      const loc = new URL(resp.headers().location ?? '/', UP);
      if (!loc.href.startsWith(ENDPOINT) || !loc.searchParams.get('code')) return route.fulfill({ response: resp });
      rewritten = true;
      const q = new URLSearchParams({ error: 'access_denied', error_description: 'The user cancelled', state: loc.searchParams.get('state') });
      return route.fulfill({ response: resp, headers: { ...resp.headers(), location: `${ENDPOINT}?${q}` } });
    });
    await (await loginPage(s, realm, alias)).click();
    await upstreamLogin(s, 'olivia', need('OLIVIA_PASSWORD'));
    await waitFor(s, '#kc-error-message, #input-error', 'a page saying the login did not happen');
    await s.shot('denied');
    assert.ok(rewritten, "the test turned the upstream's code into access_denied");
    assert.ok(s.page.url().startsWith(KG), 'the browser stays at keygate');
    const docs = await s.docs();
    const ep = docs.filter((d) => d.path.endsWith('/endpoint')).at(-1);
    assert.ok(ep && ep.status < 500, `the endpoint answered ${ep?.status}`);
    const message = await s.page.locator('#kc-error-message, #input-error').first().innerText();
    assert.match(message, /cancel/i, 'the page says the sign-in was cancelled');
    await s.close();

    const forged = await fetch(`${ENDPOINT}?code=forged-code&state=forged-state`, { redirect: 'manual' });
    assert.ok(forged.status >= 400 && forged.status < 500, `a callback with an unknown state answered ${forged.status}, want 4xx`);
  });

  assertNoServerErrors();
});
