// keycloak-js in a real Chromium against keygate (run by test/e2e_browser_test.go).
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

async function login(page, username, password) {
  await page.waitForSelector('#kc-form-login');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#kc-login');
}

test('login-required with PKCE, refresh, SSO, iframe and logout', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${APP}/?client=kjs`);
  await page.waitForURL((u) => u.href.startsWith(KG), { timeout: 15000 });
  assert.match(page.url(), /code_challenge_method=S256/);
  assert.match(page.url(), /response_mode=fragment/);
  await page.waitForSelector('#kc-form-login');
  assert.equal(await page.title().then((t) => t.includes('Acme Observability')), true, 'realm display name in the title');
  await page.screenshot({ path: `${OUT}/login.png`, fullPage: true });

  // A wrong password: the generic error, no code, still on keygate.
  await login(page, 'eve', 'wrong');
  await page.waitForSelector('#input-error');
  assert.match(await page.locator('#input-error').innerText(), /Invalid username or password/);
  assert.ok(page.url().startsWith(KG), 'a wrong password must not leave the login page');
  assert.ok(!/[?&#]code=/.test(page.url()), 'no authorization code after a wrong password');
  await page.screenshot({ path: `${OUT}/login-error.png`, fullPage: true });

  await login(page, 'eve', 'eve-pass');
  await page.waitForURL((u) => u.href.startsWith(APP), { timeout: 15000 });
  await status(page).filter({ hasText: 'authenticated:eve' }).waitFor({ timeout: 15000 });

  const parsed = await page.evaluate(() => ({
    token: window.kc.token, tp: window.kc.tokenParsed, rp: window.kc.refreshTokenParsed, ip: window.kc.idTokenParsed,
  }));
  assert.equal(parsed.tp.preferred_username, 'eve');
  assert.equal(parsed.tp.azp, 'kjs');
  assert.ok(parsed.tp.realm_access.roles.includes('viewer'));
  assert.ok(parsed.tp['allowed-origins'].includes(APP), 'allowed-origins from webOrigins "+"');
  assert.equal(parsed.rp.typ, 'Refresh');
  assert.equal(parsed.ip.typ, 'ID');
  assert.equal(parsed.ip.email, 'eve@example.com');

  // updateToken(-1) forces a refresh through fetch (CORS on the token endpoint).
  const refreshed = await page.evaluate(() => window.kc.updateToken(-1));
  assert.equal(refreshed, true);
  const after1 = await page.evaluate(() => window.kc.token);
  assert.notEqual(after1, parsed.token, 'refresh returned a new access token');

  // SSO into a second client: no form.
  const page2 = await ctx.newPage();
  let sawForm = false;
  page2.on('framenavigated', (f) => { if (f === page2.mainFrame() && f.url().includes('/login-actions/')) sawForm = true; });
  await page2.goto(`${APP}/?client=kjs2`);
  await status(page2).filter({ hasText: 'authenticated:eve' }).waitFor({ timeout: 15000 });
  assert.equal(await page2.locator('#kc-form-login').count(), 0);
  assert.equal(sawForm, false, 'SSO must not show the form');
  assert.equal(await page2.evaluate(() => window.kc.tokenParsed.azp), 'kjs2');

  // Logout from the second page; the first page's session-status iframe
  // notices, and keycloak-js (login-required) sends it back to the form.
  await page2.evaluate((app) => window.kc.logout({ redirectUri: `${app}/?client=kjs2&mode=check-sso` }), APP);
  await status(page2).filter({ hasText: 'anonymous' }).waitFor({ timeout: 15000 });
  await page.waitForURL((u) => u.href.startsWith(KG), { timeout: 15000 });
  await page.waitForSelector('#kc-form-login');
  await ctx.close();
});

test('prompt=none without a session answers login_required', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${APP}/?client=kjs&mode=check-sso`);
  await status(page).filter({ hasText: 'anonymous' }).waitFor({ timeout: 15000 });
  await ctx.close();
});

test('an unregistered redirect_uri shows an error page and never redirects', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const u = `${KG}/realms/browser/protocol/openid-connect/auth?client_id=kjs&response_type=code&redirect_uri=${encodeURIComponent('https://evil.example/')}&code_challenge=abcdefghijabcdefghijabcdefghijabcdefghij123&code_challenge_method=S256`;
  const resp = await page.goto(u);
  assert.equal(resp.status(), 400);
  assert.ok(page.url().startsWith(KG));
  await page.waitForSelector('#kc-error-message');
  await page.screenshot({ path: `${OUT}/error.png`, fullPage: true });
  await ctx.close();
});
