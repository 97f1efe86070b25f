// The browser half of bench/console_fleet.sh: signs in, opens the fleet
// page, times its first render of N rows, then changes one controller in
// the database and times the poll that applies it. Prints the figures beside
// the bare API call's time measured by the shell in the same run.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(fileURLToPath(new URL('../tests/web/package.json', import.meta.url)));
const { chromium } = require('playwright-core');
const env = process.env;
const N = Number(env.KS_N);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const apiMs = env.KS_API_MS.split(' ').map(Number);

const browser = await chromium.launch({ executablePath: env.KS_CHROMIUM, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
const errors = [];
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
page.on('pageerror', (e) => errors.push(e.message));
await page.goto(env.KS_URL + '/');
await page.getByLabel('Operator name').fill('admin');
await page.getByLabel('Password').fill(env.KS_PW);
await page.getByRole('button', { name: 'Sign in' }).click();
await page.waitForFunction(() => window.__ksFleet && window.__ksFleet.firstRenderMs !== null,
                           null, { timeout: 120000 });

// First render, measured three times on a fresh load of the page.
const first = [], apply0 = [];
for (let i = 0; i < 3; i++) {
  await page.goto('about:blank');
  const t0 = Date.now();
  await page.goto(env.KS_URL + '/#/fleet');
  // Every controller in the page's model, the first page of rows on screen,
  // and one frame painted after it.
  await page.waitForFunction((n) => window.__ksFleet && window.__ksFleet.firstRenderMs !== null &&
    window.__ksFleet.view.rows.size === n && document.querySelectorAll('#fleet tbody tr').length ===
    Math.min(n, 250), N, { timeout: 120000 });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))));
  const wall = Date.now() - t0;
  const f = await page.evaluate(() => ({ render: window.__ksFleet.firstRenderMs,
    nav: performance.now() }));
  first.push({ wall, module: f.render });
}
// A poll that changes nothing (the diff alone), then one that changes one row.
await page.waitForFunction(() => window.__ksFleet.polls >= 2, null, { timeout: 30000 });
apply0.push(await page.evaluate(() => window.__ksFleet.lastApplyMs));
const id = 7; // on the first page: the update replaces a row on screen
const polls = await page.evaluate(() => window.__ksFleet.polls);
execFileSync('sqlite3', [env.KS_DB, `.timeout 5000`,
  `INSERT INTO incidents(controller_id, code, symbol, state, title, first_evidence_ms, detected_ms,
   updated_ms, repair) VALUES (${id}, 301, 'STORE_CORRUPT', 'open', 'bench', 0, 0, 0, 'none')`]);
const tChange = Date.now();
await page.waitForFunction((i) => document.querySelector(`#fleet tbody tr[data-id="${i}"]`)
  ?.dataset.code === 'KSE-301', id, { timeout: 30000 });
const shown = Date.now() - tChange;
const upd = await page.evaluate((p) => ({ apply: window.__ksFleet.lastApplyMs,
  changed: window.__ksFleet.lastChanged, polls: window.__ksFleet.polls - p }), polls);
await browser.close();
if (errors.length) { console.error(`browser errors: ${errors.join('; ')}`); process.exit(1); }
if (upd.changed !== 1) { console.error(`the update poll changed ${upd.changed} rows, not 1`); process.exit(1); }

const api = median(apiMs);
const fr = median(first.map((f) => f.wall));
const frm = median(first.map((f) => f.module));
console.log(`fleet: ${N} controllers, GET /v1/fleet ${(Number(env.KS_BYTES) / 1e6).toFixed(2)} MB`);
console.log(`bare API call (curl, median of 5):         ${api.toFixed(1)} ms   [${apiMs.join(', ')}]`);
console.log(`first render, navigation to painted page: ${fr} ms   (${(fr / api).toFixed(1)}x the API call)` +
            `   [${first.map((f) => f.wall).join(', ')}]`);
console.log(`  of which the page's fetch + diff + build:  ${frm.toFixed(0)} ms (${N} controllers in the model, 250 rows on screen)`);
console.log(`poll with no change, diff of ${N} rows:    ${apply0[0].toFixed(1)} ms`);
console.log(`poll with one change, diff + one row:      ${upd.apply.toFixed(1)} ms   (${(upd.apply / api).toFixed(2)}x the API call)`);
console.log(`database change to row shown:              ${shown} ms   (the page polls every 5 s here: half the heartbeat, at most 5 s)`);
