// Progress: task counts by state, per task type and per job, updated live.
import { onProgress, session, api } from '../client.js';
import { h, replace, count, link, route, table, time, section, empty } from '../dom.js';
import { STATES, countCell, stateBar, jobActions } from './common.js';

export async function render(root, { job }) {
  const body = h('div');
  root.append(h('h1', {}, job ? `Progress of job ${job}` : 'Progress'), body);
  const draw = (p) => {
    const totals = job ? (p.jobs.find((j) => String(j.id) === job)?.counts ?? {}) : p.totals;
    const filter = job ? { job } : {};
    const jobs = job ? p.jobs.filter((j) => String(j.id) === job) : p.jobs;
    const types = Object.entries(p.taskTypes).sort(([a], [b]) => a.localeCompare(b));
    replace(
      body,
      h(
        'div',
        { class: 'counts' },
        STATES.map((s) =>
          h(
            'a',
            {
              class: `count ${s}`,
              href: route('tasks', { ...filter, state: s }),
              'data-testid': `total-${s}`,
            },
            h('span', { class: 'n' }, count(totals[s] ?? 0)),
            h('span', { class: 's' }, s),
          ),
        ),
      ),
      section(
        'By task type',
        types.length === 0
          ? empty('No tasks yet: submit a chain with eas submit.')
          : table(
              ['task type', ...STATES, 'progress'],
              types.map(([type, c]) =>
                h(
                  'tr',
                  { 'data-type': type },
                  h('td', {}, link(route('tasks', { ...filter, type }), type)),
                  STATES.map((s) => countCell(c[s], s, { ...filter, type })),
                  h('td', {}, stateBar(c)),
                ),
              ),
              { class: 'by-type' },
            ),
      ),
      section(
        'Jobs',
        jobs.length === 0
          ? empty('No jobs.')
          : table(
              ['job', 'name', 'status', 'tasks', 'progress', 'done', 'failed', 'submitted', ''],
              jobs.map((j) => [
                link(route('progress', { job: j.id }), String(j.id)),
                j.name,
                h('span', { class: `badge state-${j.status}` }, j.status),
                count(j.taskCount),
                stateBar(j.workCounts ?? j.counts),
                count(j.counts.done),
                j.counts.failed
                  ? link(route('tasks', { job: j.id, state: 'failed' }), count(j.counts.failed))
                  : '0',
                time(j.submittedAt),
                jobActions(j),
              ]),
            ),
      ),
    );
  };
  const first = await api(`/api/progress${job ? `?job=${encodeURIComponent(job)}` : ''}`);
  draw(first);
  // Live: the stream carries counts of all jobs; one job's view picks its own from them.
  const stop = onProgress((p) => {
    if (!job) return draw(p);
    const j = p.jobs.find((x) => String(x.id) === job);
    if (!j) return;
    // Per-type counts of one job need the filtered query; the totals come straight from the stream.
    api(`/api/progress?job=${encodeURIComponent(job)}`).then(draw, () => {});
  });
  void session;
  return stop;
}
