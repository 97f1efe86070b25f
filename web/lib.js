// lib.js - what every console page shares: the /v1 API client (session
// cookie + CSRF token), a small DOM builder, and human times.

let csrf = null;
export function setCsrf(t) { csrf = t; }
export function getCsrf() { return csrf; }

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Called when the session has ended (KSE-741): the app shows the sign-in.
let onExpired = () => {};
export function setOnExpired(fn) { onExpired = fn; }

// One API call; answers the parsed JSON or throws ApiError.
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['X-Keysup-CSRF'] = csrf;
  const r = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let j = null;
  try { j = await r.json(); } catch (e) { j = null; }
  if (!r.ok) {
    const err = new ApiError(r.status, j?.error?.code || `HTTP ${r.status}`,
                             j?.error?.message || r.statusText);
    if (r.status === 401 && err.code === 'KSE-741') onExpired();
    throw err;
  }
  return j;
}

// Boxes that scroll sideways (class "scroll") carry tabindex 0: keyboard
// users can scroll them too.
// el('tr', {class: 'x', onclick: fn}, child, 'text', ...): children may be
// nodes, strings, numbers, null (skipped) or arrays of those.
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (v === true) e.setAttribute(k, '');
    else e.setAttribute(k, String(v));
  }
  append(e, children);
  return e;
}

function append(e, c) {
  if (c === null || c === undefined || c === false) return;
  if (Array.isArray(c)) { c.forEach((x) => append(e, x)); return; }
  e.append(c instanceof Node ? c : document.createTextNode(String(c)));
}

// "3 min ago", "in 2 h", "never"; secs and now are unix seconds.
export function ago(secs, now) {
  if (!secs) return 'never';
  const d = Math.round((now ?? Date.now() / 1000) - secs);
  const a = Math.abs(d);
  let t;
  if (a < 5) return 'just now';
  if (a < 60) t = `${a} s`;
  else if (a < 3600) t = `${Math.floor(a / 60)} min`;
  else if (a < 86400) t = `${Math.floor(a / 3600)} h`;
  else t = `${Math.floor(a / 86400)} d`;
  return d >= 0 ? `${t} ago` : `in ${t}`;
}

export function iso(secs) {
  return secs ? new Date(secs * 1000).toISOString().replace('.000Z', 'Z') : '';
}

// A <time> element: human text, the full ISO time on hover.
export function timeEl(secs, now) {
  return el('time', { datetime: iso(secs) || null, title: iso(secs) || null }, ago(secs, now));
}

// Milliseconds as "850 ms", "12.3 s", "4.2 min", "1.5 h".
export function dur(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3600000) return `${(ms / 60000).toFixed(1)} min`;
  return `${(ms / 3600000).toFixed(1)} h`;
}

// A state or severity badge.
export function badge(state, text) {
  return el('span', { class: `badge badge-${state}` }, text ?? state);
}

// Shows a message in the live region (screen readers announce it).
export function toast(msg, bad) {
  const t = document.getElementById('toast');
  t.textContent = msg;
  t.className = bad ? 'bad' : 'good';
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.textContent = ''; t.className = ''; }, 6000);
}

// A labelled form control.
export function field(label, control) {
  const id = control.id || `f-${Math.random().toString(36).slice(2)}`;
  control.id = id;
  return el('div', { class: 'field' }, el('label', { for: id }, label), control);
}

export function table(caption, heads, rows, cls) {
  return el('table', { class: cls || null },
    el('caption', {}, caption),
    el('thead', {}, el('tr', {}, heads.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rows));
}

// "Alice Smith · front door card" for a row with holder and label.
export function keyLabel(k, id) {
  if (!k) return id ? `unknown key ${id.slice(0, 8)}…` : '–';
  const who = k.holder || 'no holder';
  return k.label ? `${who} · ${k.label}` : who;
}
