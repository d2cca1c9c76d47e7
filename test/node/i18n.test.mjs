// Self-registration and the language menu in a real Chromium against
// keygate (run by test/e2e_i18n_test.go).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';

const KG = process.env.KEYGATE_URL;
const APP = process.env.APP_URL;
const OUT = process.env.KEYGATE_OUT;
const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: flags });
after(() => browser.close());

// A public client's authorization request, with PKCE S256.
const authURL = (extra = {}) => `${KG}/realms/i18n/protocol/openid-connect/auth?` + new URLSearchParams({
  client_id: 'i18napp', redirect_uri: `${APP}/cb`, response_type: 'code', scope: 'openid',
  state: randomBytes(12).toString('hex'), nonce: randomBytes(12).toString('hex'),
  code_challenge: createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url'),
  code_challenge_method: 'S256', ...extra,
});

async function shots(page, name) {
  for (const [suffix, size] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
    await page.setViewportSize(size);
    await page.screenshot({ path: `${OUT}/${name}-${suffix}.png`, fullPage: true });
    // Nothing overflows sideways on a phone.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `${name} at ${suffix} overflows by ${overflow}px`);
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

test('registration from the login page signs the new user in', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
  const page = await ctx.newPage();
  await page.goto(authURL());
  await page.waitForSelector('#kc-form-login');
  assert.equal(await page.locator('#kc-registration a').innerText(), 'Register');
  await page.click('#kc-registration a');

  await page.waitForSelector('#kc-register-form');
  for (const id of ['firstName', 'lastName', 'email', 'username', 'password', 'password-confirm']) {
    assert.equal(await page.locator(`#${id}`).count(), 1, `field ${id}`);
  }
  await shots(page, 'register');

  // The realm's policy names the failed rule; the profile stays, the passwords do not.
  await page.fill('#firstName', 'Nina');
  await page.fill('#lastName', 'Simone');
  await page.fill('#email', 'nina@example.com');
  await page.fill('#username', 'nina');
  await page.fill('#password', 'short1');
  await page.fill('#password-confirm', 'short1');
  await page.click('#kc-register');
  await page.waitForSelector('#input-error');
  assert.equal(await page.locator('#input-error').innerText(), 'Invalid password: minimum length 10.');
  assert.equal(await page.locator('#email').inputValue(), 'nina@example.com');
  assert.equal(await page.locator('#password').inputValue(), '');
  assert.equal(await page.locator('#password').getAttribute('aria-invalid'), 'true');
  await shots(page, 'register-error');

  await page.fill('#password', 'nina-pass-2024');
  await page.fill('#password-confirm', 'nina-pass-2024');
  const [resp] = await Promise.all([
    page.waitForURL((u) => u.href.startsWith(`${APP}/cb`)),
    page.click('#kc-register'),
  ]);
  const cb = new URL(page.url());
  assert.ok(cb.searchParams.get('code'), 'the client gets a code');

  // The new user is signed in: the next login needs no form.
  await page.goto(authURL());
  await page.waitForURL((u) => u.href.startsWith(`${APP}/cb`));
  await ctx.close();

  // And can sign in with the new password elsewhere.
  const other = await browser.newContext();
  const p2 = await other.newPage();
  await p2.goto(authURL());
  await p2.fill('#username', 'nina@example.com');
  await p2.fill('#password', 'nina-pass-2024');
  await Promise.all([p2.waitForURL((u) => u.href.startsWith(`${APP}/cb`)), p2.click('#kc-login')]);
  await other.close();
});

test('the language menu switches the login page to German, and it sticks', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
  const page = await ctx.newPage();
  await page.goto(authURL());
  await page.waitForSelector('#kc-form-login');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await page.locator('#kc-current-locale-link').innerText(), 'English');

  await page.click('#kc-current-locale-link');
  await page.locator('#kc-locale-dropdown a[hreflang="de"]').click();
  await page.waitForSelector('html[lang="de"]');
  assert.equal(await page.locator('#kc-login').getAttribute('value'), 'Anmelden');
  assert.equal(await page.locator('#kc-page-title').innerText(), 'Bei Ihrem Konto anmelden');
  assert.equal(await page.locator('label[for="password"]').innerText(), 'Passwort');
  assert.equal(await page.locator('#kc-current-locale-link').innerText(), 'Deutsch');
  await shots(page, 'login-de');

  // A wrong password answers in German.
  await page.fill('#username', 'nobody');
  await page.fill('#password', 'wrong-password');
  await page.click('#kc-login');
  await page.waitForSelector('#input-error');
  assert.equal(await page.locator('#input-error').innerText(), 'Ungültiger Benutzername oder Passwort.');

  // The menu open, for the screenshot.
  await page.click('#kc-current-locale-link');
  await shots(page, 'login-de-menu');

  // The next login in this browser starts in German (KEYCLOAK_LOCALE).
  await page.goto(authURL());
  await page.waitForSelector('html[lang="de"]');
  await page.click('#kc-registration a');
  await page.waitForSelector('#kc-register-form');
  assert.equal(await page.locator('#kc-register').getAttribute('value'), 'Registrieren');
  await shots(page, 'register-de');
  await ctx.close();
});

test('Accept-Language and ui_locales pick the language without the menu', async () => {
  const ctx = await browser.newContext({ locale: 'fr-FR' });
  const page = await ctx.newPage();
  await page.goto(authURL());
  assert.equal(await page.getAttribute('html', 'lang'), 'fr');
  await page.goto(authURL({ ui_locales: 'nl' }));
  assert.equal(await page.getAttribute('html', 'lang'), 'nl');
  assert.equal(await page.locator('#kc-login').getAttribute('value'), 'Inloggen');
  await page.goto(authURL({ ui_locales: 'nl', kc_locale: 'es' }));
  assert.equal(await page.locator('#kc-login').getAttribute('value'), 'Iniciar sesión');
  await ctx.close();
});
