// response_mode=form_post in a real Chromium against keygate (run by test/e2e_formpost_test.go).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const KG = process.env.KEYGATE_URL;
const APP = process.env.APP_URL;
const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: flags });
after(() => browser.close());

// A state that would break out of an unescaped attribute.
const STATE = `"><script>window.pwned=1</script><x y='`;
const authURL = `${KG}/realms/formpost/protocol/openid-connect/auth?` + new URLSearchParams({
  client_id: 'fp', redirect_uri: `${APP}/cb`, response_type: 'code', scope: 'openid',
  response_mode: 'form_post', state: STATE, nonce: 'n',
});

async function login(page) {
  await page.waitForSelector('#kc-form-login');
  await page.fill('#username', 'eve');
  await page.fill('#password', 'eve-pass');
  await page.click('#kc-login');
}

async function received(page) {
  await page.waitForURL(`${APP}/cb`, { timeout: 15000 });
  return JSON.parse(await page.locator('#got').innerText());
}

test('with JavaScript, the page posts itself under its CSP', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const problems = [];
  page.on('console', (m) => { if (/Content Security Policy|Refused/i.test(m.text())) problems.push(m.text()); });
  let csp = null;
  page.on('response', (r) => {
    if (r.request().method() === 'POST' && r.url().includes('/login-actions/authenticate')) csp = r.headers()['content-security-policy'];
  });
  await page.goto(authURL);
  await login(page);
  const got = await received(page);
  assert.ok(got.code?.[0], 'the client received a code');
  assert.deepEqual(got.state, [STATE], 'state round-trips intact');
  assert.equal(got.iss?.[0], `${KG}/realms/formpost`);
  assert.match(csp ?? '', /script-src 'sha256-[A-Za-z0-9+/=]+'/, 'the form_post page allows its script by hash');
  assert.match(csp ?? '', /frame-ancestors 'self'/);
  assert.deepEqual(problems, [], 'no CSP violation');
  await ctx.close();
});

test('without JavaScript, the Continue button posts the response', async () => {
  const ctx = await browser.newContext({ javaScriptEnabled: false });
  const page = await ctx.newPage();
  await page.goto(authURL);
  await login(page);
  await page.waitForLoadState('load');
  assert.ok(page.url().startsWith(KG), 'without JavaScript the page waits for the user');
  await page.click('button[type=submit]');
  const got = await received(page);
  assert.ok(got.code?.[0], 'the client received a code');
  assert.deepEqual(got.state, [STATE]);
  await ctx.close();
});
