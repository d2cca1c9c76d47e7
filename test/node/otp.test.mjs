// OTP setup and login in a real Chromium against keygate (run by test/e2e_otp_test.go).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';

const KG = process.env.KEYGATE_URL;
const APP = process.env.APP_URL;
const OUT = process.env.KEYGATE_OUT;
const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: flags });
after(() => browser.close());

// RFC 4648 base32 (no padding) and RFC 6238 TOTP, written here so that the
// test does not trust keygate's own code generation.
function base32(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, value = 0;
  const out = [];
  for (const c of s.replace(/[\s=]/g, '').toUpperCase()) {
    const i = alphabet.indexOf(c);
    assert.ok(i >= 0, `not base32: ${c}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function totp(key, { step = Math.floor(Date.now() / 1000 / 30), digits = 6, alg = 'sha1' } = {}) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac(alg, key).update(msg).digest();
  const off = mac[mac.length - 1] & 0xf;
  const v = (mac.readUInt32BE(off) & 0x7fffffff) % 10 ** digits;
  return String(v).padStart(digits, '0');
}

// A public client's authorization request, with PKCE S256.
const authURL = () => `${KG}/realms/otp/protocol/openid-connect/auth?` + new URLSearchParams({
  client_id: 'otpapp', redirect_uri: `${APP}/cb`, response_type: 'code', scope: 'openid',
  state: randomBytes(12).toString('hex'), nonce: randomBytes(12).toString('hex'),
  code_challenge: createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url'),
  code_challenge_method: 'S256',
});

async function shots(page, name) {
  for (const [suffix, size] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
    await page.setViewportSize(size);
    await page.screenshot({ path: `${OUT}/${name}-${suffix}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

async function password(page) {
  await page.waitForSelector('#kc-form-login');
  await page.fill('#username', 'tom');
  await page.fill('#password', 'tom-pass');
  await page.click('#kc-login');
}

test('CONFIGURE_TOTP from the shown key, then logout and login with a code', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  await page.goto(authURL());
  await password(page);

  // The setup page: QR code inline (no third-party request), the key, the policy.
  await page.waitForSelector('#kc-totp-settings-form');
  assert.match(page.url(), /execution=CONFIGURE_TOTP/);
  const qr = await page.locator('#kc-totp-secret-qr-code').getAttribute('src');
  assert.match(qr, /^data:image\/png;base64,/, 'the QR code is an inline PNG');
  assert.ok(await page.locator('#kc-totp-secret-qr-code').evaluate((img) => img.complete && img.naturalWidth >= 100),
    'the QR code image decodes');
  assert.equal(await page.locator('#kc-totp-algorithm').innerText(), 'SHA1');
  assert.equal(await page.locator('#kc-totp-digits').innerText(), '6');
  assert.equal(await page.locator('#kc-totp-period').innerText(), '30');
  const shown = await page.locator('#kc-totp-secret-key').innerText();
  const key = base32(shown);
  assert.equal(key.length, 20, 'a 20-byte key, as Keycloak makes');
  await shots(page, 'otp-setup');

  // A wrong first code is refused and nothing is stored; the same key stays.
  await page.fill('#totp', '000000' === totp(key) ? '111111' : '000000');
  await page.fill('#userLabel', 'Pixel');
  await page.click('#saveTOTPBtn');
  await page.waitForSelector('#input-error');
  assert.match(await page.locator('#input-error').innerText(), /Invalid authenticator code/);
  assert.equal(await page.locator('#kc-totp-secret-key').innerText(), shown, 'a retry keeps the key');

  await page.fill('#totp', totp(key));
  await page.fill('#userLabel', 'Pixel');
  await page.click('#saveTOTPBtn');
  await page.waitForURL((u) => u.href.startsWith(APP), { timeout: 15000 });
  assert.match(page.url(), /[?&]code=/);

  // Logout through keygate's confirmation page.
  await page.goto(`${KG}/realms/otp/protocol/openid-connect/logout`);
  await page.waitForSelector('#kc-logout-confirm');
  await page.click('#kc-logout');
  await page.waitForLoadState();

  // Log in again: password, then the OTP form.
  await page.goto(authURL());
  await password(page);
  await page.waitForSelector('#kc-otp-login-form');
  assert.match(page.url(), /execution=OTP_FORM/);
  await shots(page, 'otp-form');
  await page.fill('#otp', '000000' === totp(key) ? '111111' : '000000');
  await page.click('#kc-login');
  await page.waitForSelector('#input-error');
  assert.match(await page.locator('#input-error').innerText(), /Invalid authenticator code/);
  assert.ok(!/[?&]code=/.test(page.url()), 'no code after a wrong OTP');
  await shots(page, 'otp-form-error');
  // The setup's code is spent; the next step's is within the window.
  await page.fill('#otp', totp(key, { step: Math.floor(Date.now() / 1000 / 30) + 1 }));
  await page.click('#kc-login');
  await page.waitForURL((u) => u.href.startsWith(APP), { timeout: 15000 });
  assert.match(page.url(), /[?&]code=/);
  await ctx.close();
});
