// Tasks: a filtered list (job, state, type, depth), a page at a time, refreshed live.
/* global URLSearchParams */
import { api, go, onChange, serialQueue } from '../client.js';
import { h, replace, link, route, table, stateBadge, empty } from '../dom.js';
import { STATES } from './common.js';

export async function render(root, { params }) {
  const f = {
    job: params.job ?? '',
    state: params.state ?? '',
    type: params.type ?? '',
    depth: params.depth ?? '',
  };
  const types = await api(
    `/api/plot/types${f.job ? `?job=${encodeURIComponent(f.job)}` : ''}`,
  ).catch(() => []);
  const set = (k, v) => go('tasks', { ...f, [k]: v });
  // The menu offers the types of worker tasks; a type the list was opened with (a control-flow
  // one, from the progress view) is offered too, so the menu shows what filters the list.
  const typeNames = types.map((t) => t.type);
  if (f.type && !typeNames.includes(f.type)) typeNames.push(f.type);
  const title = [f.state && `${f.state}`, f.type && `${f.type}`].filter(Boolean).join(' ');
  root.append(
    h('h1', {}, `Tasks${title ? `: ${title}` : ''}${f.job ? ` in job ${f.job}` : ''}`),
    h(
      'div',
      { class: 'filters' },
      h(
        'label',
        {},
        'state',
        h(
          'select',
          { 'aria-label': 'state', onchange: (e) => set('state', e.target.value) },
          h('option', { value: '' }, 'any'),
          STATES.map((s) => h('option', { value: s, selected: s === f.state }, s)),
        ),
      ),
      h(
        'label',
        {},
        'task type',
        h(
          'select',
          { 'aria-label': 'task type', onchange: (e) => set('type', e.target.value) },
          h('option', { value: '' }, 'any'),
          typeNames.map((t) => h('option', { value: t, selected: t === f.type }, t)),
        ),
      ),
      h(
        'label',
        {},
        'depth',
        h('input', {
          type: 'number',
          min: 0,
          max: 50,
          value: f.depth,
          'aria-label': 'depth',
          // Only a depth the list can have (0–1000, or none): anything else puts the box back.
          onchange: (e) => {
            const v = e.target.value.trim();
            if (v === '' || (/^\d+$/.test(v) && Number(v) <= 1000)) set('depth', v);
            else e.target.value = f.depth;
          },
        }),
      ),
    ),
  );
  const tbody = h('tbody');
  const more = h('button', { class: 'more', hidden: true }, 'More');
  const card = h(
    'section',
    { class: 'card' },
    table(['task', 'state', 'type', 'path', 'depth', 'attempts', 'reason / error'], []),
    more,
  );
  card.querySelector('table').replaceChild(tbody, card.querySelector('tbody'));
  root.append(card);
  const row = (t) =>
    h(
      'tr',
      { 'data-task': String(t.id) },
      h(
        'td',
        {},
        link(route(`task/${t.id}`, { job: f.job }), `${t.id}${t.name ? ` ${t.name}` : ''}`),
      ),
      h('td', {}, stateBadge(t.state)),
      h('td', {}, t.type),
      h('td', { class: 'mono' }, t.path),
      h('td', { class: 'num' }, String(t.depth)),
      h('td', { class: 'num' }, String(t.attemptCount)),
      h('td', {}, t.error ?? t.reason ?? ''),
    );
  const fetchPage = (from, limit) => {
    const q = new URLSearchParams({ limit: String(limit) });
    for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
    if (from !== undefined) q.set('after', String(from));
    return api(`/api/tasks?${q}`);
  };
  // What is shown: the rows, and the key of the next page ("More").
  let items = [];
  let after;
  const show = (rows, next) => {
    items = rows;
    after = next ?? undefined;
    more.hidden = next === null;
    replace(
      tbody,
      rows.length === 0
        ? h('tr', {}, h('td', { colspan: 7 }, empty('No task matches.')))
        : rows.map(row),
    );
  };
  // "More" and the live refresh take turns, so neither shows rows the other is replacing.
  const serially = serialQueue();
  const load = async () => {
    const page = await fetchPage(after, 100);
    show([...items, ...page.items], page.next);
  };
  // Live: the same number of rows read again from the first, and redrawn only when they changed.
  const refresh = async () => {
    const wanted = Math.max(items.length, 100);
    const rows = [];
    let from;
    let next;
    do {
      const page = await fetchPage(from, Math.min(1000, wanted - rows.length));
      rows.push(...page.items);
      next = page.next;
      from = next ?? undefined;
    } while (next !== null && rows.length < wanted);
    if (JSON.stringify(rows) !== JSON.stringify(items) || (next === null) !== more.hidden)
      show(rows, next);
  };
  more.addEventListener('click', () => void serially(load));
  await serially(load);
  return onChange(() => serially(refresh));
}
