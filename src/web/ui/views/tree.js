// The task tree of one job, loaded lazily: a node's children are fetched (100 at a time) when it
// is opened, so a 100,000-task job costs only what is on screen. "Open to depth" opens the first
// page of every node down to that depth.
/* global URLSearchParams */
import { api, go } from '../client.js';
import { h, replace, route, stateBadge, empty } from '../dom.js';
import { defaultJob, jobPicker } from './common.js';

const PAGE = 100;
/** Most nodes "open to depth" opens automatically, so a deep grid does not flood the server. */
const AUTO_OPEN_LIMIT = 300;

export async function render(root, { params }) {
  const job = defaultJob(params.job);
  const depth = params.depth === undefined || params.depth === '' ? 1 : Number(params.depth);
  root.append(
    h('h1', {}, 'Task tree'),
    h(
      'div',
      { class: 'filters' },
      h(
        'label',
        {},
        'job',
        jobPicker(job, (v) => go('tree', { job: v, depth })),
      ),
      h(
        'label',
        {},
        'open to depth',
        h(
          'select',
          { 'aria-label': 'depth', onchange: (e) => go('tree', { job, depth: e.target.value }) },
          [0, 1, 2, 3, 4, 5, 6].map((d) =>
            h('option', { value: String(d), selected: d === depth }, String(d)),
          ),
        ),
      ),
    ),
  );
  if (!job) {
    root.append(empty('No jobs.'));
    return;
  }
  const list = h('ul', { class: 'tree', 'data-testid': 'tree' });
  root.append(h('section', { class: 'card' }, list));
  let opened = 0;

  const loadLevel = async (ul, parent, after, autoDepth) => {
    const q = new URLSearchParams({ job, limit: String(PAGE) });
    if (parent !== null) q.set('parent', String(parent));
    if (after !== undefined) q.set('after', String(after));
    const page = await api(`/api/tree?${q}`);
    const opens = [];
    for (const t of page.items) {
      const li = nodeItem(t);
      ul.append(li);
      if (t.childCount > 0 && t.depth < autoDepth && opened < AUTO_OPEN_LIMIT) {
        opened++;
        opens.push(li.open(autoDepth));
      }
    }
    if (page.next !== null) {
      const more = h(
        'li',
        {},
        h(
          'button',
          {
            class: 'more',
            onclick: () => {
              more.remove();
              void loadLevel(ul, parent, page.next, 0);
            },
          },
          `more children after position ${page.next}…`,
        ),
      );
      ul.append(more);
    }
    await Promise.all(opens);
  };

  const nodeItem = (t) => {
    const children = h('ul', { hidden: true });
    let loaded = false;
    const toggle = h(
      'button',
      { class: 'toggle', 'aria-label': 'open', 'aria-expanded': 'false' },
      t.childCount > 0 ? '▸' : '·',
    );
    const li = h(
      'li',
      { 'data-task': String(t.id) },
      h(
        'div',
        { class: 'node' },
        toggle,
        stateBadge(t.state),
        h('a', { href: route(`task/${t.id}`, { job }) }, `${t.name ?? t.type}`),
        h(
          'span',
          { class: 'path' },
          [
            t.type,
            t.path,
            t.childCount ? `${t.childCount} ${t.childCount === 1 ? 'child' : 'children'}` : '',
          ]
            .filter(Boolean)
            .join(' · '),
        ),
      ),
      children,
    );
    li.open = async (autoDepth = 0) => {
      if (!loaded) {
        loaded = true;
        await loadLevel(children, t.id, undefined, autoDepth);
      }
      children.hidden = false;
      toggle.textContent = '▾';
      toggle.setAttribute('aria-expanded', 'true');
    };
    if (t.childCount > 0) {
      toggle.addEventListener('click', () => {
        if (children.hidden) void li.open();
        else {
          children.hidden = true;
          toggle.textContent = '▸';
          toggle.setAttribute('aria-expanded', 'false');
        }
      });
    }
    return li;
  };

  await loadLevel(list, null, undefined, depth);
  if (list.children.length === 0) replace(list, h('li', {}, empty('This job has no tasks.')));
}
