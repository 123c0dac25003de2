// The quick start's pages in headless Chromium: a person registers, confirms from the mailed
// link, logs in, changes the password, resets it, logs out. Every page is checked with axe-core
// (light and dark) and photographed (light and dark, phone and desktop).
//
// Environment (run.sh sets it): BASE_URL, WEBDRIVER_URL, MAIL_DIR, SCREENSHOT_DIR,
// CHROME_BIN (optional), AXE_REPORT_ONLY=1 (development aid: report the axe violations and the
// phone-layout problems, do not fail on them).

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Session } from './webdriver.mjs';
import { Mailbox } from './mail.mjs';

const need = (key) => {
  const value = process.env[key];
  if (!value) throw new Error(`${key} is not set (run browser-tests/run.sh)`);
  return value;
};
const BASE = need('BASE_URL').replace(/\/$/, '');
const WEBDRIVER = need('WEBDRIVER_URL').replace(/\/$/, '');
const SHOTS = need('SCREENSHOT_DIR');
const mailbox = new Mailbox(need('MAIL_DIR'));
const REPORT_ONLY = process.env.AXE_REPORT_ONLY === '1';
const AXE_SOURCE = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const SCHEMES = ['light', 'dark'];
const SIZES = {
  phone: { width: 390, height: 844, deviceScaleFactor: 2, mobile: true },
  desktop: { width: 1280, height: 800, deviceScaleFactor: 1, mobile: false },
};
const FAILING_IMPACTS = new Set(['serious', 'critical']);

let browser;
const axeFindings = []; // { page, scheme, id, impact, help, helpUrl, targets }
const layoutFindings = []; // { page, problem }
const visited = [];

const log = (message) => console.log(`  ${message}`);

// --- the page as a person sees it -----------------------------------------------------------

async function pageText() {
  try {
    return await browser.execute('return document.body ? document.body.innerText : "";');
  } catch (error) {
    return `(no text: ${error.message})`;
  }
}

async function pathname() {
  return new URL(await browser.url()).pathname;
}

/** Fails with the message, the URL and the page's text. */
async function fail(message) {
  const url = await browser.url().catch(() => '?');
  const text = (await pageText()).trim().replace(/\n{2,}/g, '\n').slice(0, 3000);
  throw new Error(`${message}\n  URL: ${url}\n  page text:\n    ${text.split('\n').join('\n    ')}`);
}

async function expectText(expected, what) {
  const text = await pageText();
  const ok = expected instanceof RegExp ? expected.test(text) : text.includes(expected);
  if (!ok) await fail(`${what}: expected the page to show ${expected instanceof RegExp ? expected : JSON.stringify(expected)}`);
}

async function expectNoText(unexpected, what) {
  if ((await pageText()).includes(unexpected)) await fail(`${what}: expected the page not to show ${JSON.stringify(unexpected)}`);
}

async function expectPath(expected, what) {
  const actual = await pathname();
  const ok = expected instanceof RegExp ? expected.test(actual) : actual === expected;
  if (!ok) await fail(`${what}: expected to be at ${expected}, but the path is ${actual}`);
}

async function expectField(selector, what) {
  if (!(await browser.find(selector))) await fail(`${what}: the page has no ${selector} field`);
}

// --- acting as a person ---------------------------------------------------------------------

/** Waits until the page that was showing when `mark` ran has been replaced and has loaded. */
async function waitForNewPage(what) {
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    try {
      const done = await browser.execute('return !window.__browserTestsOldPage && document.readyState === "complete";');
      if (done) return;
    } catch {
      // The page is being replaced: ask again.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await fail(`${what}: no new page loaded within 20 s`);
}

async function markPage() {
  await browser.execute('window.__browserTestsOldPage = true;');
}

/** Opens a URL as typed into the address bar (or a link followed from a mail). */
async function open(url) {
  await browser.navigate(url.startsWith('http') ? url : BASE + url);
}

/** Clicks the page's link to `target` (a path) when it has one, else types the address. */
async function goTo(target, what) {
  const link = Session.elementOf(await browser.execute(
    `const target = arguments[0];
     return [...document.querySelectorAll('a[href]')].find((a) =>
       new URL(a.href, location.href).pathname === target && a.getClientRects().length > 0) || null;`,
    [target]));
  if (link) {
    log(`${what}: the link to ${target}`);
    await markPage();
    await browser.click(link);
    await waitForNewPage(what);
  } else {
    log(`${what}: typed ${target} into the address bar (the page has no link to it)`);
    await open(target);
  }
}

/** Clicks into the field, empties it, and types the text as key presses. */
async function fill(selector, text, what) {
  const field = await browser.find(selector);
  if (!field) await fail(`${what}: the page has no ${selector} field`);
  await browser.click(field);
  await browser.clear(field);
  await browser.type(field, text);
}

/** Clicks the submit button of the form that holds `fieldSelector`, and waits for the answer. */
async function submit(fieldSelector, what) {
  const button = Session.elementOf(await browser.execute(
    `const field = document.querySelector(arguments[0]);
     const form = field && field.form;
     return form ? form.querySelector('button[type=submit], button:not([type]), input[type=submit]') : null;`,
    [fieldSelector]));
  if (!button) await fail(`${what}: no submit button in the form of ${fieldSelector}`);
  await markPage();
  await browser.click(button);
  await waitForNewPage(what);
}

/** Logs out the way the page offers (a logout link or button), else at /logout. */
async function logOut(email) {
  const control = Session.elementOf(await browser.execute(
    `const visible = (e) => e.getClientRects().length > 0;
     const link = [...document.querySelectorAll('a[href]')].find((a) =>
       new URL(a.href, location.href).pathname === '/logout' && visible(a));
     if (link) return link;
     const form = [...document.querySelectorAll('form')].find((f) =>
       new URL(f.action, location.href).pathname === '/logout');
     const button = form && form.querySelector('button[type=submit], button:not([type]), input[type=submit]');
     return button && visible(button) ? button : null;`));
  if (control) {
    log('log out: the page\'s logout control');
    await markPage();
    await browser.click(control);
    await waitForNewPage('log out');
  } else {
    log('log out: typed /logout into the address bar (the page has no logout control)');
    await open('/logout');
  }
  await expectNoText(email, 'after logging out');
  // The session has ended: a page that needs a login asks for one.
  await open('/change');
  await expectPath('/login', 'after logging out, the change-password page');
  await expectText('Please log in to access this page.', 'after logging out, the change-password page');
  await open('/');
}

async function logIn(email, password, what) {
  await goTo('/login', `${what}: to the login page`);
  await expectPath('/login', what);
  await fill('#email', email, what);
  await fill('#password', password, what);
  await submit('#password', what);
}

// --- axe and screenshots --------------------------------------------------------------------

async function settle() {
  await browser.executeAsync('const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));');
}

async function emulate(scheme, size) {
  await browser.cdp('Emulation.setEmulatedMedia', { media: '', features: [{ name: 'prefers-color-scheme', value: scheme }] });
  await browser.cdp('Emulation.setDeviceMetricsOverride', SIZES[size]);
  await settle();
}

async function runAxe(page, scheme) {
  const loaded = await browser.execute('return typeof window.axe !== "undefined";');
  if (!loaded) await browser.execute(`${AXE_SOURCE}\n;return true;`);
  const result = await browser.executeAsync(
    `const done = arguments[arguments.length - 1];
     axe.run(document, { resultTypes: ['violations'] })
       .then((r) => done({ violations: r.violations.map((v) => ({
         id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
         targets: v.nodes.map((n) => n.target.join(' ')) })) }))
       .catch((e) => done({ error: String(e && e.stack || e) }));`);
  if (result.error) await fail(`axe-core failed on ${page} (${scheme}): ${result.error}`);
  for (const v of result.violations) {
    axeFindings.push({ page, scheme, ...v });
    const mark = FAILING_IMPACTS.has(v.impact) ? '✗' : '·';
    if (page !== 'self-check') log(`${mark} axe ${scheme}: ${v.impact} ${v.id}: ${v.help} (${v.targets.join(', ')})`);
  }
}

/**
 * At the phone's width the page must be laid out for it (a viewport meta, not a 980 px desktop
 * layout zoomed out) and must not scroll sideways (a long address in a flash, a wide table).
 */
async function phoneLayoutProblems() {
  const layout = await browser.execute(
    `const wide = [...document.body.querySelectorAll('*')]
       .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
       .map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : ''));
     return { layoutWidth: document.documentElement.clientWidth, scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 10) };`);
  const problems = [];
  if (layout.layoutWidth > SIZES.phone.width) {
    problems.push(`laid out ${layout.layoutWidth} px wide on a ${SIZES.phone.width} px phone (no viewport meta?)`);
  } else if (layout.scrollWidth > layout.layoutWidth + 1) {
    problems.push(`${layout.scrollWidth - layout.layoutWidth} px wider than the phone's ${layout.layoutWidth} px; past the edge: ${layout.wide.join(', ') || 'the document'}`);
  }
  return problems;
}

/**
 * Proves the check can fail: a page without a language and with an unlabelled field must give
 * axe-core's serious `html-has-lang` and critical `label` violations.
 */
async function selfCheck() {
  await browser.navigate('data:text/html,<!DOCTYPE html><html><head><title>t</title></head><body><main><h1>t</h1><input id="x"></main></body></html>');
  const before = axeFindings.length;
  await runAxe('self-check', 'light');
  const found = axeFindings.splice(before).filter((f) => FAILING_IMPACTS.has(f.impact)).map((f) => f.id);
  for (const id of ['html-has-lang', 'label']) {
    if (!found.includes(id)) throw new Error(`axe-core self-check: a broken page did not give the ${id} violation (found: ${found.join(', ') || 'none'})`);
  }
  log(`axe-core self-check: a broken page gives ${found.join(', ')}`);

  // The phone-layout check: a desktop layout, a page wider than the phone, a page that fits.
  const viewport = '<meta name="viewport" content="width=device-width, initial-scale=1">';
  const cases = [
    ['', /laid out 980 px wide/],
    [`${viewport}<div style="width:600px">wide</div>`, /wider than the phone/],
    [`${viewport}<p>fits</p>`, null],
  ];
  await emulate('light', 'phone');
  for (const [body, expected] of cases) {
    await browser.navigate(`data:text/html,<!DOCTYPE html><html lang="en"><head>${encodeURIComponent(body)}</head></html>`);
    const problems = (await phoneLayoutProblems()).join('; ');
    if (expected ? !expected.test(problems) : problems) {
      throw new Error(`phone-layout self-check: ${body || 'no viewport meta'} gave "${problems}", expected ${expected || 'nothing'}`);
    }
  }
  await emulate('light', 'desktop');
  log('phone-layout self-check: a desktop layout and a page too wide are caught, a page that fits passes');
}

/** Checks the page with axe (light and dark) and saves its four screenshots. */
async function capture(page) {
  if (visited.includes(page)) throw new Error(`the page name ${page} is used twice`);
  visited.push(page);
  log(`[${page}] ${await browser.url()}`);
  for (const scheme of SCHEMES) {
    await emulate(scheme, 'desktop');
    await runAxe(page, scheme);
  }
  await emulate('light', 'phone');
  for (const problem of await phoneLayoutProblems()) {
    layoutFindings.push({ page, problem });
    log(`✗ phone layout: ${problem}`);
  }
  for (const scheme of SCHEMES) {
    for (const size of Object.keys(SIZES)) {
      await emulate(scheme, size);
      const shot = await browser.cdp('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true });
      await writeFile(path.join(SHOTS, `${page}-${scheme}-${size}.png`), Buffer.from(shot.data, 'base64'));
    }
  }
  await emulate('light', 'desktop');
}

// --- the flow -------------------------------------------------------------------------------

async function flow() {
  const email = `browser-${Date.now()}@example.com`;
  const firstPassword = 'Correct-Horse-Battery-41';
  const changedPassword = 'Staple-Lantern-Orbit-52';
  const resetPassword = 'Purple-Monkey-Dishwasher-63';
  log(`account: ${email}`);

  // The home page, logged out: it offers a way to log in.
  await open('/');
  await expectNoText(email, 'home, logged out');
  const offersLogin = (await pathname()) === '/login' || await browser.find('a[href*="/login"]');
  if (!offersLogin) await fail('home, logged out: expected the login page or a link to it');
  await capture('home-anonymous');

  // Register, first with a mistyped confirmation.
  if ((await pathname()) !== '/login') await goTo('/login', 'to the login page');
  await goTo('/register', 'to the registration page');
  await expectPath('/register', 'registration page');
  await expectField('#email', 'registration page');
  await capture('register');
  const confirmField = await browser.find('#password_confirm');
  await fill('#email', email, 'register');
  await fill('#password', firstPassword, 'register');
  if (confirmField) {
    await fill('#password_confirm', `${firstPassword}x`, 'register (mistyped)');
    await submit('#password', 'register (mistyped)');
    await expectPath('/register', 'register with a mistyped confirmation');
    await expectText('Passwords do not match', 'register with a mistyped confirmation');
    await capture('register-error');
    await fill('#email', email, 'register');
    await fill('#password', firstPassword, 'register');
    await fill('#password_confirm', firstPassword, 'register');
  } else {
    log('the registration form asks for no confirmation: no mistyped-confirmation page');
  }
  await submit('#password', 'register');
  await expectText(`Thank you. Confirmation instructions have been sent to ${email}.`, 'after registering');
  const welcome = await mailbox.waitForLink(email, '/confirm/');
  log(`welcome mail "${welcome.mail.subject}" with a confirmation link`);

  // Ask for the confirmation again, then follow the newest mailed link.
  await goTo('/confirm', 'to the send-confirmation page');
  await expectPath('/confirm', 'send-confirmation page');
  await capture('send-confirmation');
  await fill('#email', email, 'send confirmation');
  await submit('#email', 'send confirmation');
  await expectText(`Confirmation instructions have been sent to ${email}.`, 'after asking for the confirmation mail');
  const confirmation = await mailbox.waitForLink(email, '/confirm/');
  log(`confirmation mail "${confirmation.mail.subject}"`);
  await open(confirmation.link);
  await expectText('Thank you. Your email has been confirmed.', 'after opening the confirmation link');
  await expectText(email, 'after confirming (logged in: the page names the account)');
  await capture('home');
  await logOut(email);

  // Log in: a wrong password first.
  await goTo('/login', 'to the login page');
  await expectPath('/login', 'login page');
  await capture('login');
  await logIn(email, 'not-the-password', 'log in with a wrong password');
  await expectPath('/login', 'log in with a wrong password');
  await expectText(/Invalid (email or )?password/, 'log in with a wrong password');
  await capture('login-error');
  await logIn(email, firstPassword, 'log in');
  await expectPath('/', 'after logging in');
  await expectText(email, 'after logging in (the page names the account)');

  // Change the password: a wrong current password first.
  await goTo('/change', 'to the change-password page');
  await expectPath('/change', 'change-password page');
  await capture('change');
  await fill('#password', 'not-the-password', 'change password (wrong current)');
  await fill('#new_password', changedPassword, 'change password (wrong current)');
  await fill('#new_password_confirm', changedPassword, 'change password (wrong current)');
  await submit('#new_password', 'change password (wrong current)');
  await expectPath('/change', 'change password with a wrong current password');
  await expectText('Invalid password', 'change password with a wrong current password');
  await capture('change-error');
  await fill('#password', firstPassword, 'change password');
  await fill('#new_password', changedPassword, 'change password');
  await fill('#new_password_confirm', changedPassword, 'change password');
  await submit('#new_password', 'change password');
  await expectText('You successfully changed your password.', 'after changing the password');
  await expectText(email, 'after changing the password (still logged in)');
  await logOut(email);

  // The changed password logs in.
  await logIn(email, changedPassword, 'log in with the changed password');
  await expectPath('/', 'after logging in with the changed password');
  await expectText(email, 'after logging in with the changed password');
  await logOut(email);

  // Forgot password: the mailed link, a new password.
  await goTo('/login', 'to the login page');
  await goTo('/reset', 'to the forgot-password page');
  await expectPath('/reset', 'forgot-password page');
  await capture('forgot');
  await fill('#email', email, 'forgot password');
  await submit('#email', 'forgot password');
  await expectText(`Instructions to reset your password have been sent to ${email}.`, 'after asking for a reset');
  const reset = await mailbox.waitForLink(email, '/reset/');
  log(`reset mail "${reset.mail.subject}"`);
  await open(reset.link);
  await expectPath(/^\/reset\/.+/, 'the reset link');
  await expectField('#password', 'reset page');
  await capture('reset');
  await fill('#password', resetPassword, 'reset password');
  if (await browser.find('#password_confirm')) await fill('#password_confirm', resetPassword, 'reset password');
  await submit('#password', 'reset password');
  await expectText('You successfully reset your password and you have been logged in automatically.', 'after resetting the password');
  await expectText(email, 'after resetting the password (logged in)');
  await logOut(email);

  // The changed password is refused now, the reset one logs in.
  await logIn(email, changedPassword, 'log in with the replaced password');
  await expectText(/Invalid (email or )?password/, 'log in with the replaced password');
  await logIn(email, resetPassword, 'log in with the reset password');
  await expectPath('/', 'after logging in with the reset password');
  await expectText(email, 'after logging in with the reset password');
  await logOut(email);
}

// --- the run --------------------------------------------------------------------------------

function axeSummary() {
  const failing = axeFindings.filter((f) => FAILING_IMPACTS.has(f.impact));
  const lines = failing.map((f) =>
    `  ${f.page} (${f.scheme}): ${f.impact} ${f.id}: ${f.help}\n      ${f.targets.join('\n      ')}\n      ${f.helpUrl}`);
  return { failing, text: lines.join('\n') };
}

async function main() {
  await mkdir(SHOTS, { recursive: true });
  browser = await Session.start(WEBDRIVER, {
    chromeBinary: process.env.CHROME_BIN || undefined,
    noSandbox: process.getuid && process.getuid() === 0,
  });
  let flowError = null;
  try {
    await emulate('light', 'desktop');
    await selfCheck();
    await flow();
  } catch (error) {
    flowError = error;
  } finally {
    await browser.quit().catch(() => {});
  }
  await writeFile(path.join(SHOTS, 'axe-violations.json'), `${JSON.stringify(axeFindings, null, 2)}\n`);
  const { failing, text } = axeSummary();
  console.log(`\npages checked: ${visited.join(', ')}`);
  let failed = false;
  if (layoutFindings.length) {
    console.log(`\nphone layout: ${layoutFindings.length} page(s) not fit for a phone:\n${layoutFindings.map((f) => `  ${f.page}: ${f.problem}`).join('\n')}`);
    if (REPORT_ONLY) console.log('(AXE_REPORT_ONLY=1: reported, not failed)');
    else failed = true;
  } else {
    console.log('\nphone layout: every page fits the phone\'s width');
  }
  if (failing.length) {
    console.log(`\naxe-core: ${failing.length} serious or critical violation(s):\n${text}`);
    if (REPORT_ONLY) console.log('(AXE_REPORT_ONLY=1: reported, not failed)');
    else failed = true;
  } else {
    console.log('\naxe-core: no serious or critical violation');
  }
  if (flowError) {
    console.log(`\nFAILED: ${flowError.stack || flowError}`);
    failed = true;
  } else {
    console.log('\nthe flow passed: register, confirm, log in, change, log out, reset, log in');
  }
  process.exitCode = failed ? 1 : 0;
}

await main();
