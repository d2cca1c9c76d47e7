// The account console in a real Chromium against keygate (run by test/e2e_account_test.go).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { chromium } from 'playwright-core';

const KG = process.env.KEYGATE_URL;
const APP = process.env.APP_URL;
const OUT = process.env.KEYGATE_OUT;
const CONSOLE = `${KG}/realms/acctui/account`;
const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: flags });
after(() => browser.close());

const viewports = {
  phone: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
  desktop: { viewport: { width: 1280, height: 800 } },
};

async function login(page, username, password) {
  await page.waitForSelector('#kc-form-login');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#kc-login');
}

// signIn opens the console without a session: the realm's login form as
// client account-console with PKCE, then the page asked for.
async function signIn(ctx, username, password, path = '/') {
  const page = await ctx.newPage();
  await page.goto(CONSOLE + path);
  await page.waitForSelector('#kc-form-login');
  const u = new URL(page.url());
  assert.ok(u.pathname.endsWith('/login-actions/authenticate') || u.pathname.endsWith('/protocol/openid-connect/auth'), page.url());
  await login(page, username, password);
  await page.waitForURL((x) => x.href.startsWith(CONSOLE) && !x.href.includes('login-redirect'), { timeout: 15000 });
  await page.waitForSelector('#kc-account-nav');
  return page;
}

const pages = [
  ['personal-info', '/', '#kc-account-form'],
  ['signing-in', '/account-security/signing-in', '#kc-password-form'],
  ['device-activity', '/account-security/device-activity', '#sessions'],
  ['linked-accounts', '/account-security/linked-accounts', '#unlinked-corp'],
  ['applications', '/applications', '#application-account-console'],
];

for (const [name, opts] of Object.entries(viewports)) {
  test(`every console page at ${name} size`, async () => {
    const ctx = await browser.newContext(opts);
    const page = await signIn(ctx, 'max', 'max-pass-1');
    for (const [section, path, marker] of pages) {
      await page.goto(CONSOLE + path);
      await page.waitForSelector(marker);
      assert.equal(await page.locator(`#nav-${section}`).getAttribute('aria-current'), 'page');
      // Nothing sideways on a phone: the page fits its viewport.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${section} overflows the ${name} viewport by ${overflow}px`);
      await page.screenshot({ path: `${OUT}/account-${section}-${name}.png`, fullPage: true });
    }
    // A failed password change names the rule, in the page's alert.
    await page.goto(CONSOLE + '/account-security/signing-in');
    await page.fill('#password', 'max-pass-1');
    await page.fill('#password-new', 'short');
    await page.fill('#password-confirm', 'short');
    await page.click('#save-password');
    await page.waitForSelector('#input-error');
    assert.match(await page.locator('#input-error').innerText(), /minimum length 10/);
    await page.screenshot({ path: `${OUT}/account-signing-in-error-${name}.png`, fullPage: true });
    await ctx.close();
  });
}

test('the console changes the password and signs out another session', async () => {
  const phone = await browser.newContext(viewports.phone);
  const other = await signIn(phone, 'eve', 'eve-pass-1');
  const desk = await browser.newContext(viewports.desktop);
  const page = await signIn(desk, 'eve', 'eve-pass-1', '/account-security/device-activity');

  // Two sessions: this one (current) and the phone's, signed out here.
  assert.equal(await page.locator('#sessions > li').count(), 2);
  assert.equal(await page.locator('#current-session').count(), 1);
  const otherRow = page.locator('#sessions > li').filter({ hasNot: page.locator('#current-session') });
  await page.screenshot({ path: `${OUT}/account-device-activity-two-sessions.png`, fullPage: true });
  await otherRow.locator('button').click();
  await page.waitForSelector('#kc-account-notice');
  assert.equal(await page.locator('#sessions > li').count(), 1);
  // The phone's session is gone: its console sends it to the login form.
  await other.reload();
  await other.waitForSelector('#kc-form-login');

  // The password change: current one required, then the new one works.
  await page.goto(CONSOLE + '/account-security/signing-in');
  await page.fill('#password', 'eve-pass-1');
  await page.fill('#password-new', 'eve-pass-22');
  await page.fill('#password-confirm', 'eve-pass-22');
  await page.click('#save-password');
  await page.waitForSelector('#kc-account-notice');
  assert.match(await page.locator('#kc-account-notice').innerText(), /password has been updated/i);
  const fresh = await browser.newContext();
  const p2 = await fresh.newPage();
  await p2.goto(CONSOLE + '/');
  await login(p2, 'eve', 'eve-pass-1');
  await p2.waitForSelector('#input-error');
  await login(p2, 'eve', 'eve-pass-22');
  await p2.waitForSelector('#kc-account-form');
  await Promise.all([phone.close(), desk.close(), fresh.close()]);
});

test("keycloak-js accountManagement() lands on the console with a link back", async () => {
  const ctx = await browser.newContext(viewports.desktop);
  const page = await ctx.newPage();
  await page.goto(`${APP}/`);
  await page.waitForURL((u) => u.href.startsWith(KG), { timeout: 15000 });
  await login(page, 'max', 'max-pass-1');
  await page.locator('#status').filter({ hasText: 'authenticated:max' }).waitFor({ timeout: 15000 });
  await page.click('#account');
  await page.waitForURL((u) => u.href.startsWith(CONSOLE), { timeout: 15000 });
  assert.match(page.url(), /referrer=kjs/);
  await page.waitForSelector('#kc-account-form');
  const back = page.locator('#referrer');
  assert.match(await back.innerText(), /Acme Dashboards/);
  assert.ok((await back.getAttribute('href')).startsWith(APP), 'the link goes back to the app');
  await page.screenshot({ path: `${OUT}/account-referrer-desktop.png`, fullPage: true });
  await back.click();
  await page.waitForURL((u) => u.href.startsWith(APP), { timeout: 15000 });
  await page.locator('#status').filter({ hasText: 'authenticated:max' }).waitFor({ timeout: 15000 });
  await ctx.close();
});

// RFC 6238 TOTP (SHA-1, 6 digits, 30 s) from a BASE32 key.
function totp(b32) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, value = 0;
  const key = [];
  for (const c of b32.replace(/[\s=]/g, '').toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) { key.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const mac = createHmac('sha1', Buffer.from(key)).update(msg).digest();
  const off = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1e6).padStart(6, '0');
}

test('set up an authenticator from the console, then remove it', async () => {
  const ctx = await browser.newContext(viewports.desktop);
  const page = await signIn(ctx, 'ida', 'ida-pass-1', '/account-security/signing-in');
  assert.equal(await page.locator('#otp-credentials').count(), 0);
  await page.click('#otp-set-up');
  await page.waitForSelector('#kc-totp-settings-form');
  const key = await page.locator('#kc-totp-secret-key').innerText();
  await page.fill('#totp', totp(key));
  await page.fill('#userLabel', 'Phone');
  await page.click('#saveTOTPBtn');
  // Keycloak's "Your account has been updated." with the way back.
  await page.waitForSelector('#backToApplication');
  await page.click('#backToApplication');
  await page.waitForSelector('#otp-credentials');
  assert.match(await page.locator('#otp-credentials').innerText(), /Phone/);
  for (const [name, size] of [['desktop', viewports.desktop.viewport], ['phone', viewports.phone.viewport]]) {
    await page.setViewportSize(size);
    await page.screenshot({ path: `${OUT}/account-signing-in-otp-${name}.png`, fullPage: true });
  }
  await page.setViewportSize(viewports.desktop.viewport);
  // With an authenticator, the current password still checks as right.
  await page.fill('#password', 'ida-pass-1');
  await page.fill('#password-new', 'ida-pass-22');
  await page.fill('#password-confirm', 'ida-pass-22');
  await page.click('#save-password');
  await page.waitForSelector('#kc-account-notice');
  assert.match(await page.locator('#kc-account-notice').innerText(), /password has been updated/i);
  await page.locator('#otp-credentials button').click();
  await page.waitForSelector('#kc-account-notice');
  assert.equal(await page.locator('#otp-credentials').count(), 0);
  await ctx.close();
});
