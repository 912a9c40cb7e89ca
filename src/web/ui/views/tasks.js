// Tasks: a filtered list (job, state, type, depth), a page at a time.
/* global URLSearchParams */
import { api, go } from '../client.js';
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
  let after;
  const load = async () => {
    const q = new URLSearchParams({ limit: '100' });
    for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
    if (after !== undefined) q.set('after', String(after));
    const page = await api(`/api/tasks?${q}`);
    for (const t of page.items) {
      tbody.append(
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
        ),
      );
    }
    if (tbody.children.length === 0)
      replace(tbody, h('tr', {}, h('td', { colspan: 7 }, empty('No task matches.'))));
    after = page.next ?? undefined;
    more.hidden = page.next === null;
  };
  more.addEventListener('click', () => void load());
  await load();
}
