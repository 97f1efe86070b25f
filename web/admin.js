// admin.js - admin only: API tokens (scripts) and console operators
// (people). A new token is shown once; a password is typed by the admin and
// never shown again.
import { api, badge, el, field, iso, table, toast } from './lib.js';

const ROLES = ['auditor', 'operator', 'admin'];

function roleSel() {
  return el('select', { name: 'role' }, ROLES.map((r) => el('option', { value: r }, r)));
}

export async function render(main, ctx) {
  if (!ctx.can('admin')) {
    main.replaceChildren(el('p', {}, 'Tokens and operators are for admins.'));
    return;
  }
  const tokens = el('div', { class: 'scroll', tabindex: 0 });
  const ops = el('div', { class: 'scroll', tabindex: 0 });
  const shown = el('div');
  const act = async (method, path, body, what) => {
    try { await api(method, path, body); toast(what); await load(); }
    catch (e) { toast(`${what} refused: ${e.message}`, true); }
  };
  const load = async () => {
    const [t, o] = await Promise.all([api('GET', '/v1/tokens'), api('GET', '/v1/operators')]);
    tokens.replaceChildren(table('API tokens', ['Id', 'Name', 'Role', 'Created', 'State', ''],
      t.items.map((k) => el('tr', {}, el('td', { class: 'num' }, k.id), el('td', {}, k.name),
        el('td', {}, k.role), el('td', {}, iso(k.created_at)),
        el('td', {}, k.revoked ? badge('revoked') : badge('active')),
        el('td', {}, k.revoked ? '' : el('button', { type: 'button', class: 'danger',
          onclick: () => act('DELETE', `/v1/tokens/${k.id}`, undefined, `Token ${k.name} revoked`) },
          'Revoke'))))));
    ops.replaceChildren(table('Console operators',
      ['Id', 'Name', 'Role', 'Failed sign-ins', 'Locked until', 'Last sign-in', ''],
      o.items.map((p) => el('tr', { 'data-operator': p.name }, el('td', { class: 'num' }, p.id),
        el('td', {}, p.name), el('td', {}, p.role), el('td', { class: 'num' }, p.failures),
        el('td', {}, p.locked_until ? iso(p.locked_until) : '–'),
        el('td', {}, p.last_signin ? iso(p.last_signin) : 'never'),
        el('td', {}, el('div', { class: 'actions' },
          p.locked_until ? el('button', { type: 'button',
            onclick: () => act('POST', `/v1/operators/${p.id}/unlock`, {}, `${p.name} unlocked`) },
            'Unlock') : null,
          el('button', { type: 'button', class: 'danger', onclick: () => {
            if (window.confirm(`Remove operator ${p.name}?`))
              act('DELETE', `/v1/operators/${p.id}`, undefined, `${p.name} removed`);
          } }, 'Remove')))))));
  };
  const tName = el('input', { name: 'token_name', required: true });
  const tRole = roleSel();
  const tForm = el('form', { class: 'inline' }, field('Token name', tName), field('Role', tRole),
    el('button', { type: 'submit', class: 'primary' }, 'Create token'));
  tForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const t = await api('POST', '/v1/tokens', { name: tName.value, role: tRole.value });
      shown.replaceChildren(el('div', { class: 'secret', role: 'alert' },
        el('p', {}, el('strong', {}, 'Shown only now: '), 'copy this token into the script\'s token file.'),
        el('p', { class: 'mono' }, t.token)));
      tForm.reset();
      await load();
    } catch (e) { toast(`Token refused: ${e.message}`, true); }
  });
  const oName = el('input', { name: 'operator_name', required: true });
  const oRole = roleSel();
  const oPw = el('input', { name: 'operator_password', type: 'password', minlength: 10,
                            autocomplete: 'new-password', required: true });
  const oForm = el('form', { class: 'inline' }, field('Operator name', oName), field('Role', oRole),
    field('Password (10+ characters)', oPw),
    el('button', { type: 'submit', class: 'primary' }, 'Add operator'));
  oForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { name: oName.value, role: oRole.value, password: oPw.value };
    oPw.value = '';
    await act('POST', '/v1/operators', body, `Operator ${body.name} added`);
    oForm.reset();
  });
  main.replaceChildren(el('h1', {}, 'Tokens and operators'),
    el('section', { class: 'card' }, el('h2', {}, 'Console operators'), oForm, ops),
    el('section', { class: 'card' }, el('h2', {}, 'API tokens (for scripts)'), tForm, shown, tokens));
  await load();
}
