// Timings: wall clock, CPU and queue wait per task type and attempt state.
import { api } from '../client.js';
import { h, table, duration, count, section, empty, link, route } from '../dom.js';
import { plotly, plotConfig } from './plotting.js';

export async function render(root, { job }) {
  const rows = await api(`/api/timings${job ? `?job=${encodeURIComponent(job)}` : ''}`);
  root.append(h('h1', {}, `Timings${job ? ` of job ${job}` : ''}`));
  if (rows.length === 0) {
    root.append(section('Finished attempts', empty('No finished attempts yet.')));
    return;
  }
  const chart = h('div', { class: 'plot short', 'data-testid': 'timings-plot' });
  root.append(
    section(
      'Finished attempts',
      table(
        [
          'task type',
          'state',
          'attempts',
          'mean wall',
          'min wall',
          'max wall',
          'mean CPU (with child processes)',
          'mean wait in queue',
          '',
        ],
        rows.map((r) => [
          r.taskType,
          h('span', { class: `badge state-${r.state}` }, r.state),
          count(r.attempts),
          duration(r.meanWallMs),
          duration(r.minWallMs),
          duration(r.maxWallMs),
          duration(r.meanCpuChildrenMs),
          duration(r.meanWaitMs),
          link(route('plots', { job, type: r.taskType, value: 'timing:wall_ms' }), 'plot'),
        ]),
      ),
    ),
    h(
      'p',
      { class: 'empty' },
      'Means over finished attempts (eas timings prints medians; eas timings --csv every attempt).',
    ),
    section('Mean wall clock by task type', chart),
  );
  const ok = rows.filter((r) => r.state === 'succeeded');
  const Plotly = await plotly();
  await Plotly.newPlot(
    chart,
    [
      {
        type: 'bar',
        x: ok.map((r) => r.taskType),
        y: ok.map((r) => r.meanWallMs),
        text: ok.map((r) => `${r.attempts} attempt${r.attempts === 1 ? '' : 's'}`),
        marker: { color: '#2563eb' },
      },
    ],
    {
      margin: { t: 10, r: 10 },
      yaxis: { title: { text: 'mean wall clock [ms]' }, type: 'log', dtick: 1 },
    },
    plotConfig(),
  );
  return () => Plotly.purge(chart);
}
