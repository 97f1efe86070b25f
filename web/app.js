// app.js - the console's shell: who is signed in, the sign-in form, the
// hash router (#/fleet, #/controller/7, #/keys, #/incidents, #/audit,
// #/admin), and role checks. Every datum comes from /v1 with the session
// cookie; the API decides what a role may do, the console only hides the
// buttons a role cannot use.
import { api, el, field, setCsrf, setOnExpired, toast } from './lib.js';

const ROLES = { auditor: 1, operator: 2, admin: 3 };
const pages = {
  fleet: () => import('./fleet.js'),
  controller: () => import('./controller.js'),
  keys: () => import('./keys.js'),
  incidents: () => import('./incidents.js'),
  audit: () => import('./audit.js'),
  admin: () => import('./admin.js'),
};

const ctx = {
  session: null,
  can(role) { return (ROLES[this.session?.role] || 0) >= ROLES[role]; },
  heartbeatMs: 5000,
};
let stop = null; // the current page's cleanup (timers)

function main() { return document.getElementById('main'); }

function showSignin(message) {
  if (stop) { stop(); stop = null; }
  ctx.session = null;
  setCsrf(null);
  document.getElementById('nav').hidden = true;
  document.getElementById('signout').hidden = true;
  document.getElementById('who').textContent = '';
  const name = el('input', { name: 'name', autocomplete: 'username', required: true });
  const pw = el('input', { name: 'password', type: 'password', autocomplete: 'current-password',
                           required: true });
  const msg = el('p', { class: 'error', role: 'alert', id: 'signin-error' }, message || '');
  const form = el('form', { class: 'signin card', 'aria-labelledby': 'signin-h' },
    el('h1', { id: 'signin-h' }, 'Sign in to keysup'),
    field('Operator name', name), field('Password', pw), msg,
    el('button', { class: 'primary', type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.textContent = '';
    try {
      const s = await api('POST', '/v1/session', { name: name.value, password: pw.value });
      pw.value = '';
      await start(s);
    } catch (e) {
      pw.value = '';
      msg.textContent = e.code === 'KSE-740'
        ? `Locked: too many failed sign-ins (KSE-740). ${e.message}`
        : e.code === 'KSE-743' ? 'Wrong operator name or password (KSE-743).' : e.message;
      pw.focus();
    }
  });
  main().replaceChildren(form);
  name.focus();
}

async function start(s) {
  const full = await api('GET', '/v1/session');
  if (!full.signed_in) { showSignin(); return; }
  ctx.session = full;
  ctx.heartbeatMs = full.heartbeat_interval_ms || 5000;
  setCsrf(full.csrf);
  document.getElementById('who').textContent = `${full.operator} (${full.role})`;
  document.getElementById('signout').hidden = false;
  const nav = document.getElementById('nav');
  nav.hidden = false;
  for (const a of nav.querySelectorAll('[data-role]')) a.hidden = !ctx.can(a.dataset.role);
  if (!location.hash || location.hash === '#/' || location.hash === '#') location.hash = '#/fleet';
  else route();
  void s;
}

async function route() {
  if (!ctx.session) return;
  const [, page = 'fleet', arg] = location.hash.replace(/^#\/?/, '#/').split('/');
  const load = pages[page] || pages.fleet;
  if (stop) { stop(); stop = null; }
  for (const a of document.querySelectorAll('#nav a')) {
    const cur = a.dataset.page === page || (page === 'controller' && a.dataset.page === 'fleet');
    if (cur) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const m = main();
  m.replaceChildren(el('p', {}, 'Loading…'));
  try {
    const mod = await load();
    stop = (await mod.render(m, ctx, arg ? decodeURIComponent(arg) : null)) || null;
    m.focus({ preventScroll: true });
  } catch (e) {
    if (e.code === 'KSE-741') return;
    m.replaceChildren(el('p', { class: 'error', role: 'alert' }, `Could not load: ${e.message}`));
  }
}

setOnExpired(() => showSignin('Your session has ended (KSE-741); sign in again.'));
window.addEventListener('hashchange', route);
document.getElementById('signout').addEventListener('click', async () => {
  try { await api('DELETE', '/v1/session'); } catch (e) { toast(e.message, true); }
  showSignin('Signed out.');
});

(async () => {
  try {
    const s = await api('GET', '/v1/session');
    if (s.signed_in) await start(s); else showSignin();
  } catch (e) {
    main().replaceChildren(el('p', { class: 'error' }, `keysupd does not answer: ${e.message}`));
  }
})();
