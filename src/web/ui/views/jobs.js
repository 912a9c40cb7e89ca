// Jobs: every job with its status, counts and (with write access) cancel / rerun, plus
// reschedule (rebuild the queue from the task database).
/* global alert */
import { api, onProgress, session } from '../client.js';
import { h, replace, count, link, route, table, time, section, empty, duration } from '../dom.js';
import { STATES, stateBar, jobActions } from './common.js';

export async function render(root) {
  const body = h('div');
  const reschedule = h(
    'button',
    {
      class: 'write-only',
      title: 'Re-queue every attempt the task database holds as queued (after a lost queue)',
      onclick: async () => {
        try {
          const r = await api('/api/reschedule', { method: 'POST' });
          alert(
            `Rescheduled: ${r.queued} queued attempts re-queued, ${r.released} tasks released.`,
          );
        } catch (e) {
          alert(e.message);
        }
      },
    },
    'Reschedule',
  );
  root.append(h('h1', {}, 'Jobs ', session.writeActions ? reschedule : ''), body);
  const draw = (p) =>
    replace(
      body,
      section(
        `${p.jobs.length} ${p.jobs.length === 1 ? 'job' : 'jobs'}`,
        p.jobs.length === 0
          ? empty('No jobs yet.')
          : table(
              [
                'job',
                'name',
                'status',
                // The actions beside the status, so a wide table never hides them.
                '',
                'tasks',
                'progress',
                ...STATES,
                'submitted',
                'took',
                'source',
              ],
              p.jobs.map((j) => [
                link(route('progress', { job: j.id }), String(j.id)),
                j.name,
                h('span', { class: `badge state-${j.status}` }, j.status),
                jobActions(j, () => api('/api/progress').then(draw)),
                count(j.taskCount),
                stateBar(j.workCounts ?? j.counts),
                ...STATES.map((s) =>
                  j.counts[s]
                    ? link(route('tasks', { job: j.id, state: s }), count(j.counts[s]))
                    : '0',
                ),
                time(j.submittedAt),
                j.finishedAt ? duration(j.finishedAt - j.submittedAt) : '–',
                j.source ? h('span', { class: 'source', title: j.source }, j.source) : '',
              ]),
              { 'data-testid': 'jobs' },
            ),
      ),
    );
  draw(await api('/api/progress'));
  return onProgress(draw);
}
