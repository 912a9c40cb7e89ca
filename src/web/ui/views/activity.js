// Activity: worker hosts, and a timeline of the newest attempts per worker, refreshed live.
import { api, onChange } from '../client.js';
import { h, replace, table, time, section, empty } from '../dom.js';
import { plain, plotly, plotConfig } from './plotting.js';

const COLORS = {
  succeeded: '#16a34a',
  failed: '#dc2626',
  running: '#2563eb',
  stalled: '#f59e0b',
  cancelled: '#6b7280',
  queued: '#60a5fa',
};

export async function render(root, { job }) {
  const read = () =>
    Promise.all([
      api('/api/workers'),
      api(`/api/activity?limit=2000${job ? `&job=${encodeURIComponent(job)}` : ''}`),
    ]);
  const first = await read();
  root.append(h('h1', {}, 'Worker activity'));
  const hosts = h('div');
  const timeline = h('div');
  root.append(hosts, timeline);
  const chart = h('div', { class: 'plot', 'data-testid': 'activity-plot' });
  let Plotly;
  let drawn = false;
  const draw = async ([workers, activity]) => {
    replace(hosts, workersSection(workers));
    replace(
      timeline,
      section(
        `Timeline of the newest ${activity.length} attempts, per worker`,
        activity.length ? chart : empty('No attempt has started yet.'),
      ),
    );
    if (activity.length === 0) return;
    Plotly ??= await plotly();
    // react() redraws in place, keeping the user's zoom (uirevision).
    await Plotly[drawn ? 'react' : 'newPlot'](chart, ...figure(activity), plotConfig());
    drawn = true;
  };
  await draw(first);
  let shown = JSON.stringify(first);
  const stop = onChange(async () => {
    const next = await read();
    const text = JSON.stringify(next);
    if (text === shown) return;
    shown = text;
    await draw(next);
  });
  return () => {
    stop();
    if (drawn) Plotly.purge(chart);
  };
}

function workersSection(workers) {
  return section(
    'Worker hosts',
    workers.length === 0
      ? empty('No worker has registered yet.')
      : table(
          ['worker', 'host', 'pid', 'state', 'concurrency', 'task types', 'started', 'last seen'],
          workers.map((w) => [
            h('span', { class: 'mono' }, w.id),
            w.host,
            String(w.pid),
            h(
              'span',
              { class: `badge state-${w.state === 'running' ? 'running' : 'cancelled'}` },
              w.state,
            ),
            String(w.concurrency),
            w.types.join(', '),
            time(w.startedAt),
            time(w.lastSeenAt),
          ]),
        ),
  );
}

/** The timeline's traces and layout. */
function figure(activity) {
  const now = Date.now();
  // Attempts that overlap on one worker (its concurrency) go on lanes of their own, so every bar
  // is visible: lane k of a worker is the k-th slot it ran attempts in.
  const lanes = new Map();
  const rowOf = new Map();
  for (const a of [...activity].sort((p, q) => p.startedAt - q.startedAt)) {
    const worker = a.worker ?? a.host ?? '?';
    const ends = lanes.get(worker) ?? [];
    let k = ends.findIndex((end) => end <= a.startedAt);
    if (k < 0) k = ends.push(0) - 1;
    ends[k] = a.endedAt ?? now;
    lanes.set(worker, ends);
    rowOf.set(a.attemptId, plain(`${worker} · slot ${k + 1}`));
  }
  const byState = new Map();
  for (const a of activity) {
    const list = byState.get(a.state) ?? [];
    list.push(a);
    byState.set(a.state, list);
  }
  const traces = [...byState].map(([state, list]) => ({
    type: 'bar',
    orientation: 'h',
    name: state,
    y: list.map((a) => rowOf.get(a.attemptId)),
    // Local wall-clock time, as every other time on the page (an ISO string would be UTC).
    base: list.map((a) => time(a.startedAt)),
    x: list.map((a) => Math.max(1, (a.endedAt ?? now) - a.startedAt)),
    hovertext: list.map((a) => plain(`task ${a.taskId} · ${a.taskType}`)),
    textposition: 'none',
    hovertemplate: '%{hovertext}<br>%{base} + %{x} ms<extra>%{fullData.name}</extra>',
    marker: { color: COLORS[state] ?? '#94a3b8' },
  }));
  const layout = {
    barmode: 'overlay',
    uirevision: 'activity',
    margin: { t: 10, l: 200, r: 10 },
    xaxis: { type: 'date', title: { text: 'local time' } },
    yaxis: { automargin: true, type: 'category', categoryorder: 'category descending' },
    legend: { orientation: 'h' },
  };
  return [traces, layout];
}
