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
    el('td', { class: 'hide-narrow' }, c.model || '–'),
    el('td', { class: 'state' }, badge(c.state), ' ',
       c.code ? el('span', { class: 'code', title: c.title || '' }, c.code) : null),
    el('td', { class: 'sync' }, c.last_sync
      ? el('time', { datetime: iso(c.last_sync), title: iso(c.last_sync), 'data-t': c.last_sync },
           ago(c.last_sync, now))
      : 'never'),
    el('td', { class: 'num' }, `${c.applied_version ?? '–'} / ${c.published_version ?? '–'}`,
       c.in_sync || c.applied_version == null ? null : el('span', { class: 'muted' }, ' behind')),
    el('td', { class: 'num' }, c.clock_offset == null ? '–' : `${c.clock_offset} s`),
    el('td', { class: 'hide-narrow' }, `${c.firmware_version || '–'} / ${c.protocol_version ?? '–'}`),
  ];
}

// The fleet table's model: rows by id, so that an update finds its row.
export class FleetView {
  constructor(tbody) {
    this.tbody = tbody;
    this.rows = new Map(); // id -> {sig, tr, c}
    this.filter = { site: '', state: '', code: '', q: '' };
  }

  visible(c) {
    const f = this.filter;
    return (!f.site || c.site === f.site) && (!f.state || c.state === f.state) &&
      (!f.code || c.code === f.code) && (!f.q || c.name.toLowerCase().includes(f.q));
  }

  row(c, now) {
    const tr = el('tr', { 'data-id': c.id, 'data-state': c.state, 'data-code': c.code || '',
                          'data-name': c.name }, cells(c, now));
    if (!this.visible(c)) tr.classList.add('hidden');
    return tr;
  }

  // Applies a whole answer; returns how many rows changed.
  apply(items, now) {
    let changed = 0;
    const seen = new Set();
    const frag = document.createDocumentFragment();
    for (const c of items) {
      seen.add(c.id);
      const s = sig(c);
      const r = this.rows.get(c.id);
      if (!r) {
        const tr = this.row(c, now);
        this.rows.set(c.id, { sig: s, tr, c });
        frag.append(tr);
        changed++;
      } else if (r.sig !== s) {
        const tr = this.row(c, now);
        r.tr.replaceWith(tr);
        r.tr = tr; r.sig = s; r.c = c;
        changed++;
      } else {
        r.c = c;
      }
    }
    if (frag.childNodes.length) this.tbody.append(frag);
    for (const [id, r] of this.rows) {
      if (!seen.has(id)) { r.tr.remove(); this.rows.delete(id); changed++; }
    }
    return changed;
  }

  refilter() {
    for (const r of this.rows.values()) r.tr.classList.toggle('hidden', !this.visible(r.c));
  }

  // "3 min ago" moves on by itself; refreshed on a slow timer.
  retime(now) {
    for (const t of this.tbody.querySelectorAll('tr:not(.hidden) time[data-t]')) {
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
  const view = new FleetView(tbody);
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
    el('div', { class: 'scroll' }, el('table', { id: 'fleet' },
      el('caption', {}, 'Controllers (updates by itself)'),
      el('thead', {}, el('tr', {}, ['Name', 'Site', 'Scope', 'Model', 'State', 'Last sync',
        'Applied / published', 'Clock offset', 'Firmware / protocol']
        .map((h) => el('th', { scope: 'col' }, h)))),
      tbody)));

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
