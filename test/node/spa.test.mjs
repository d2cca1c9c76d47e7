// oidc-client-ts in a real Chromium against keygate, from another origin
// (run by test/e2e_spa_test.go), and the welcome page's screenshots.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const KG = process.env.KEYGATE_URL;
const APP = process.env.APP_URL;
const OUT = process.env.KEYGATE_OUT;
const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: flags });
after(() => browser.close());

const status = (page) => page.locator('#status');

test('oidc-client-ts: PKCE login, silent renew by refresh token and iframe, logout', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const corsErrors = [];
  page.on('console', (m) => { if (/CORS|Access-Control/i.test(m.text())) corsErrors.push(m.text()); });
  await page.goto(`${APP}/`);
  await status(page).filter({ hasText: 'anonymous' }).waitFor({ timeout: 15000 });

  // signinRedirect fetches discovery from keygate's origin (CORS), then
  // navigates to the authorization endpoint with PKCE S256.
  await page.evaluate(() => { window.mgr.signinRedirect(); });
  await page.waitForURL((u) => u.href.startsWith(KG), { timeout: 15000 });
  const authURL = new URL(page.url());
  assert.equal(authURL.searchParams.get('code_challenge_method'), 'S256');
  assert.ok(authURL.searchParams.get('state'), 'oidc-client-ts sends state');
  await page.waitForSelector('#kc-form-login');
  await page.fill('#username', 'sam');
  await page.fill('#password', 'sam-pass');
  await page.click('#kc-login');
  await page.waitForURL((u) => u.href.startsWith(`${APP}/callback.html`), { timeout: 15000 });
  await status(page).filter({ hasText: 'signed-in:sam' }).waitFor({ timeout: 15000 });

  const first = await page.evaluate(async () => {
    const u = await window.mgr.getUser();
    return { access: u.access_token, refresh: u.refresh_token, id: u.id_token, scope: u.scope, email: u.profile.email, exp: u.expires_at };
  });
  assert.ok(first.refresh, 'a refresh token for the public client');
  assert.equal(first.scope, 'openid profile email');
  assert.equal(first.email, 'sam@example.com', 'profile from the ID token and userinfo (CORS on userinfo)');
  const claims = JSON.parse(Buffer.from(first.access.split('.')[1], 'base64url').toString());
  assert.equal(claims.exp - claims.iat, 300, 'exp = iat + the access token lifespan');
  assert.ok(claims['allowed-origins'].includes(APP));

  // Silent renew, first with the refresh token (a fetch to the token
  // endpoint from the app's origin)...
  const renewed = await page.evaluate(async () => {
    const u = await window.mgr.signinSilent();
    return { access: u.access_token, refresh: u.refresh_token };
  });
  assert.notEqual(renewed.access, first.access, 'the refresh gave a new access token');
  assert.notEqual(renewed.refresh, first.refresh, 'refresh tokens rotate');

  // ...then without one: a hidden iframe with prompt=none that the SSO
  // session answers with a code.
  const framed = await page.evaluate(async () => {
    const u = await window.mgr.getUser();
    u.refresh_token = undefined;
    await window.mgr.storeUser(u);
    const n = await window.mgr.signinSilent();
    return { access: n.access_token, name: n.profile.preferred_username };
  });
  assert.equal(framed.name, 'sam');
  assert.notEqual(framed.access, renewed.access, 'the iframe renew gave a new access token');

  // RP-initiated logout with id_token_hint, back to the app.
  await page.evaluate(() => { window.mgr.signoutRedirect(); });
  await page.waitForURL((u) => u.href.startsWith(`${APP}/?loggedout=1`), { timeout: 15000 });
  await status(page).filter({ hasText: 'anonymous' }).waitFor({ timeout: 15000 });

  // The SSO session is gone: a silent renew by iframe now fails.
  const after = await page.evaluate(async () => {
    try { await window.mgr.signinSilent(); return 'renewed'; } catch (e) { return 'failed:' + (e.error || e.message); }
  });
  assert.match(after, /^failed:login_required/);
  assert.deepEqual(corsErrors, [], 'no CORS errors in the console');
  await ctx.close();
});

test('the welcome page at phone and desktop sizes', async () => {
  for (const [name, viewport] of [['phone', { width: 390, height: 844 }], ['desktop', { width: 1280, height: 800 }]]) {
    const ctx = await browser.newContext({ viewport });
    const page = await ctx.newPage();
    const resp = await page.goto(`${KG}/`);
    assert.equal(resp.status(), 200);
    await page.waitForSelector('#kc-page-title');
    assert.match(await page.locator('#kc-page-title').innerText(), /Welcome to keygate/);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    assert.equal(overflow, false, `no sideways scrolling at ${name} size`);
    await page.screenshot({ path: `${OUT}/welcome-${name}.png`, fullPage: true });

    // The realm form goes to that realm's account console.
    if (name === 'desktop') {
      await page.fill('#realm', 'spa');
      await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/realms/spa/')), page.click('#kg-account')]);
    }
    await ctx.close();
  }
});
