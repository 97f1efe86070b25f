// incidents.js - open and resolved incidents per site and code, with MTTD
// (first evidence to detection) and MTTR (detection to resolution), and two
// charts: MTTD/MTTR per KSE code and incidents over time.
import { api, badge, dur, el, field, table, timeEl } from './lib.js';
import { bars, columns } from './chart.js';

function overTime(items) {
  const ts = items.map((i) => i.detected_at).filter(Boolean);
  if (!ts.length) return [];
  const lo = Math.min(...ts), hi = Math.max(...ts);
  const step = hi - lo > 2 * 86400 ? 86400 : 3600; // days, or hours for a short span
  const start = Math.floor(lo / step) * step;
  const n = Math.min(60, Math.floor((hi - start) / step) + 1);
  const pts = Array.from({ length: n }, (_, i) => {
    const d = new Date((start + i * step) * 1000).toISOString();
    return { label: step === 86400 ? d.slice(5, 10) : d.slice(11, 16), value: 0 };
  });
  for (const t of ts) {
    const i = Math.min(n - 1, Math.floor((t - start) / step));
    pts[i].value++;
  }
  return pts;
}

export async function render(main) {
  const state = el('select', { name: 'state' }, el('option', { value: '' }, 'open and resolved'),
    el('option', { value: 'open' }, 'open'), el('option', { value: 'resolved' }, 'resolved'));
  const site = el('select', { name: 'site' });
  const code = el('select', { name: 'code' });
  const out = el('div');
  let all = [], stats = [], sites = new Map(), names = new Map();
  const draw = () => {
    const rows = all.filter((i) => (!state.value || i.state === state.value) &&
      (!site.value || sites.get(i.controller_id) === site.value) &&
      (!code.value || i.code === code.value));
    const withStats = stats.filter((x) => x.mttd_ms != null || x.mttr_ms != null);
    out.replaceChildren(
      el('div', { class: 'grid2' },
        el('section', { class: 'card' }, el('h2', {}, 'MTTD and MTTR per KSE code'),
          el('p', { class: 'legend' }, el('span', {}, el('span', { class: 'sw sw-mttd' }), 'MTTD'),
             el('span', {}, el('span', { class: 'sw sw-mttr' }), 'MTTR')),
          bars('MTTD and MTTR per KSE code', withStats.map((x) => ({ label: x.code,
            values: [x.mttd_ms, x.mttr_ms] })),
          [{ name: 'MTTD', color: '#0b5cad' }, { name: 'MTTR', color: '#d4a72c' }], dur)),
        el('section', { class: 'card' }, el('h2', {}, 'Incidents over time'),
          columns('Incidents detected over time', overTime(rows)))),
      el('section', { class: 'card scroll', tabindex: 0 }, table('MTTD and MTTR per code',
        ['Code', 'Incidents', 'Open', 'MTTD', 'MTTR'], stats.map((x) => el('tr', {},
          el('td', { class: 'code' }, x.code), el('td', { class: 'num' }, x.count ?? x.incidents ?? ''),
          el('td', { class: 'num' }, x.open ?? ''), el('td', { class: 'num' }, dur(x.mttd_ms)),
          el('td', { class: 'num' }, dur(x.mttr_ms)))))),
      el('section', { class: 'card scroll', tabindex: 0 }, table(`Incidents (${rows.length})`,
        ['Id', 'Controller', 'Site', 'Code', 'Title', 'State', 'Detected', 'MTTD', 'MTTR'],
        rows.map((i) => el('tr', { 'data-code': i.code, 'data-state': i.state },
          el('td', { class: 'num' }, i.id),
          el('td', {}, el('a', { href: `#/controller/${i.controller_id}` },
            names.get(i.controller_id) || `#${i.controller_id}`)),
          el('td', {}, sites.get(i.controller_id) || '–'),
          el('td', { class: 'code' }, i.code), el('td', {}, i.title),
          el('td', {}, badge(i.state)), el('td', {}, timeEl(i.detected_at)),
          el('td', { class: 'num' }, dur(i.mttd_ms)), el('td', { class: 'num' }, dur(i.mttr_ms)))))));
  };
  for (const c of [state, site, code]) c.addEventListener('change', draw);
  main.replaceChildren(el('h1', {}, 'Incidents'),
    el('div', { class: 'filters', role: 'search' }, field('State', state), field('Site', site),
       field('KSE code', code)), out);
  const [inc, st, fleet] = await Promise.all([api('GET', '/v1/incidents?limit=1000'),
    api('GET', '/v1/incidents/stats'), api('GET', '/v1/fleet')]);
  all = inc.items || [];
  stats = st.items || [];
  for (const c of fleet.items) { sites.set(c.id, c.site || ''); names.set(c.id, c.name); }
  const opts = (sel, vals, first) => sel.replaceChildren(el('option', { value: '' }, first),
    ...vals.map((v) => el('option', { value: v }, v)));
  opts(site, [...new Set([...sites.values()].filter(Boolean))].sort(), 'any site');
  opts(code, [...new Set(all.map((i) => i.code))].sort(), 'any code');
  draw();
}
