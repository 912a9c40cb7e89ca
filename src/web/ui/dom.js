// DOM helpers of the dashboard. Every piece of data reaches the page through textContent or an
// attribute set with setAttribute — never innerHTML — so task names, log lines and tracebacks
// are shown as text whatever they contain.
/* global Node, URLSearchParams, document */

/**
 * Creates an element: h('a', { href: '#/x', class: 'c' }, 'text', child…). Attributes starting
 * with "on" take a listener; `dataset` takes an object; null/undefined/false children are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'selected') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A table: headers and rows of cells (strings, numbers or nodes). */
export function table(headers, rows, attrs = {}) {
  return h(
    'table',
    attrs,
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((t) => h('th', {}, t)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((r) =>
        r instanceof Node
          ? r
          : h(
              'tr',
              {},
              r.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : h('td', {}, c))),
            ),
      ),
    ),
  );
}

/** Milliseconds as "0.21 ms", "4.5 ms", "412 ms", "3.2 s", "4 min 3 s". */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '–';
  // Short tasks (a null task, a cached step) take well under a millisecond: keep two figures.
  if (ms > 0 && ms < 1) return `${Number(ms.toPrecision(2))} ms`;
  if (ms < 10) return `${Number(ms.toFixed(1))} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Epoch ms as local date and time. */
export function time(ms) {
  if (ms === null || ms === undefined) return '–';
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Bytes as "1.2 MB". */
export function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(v >= 10 ? 0 : 1)} ${units[u]}`;
}

/** A number with thousands separators. */
export function count(n) {
  return Number(n).toLocaleString('en-US');
}

/** A typed metadata value as text (`3`, `0.02`, `PASS`, `true`). */
export function typed(v) {
  if (!v) return '';
  if (v.type === 'str') return v.value;
  if (v.type === 'float') return Number.isInteger(v.value) ? `${v.value}.0` : String(v.value);
  if (v.type === 'json') return JSON.stringify(v.value);
  return String(v.value);
}

/** A state badge. */
export function stateBadge(state) {
  return h('span', { class: `badge state-${state}` }, state);
}

/** A link inside the dashboard. */
export function link(hash, ...children) {
  return h('a', { href: hash }, ...children);
}

/** Builds `#/route?query` from parts, skipping empty values. */
export function route(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return `#/${path}${s ? `?${s}` : ''}`;
}

/** A key–value list. */
export function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '–')]),
  );
}

/** A section with a heading. */
export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

/** A "nothing here" line. */
export function empty(text) {
  return h('p', { class: 'empty' }, text);
}
