// Pass/fail: outcomes (PASS, FAIL, UNDEFINED) per task type, with links to the heat map.
import { api } from '../client.js';
import { h, table, count, section, empty, link, route } from '../dom.js';

export async function render(root, { job }) {
  const rows = await api(`/api/pass-fail${job ? `?job=${encodeURIComponent(job)}` : ''}`);
  root.append(h('h1', {}, `Pass/fail${job ? ` of job ${job}` : ''}`));
  if (rows.length === 0) {
    root.append(
      section(
        'Outcomes',
        empty('No task reported an outcome yet (transit searches record PASS or FAIL).'),
      ),
    );
    return;
  }
  const byType = new Map();
  for (const r of rows) {
    const m = byType.get(r.taskType) ?? {};
    m[r.outcome] = r.attempts;
    byType.set(r.taskType, m);
  }
  const outcomes = [...new Set(rows.map((r) => r.outcome))].sort();
  root.append(
    section(
      'Outcomes by task type',
      table(
        ['task type', ...outcomes, 'PASS fraction', ''],
        [...byType].map(([type, m]) => {
          const total = outcomes.reduce((n, o) => n + (m[o] ?? 0), 0);
          return [
            type,
            ...outcomes.map((o) => count(m[o] ?? 0)),
            total ? `${((100 * (m.PASS ?? 0)) / total).toFixed(1)} %` : '–',
            link(route('plots', { job, type, value: 'output:outcome' }), 'heat map'),
          ];
        }),
        { 'data-testid': 'pass-fail' },
      ),
    ),
  );
}
