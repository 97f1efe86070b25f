// audit.js - the supervisor's audit log: filtered, paged, exported as CSV
// (every matching row, fetched page by page); and the privileged-action
// catalogue (policies).
import { api, el, field, iso, table, toast } from './lib.js';

const PAGE = 100;
const COLS = ['id', 'ts', 'actor', 'action', 'target', 'result', 'code', 'detail'];

function query(f, offset, limit) {
  const q = new URLSearchParams({ limit: String(limit), offset: String(offset) });
  for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
  return `/v1/audit?${q}`;
}

function csvCell(v) {
  const s = v === null || v === undefined ? '' : String(v);
  // Quotes always; a leading = + - @ (or a tab or CR, which spreadsheets
  // skip before a formula) is defused so a spreadsheet never runs it.
  return `"${(/^[=+\-@\t\r]/.test(s) ? `'${s}` : s).replace(/"/g, '""')}"`;
}

export async function render(main) {
  const actor = el('input', { name: 'actor', type: 'search' });
  const action = el('input', { name: 'action', type: 'search' });
  const result = el('select', { name: 'result' }, el('option', { value: '' }, 'any'),
    el('option', { value: 'ok' }, 'ok'), el('option', { value: 'denied' }, 'denied'),
    el('option', { value: 'failed' }, 'failed'));
  const since = el('input', { name: 'since', type: 'date' });
  const until = el('input', { name: 'until', type: 'date' });
  const list = el('div', { class: 'scroll', tabindex: 0 });
  const pager = el('div', { class: 'pager' });
  let offset = 0;
  const filters = () => ({
    actor: actor.value.trim(), action: action.value.trim(), result: result.value,
    since: since.value ? String(Date.parse(`${since.value}T00:00:00Z`) / 1000) : '',
    until: until.value ? String(Date.parse(`${until.value}T23:59:59Z`) / 1000) : '',
  });
  const load = async () => {
    const a = await api('GET', query(filters(), offset, PAGE));
    list.replaceChildren(table(`Audit (${a.total ?? a.items.length} rows)`,
      ['Time', 'Actor', 'Action', 'Target', 'Result', 'Code', 'Detail'],
      a.items.map((r) => el('tr', {}, el('td', {}, el('time', { title: iso(r.ts) }, iso(r.ts))),
        el('td', {}, r.actor), el('td', {}, r.action), el('td', {}, r.target || ''),
        el('td', {}, r.result), el('td', { class: 'code' }, r.code || ''),
        el('td', {}, r.detail || '')))));
    const total = a.total ?? offset + a.items.length;
    pager.replaceChildren(
      el('button', { type: 'button', disabled: offset === 0,
                     onclick: () => { offset = Math.max(0, offset - PAGE); load(); } }, 'Newer'),
      el('span', {}, `${total ? offset + 1 : 0}–${offset + a.items.length} of ${total}`),
      el('button', { type: 'button', disabled: offset + PAGE >= total,
                     onclick: () => { offset += PAGE; load(); } }, 'Older'));
  };
  const exportCsv = async () => {
    const rows = [COLS.join(',')];
    const f = filters();
    for (let off = 0; off < 100000; off += 1000) {
      const a = await api('GET', query(f, off, 1000));
      for (const r of a.items) rows.push(COLS.map((c) => csvCell(c === 'ts' ? iso(r.ts) : r[c])).join(','));
      if (a.items.length < 1000) break;
    }
    const link = el('a', { href: URL.createObjectURL(new Blob([rows.join('\r\n') + '\r\n'],
      { type: 'text/csv' })), download: 'keysup-audit.csv' });
    document.body.append(link);
    link.click();
    setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
    toast(`Exported ${rows.length - 1} audit rows.`);
  };
  const form = el('form', { class: 'filters', role: 'search' }, field('Actor', actor),
    field('Action', action), field('Result', result), field('Since', since), field('Until', until),
    el('button', { type: 'submit', class: 'primary' }, 'Filter'),
    el('button', { type: 'button', onclick: () => exportCsv().catch((e) => toast(e.message, true)) },
       'Export CSV'));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); offset = 0; load(); });
  const pol = await api('GET', '/v1/policies');
  main.replaceChildren(el('h1', {}, 'Audit'), form, pager, list,
    el('section', { class: 'card scroll', tabindex: 0 }, table('Policies: the privileged-action catalogue',
      ['Action', 'Title', 'Required privileges', 'Two supervisors', 'Session timeout', 'Seal blocked'],
      (pol.items || []).map((p) => el('tr', {}, el('td', { class: 'mono' }, p.name), el('td', {}, p.title),
        el('td', {}, (p.required_privileges || []).join ? p.required_privileges.join(', ')
                                                         : String(p.required_privileges)),
        el('td', {}, p.two_supervisors ? 'yes' : 'no'), el('td', {}, `${p.session_timeout} s`),
        el('td', {}, p.seal_blocked ? 'yes' : 'no'))))));
  await load();
}
