// Logs: the newest lines first, filtered by job, task and severity, older pages on demand.
/* global URLSearchParams */
import { api, go } from '../client.js';
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
  let before;
  const load = async () => {
    const q = new URLSearchParams({ limit: '200' });
    for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
    if (before !== undefined) q.set('before', String(before));
    const page = await api(`/api/logs?${q}`);
    for (const l of page.items) {
      tbody.append(
        h(
          'tr',
          { class: `log-${l.level}` },
          h('td', { class: 'mono' }, time(l.ts)),
          h('td', {}, l.level),
          h('td', {}, link(route(`task/${l.taskId}`, { job: f.job }), String(l.taskId))),
          h('td', {}, String(l.attemptId)),
          h('td', {}, l.stream),
          h('td', { class: 'mono' }, l.message),
        ),
      );
    }
    if (tbody.children.length === 0)
      replace(tbody, h('tr', {}, h('td', { colspan: 6 }, empty('No log lines match.'))));
    before = page.next ?? undefined;
    more.hidden = page.next === null;
  };
  more.addEventListener('click', () => void load());
  await load();
}
