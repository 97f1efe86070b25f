// fleet.js - every controller at a glance (GET /v1/fleet), filtered by
// site, state and code, refreshed by polling at half the heartbeat interval
// (so a change shows within one heartbeat). Each poll diffs the answer
// against the rows shown and touches only the rows that changed: a fleet of
// 10,000 controllers costs one table build, then small updates
// (bench/console_fleet.sh measures both).
import { api, ago, badge, el, field, iso } from './lib.js';

const STATES = ['ok', 'degraded', 'problem', 'offline'];

// What a row shows; a row is redrawn only when this changes.
function sig(c) {
  return [c.name, c.site, c.scope, c.model, c.state, c.code, c.last_sync, c.applied_version,
    c.published_version, c.clock_offset, c.firmware_version, c.protocol_version].join('\u0001');
}

function cells(c, now) {
  return [
    el('td', {}, el('a', { href: `#/controller/${c.id}` }, c.name)),
    el('td', {}, c.site || '–'),
    el('td', { class: 'num' }, c.scope),
    el('td', {}, c.model || '–'),
    el('td', { class: 'state' }, badge(c.state), ' ',
       c.code ? el('span', { class: 'code', title: c.title || '' }, c.code) : null),
    el('td', { class: 'sync' }, c.last_sync
      ? el('time', { datetime: iso(c.last_sync), title: iso(c.last_sync), 'data-t': c.last_sync },
           ago(c.last_sync, now))
      : 'never'),
    el('td', { class: 'num' }, `${c.applied_version ?? '–'} / ${c.published_version ?? '–'}`,
       c.in_sync || c.applied_version == null ? null : el('span', { class: 'muted' }, ' behind')),
    el('td', { class: 'num' }, c.clock_offset == null ? '–' : `${c.clock_offset} s`),
    el('td', {}, `${c.firmware_version || '–'} / ${c.protocol_version ?? '–'}`),
  ];
}

// The fleet table's model: every controller's row data by id (so that an
// update finds its row), and DOM rows only for the page on screen: a table
// of 10,000 rows costs the browser seconds of layout and helps nobody, the
// filters and pages find a controller.
export const PAGE = 250;

export class FleetView {
  constructor(tbody, onPage) {
    this.tbody = tbody;
    this.onPage = onPage || (() => {});
    this.rows = new Map(); // id -> {sig, c, tr (when on screen)}
    this.filter = { site: '', state: '', code: '', q: '' };
    this.page = 0;
    this.shown = []; // ids of the filtered list, in id order
    this.now = 0;
  }

  visible(c) {
    const f = this.filter;
    return (!f.site || c.site === f.site) && (!f.state || c.state === f.state) &&
      (!f.code || c.code === f.code) && (!f.q || c.name.toLowerCase().includes(f.q));
  }

  tr(c) {
    return el('tr', { 'data-id': c.id, 'data-state': c.state, 'data-code': c.code || '',
                      'data-name': c.name }, cells(c, this.now));
  }

  // Rebuilds the filtered list and the page on screen.
  draw() {
    for (const r of this.rows.values()) r.tr = null;
    this.shown = [...this.rows.values()].filter((r) => this.visible(r.c)).map((r) => r.c.id);
    const pages = Math.max(1, Math.ceil(this.shown.length / PAGE));
    this.page = Math.min(this.page, pages - 1);
    const frag = document.createDocumentFragment();
    for (const id of this.shown.slice(this.page * PAGE, (this.page + 1) * PAGE)) {
      const r = this.rows.get(id);
      r.tr = this.tr(r.c);
      frag.append(r.tr);
    }
    this.tbody.replaceChildren(frag);
    this.onPage(this.page, pages, this.shown.length);
  }

  // Applies a whole answer; returns how many controllers changed. A change
  // that keeps every row where it was only replaces the rows on screen that
  // changed; anything else (a row added or removed, a filter to re-judge)
  // redraws the page.
  apply(items, now) {
    this.now = now;
    let changed = 0, moved = false;
    const seen = new Set();
    const filtering = Object.values(this.filter).some(Boolean);
    for (const c of items) {
      seen.add(c.id);
      const s = sig(c);
      const r = this.rows.get(c.id);
      if (!r) {
        this.rows.set(c.id, { sig: s, c, tr: null });
        changed++;
        moved = true;
      } else if (r.sig !== s) {
        r.sig = s;
        r.c = c;
        changed++;
        if (filtering) moved = true;
        else if (r.tr) {
          const tr = this.tr(c);
          r.tr.replaceWith(tr);
          r.tr = tr;
        }
      } else {
        r.c = c;
      }
    }
    for (const id of this.rows.keys()) {
      if (!seen.has(id)) { this.rows.delete(id); changed++; moved = true; }
    }
    if (moved) this.draw();
    return changed;
  }

  refilter() { this.page = 0; this.draw(); }

  go(delta) { this.page = Math.max(0, this.page + delta); this.draw(); }

  // "3 min ago" moves on by itself; refreshed on a slow timer.
  retime(now) {
    for (const t of this.tbody.querySelectorAll('time[data-t]')) {
      const s = ago(Number(t.dataset.t), now);
      if (t.textContent !== s) t.textContent = s;
    }
  }
}

function options(sel, values, all) {
  const cur = sel.value;
  sel.replaceChildren(el('option', { value: '' }, all),
    ...values.map((v) => el('option', { value: v }, v)));
  sel.value = values.includes(cur) ? cur : '';
}

export async function render(main, ctx) {
  const tbody = el('tbody');
  const prev = el('button', { type: 'button' }, 'Previous');
  const next = el('button', { type: 'button' }, 'Next');
  const where = el('span', { 'aria-live': 'polite' });
  const view = new FleetView(tbody, (page, pages, n) => {
    where.textContent = `${n ? page * PAGE + 1 : 0}–${Math.min(n, (page + 1) * PAGE)} of ${n}`;
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  });
  prev.addEventListener('click', () => view.go(-1));
  next.addEventListener('click', () => view.go(1));
  const site = el('select', { name: 'site' });
  const state = el('select', { name: 'state' });
  const code = el('select', { name: 'code' });
  const q = el('input', { type: 'search', name: 'q', placeholder: 'name' });
  options(state, STATES, 'any state');
  const summary = el('p', { class: 'summary', 'aria-live': 'polite' });
  const updated = el('span', { class: 'muted' });
  const onFilter = () => {
    view.filter = { site: site.value, state: state.value, code: code.value,
                    q: q.value.trim().toLowerCase() };
    view.refilter();
  };
  for (const s of [site, state, code]) s.addEventListener('change', onFilter);
  q.addEventListener('input', onFilter);
  main.replaceChildren(
    el('h1', {}, 'Fleet'),
    summary,
    el('div', { class: 'filters', role: 'search' }, field('Site', site), field('State', state),
       field('KSE code', code), field('Controller', q), updated),
    el('div', { class: 'scroll', tabindex: 0 }, el('table', { id: 'fleet' },
      el('caption', {}, 'Controllers (updates by itself)'),
      el('thead', {}, el('tr', {}, ['Name', 'Site', 'Scope', 'Model', 'State', 'Last sync',
        'Applied / published', 'Clock offset', 'Firmware / protocol']
        .map((h) => el('th', { scope: 'col' }, h)))),
      tbody)),
    el('div', { class: 'pager' }, prev, where, next));

  const perf = (window.__ksFleet = { polls: 0, firstRenderMs: null, lastApplyMs: null,
                                     lastChanged: 0, view });
  let timer = null, retimer = null, alive = true;
  const t0 = performance.now();
  const poll = async () => {
    try {
      const f = await api('GET', '/v1/fleet');
      if (!alive) return;
      const a = performance.now();
      perf.lastChanged = view.apply(f.items, f.server_at);
      perf.lastApplyMs = performance.now() - a;
      if (perf.firstRenderMs === null) perf.firstRenderMs = performance.now() - t0;
      perf.polls++;
      const n = { ok: 0, degraded: 0, problem: 0, offline: 0 };
      const sites = new Set(), codes = new Set();
      for (const c of f.items) {
        n[c.state]++;
        if (c.site) sites.add(c.site);
        if (c.code) codes.add(c.code);
      }
      summary.replaceChildren(...STATES.map((s) => el('span', {}, badge(s), ` ${n[s]}`)),
                              el('span', {}, `${f.total} controllers`));
      if (perf.lastChanged) {
        options(site, [...sites].sort(), 'any site');
        options(code, [...codes].sort(), 'any code');
      }
      updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
      ctx.heartbeatMs = f.heartbeat_interval_ms || ctx.heartbeatMs;
    } catch (e) {
      if (e.code === 'KSE-741') { alive = false; return; }
      updated.textContent = `update failed: ${e.message}`;
    }
    if (alive) timer = setTimeout(poll, Math.max(500, Math.min(5000, ctx.heartbeatMs / 2)));
  };
  await poll();
  retimer = setInterval(() => view.retime(Date.now() / 1000), 15000);
  return () => { alive = false; clearTimeout(timer); clearInterval(retimer); };
}
