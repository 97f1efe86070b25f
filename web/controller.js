// controller.js - the Hardware Management page of one controller: state,
// last health report, open incidents with root cause, evidence and ordered
// steps (GET /v1/controllers/{id}/diagnosis), the remediation buttons,
// command history, and the newest decisions and refusals the controller
// uploaded (GET /v1/controllers/{id}/decisions: with holder and label).
// Refreshed once per heartbeat.
import { api, badge, el, iso, keyLabel, table, timeEl, toast } from './lib.js';

const COMMANDS = [
  ['initialize', 'Initialize Terminal', 'Download the whole credential database again'],
  ['time_sync', 'Sync Time', 'Set the controller clock from the supervisor'],
  ['unlock', 'Unlock', 'Clear the reader lockout'],
  ['clear_pending', 'Clear Pending Transactions', 'Drop the transaction the terminal is stuck on'],
  ['replace_credential', 'Replace Supervisor Credential',
   'Authorise the current supervisor key on this controller with a one-time code'],
];

function kv(obj) {
  const rows = Object.entries(obj || {}).filter(([, v]) => typeof v !== 'object' || v === null);
  if (!rows.length) return el('p', { class: 'muted' }, 'No report yet.');
  // Unix seconds under time-like names are shown as ISO times.
  const show = (k, v) => (typeof v === 'number' && v > 1e9 && /(^time$|_sync$|_contact$|_at$)/.test(k)
    ? iso(v) : String(v));
  return el('dl', { class: 'kv' }, rows.filter(([k]) => !k.endsWith('_utc'))
    .map(([k, v]) => [el('dt', {}, k), el('dd', {}, show(k, v))]));
}

function findings(diag) {
  const out = [];
  for (const a of diag.areas || []) {
    for (const f of a.findings || []) {
      if (!f.root_cause && f.role !== 'evidence' && !f.incident) continue;
      out.push(el('article', { class: 'card finding', 'data-code': f.code },
        el('h3', {}, badge(f.severity), ' ', el('span', { class: 'code' }, f.code), ` ${f.title}`),
        el('p', {}, el('strong', {}, f.root_cause ? 'Root cause' : f.role === 'evidence'
          ? 'Evidence' : 'Symptom'), f.symptom_of ? ` of ${f.symptom_of}` : '', ` (${a.area})`),
        f.cause ? el('p', {}, f.cause) : null,
        f.evidence ? el('p', { class: 'muted' }, `Evidence: ${f.evidence}`) : null,
        f.repair ? el('p', {}, `Automatic repair: ${f.repair}`) : null,
        f.steps?.length ? el('ol', { class: 'steps' }, f.steps.map((s) => el('li', {}, s))) : null));
    }
  }
  return out.length ? out : [el('p', {}, badge('ok'), ' No open problem.')];
}

function secretBox(cmd, a) {
  return el('div', { class: 'secret', role: 'alert', id: 'one-time-code' },
    el('p', {}, el('strong', {}, 'Shown only now. '),
       'Read both to the technician at the controller: it shows the fingerprint first, ' +
       'and only then asks for the code.'),
    el('p', {}, 'One-time code: ', el('span', { class: 'big' }, a.one_time_code)),
    el('p', {}, 'Key fingerprint: ', el('span', { class: 'mono' }, a.new_key_fingerprint)),
    el('p', { class: 'muted' }, `Command ${cmd} queued.`));
}

export async function render(main, ctx, id) {
  const head = el('div');
  const body = el('div');
  const secret = el('div');
  let alive = true, timer = null;

  const send = async (command, title) => {
    if (!window.confirm(`${title} on this controller?`)) return;
    try {
      const a = await api('POST', `/v1/controllers/${id}/commands`, { command, args: {} });
      toast(`${title}: queued (command ${a.id})`);
      secret.replaceChildren(a.one_time_code ? secretBox(a.id, a) : '');
      await load();
    } catch (e) { toast(`${title} refused: ${e.message}`, true); }
  };
  const buttons = ctx.can('operator')
    ? el('section', { class: 'card', 'aria-labelledby': 'act-h' },
        el('h2', { id: 'act-h' }, 'Actions'),
        el('div', { class: 'actions' }, COMMANDS.map(([c, t, help]) =>
          el('button', { type: 'button', class: c === 'replace_credential' ? 'danger' : 'primary',
                         'data-command': c, title: help, onclick: () => send(c, t) }, t))),
        secret)
    : null;

  const load = async () => {
    const [c, fleet, diag, cmds, audit] = await Promise.all([
      api('GET', `/v1/controllers/${id}`),
      api('GET', `/v1/fleet?id=${encodeURIComponent(id)}`),
      api('GET', `/v1/controllers/${id}/diagnosis`),
      api('GET', `/v1/controllers/${id}/commands`),
      api('GET', `/v1/controllers/${id}/decisions?limit=50`),
    ]);
    const f = fleet.items[0] || {};
    const now = fleet.server_at;
    head.replaceChildren(
      el('h1', {}, `Controller ${c.name} `, el('span', { id: 'ctl-state', 'data-state': f.state,
        'data-code': f.code || '' }, badge(f.state || 'offline'), f.code ? ` ${f.code}` : '')),
      el('dl', { class: 'kv card' },
        el('dt', {}, 'Site'), el('dd', {}, c.site || '–'),
        el('dt', {}, 'Model'), el('dd', {}, c.model || '–'),
        el('dt', {}, 'Scope'), el('dd', {}, c.scope),
        el('dt', {}, 'Last sync'), el('dd', {}, timeEl(c.last_sync, now)),
        el('dt', {}, 'Last seen'), el('dd', {}, timeEl(c.last_seen, now)),
        el('dt', {}, 'Applied / published version'),
        el('dd', {}, `${c.applied_version ?? '–'} / ${c.published_version ?? '–'}`),
        el('dt', {}, 'Clock offset'), el('dd', {}, c.clock_offset == null ? '–' : `${c.clock_offset} s`),
        el('dt', {}, 'Firmware / protocol'),
        el('dd', {}, `${c.firmware_version || '–'} / ${c.protocol_version ?? '–'}`),
        el('dt', {}, 'Reader lockout'), el('dd', {}, c.lockout ? 'locked' : 'no')));
    const recs = audit.items || [];
    body.replaceChildren(
      el('section', { class: 'card', 'aria-labelledby': 'diag-h', id: 'diagnosis' },
        el('h2', { id: 'diag-h' }, `Diagnosis: ${diag.verdict}`), findings(diag)),
      el('div', { class: 'grid2' },
        el('section', { class: 'card', 'aria-labelledby': 'hr-h' },
          el('h2', { id: 'hr-h' }, 'Last health report'), kv(c.last_health)),
        el('section', { class: 'card scroll', tabindex: 0 },
          table('Command history', ['Command', 'State', 'By', 'Queued', 'Result'],
            (cmds.items || []).map((m) => el('tr', { 'data-command': m.command, 'data-state': m.state },
              el('td', {}, m.command), el('td', {}, badge(m.state)), el('td', {}, m.created_by || ''),
              el('td', {}, timeEl(m.created_at, now)), el('td', {}, m.result || '')))))),
      el('section', { class: 'card scroll', tabindex: 0 },
        table('Recent decisions and refusals (uploaded by the controller)',
          ['Time', 'Key', 'Action', 'Decision', 'Code', 'Reader'],
          recs.map((r) => {
            const d = r.record || {};
            return el('tr', { class: 'decision', 'data-granted': String(!!d.granted),
                              'data-code': d.code || '' },
              el('td', {}, el('time', { title: iso(d.time) }, iso(d.time))),
              el('td', { title: d.key_id || '' }, r.enrolled ? keyLabel(r, d.key_id)
                : d.key_id ? `not enrolled here (${d.key_id.slice(0, 8)}…)` : '–'),
              el('td', {}, d.action || d.event || ''),
              el('td', {}, d.granted ? badge('ok', 'GRANTED') : badge('problem', 'REFUSED')),
              el('td', { class: 'code' }, d.code || ''), el('td', {}, d.reader || ''));
          }), 'decisions')));
  };

  main.replaceChildren(el('p', {}, el('a', { href: '#/fleet' }, '← Fleet')), head, buttons, body);
  await load();
  const tick = async () => {
    try { await load(); } catch (e) { if (e.code === 'KSE-741') { alive = false; return; } }
    if (alive) timer = setTimeout(tick, Math.max(500, Math.min(5000, ctx.heartbeatMs / 2)));
  };
  timer = setTimeout(tick, Math.max(500, Math.min(5000, ctx.heartbeatMs / 2)));
  return () => { alive = false; clearTimeout(timer); };
}
