// keys.js - keys and holders: search by holder, label, privilege and
// state; enrol (paste a public key, or have the supervisor generate one
// and download its key file once, sealed under a passphrase); grant and revoke privileges, suspend,
// resume, revoke, validity. A key is always shown with its holder and label.
import { api, badge, el, field, getCsrf, iso, table, toast } from './lib.js';

const PRIVS = ['OPERATOR', 'SUPERVISOR', 'ADMIN', 'CALIBRATE', 'REFUND', 'VOID', 'Z_REPORT',
  'OVERRIDE', 'FIRMWARE', 'PRICE', 'PARAMETER', 'USER_MGMT'];

function sel(name, values, first) {
  return el('select', { name }, first ? el('option', { value: '' }, first) : null,
    values.map((v) => (Array.isArray(v) ? el('option', { value: v[0] }, v[1])
                                        : el('option', { value: v }, v))));
}

function download(name, blob) {
  const a = el('a', { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

function enrolForm(holders, reload) {
  const holder = sel('holder', holders.map((h) => [String(h.id), h.name]), 'new holder…');
  const newHolder = el('input', { name: 'new_holder', placeholder: 'holder name' });
  const label = el('input', { name: 'label', placeholder: 'e.g. front door card' });
  const pk = el('textarea', { name: 'public_key', placeholder: '64 hex digits (Ed25519 public key)' });
  const gen = el('input', { type: 'checkbox', name: 'generate' });
  const pass = el('input', { type: 'password', name: 'keyfile_passphrase', minlength: 10,
                             autocomplete: 'new-password' });
  const scope = el('input', { name: 'scope', type: 'number', min: 0, value: 0 });
  const until = el('input', { name: 'valid_until', type: 'date' });
  const privs = PRIVS.map((p) => el('label', {}, el('input', { type: 'checkbox', value: p,
                                                               name: 'priv' }), ` ${p} `));
  const form = el('form', { class: 'card', id: 'enrol', 'aria-labelledby': 'enrol-h' },
    el('h2', { id: 'enrol-h' }, 'Enrol a key'),
    el('div', { class: 'filters' }, field('Holder', holder), field('New holder name', newHolder),
       field('Label', label), field('Scope (0 = all)', scope), field('Valid until', until)),
    el('fieldset', {}, el('legend', {}, 'Privileges'), privs),
    field('Public key', pk),
    el('label', {}, gen, ' Generate the key here instead: its key file is downloaded once'),
    field('Key file passphrase (10+ characters; empty: a plain file, as secret as the key)', pass),
    el('p', {}, el('button', { type: 'submit', class: 'primary' }, 'Enrol')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      let hid = Number(holder.value);
      if (!hid) {
        if (!newHolder.value.trim()) throw new Error('choose a holder or type a new name');
        hid = (await api('POST', '/v1/holders', { name: newHolder.value.trim() })).id;
      }
      const body = { holder_id: hid, label: label.value, scope: Number(scope.value) || 0,
        privileges: privs.map((l) => l.firstChild).filter((c) => c.checked).map((c) => c.value) };
      if (until.value) body.valid_until = Math.floor(Date.parse(`${until.value}T23:59:59Z`) / 1000);
      if (gen.checked) body.generate = true; else body.public_key = pk.value.trim();
      const k = await api('POST', '/v1/keys', body);
      if (k.secret_seed) {
        // The only copy of the secret becomes a key file (docs/keyfile.md),
        // sealed under the passphrase when one was typed; keysupd keeps neither.
        const body = { secret_seed: k.secret_seed };
        if (pass.value) body.passphrase = pass.value;
        pass.value = '';
        const r = await fetch('/v1/keyfile', { method: 'POST', credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json', 'X-Keysup-CSRF': getCsrf() },
          body: JSON.stringify(body) });
        if (!r.ok) throw new Error(`key ${k.key_id} is enrolled, but its key file failed (HTTP ${r.status})`);
        download(`${(k.holder || 'key').replace(/[^A-Za-z0-9_-]+/g, '-')}-${k.key_id.slice(0, 8)}.key`,
                 await r.blob());
        toast(`Key ${k.key_id.slice(0, 8)}… enrolled; its key file was downloaded (the only copy).`);
      } else {
        toast(`Key ${k.key_id.slice(0, 8)}… enrolled for ${k.holder || 'holder'}.`);
      }
      form.reset();
      await reload();
    } catch (e) { toast(`Enrol refused: ${e.message}`, true); }
  });
  return form;
}

function keyActions(k, reload) {
  const act = async (path, body, what) => {
    try {
      await api('POST', `/v1/keys/${k.key_id}/${path}`, body ?? {});
      toast(`${what}: ${k.holder || k.key_id}`);
      await reload();
    } catch (e) { toast(`${what} refused: ${e.message}`, true); }
  };
  if (k.state === 'revoked') return el('span', { class: 'muted' }, 'final');
  const priv = sel('priv', PRIVS);
  priv.setAttribute('aria-label', `privilege for ${k.holder || k.key_id}`);
  const until = el('input', { type: 'date', 'aria-label': `valid until for ${k.holder || k.key_id}`,
                              value: k.valid_until ? iso(k.valid_until).slice(0, 10) : null });
  return el('div', { class: 'actions' },
    k.state === 'suspended'
      ? el('button', { type: 'button', onclick: () => act('resume', null, 'Resumed') }, 'Resume')
      : el('button', { type: 'button', onclick: () => act('suspend', null, 'Suspended') }, 'Suspend'),
    el('button', { type: 'button', class: 'danger', 'data-action': 'revoke', onclick: () => {
      if (window.confirm(`Revoke this key of ${k.holder || 'no holder'}? This is final.`))
        act('revoke', null, 'Revoked');
    } }, 'Revoke'),
    priv,
    el('button', { type: 'button', onclick: () => act('grant', { privileges: [priv.value] }, 'Granted') },
       'Grant'),
    el('button', { type: 'button', onclick: () => act('revoke-privilege',
      { privileges: [priv.value] }, 'Privilege revoked') }, 'Take away'),
    until,
    el('button', { type: 'button', onclick: () => act('validity', {
      valid_from: k.valid_from || 0,
      valid_until: until.value ? Math.floor(Date.parse(`${until.value}T23:59:59Z`) / 1000) : 0,
    }, 'Validity set') }, 'Set validity'));
}

export async function render(main, ctx) {
  const holderQ = el('input', { type: 'search', name: 'holder', placeholder: 'holder' });
  const labelQ = el('input', { type: 'search', name: 'label', placeholder: 'label' });
  const priv = sel('privilege', PRIVS, 'any privilege');
  const state = sel('state', ['active', 'suspended', 'revoked'], 'any state');
  const list = el('div', { class: 'scroll', tabindex: 0 });
  const enrolBox = el('div');
  const reload = async () => {
    const q = new URLSearchParams({ limit: '1000' });
    if (priv.value) q.set('privilege', priv.value);
    if (state.value) q.set('state', state.value);
    const [keys, holders] = await Promise.all([api('GET', `/v1/keys?${q}`),
                                               api('GET', '/v1/holders')]);
    const hq = holderQ.value.trim().toLowerCase(), lq = labelQ.value.trim().toLowerCase();
    const rows = keys.items.filter((k) => (!hq || (k.holder || '').toLowerCase().includes(hq)) &&
                                         (!lq || (k.label || '').toLowerCase().includes(lq)));
    list.replaceChildren(table(`Keys (${rows.length} of ${keys.total})`,
      ['Holder', 'Label', 'Key id', 'Privileges', 'State', 'Valid', 'Scope',
       ctx.can('operator') ? 'Actions' : null].filter(Boolean),
      rows.map((k) => el('tr', { 'data-key': k.key_id, 'data-state': k.state },
        el('td', {}, k.holder || el('span', { class: 'muted' }, 'no holder')),
        el('td', {}, k.label || ''),
        el('td', { class: 'mono', title: k.key_id }, `${k.key_id.slice(0, 12)}…`),
        el('td', {}, (k.privileges || []).join(', ')),
        el('td', {}, badge(k.state)),
        el('td', {}, `${k.valid_from ? iso(k.valid_from).slice(0, 10) : '…'} – ` +
                     `${k.valid_until ? iso(k.valid_until).slice(0, 10) : 'no end'}`),
        el('td', { class: 'num' }, k.scope),
        ctx.can('operator') ? el('td', {}, keyActions(k, reload)) : null))));
    if (ctx.can('operator') && !enrolBox.firstChild)
      enrolBox.append(enrolForm(holders.items || [], reload));
  };
  for (const c of [priv, state]) c.addEventListener('change', () => reload().catch(() => {}));
  for (const c of [holderQ, labelQ]) c.addEventListener('input', () => reload().catch(() => {}));
  main.replaceChildren(el('h1', {}, 'Keys and holders'),
    el('div', { class: 'filters', role: 'search' }, field('Holder', holderQ), field('Label', labelQ),
       field('Privilege', priv), field('State', state)),
    list, enrolBox);
  await reload();
}
