// Required actions in a real Chromium with keycloak-js (run by test/e2e_actions_test.go).
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

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

// shoot saves the page at phone and desktop sizes as name-phone.png and
// name-desktop.png, and checks nothing overflows the phone's width.
async function shoot(page, name) {
  await page.setViewportSize(PHONE);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  assert.equal(overflow, false, `${name}: the page is wider than a phone`);
  await page.screenshot({ path: `${OUT}/${name}-phone.png`, fullPage: true });
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: `${OUT}/${name}-desktop.png`, fullPage: true });
}

async function startLogin(username, password, client = 'kjs') {
  const ctx = await browser.newContext({ viewport: DESKTOP });
  const page = await ctx.newPage();
  await page.goto(`${APP}/?client=${client}`);
  await page.waitForSelector('#kc-form-login');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#kc-login');
  return { ctx, page };
}

const status = (page) => page.locator('#status');

test('a temporary password forces the update page, then keycloak-js gets tokens', async () => {
  const { ctx, page } = await startLogin('tina', 'Temporary-Pass-1');
  await page.waitForSelector('#kc-passwd-update-form');
  assert.match(page.url(), /\/login-actions\/required-action\?.*execution=UPDATE_PASSWORD/);
  assert.match(await page.locator('#kc-info-message').innerText(), /You need to change your password/);
  await shoot(page, 'update-password');

  // A policy violation names the rule.
  await page.fill('#password-new', 'short1');
  await page.fill('#password-confirm', 'short1');
  await page.click('#kc-submit');
  await page.waitForSelector('#input-error');
  assert.match(await page.locator('#input-error').innerText(), /Invalid password: minimum length 10\./);
  await shoot(page, 'update-password-error');

  // The temporary password itself is in the history.
  await page.fill('#password-new', 'Temporary-Pass-1');
  await page.fill('#password-confirm', 'Temporary-Pass-1');
  await page.click('#kc-submit');
  await page.locator('#input-error').filter({ hasText: 'must not be equal to any of last 2 passwords' }).waitFor();

  await page.fill('#password-new', 'Brand-New-Pass-1');
  await page.fill('#password-confirm', 'Brand-New-Pass-1');
  await page.click('#kc-submit');
  await page.waitForURL((u) => u.href.startsWith(APP), { timeout: 15000 });
  await status(page).filter({ hasText: 'authenticated:tina' }).waitFor({ timeout: 15000 });
  const tp = await page.evaluate(() => window.kc.tokenParsed);
  assert.equal(tp.preferred_username, 'tina');
  assert.ok(await page.evaluate(() => window.kc.updateToken(-1)), 'the refresh works: no action left');
  await ctx.close();

  // The new password signs in at once.
  const second = await startLogin('tina', 'Brand-New-Pass-1');
  await status(second.page).filter({ hasText: 'authenticated:tina' }).waitFor({ timeout: 15000 });

  // keycloak-js asks for the action itself (kc_action); one not owed can be cancelled.
  // (login() navigates away: started after evaluate returns.)
  await second.page.evaluate(() => { setTimeout(() => window.kc.login({ action: 'UPDATE_PASSWORD' }), 0); });
  await second.page.waitForSelector('#kc-passwd-update-form', { timeout: 15000 });
  assert.match(second.page.url(), /execution=UPDATE_PASSWORD/);
  await shoot(second.page, 'update-password-aia');
  await second.page.click('#kc-cancel');
  await status(second.page).filter({ hasText: 'authenticated:tina' }).waitFor({ timeout: 15000 });
  await second.ctx.close();
});

test('terms then profile, in the realm order', async () => {
  const { ctx, page } = await startLogin('uma', 'uma-pass-12345');
  await page.waitForSelector('#kc-terms-text');
  assert.match(page.url(), /execution=TERMS_AND_CONDITIONS/);
  await shoot(page, 'terms');
  await page.click('#kc-accept');
  await page.waitForSelector('#kc-update-profile-form');
  assert.match(page.url(), /execution=UPDATE_PROFILE/);
  await shoot(page, 'update-profile');
  await page.fill('#firstName', '');
  await page.click('#kc-submit');
  // The browser's own "required" check stops an empty field; bypass it to see ours.
  await page.evaluate(() => { for (const i of document.querySelectorAll('input[required]')) i.required = false; });
  await page.click('#kc-submit');
  await page.locator('#input-error').filter({ hasText: 'Please specify first name.' }).waitFor();
  await shoot(page, 'update-profile-error');
  await page.fill('#firstName', 'Uma');
  await page.fill('#lastName', 'Thurman');
  await page.click('#kc-submit');
  await status(page).filter({ hasText: 'authenticated:uma' }).waitFor({ timeout: 15000 });
  assert.equal(await page.evaluate(() => window.kc.tokenParsed.given_name), 'Uma');
  await ctx.close();
});

test('delete_account confirms and deletes', async () => {
  const { ctx, page } = await startLogin('vic', 'vic-pass-12345');
  await page.waitForSelector('#kc-deleteaccount-form');
  await shoot(page, 'delete-account');
  await page.click('#kc-submit');
  await page.locator('#kc-info-message').filter({ hasText: 'User deleted successfully' }).waitFor();
  await shoot(page, 'account-deleted');
  await ctx.close();
  const again = await startLogin('vic', 'vic-pass-12345');
  await again.page.locator('#input-error').filter({ hasText: 'Invalid username or password.' }).waitFor();
  await again.ctx.close();
});

test('a client asking for consent: No tells the app access_denied, Yes signs in', async () => {
  const { ctx, page } = await startLogin('wes', 'wes-pass-12345', 'kjs-consent');
  await page.waitForSelector('#kc-oauth-form');
  assert.match(page.url(), /execution=OAUTH_GRANT/);
  assert.match(await page.locator('#kc-page-title').innerText(), /Grant Access to Dashboards/);
  const asked = await page.locator('#kc-oauth-scopes li').allInnerTexts();
  assert.ok(asked.includes('User profile') && asked.includes('Email address'), `asked for ${asked}`);
  await shoot(page, 'consent');
  await page.click('#kc-cancel');
  await status(page).filter({ hasText: 'access_denied' }).waitFor({ timeout: 15000 });
  await ctx.close();

  const again = await startLogin('wes', 'wes-pass-12345', 'kjs-consent');
  await again.page.waitForSelector('#kc-oauth-form');
  await again.page.click('#kc-login');
  await status(again.page).filter({ hasText: 'authenticated:wes' }).waitFor({ timeout: 15000 });
  assert.ok(await again.page.evaluate(() => window.kc.updateToken(-1)), 'the refresh works while the consent stands');
  // Remembered: a new login in this browser goes straight through.
  await again.page.evaluate(() => { setTimeout(() => window.kc.login(), 0); });
  await status(again.page).filter({ hasText: 'authenticated:wes' }).waitFor({ timeout: 15000 });
  await again.ctx.close();
});
