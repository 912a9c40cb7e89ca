// The dashboard's shell: the hash router, the job selector and the start-up.
/* global document, location, window */
import { api, currentRoute, live, onProgress, session, whenTokenEntered } from './client.js';
import { h, replace, route } from './dom.js';

const VIEWS = {
  progress: () => import('./views/progress.js'),
  jobs: () => import('./views/jobs.js'),
  tree: () => import('./views/tree.js'),
  tasks: () => import('./views/tasks.js'),
  task: () => import('./views/task.js'),
  products: () => import('./views/products.js'),
  logs: () => import('./views/logs.js'),
  timings: () => import('./views/timings.js'),
  'pass-fail': () => import('./views/pass-fail.js'),
  activity: () => import('./views/activity.js'),
  plots: () => import('./views/plots.js'),
};

function fillJobSelector() {
  const select = document.getElementById('job');
  const current = currentRoute().params.job ?? '';
  const label = (j) => `${j.id} ${j.name} (${j.status})`;
  // Rebuilt when a job comes or goes, and when one's status changes.
  const wanted = ['all jobs', ...session.jobs.map(label)];
  const have = [...select.options].map((o) => o.textContent);
  if (wanted.join('\n') !== have.join('\n')) {
    replace(
      select,
      h('option', { value: '' }, 'all jobs'),
      session.jobs.map((j) => h('option', { value: String(j.id) }, label(j))),
    );
  }
  select.value = current;
}

/** The page title of each view (the tab's name). */
const TITLES = {
  progress: 'Progress',
  jobs: 'Jobs',
  tree: 'Task tree',
  tasks: 'Tasks',
  task: 'Task',
  products: 'Files',
  logs: 'Logs',
  timings: 'Timings',
  'pass-fail': 'Pass/fail',
  activity: 'Activity',
  plots: 'Plots',
};

let cleanup = () => {};
let renderSeq = 0;

async function render() {
  const current = currentRoute();
  const name = VIEWS[current.name] ? current.name : 'progress';
  const { arg, params } = current;
  for (const a of document.querySelectorAll('nav a')) {
    const here = a.dataset.view === name || (name === 'task' && a.dataset.view === 'tasks');
    a.classList.toggle('active', here);
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
    a.setAttribute('href', route(a.dataset.view, { job: params.job }));
  }
  document.title = `${TITLES[name]}${arg ? ` ${arg}` : ''}${params.job ? ` · job ${params.job}` : ''} · plato-eas dashboard`;
  fillJobSelector();
  const seq = ++renderSeq;
  cleanup();
  cleanup = () => {};
  const main = document.getElementById('view');
  main.setAttribute('aria-busy', 'true');
  try {
    const mod = await VIEWS[name]();
    if (seq !== renderSeq) return;
    replace(main);
    const dispose = await mod.render(main, { arg, params, job: params.job ?? '' });
    if (seq === renderSeq && typeof dispose === 'function') cleanup = dispose;
    else if (typeof dispose === 'function') dispose();
  } catch (e) {
    if (seq !== renderSeq) return;
    replace(
      main,
      h('div', { class: 'error', role: 'alert' }, e instanceof Error ? e.message : String(e)),
    );
  } finally {
    if (seq === renderSeq) main.removeAttribute('aria-busy');
  }
}

async function start() {
  try {
    Object.assign(session, await api('/api/session'));
  } catch {
    return;
  }
  document.body.classList.toggle('can-write', session.writeActions);
  const badge = document.getElementById('scope');
  badge.textContent = session.writeActions ? 'write access' : 'read-only';
  badge.className = `scope ${session.writeActions ? 'write' : 'read'}`;
  try {
    const progress = await api('/api/progress');
    session.jobs = progress.jobs;
  } catch {
    // the view shows the error
  }
  live();
  await render();
}

document.getElementById('job').addEventListener('change', (e) => {
  const { name, arg, params } = currentRoute();
  const next = { ...params, job: e.target.value };
  // A job's own lists start from their first page again.
  delete next.after;
  delete next.dir;
  location.hash = route(arg ? `${name}/${arg}` : name, next);
});
window.addEventListener('hashchange', () => void render());
whenTokenEntered(() => void start());
onProgress(() => fillJobSelector());
void start();
