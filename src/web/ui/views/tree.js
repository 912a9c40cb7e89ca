// The task tree of one job, loaded lazily: a node's children are fetched (100 at a time) when it
// is opened, so a 100,000-task job costs only what is on screen. "Open to depth" opens the first
// page of every node down to that depth. What is on screen is refreshed live.
/* global URLSearchParams */
import { api, go, onChange, serialQueue } from '../client.js';
import { h, replace, route, stateBadge, empty } from '../dom.js';
import { defaultJob, jobPicker } from './common.js';

const PAGE = 100;
/** Most nodes "open to depth" opens automatically, so a deep grid does not flood the server. */
const AUTO_OPEN_LIMIT = 300;
/** States that mean work is still to come, liveliest first (a control node shows the first found). */
const LIVE = ['running', 'stalled', 'queued', 'waiting'];

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
  // What is on screen, for the live refresh: every node by task id, and every level read, with
  // the keys its pages were read after.
  const nodes = new Map();
  const levels = [];

  // A "more" click and the live refresh take turns, so they never append the same page twice.
  const serially = serialQueue();

  const moreButton = (level, from) => {
    const more = h(
      'li',
      {},
      h(
        'button',
        {
          class: 'more',
          onclick: () => {
            more.remove();
            level.more = undefined;
            void serially(() => readPage(level, from, 0));
          },
        },
        `more children after position ${from}…`,
      ),
    );
    level.more = more;
    level.ul.append(more);
  };

  // One page of a level's children, from after position `from` (the first page: undefined).
  const fetchPage = (level, from) => {
    const q = new URLSearchParams({ job, limit: String(PAGE) });
    if (level.parent !== null) q.set('parent', String(level.parent));
    if (from !== undefined) q.set('after', String(from));
    return api(`/api/tree?${q}`);
  };

  const readPage = async (level, from, autoDepth) => {
    const page = await fetchPage(level, from);
    level.pages.push(from);
    const opens = [];
    for (const t of page.items) {
      const li = nodeItem(t);
      level.ul.append(li);
      nodes.get(level.parent)?.kids.push(li);
      if (t.childCount > 0 && t.depth < autoDepth && opened < AUTO_OPEN_LIMIT) {
        opened++;
        opens.push(li.open(autoDepth));
      }
    }
    if (page.next !== null) moreButton(level, page.next);
    await Promise.all(opens);
  };

  const loadLevel = (ul, parent, autoDepth) => {
    const level = { ul, parent, pages: [], more: undefined };
    levels.push(level);
    return readPage(level, undefined, autoDepth);
  };

  // Live: every page of every open level is read again and its nodes updated in place (state,
  // children), so what is open stays open and the page does not jump.
  const refresh = async () => {
    for (const level of levels) {
      if (!level.ul.isConnected || level.ul.closest('[hidden]')) continue;
      for (const [i, from] of level.pages.entries()) {
        const page = await fetchPage(level, from);
        for (const t of page.items) {
          const node = nodes.get(t.id);
          if (node) node.update(t);
          else {
            const li = nodeItem(t);
            level.ul.insertBefore(li, level.more ?? null);
            nodes.get(level.parent)?.kids.push(li);
          }
        }
        // Children added after the last page read (a loop expanded): offer them.
        if (i === level.pages.length - 1 && page.next !== null && !level.more)
          moreButton(level, page.next);
      }
    }
    showRollups();
  };

  // A control-flow task is done as soon as the controller expanded it, long before its work
  // ran: its badge shows the liveliest state among the children on screen (running, stalled,
  // queued, waiting), children before parents, so a loop reads "running" while its body runs.
  const showRollups = () => {
    for (const li of [...nodes.values()].reverse()) li.showState();
  };

  const nodeItem = (t) => {
    const children = h('ul', { hidden: true });
    let loaded = false;
    let current = t;
    // A leaf has no button: there is nothing to open.
    const marker = () =>
      current.childCount > 0
        ? h(
            'button',
            {
              class: 'toggle',
              'aria-label': `open ${current.name ?? current.type}`,
              'aria-expanded': String(!children.hidden),
              onclick: () => {
                if (children.hidden) void li.open();
                else {
                  children.hidden = true;
                  li.querySelector(':scope > .node > .toggle').replaceWith(marker());
                }
              },
            },
            children.hidden ? '▸' : '▾',
          )
        : h('span', { class: 'toggle', 'aria-hidden': 'true' }, '·');
    const summary = () =>
      [
        current.type,
        current.path,
        current.childCount
          ? `${current.childCount} ${current.childCount === 1 ? 'child' : 'children'}`
          : '',
      ]
        .filter(Boolean)
        .join(' · ');
    const path = h('span', { class: 'path' }, summary());
    let badge = stateBadge(t.state);
    const li = h(
      'li',
      { 'data-task': String(t.id) },
      h(
        'div',
        { class: 'node' },
        marker(),
        badge,
        h('a', { href: route(`task/${t.id}`, { job }) }, `${t.name ?? t.type}`),
        path,
      ),
      children,
    );
    li.open = async (autoDepth = 0) => {
      if (!loaded) {
        loaded = true;
        await loadLevel(children, t.id, autoDepth);
      }
      children.hidden = false;
      li.querySelector(':scope > .node > .toggle').replaceWith(marker());
      showRollups();
    };
    li.kids = [];
    li.state = () => {
      if (!current.control || li.kids.length === 0) return current.state;
      // The children's badges are already up to date: showRollups goes children first.
      const states = new Set(li.kids.map((k) => k.shown()));
      return LIVE.find((s) => states.has(s)) ?? current.state;
    };
    li.shown = () => badge.textContent;
    li.showState = () => {
      const state = li.state();
      if (state === badge.textContent) return;
      const b = stateBadge(state);
      if (state !== current.state)
        b.setAttribute('title', `${current.state} (control flow); a task under it is ${state}`);
      badge.replaceWith(b);
      badge = b;
    };
    li.update = (next) => {
      const had = current.childCount > 0;
      current = next;
      path.textContent = summary();
      if (had !== next.childCount > 0)
        li.querySelector(':scope > .node > .toggle').replaceWith(marker());
    };
    nodes.set(t.id, li);
    return li;
  };

  await loadLevel(list, null, depth);
  showRollups();
  if (list.children.length === 0) replace(list, h('li', {}, empty('This job has no tasks.')));
  return onChange(() => serially(refresh));
}
