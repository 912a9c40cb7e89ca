// Logs: the newest lines first (new ones added live), filtered by job, task and severity, older
// pages on demand.
/* global URLSearchParams */
import { api, go, onChange } from '../client.js';
import { h, replace, link, route, table, time, empty } from '../dom.js';

export async function render(root, { params }) {
  const f = { job: params.job ?? '', task: params.task ?? '', level: params.level ?? '' };
  root.append(
    h('h1', {}, `Logs${f.task ? ` of task ${f.task}` : ''}${f.job ? ` in job ${f.job}` : ''}`),
    h(
      'div',
      { class: 'filters' },
      h(
        'label',
        {},
        'severity at least',
        h(
          'select',
          {
            'aria-label': 'severity',
            onchange: (e) => go('logs', { ...f, level: e.target.value }),
          },
          ['', 'debug', 'info', 'warn', 'error'].map((l) =>
            h('option', { value: l, selected: l === f.level }, l || 'any'),
          ),
        ),
      ),
    ),
  );
  const t = table(['time', 'level', 'task', 'attempt id', 'stream', 'message'], [], {
    'data-testid': 'logs',
  });
  const tbody = t.querySelector('tbody');
  const more = h('button', { class: 'more', hidden: true }, 'Older');
  root.append(h('section', { class: 'card' }, t, more));
  const row = (l) =>
    h(
      'tr',
      { class: `log-${l.level}` },
      h('td', { class: 'mono' }, time(l.ts)),
      h('td', {}, l.level),
      h('td', {}, link(route(`task/${l.taskId}`, { job: f.job }), String(l.taskId))),
      h('td', {}, String(l.attemptId)),
      h('td', {}, l.stream),
      h('td', { class: 'mono' }, l.message),
    );
  const query = (extra) => {
    const q = new URLSearchParams({ limit: '200' });
    for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
    for (const [k, v] of Object.entries(extra)) q.set(k, String(v));
    return api(`/api/logs?${q}`);
  };
  let before;
  let newest = 0;
  const load = async () => {
    const page = await query(before === undefined ? {} : { before });
    if (page.items.length && before === undefined) newest = page.items[0].id;
    tbody.append(...page.items.map(row));
    if (tbody.children.length === 0)
      replace(tbody, h('tr', {}, h('td', { colspan: 6 }, empty('No log lines match.'))));
    before = page.next ?? undefined;
    more.hidden = page.next === null;
  };
  // Live: lines newer than the newest shown go on top (up to 1,000 at a time).
  const refresh = async () => {
    const page = await query({ limit: 1000 });
    const fresh = page.items.filter((l) => l.id > newest);
    if (fresh.length === 0) return;
    if (newest === 0) replace(tbody);
    newest = fresh[0].id;
    tbody.prepend(...fresh.map(row));
  };
  more.addEventListener('click', () => void load());
  await load();
  return onChange(refresh);
}
