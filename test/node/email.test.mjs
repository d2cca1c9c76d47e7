// The mail flows in a real Chromium against keygate and Mailpit (run by
// test/e2e_email_test.go): "Forgot Password?", the mailed link (once),
// VERIFY_EMAIL, and a mail server that is down. Each new page is
// photographed at phone (390x844) and desktop (1280x800) sizes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const KG = process.env.KEYGATE_URL;
const APP = process.env.APP_URL;
const OUT = process.env.KEYGATE_OUT;
const MAILPIT = process.env.MAILPIT_API;
const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: flags });
after(() => browser.close());

// shots photographs the page at phone and desktop sizes.
async function shots(page, name) {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${OUT}/${name}-phone.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: `${OUT}/${name}-desktop.png`, fullPage: true });
}

// mails lists the mails to addr (newest first), read whole.
async function mails(addr) {
  const list = await (await fetch(`${MAILPIT}/api/v1/search?query=${encodeURIComponent('to:' + addr)}`)).json();
  return Promise.all(list.messages.map(async (m) => (await fetch(`${MAILPIT}/api/v1/message/${m.ID}`)).json()));
}

async function waitMail(addr, n) {
  for (let i = 0; i < 100; i++) {
    const l = await mails(addr);
    if (l.length >= n) return l[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no mail #${n} to ${addr}`);
}

const linkOf = (mail) => {
  const m = mail.Text.match(/https?:\/\/\S+\/login-actions\/action-token\?\S+/);
  assert.ok(m, `no link in ${mail.Text}`);
  return m[0];
};

test('forgot password: the mail arrives and its link works once', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(process.env.AUTH_URL);
  await page.waitForSelector('#kc-form-login');
  await shots(page, 'login-forgot-link');

  await page.click('#kc-forgot-password');
  await page.waitForSelector('#kc-reset-password-form');
  assert.match(await page.locator('#kc-page-title').innerText(), /Forgot Your Password\?/);
  await shots(page, 'reset-password');
  await page.fill('#username', 'eve');
  await page.click('#kc-submit');
  await page.waitForSelector('#kc-info-message');
  assert.match(await page.locator('#kc-info-message').innerText(), /You should receive an email shortly/);
  await shots(page, 'reset-password-sent');

  const mail = await waitMail('eve@example.com', 1);
  assert.equal(mail.Subject, 'Reset password');
  assert.equal(mail.From.Name, 'Acme Observability');
  assert.match(mail.HTML, /Link to reset credentials/);
  const link = linkOf(mail);
  assert.ok(link.startsWith(`${KG}/realms/mail/login-actions/action-token?key=`), link);

  // The HTML part as a mail client shows it.
  const mailPage = await ctx.newPage();
  await mailPage.setContent(mail.HTML);
  await shots(mailPage, 'mail-reset-password');
  await mailPage.close();

  await page.goto(link);
  await page.waitForSelector('#kc-action-token-form');
  await shots(page, 'action-token-confirm');
  await page.click('#kc-proceed');
  await page.waitForSelector('#kc-passwd-update-form');
  await page.fill('#password-new', 'eve-new-pass-2');
  await page.fill('#password-confirm', 'eve-new-pass-2');
  await page.click('#kc-submit');
  await page.waitForURL((u) => u.href.startsWith(APP), { timeout: 15000 });
  assert.equal(await page.locator('#status').innerText(), 'code:true');

  // Once: a second use, even in a fresh browser, is refused.
  const other = await browser.newContext();
  const p2 = await other.newPage();
  await p2.goto(link);
  const refused = await p2.locator('#kc-error-message').innerText().catch(async () => {
    await p2.click('#kc-proceed');
    return p2.locator('#kc-error-message').innerText();
  });
  assert.match(refused, /Action expired/);
  await shots(p2, 'action-token-used');

  // The new password signs in.
  await p2.goto(process.env.AUTH_URL);
  await p2.fill('#username', 'eve');
  await p2.fill('#password', 'eve-new-pass-2');
  await p2.click('#kc-login');
  await p2.waitForURL((u) => u.href.startsWith(APP), { timeout: 15000 });
  await other.close();
  await ctx.close();
});

test('verify email: the login waits for the mailed link', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(process.env.AUTH_URL);
  await page.fill('#username', 'vera');
  await page.fill('#password', 'vera-pass-1');
  await page.click('#kc-login');
  await page.waitForSelector('#kc-verify-email-form');
  assert.match(await page.locator('body').innerText(), /vera@example\.com/);
  await shots(page, 'verify-email');

  const link = linkOf(await waitMail('vera@example.com', 1));
  const tab = await ctx.newPage();
  await tab.goto(link);
  await tab.waitForSelector('#kc-action-token-form');
  await shots(tab, 'verify-email-confirm');
  await tab.click('#kc-proceed');
  await tab.waitForSelector('#kc-info-message');
  assert.match(await tab.locator('#kc-info-message').innerText(), /Your email address has been verified/);
  await shots(tab, 'verify-email-done');
  await tab.close();

  await page.reload();
  await page.click('#kc-continue');
  await page.waitForURL((u) => u.href.startsWith(APP), { timeout: 15000 });
  assert.equal(await page.locator('#status').innerText(), 'code:true');
  await ctx.close();
});

test('mail server down: a clear page, the login still works', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(process.env.AUTH_URL_DOWN);
  await page.click('#kc-forgot-password');
  await page.fill('#username', 'eve');
  await page.click('#kc-submit');
  await page.waitForSelector('#input-error');
  assert.match(await page.locator('#input-error').innerText(), /Failed to send email, please try again later/);
  await shots(page, 'reset-password-mail-down');
  await page.goto(process.env.AUTH_URL_DOWN);
  await page.fill('#username', 'eve');
  await page.fill('#password', 'eve-old-pass-1');
  await page.click('#kc-login');
  await page.waitForURL((u) => u.href.startsWith(APP), { timeout: 15000 });
  await ctx.close();
});
