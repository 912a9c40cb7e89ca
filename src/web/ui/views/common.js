// Pieces shared by several views.
/* global alert, confirm */
import { api, session } from '../client.js';
import { h, count, route } from '../dom.js';

/** The eight task states, in the order of DESIGN §4. */
export const STATES = [
  'waiting',
  'queued',
  'running',
  'stalled',
  'done',
  'failed',
  'blocked',
  'cancelled',
];

/**
 * A stacked bar of state counts. A job's bar is drawn over its work tasks (`workCounts`):
 * control-flow tasks are done as soon as they are expanded, before any work ran.
 */
export function stateBar(counts) {
  const total = STATES.reduce((n, s) => n + (counts[s] ?? 0), 0);
  const summary = STATES.filter((s) => counts[s])
    .map((s) => `${s} ${counts[s]}`)
    .join(', ');
  return h(
    'div',
    {
      class: 'bar',
      role: 'img',
      'aria-label': summary,
      title: summary,
    },
    STATES.filter((s) => counts[s]).map((s) =>
      h('span', { class: s, style: `width:${(100 * counts[s]) / (total || 1)}%` }),
    ),
  );
}

/** A count cell linking to the tasks in that state (and type, and job). */
export function countCell(n, state, filter) {
  if (!n) return h('td', { class: 'zero' }, '0');
  return h(
    'td',
    { class: `cell ${state}` },
    h('a', { href: route('tasks', { ...filter, state }), dataset: { state } }, count(n)),
  );
}

/** Cancel / rerun buttons of a job (shown only with write access). */
export function jobActions(job, after) {
  if (!session.writeActions) return '';
  const act = async (verb) => {
    if (verb === 'cancel' && !confirm(`Cancel job ${job.id} "${job.name}"?`)) return;
    try {
      await api(`/api/jobs/${job.id}/${verb}`, { method: 'POST' });
    } catch (e) {
      alert(e.message);
    }
    after?.();
  };
  return h(
    'span',
    { class: 'actions' },
    job.status === 'running'
      ? h('button', { class: 'danger write-only', onclick: () => act('cancel') }, 'Cancel')
      : null,
    rerunButton(job, () => act('rerun')),
  );
}

/**
 * The rerun button of an ended job, named after what it reruns (failed tasks run again; blocked
 * and cancelled ones wait again); none when there is nothing to rerun.
 */
function rerunButton(job, onclick) {
  if (job.status === 'running') return null;
  const c = job.counts ?? {};
  const what = c.failed ? 'failed' : c.cancelled ? 'cancelled' : c.blocked ? 'blocked' : '';
  if (!what) return null;
  return h(
    'button',
    {
      class: 'write-only',
      onclick,
      title: 'Failed tasks run again; blocked and cancelled ones wait for their inputs again',
    },
    `Rerun ${what}`,
  );
}

/** A job filter select for views that need one job. */
export function jobPicker(current, onChange) {
  return h(
    'select',
    { 'aria-label': 'job', onchange: (e) => onChange(e.target.value) },
    session.jobs.map((j) =>
      h(
        'option',
        { value: String(j.id), selected: String(j.id) === String(current) },
        `${j.id} ${j.name}`,
      ),
    ),
  );
}

/** The newest job's id, for views that show one job at a time. */
export function defaultJob(job) {
  return job || (session.jobs[0] ? String(session.jobs[0].id) : '');
}
