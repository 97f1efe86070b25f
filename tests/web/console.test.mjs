// Browser scenarios of the operator console (issue 12), run by
// console_e2e.sh against a real keysupd and real controller agents.
// Every scenario fails on any browser console error, page error, failed
// request, or HTTP error answer it did not expect, and saves a screenshot
// of each page it visits under $KS_SHOTS.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

const env = process.env;
const URL = env.KS_URL, B = env.KS_BIN, W = env.KS_WORK, SHOTS = env.KS_SHOTS;
const HB = Number(env.KS_HEARTBEAT_MS || 1000);
mkdirSync(SHOTS, { recursive: true });

let step = 0;
const ok = (m) => console.log(`ok ${++step} - ${m}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function assert(c, m) { if (!c) throw new Error(`assertion failed: ${m}`); }

// keysup-controller / keysup CLI helpers (the field side of a scenario).
const ctl = (name, ...args) =>
  execFileSync(`${B}/keysup-controller`, ['ctl', '--socket', `${W}/${name}.sock`, ...args]);
function present(key, name, action, reader, extraEnv) {
  const r = spawnSync(`${B}/keysup`, ['key', 'present', key, '--controller', `${W}/${name}.sock`,
    '--action', action, '--reader', reader],
  { encoding: 'utf8', env: { ...process.env, ...(extraEnv || {}) } });
  lastPresent = `${r.status}: ${r.stdout}${r.stderr}`;
  return r;
}

// The controller holds what the supervisor published for its scope.
function inStep(name, id) {
  try {
    const show = JSON.parse(execFileSync(`${B}/keysup`, ['--json', 'controller', 'show', String(id)]));
    const st = JSON.parse(execFileSync(`${B}/keysup-controller`,
      ['ctl', '--socket', `${W}/${name}.sock`, '--json', 'status']));
    return show.published_version != null && show.published_version === st.applied_version &&
      show.published_root === st.applied_root;
  } catch (e) { return false; }
}
let attempt = 0;

let lastPresent = '';
async function until(limitMs, what, fn) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > limitMs) {
      throw new Error(`timed out after ${limitMs} ms: ${what}` +
                      (lastPresent ? ` (last key present: ${lastPresent.trim()})` : ''));
    }
    await sleep(100);
  }
}

const browser = await chromium.launch({ executablePath: env.KS_CHROMIUM, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });

// A fresh browser context (its own cookies) watched for problems.
async function open(scenario, opts) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 },
                                             acceptDownloads: true, ...(opts || {}) });
  const page = await context.newPage();
  const problems = [];
  const allowed = []; // [{status, path}] answers the scenario provokes on purpose
  let shots = 0;
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Chromium logs every 4xx answer as a console error: those the scenario
    // expects are not problems (matched by status).
    const st = /status of (\d{3})/.exec(m.text());
    if (st && allowed.some((a) => a.status === Number(st[1]))) return;
    problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    const f = r.failure()?.errorText || '';
    if (f.includes('ERR_ABORTED') && r.resourceType() === 'fetch') return; // page navigated on
    problems.push(`request failed: ${r.method()} ${r.url()} ${f}`);
  });
  page.on('response', (r) => {
    if (r.status() < 400) return;
    const path = new globalThis.URL(r.url()).pathname;
    const a = allowed.find((x) => x.status === r.status() && path.startsWith(x.path) && x.left > 0);
    if (a) { a.left--; a.seen = true; return; }
    problems.push(`HTTP ${r.status()} ${r.request().method()} ${path}`);
  });
  const t = {
    page, context,
    expect(status, path, n = 1) { allowed.push({ status, path, left: n, seen: false }); },
    async shot(name) {
      await page.screenshot({ path: `${SHOTS}/${scenario}-${++shots}-${name}.png`, fullPage: true });
    },
    check() {
      if (problems.length) throw new Error(`${scenario}: ${problems.join('; ')}`);
    },
    async close() { t.check(); await context.close(); },
  };
  page.on('dialog', (d) => d.accept());
  return t;
}

async function signin(t, name, pw) {
  await t.page.goto(URL + '/');
  await t.page.getByLabel('Operator name').fill(name);
  await t.page.getByLabel('Password').fill(pw);
  await t.page.getByRole('button', { name: 'Sign in' }).click();
}

const row = (page, name) => page.locator(`#fleet tbody tr[data-name="${name}"]`);

try {
  // ----- 1. sign in; see the fleet
  {
    const t = await open('signin');
    await t.page.goto(URL + '/');
    await t.shot('signin-form');
    await signin(t, 'admin', env.KS_ADMIN_PW);
    await t.page.waitForSelector('#fleet tbody tr[data-name="d2"]');
    for (const n of ['d1', 'd2']) {
      await until(10 * HB, `${n} ok in the fleet`, async () =>
        (await row(t.page, n).getAttribute('data-state')) === 'ok');
    }
    const text = await row(t.page, 'd1').innerText();
    assert(/Store-North/.test(text) && /POS-200/.test(text) && /(just now|s ago)/.test(text),
           `d1's row shows site, model and a human last sync: ${text}`);
    const title = await row(t.page, 'd1').locator('time').getAttribute('title');
    assert(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(title), `full ISO time on hover: ${title}`);
    assert(await t.page.locator('#nav a[data-page="admin"]').isVisible(), 'admin sees the admin page link');
    await t.shot('fleet');
    // A tablet in portrait: the page itself never scrolls sideways (wide
    // tables scroll in their own box).
    await t.page.setViewportSize({ width: 820, height: 1180 });
    assert(await t.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
           'the fleet page fits a tablet');
    await t.shot('fleet-tablet');
    await t.page.setViewportSize({ width: 1280, height: 800 });
    ok('admin signs in and sees both controllers ok, with site, model and a human Last Sync');

    // ----- 2. corrupt d1's flash: its row turns KSE-301 within one heartbeat
    await t.page.evaluate(() => {
      const seen = (window.__seen = []);
      const mark = () => {
        const r = document.querySelector('#fleet tbody tr[data-name="d1"]');
        if (r && r.dataset.code) seen.push({ code: r.dataset.code, at: Date.now() });
      };
      new MutationObserver(mark).observe(document.querySelector('#fleet tbody'),
                                         { childList: true, subtree: true, attributes: true });
    });
    const tInject = Date.now();
    ctl('d1', 'fault', 'corrupt_sector');
    const seen = await until(15 * HB, 'd1 row shows KSE-301', () =>
      t.page.evaluate(() => window.__seen.find((s) => s.code === 'KSE-301')));
    const lag = seen.at - tInject;
    await t.shot('fleet-kse301');
    // The next heartbeat reports the damage (<= 1 heartbeat); the page polls
    // at half a heartbeat: 2 heartbeats from the injection, 1 s of slack for
    // sanitizer builds.
    assert(lag <= 2 * HB + 1000, `KSE-301 shown ${lag} ms after the corruption`);
    ok(`corrupted flash: d1's row shows KSE-301 ${lag} ms after the injection`);

    // ----- 3. open it, Initialize Terminal, back to ok
    await row(t.page, 'd1').getByRole('link', { name: 'd1' }).click();
    await t.page.waitForSelector('#ctl-state');
    await t.shot('controller-d1');
    await t.page.getByRole('button', { name: 'Initialize Terminal' }).click();
    await t.page.waitForSelector('tr[data-command="initialize"]');
    await until(20 * HB, 'initialize done', async () =>
      (await t.page.locator('tr[data-command="initialize"]').first().getAttribute('data-state')) === 'done');
    await until(20 * HB, 'd1 back to ok', async () =>
      (await t.page.locator('#ctl-state').getAttribute('data-state')) === 'ok');
    await t.shot('controller-d1-ok');
    ok('Initialize Terminal from the controller page: the command is done and d1 is ok again');

    // ----- 4. enrol a key in the console; present it: GRANTED; revoke: refusal shown
    await t.page.getByRole('link', { name: 'Keys and holders' }).click();
    await t.page.waitForSelector('#enrol');
    const enrol = t.page.locator('#enrol');
    await enrol.getByLabel('New holder name').fill('Alice Console');
    await enrol.getByLabel('Label').fill('front door card');
    await enrol.locator('input[value="OPERATOR"]').check();
    await enrol.getByLabel('Public key').fill(env.KS_ALICE_PK);
    await enrol.getByRole('button', { name: 'Enrol' }).click();
    const krow = t.page.locator('tr[data-state="active"]', { hasText: 'Alice Console' });
    await krow.waitFor();
    assert(/front door card/.test(await krow.innerText()), 'the key shows its holder and label');
    await t.shot('keys-enrolled');
    await until(15 * HB, 'd2 holds the new key (in step)', () => inStep('d2', 2));
    // A fresh reader name per attempt: refusals never add up to a reader lockout.
    const granted = await until(5 * HB, 'alice GRANTED at d2', () => {
      const r = present(`${W}/alice.key`, 'd2', 'access', `reader-g${++attempt}`);
      return r.status === 0 ? r.stdout + r.stderr : null;
    });
    assert(/GRANTED/i.test(granted), `present says GRANTED: ${granted}`);
    ok('a key enrolled in the console is GRANTED at a controller');

    await krow.getByRole('button', { name: 'Revoke' }).click();
    await t.page.locator('tr[data-state="revoked"]', { hasText: 'Alice Console' }).waitFor();
    await t.shot('keys-revoked');
    await until(15 * HB, 'd2 holds the revocation (in step)', () => inStep('d2', 2));
    const refused = await until(5 * HB, 'alice refused at d2', () => {
      const r = present(`${W}/alice.key`, 'd2', 'access', 'reader-r');
      return r.status !== 0 ? r.stdout + r.stderr : null;
    });
    assert(/KSE-/.test(refused), `the refusal names a KSE code: ${refused}`);
    await t.page.goto(`${URL}/#/controller/2`);
    const refusal = t.page.locator('table.decisions tr.decision[data-granted="false"]',
                                   { hasText: 'Alice Console' });
    await until(15 * HB, 'the refusal on the controller page', async () => (await refusal.count()) > 0);
    const rtext = await refusal.first().innerText();
    assert(/REFUSED/.test(rtext) && /KSE-\d+/.test(rtext), `refusal row: ${rtext}`);
    await t.shot('controller-d2-refusal');
    ok(`revoked in the console: refused at the controller, and the refusal (${/KSE-\d+/.exec(rtext)[0]}) shows on its page`);

    // A key generated by keysupd: its key file, sealed under a passphrase,
    // is downloaded once and opens at the controller.
    await t.page.getByRole('link', { name: 'Keys and holders' }).click();
    await enrol.waitFor();
    await enrol.getByLabel('New holder name').fill('Bob Generated');
    await enrol.getByLabel('Label').fill('till key');
    await enrol.locator('input[value="OPERATOR"]').check();
    await enrol.getByLabel(/Generate the key here/).check();
    await enrol.getByLabel(/Key file passphrase/).fill('bob-passphrase-1');
    const [kf] = await Promise.all([t.page.waitForEvent('download'),
      enrol.getByRole('button', { name: 'Enrol' }).click()]);
    await kf.saveAs(`${W}/bobgen.key`);
    await t.page.locator('tr[data-state="active"]', { hasText: 'Bob Generated' }).waitFor();
    await until(15 * HB, 'd2 holds the generated key (in step)', () => inStep('d2', 2));
    const bob = await until(5 * HB, 'the generated key GRANTED at d2', () => {
      const r = present(`${W}/bobgen.key`, 'd2', 'access', `reader-k${++attempt}`,
                        { KEYSUP_PASSPHRASE: 'bob-passphrase-1' });
      return r.status === 0 ? r.stdout + r.stderr : null;
    });
    assert(/GRANTED/i.test(bob), `generated key: ${bob}`);
    await t.shot('keys-generated');
    ok('a key generated in the console: its sealed key file is downloaded once and GRANTED at a controller');

    // Incidents and audit pages render (charts and CSV export).
    await t.page.getByRole('link', { name: 'Incidents' }).click();
    await t.page.waitForSelector('svg.chart');
    assert((await t.page.locator('tr[data-code="KSE-301"]').count()) > 0, 'the KSE-301 incident is listed');
    await t.shot('incidents');
    await t.page.getByRole('link', { name: 'Audit' }).click();
    await t.page.getByRole('button', { name: 'Export CSV' }).waitFor();
    const [dl] = await Promise.all([t.page.waitForEvent('download'),
      t.page.getByRole('button', { name: 'Export CSV' }).click()]);
    const csv = await (await dl.createReadStream()).toArray();
    assert(Buffer.concat(csv).toString().includes('key.revoke'), 'the CSV holds the revocation');
    await t.shot('audit');
    await t.page.getByRole('link', { name: 'Tokens and operators' }).click();
    await t.page.locator('tr[data-operator="auditor1"]').waitFor();
    await t.shot('admin');

    // Replace Supervisor Credential: the one-time code and the fingerprint,
    // shown once on the controller page.
    await t.page.goto(`${URL}/#/controller/1`);
    await t.page.getByRole('button', { name: 'Replace Supervisor Credential' }).click();
    const secret = await t.page.locator('#one-time-code').innerText();
    assert(/One-time code: \d{4}-?\d{4}/.test(secret) && /([0-9a-f]{4}-){7}[0-9a-f]{4}/.test(secret),
           `one-time code and fingerprint shown: ${secret}`);
    await t.shot('controller-d1-replace-credential');

    // A forged state change with the admin's own session but without the
    // CSRF token is refused.
    t.expect(403, '/v1/controllers/');
    const forged = await t.page.evaluate(async () => {
      const r = await fetch('/v1/controllers/1/commands', { method: 'POST',
        headers: { 'Content-Type': 'application/json' }, body: '{"command":"unlock"}' });
      return { status: r.status, body: await r.json() };
    });
    assert(forged.status === 403 && forged.body.error.code === 'KSE-742',
           `admin session without CSRF: ${JSON.stringify(forged)}`);
    await t.close();
    ok('incidents (charts), audit (CSV export) and admin pages render; an admin session without the CSRF token is refused (KSE-742)');
  }

  // ----- 5. the auditor sees no buttons; the API refuses forged changes
  {
    const t = await open('auditor');
    await signin(t, 'auditor1', env.KS_AUDITOR_PW);
    await t.page.waitForSelector('#fleet tbody tr[data-name="d1"]');
    assert(!(await t.page.locator('#nav a[data-page="admin"]').isVisible()), 'no admin link');
    await t.shot('fleet');
    await row(t.page, 'd1').getByRole('link', { name: 'd1' }).click();
    await t.page.waitForSelector('#ctl-state');
    assert((await t.page.locator('main button').count()) === 0, 'no button on the controller page');
    await t.shot('controller');
    await t.page.getByRole('link', { name: 'Keys and holders' }).click();
    await t.page.locator('tr[data-state]').first().waitFor();
    assert((await t.page.locator('main button').count()) === 0, 'no button on the keys page');
    assert((await t.page.locator('#enrol').count()) === 0, 'no enrol form');
    await t.shot('keys');
    t.expect(403, '/v1/controllers/', 2);
    const r = await t.page.evaluate(async () => {
      const send = async (headers) => {
        const a = await fetch('/v1/controllers/1/commands', { method: 'POST',
          headers: { 'Content-Type': 'application/json', ...headers },
          body: '{"command":"initialize"}' });
        return { status: a.status, code: (await a.json()).error?.code };
      };
      const csrf = (await (await fetch('/v1/session')).json()).csrf;
      return { without: await send({}), withToken: await send({ 'X-Keysup-CSRF': csrf }) };
    });
    assert(r.without.status === 403 && r.without.code === 'KSE-742', `no CSRF: ${JSON.stringify(r)}`);
    assert(r.withToken.status === 403 && r.withToken.code === 'FORBIDDEN', `auditor: ${JSON.stringify(r)}`);
    await t.close();
    ok('the auditor sees no buttons; a forged change without CSRF is refused (KSE-742), and with it the role is (FORBIDDEN)');
  }

  // ----- 6. accessibility: axe-core's WCAG 2 A/AA rules on every page.
  // (axe is injected as a script, so this context alone bypasses the CSP.)
  {
    const t = await open('a11y', { bypassCSP: true });
    const axe = () => t.page.evaluate(async () => (await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } })).violations
      .map((x) => `${x.id} (${x.impact}): ${x.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`));
    const found = [];
    await t.page.goto(URL + '/');
    await t.page.getByLabel('Operator name').waitFor();
    await t.page.addScriptTag({ path: AXE });
    found.push(...(await axe()).map((x) => `sign-in ${x}`));
    await signin(t, 'admin', env.KS_ADMIN_PW);
    await t.page.waitForSelector('#fleet tbody tr[data-name="d1"]');
    for (const [hash, ready] of [['#/fleet', '#fleet tbody tr'], ['#/controller/1', '#diagnosis'],
                                 ['#/keys', '#enrol'], ['#/incidents', 'svg.chart'],
                                 ['#/audit', 'main table'], ['#/admin', 'tr[data-operator]']]) {
      await t.page.goto(`${URL}/${hash}`);
      await t.page.waitForSelector(ready);
      await t.page.addScriptTag({ path: AXE });
      found.push(...(await axe()).map((x) => `${hash} ${x}`));
    }
    assert(found.length === 0, `accessibility violations:\n  ${found.join('\n  ')}`);
    await t.close();
    ok('no WCAG 2 A/AA violation (axe-core) on the sign-in, fleet, controller, keys, incidents, audit and admin pages');
  }

  // ----- 7. a wrong password locks the account after N tries
  {
    const t = await open('lockout');
    const deny = Number(env.KS_DENY || 5);
    t.expect(401, '/v1/session', deny - 1);
    t.expect(403, '/v1/session', 2);
    await t.page.goto(URL + '/');
    const err = t.page.locator('#signin-error');
    for (let i = 1; i <= deny; i++) {
      await t.page.getByLabel('Operator name').fill('victim');
      await t.page.getByLabel('Password').fill(`wrong-password-${i}`);
      await t.page.getByRole('button', { name: 'Sign in' }).click();
      await until(10000, `answer to try ${i}`, async () => (await err.innerText()).includes('KSE-'));
      const m = await err.innerText();
      assert(i < deny ? m.includes('KSE-743') : m.includes('KSE-740'), `try ${i}: ${m}`);
      if (i < deny) await t.page.evaluate(() => { document.getElementById('signin-error').textContent = ''; });
    }
    await t.page.evaluate(() => { document.getElementById('signin-error').textContent = ''; });
    await t.page.getByLabel('Operator name').fill('victim');
    await t.page.getByLabel('Password').fill(env.KS_VICTIM_PW);
    await t.page.getByRole('button', { name: 'Sign in' }).click();
    await until(10000, 'answer to the right password', async () => (await err.innerText()).includes('KSE-'));
    assert((await err.innerText()).includes('KSE-740'), 'the right password is refused while locked');
    await t.shot('locked');
    await t.close();
    ok(`a wrong password ${deny} times locks the operator (KSE-740), even against the right one`);
  }
} catch (e) {
  console.error(`FAIL: ${e.stack || e}`);
  await browser.close();
  process.exit(1);
}
await browser.close();
