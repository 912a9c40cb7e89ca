import { createTestPipeline, type TestPipeline } from '../../src/testing/index.js';
import { createWebServer } from '../../src/web/index.js';
import { gridChain, GRID_REGISTRY } from '../lib/chains.js';
import { machineFacts } from '../lib/machine.js';
import { figure, type Figure, type ScenarioResult } from '../lib/report.js';
import { round } from '../lib/stats.js';

/** Grids of 128,030 tasks submitted: 8 make 1,024,240 tasks. `EAS_BENCH_WEB_GRIDS` for a smaller run. */
const GRIDS = Number(process.env.EAS_BENCH_WEB_GRIDS ?? 8);
/** Cold measurements per view (a fresh server each round, so no cached answer is reused). */
const ROUNDS = 3;
/** DESIGN §9: `eas status` and every dashboard view at 1 M tasks. */
const TARGET_MS = 200;
/** Attempt ids of the simulated run start here, above those the submissions created. */
const ATTEMPT_BASE = 100_000_000;

/**
 * Gives the submitted grids a history, in bulk SQL (SQLite): every non-control task of the
 * first jobs ran once (a few transit searches failed), the last job is half way (some running,
 * the rest queued or waiting); each attempt has timings, a host, a log line, the searches an
 * `outcome` (PASS when the planet is large and the period short, as a detection threshold
 * would) with `sde` and `period`, and every written product a QC-passed version. No worker
 * runs: the point is the read side at 1 M tasks, not the lifecycle (measured elsewhere).
 */
export async function simulateRun(t: TestPipeline, lastJob: number): Promise<void> {
  const sql = t.db.sql;
  const now = Date.now();
  await sql.transaction(async (tx) => {
    // The attempts created at submission (the first ready tasks) are replaced by the history.
    await tx.run('DELETE FROM eas_attempts');
    // state: the last job is mid-run by task id; failures are 1 in 37 transit searches.
    const stateExpr = `CASE
      WHEN t.job_id < ${lastJob} THEN (CASE WHEN t.type LIKE 'transit_search_%' AND t.id % 37 = 0 THEN 'failed' ELSE 'succeeded' END)
      WHEN t.id % 10 < 5 THEN 'succeeded'
      WHEN t.id % 10 = 5 THEN 'running'
      WHEN t.id % 10 < 8 THEN 'queued'
      ELSE NULL END`;
    await tx.run(
      `INSERT INTO eas_attempts (id, task_id, job_id, number, kind, state, qc, task_type, worker, host, pid,
         queued_at, available_at, started_at, ended_at, heartbeat_at, wall_ms, cpu_ms, cpu_children_ms, error, traceback)
       SELECT ${ATTEMPT_BASE} + t.id, t.id, t.job_id, 1, 'first', s.state,
         CASE s.state WHEN 'succeeded' THEN 'passed' WHEN 'failed' THEN 'failed' END,
         t.type, 'bench-host-' || (t.id % 4) || ':1:w', 'bench-host-' || (t.id % 4), 1000 + t.id % 4,
         ${now} - 3600000 + (t.id % 3600000), ${now} - 3600000 + (t.id % 3600000),
         CASE WHEN s.state <> 'queued' THEN ${now} - 3600000 + (t.id % 3600000) + 50 END,
         CASE WHEN s.state IN ('succeeded', 'failed') THEN ${now} - 3600000 + (t.id % 3600000) + 50 + (t.id % 997) END,
         CASE WHEN s.state <> 'queued' THEN ${now} - 3600000 + (t.id % 3600000) + 60 END,
         CASE WHEN s.state IN ('succeeded', 'failed') THEN (t.id % 997) END,
         CASE WHEN s.state IN ('succeeded', 'failed') THEN (t.id % 997) * 0.9 END,
         CASE WHEN s.state IN ('succeeded', 'failed') THEN (t.id % 997) * 0.95 END,
         CASE WHEN s.state = 'failed' THEN 'SearchError: no periodogram peak above the noise' END,
         CASE WHEN s.state = 'failed' THEN 'Traceback (most recent call last):\n  File "bls.py", line 12, in search\nSearchError: no periodogram peak above the noise' END
       FROM eas_tasks t JOIN (SELECT id, ${stateExpr.replace(/t\./g, 'x.')} AS state FROM eas_tasks x) s ON s.id = t.id
       WHERE t.control = 0 AND s.state IS NOT NULL`,
    );
    await tx.run(
      `UPDATE eas_tasks SET
         current_attempt_id = (SELECT a.id FROM eas_attempts a WHERE a.id = ${ATTEMPT_BASE} + eas_tasks.id),
         attempt_count = 1,
         state = coalesce((SELECT CASE a.state WHEN 'succeeded' THEN 'done' WHEN 'failed' THEN 'failed' ELSE a.state END
                           FROM eas_attempts a WHERE a.id = ${ATTEMPT_BASE} + eas_tasks.id), state),
         reason = CASE WHEN EXISTS (SELECT 1 FROM eas_attempts a WHERE a.id = ${ATTEMPT_BASE} + eas_tasks.id AND a.state = 'failed')
                       THEN 'attempt 1 failed: SearchError: no periodogram peak above the noise' END
       WHERE control = 0`,
    );
    await tx.run(
      `UPDATE eas_counters SET value = (SELECT max(id) FROM eas_attempts) WHERE name = 'attempt'`,
    );
    await tx.run(
      `UPDATE eas_jobs SET status = CASE WHEN id < ${lastJob} THEN 'failed' ELSE 'running' END,
         finished_at = CASE WHEN id < ${lastJob} THEN ${now} END`,
    );
    await tx.run(
      `INSERT INTO eas_metadata (owner_kind, owner_id, key, type, value)
       SELECT 'attempt', a.id, 'outcome', 'str',
         CASE WHEN json_extract(t.metadata, '$.size_index[1]') * 2 > json_extract(t.metadata, '$.period_index[1]') + 10 THEN 'PASS' ELSE 'FAIL' END
       FROM eas_attempts a JOIN eas_tasks t ON t.id = a.task_id
       WHERE a.state = 'succeeded' AND a.task_type LIKE 'transit_search_%'`,
    );
    for (const [key, expr] of [
      ['sde', "json_extract(t.metadata, '$.size_index[1]') * 1.7 + (a.id % 7) * 0.3"],
      ['period', "json_extract(t.metadata, '$.period[1]') * (1 + (a.id % 5) * 0.001)"],
    ]) {
      await tx.run(
        `INSERT INTO eas_metadata (owner_kind, owner_id, key, type, value)
         SELECT 'attempt', a.id, '${key}', 'float', ${expr}
         FROM eas_attempts a JOIN eas_tasks t ON t.id = a.task_id
         WHERE a.state = 'succeeded' AND a.task_type LIKE 'transit_search_%'`,
      );
    }
    await tx.run(
      `INSERT INTO eas_log_lines (attempt_id, task_id, job_id, ts, level, stream, message)
       SELECT a.id, a.task_id, a.job_id, coalesce(a.ended_at, a.started_at),
         CASE a.state WHEN 'failed' THEN 'error' ELSE 'info' END, 'handler',
         a.task_type || ': attempt ' || a.id || CASE a.state WHEN 'failed' THEN ' failed' ELSE ' ran' END
       FROM eas_attempts a WHERE a.started_at IS NOT NULL ORDER BY a.id`,
    );
    await tx.run(
      `INSERT INTO eas_versions (id, product_id, attempt_id, sha256, size, passed_qc, created_at)
       SELECT p.id, p.id, a.id, printf('%064x', p.id), 1000 + p.id % 5000, 1, a.ended_at
       FROM eas_products p JOIN eas_tasks t ON t.id = p.producer_task_id JOIN eas_attempts a ON a.id = t.current_attempt_id
       WHERE a.state = 'succeeded'`,
    );
    await tx.run(
      `UPDATE eas_counters SET value = (SELECT coalesce(max(id), 0) FROM eas_versions) WHERE name = 'version'`,
    );
  });
  await sql.run('ANALYZE');
}

/** One view: a name, its API path, and what it shows. */
interface View {
  id: string;
  label: string;
  path: string;
}

async function timeRequest(url: string): Promise<{ ms: number; bytes: number; status: number }> {
  const t0 = performance.now();
  const res = await fetch(url);
  const body = await res.arrayBuffer();
  return { ms: performance.now() - t0, bytes: body.byteLength, status: res.status };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * DESIGN §9 "dashboard views at 1 M tasks ≤ 200 ms each": builds a 1,024,240-task database
 * through the real submission path (eight of the bench grid), gives it a run's history in bulk
 * SQL, then times every API view of the dashboard, cold (a fresh server per round, so its
 * cache holds nothing), beside `eas status`'s query and a plain `count(*)` on the same database.
 */
export async function run(): Promise<ScenarioResult> {
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const t = await createTestPipeline({ registry: GRID_REGISTRY });
  const warnings: string[] = [];
  try {
    const controller = t.controller();
    const submitMs: number[] = [];
    let tasks = 0;
    for (let i = 0; i < GRIDS; i++) {
      const s0 = performance.now();
      const r = await controller.submit({ chain: gridChain(`grid-${i + 1}`) });
      submitMs.push(performance.now() - s0);
      tasks += r.tasks;
      process.stderr.write(`  web-views: grid ${i + 1}/${GRIDS} submitted (${tasks} tasks)\n`);
    }
    const jobs = await t.db.jobs();
    const lastJob = Math.max(...jobs.map((j) => j.id));
    const firstJob = Math.min(...jobs.map((j) => j.id));
    const s1 = performance.now();
    await simulateRun(t, lastJob);
    const simulateMs = performance.now() - s1;
    process.stderr.write(
      `  web-views: run history written in ${(simulateMs / 1000).toFixed(1)} s\n`,
    );
    // What the controller does with its next reap after a job ends: the ended jobs' totals
    // are stored (grouped reads of each job's own rows, then one small write).
    const s2 = performance.now();
    let storedJobs = 0;
    for (;;) {
      const { stored, failed } = await t.db.storeJobTotals();
      for (const f of failed) warnings.push(`totals of job ${f.jobId} not stored: ${f.error}`);
      if (stored.length + failed.length === 0) break;
      storedJobs += stored.length;
    }
    const storeTotalsMs = performance.now() - s2;
    process.stderr.write(
      `  web-views: totals of ${storedJobs} ended jobs stored in ${Math.round(storeTotalsMs)} ms\n`,
    );

    const sample = async <T>(q: string, params: unknown[] = []): Promise<T | undefined> =>
      t.db.sql.get<T>(q, params as never[]);
    const root = (await sample<{ id: number }>(
      'SELECT id FROM eas_tasks WHERE job_id = ? AND parent_id IS NULL',
      [lastJob],
    ))!.id;
    const bigLoop = (await sample<{ id: number }>(
      `SELECT id FROM eas_tasks WHERE job_id = ? AND type = 'execution_for_loop' ORDER BY depth DESC, id LIMIT 1`,
      [lastJob],
    ))!.id;
    const failedTask = (await sample<{ id: number }>(
      `SELECT id FROM eas_tasks WHERE control = 0 ORDER BY CASE state WHEN 'failed' THEN 0 ELSE 1 END, id LIMIT 1`,
    ))!.id;
    const dir = 'grid';
    const j = firstJob;
    const views: View[] = [
      { id: 'progress', label: 'progress, all jobs', path: '/api/progress' },
      { id: 'progress-job', label: 'progress, one job', path: `/api/progress?job=${lastJob}` },
      { id: 'tree-roots', label: 'tree: a job’s root', path: `/api/tree?job=${lastJob}` },
      {
        id: 'tree-children',
        label: 'tree: children of the root',
        path: `/api/tree?job=${lastJob}&parent=${root}`,
      },
      {
        id: 'tree-loop',
        label: 'tree: children of an inner loop',
        path: `/api/tree?job=${lastJob}&parent=${bigLoop}`,
      },
      {
        id: 'failed-tasks',
        label: 'failed tasks (first page)',
        path: '/api/tasks?state=failed&limit=100',
      },
      {
        id: 'tasks-type',
        label: 'failed transit_search_bls of one job',
        path: `/api/tasks?job=${j}&type=transit_search_bls&state=failed&limit=100`,
      },
      {
        id: 'tasks-depth',
        label: 'tasks at depth 5 of one job',
        path: `/api/tasks?job=${lastJob}&depth=5&limit=100`,
      },
      {
        id: 'tasks-done',
        label: 'done tasks, all jobs (a page of 900,000)',
        path: '/api/tasks?state=done&limit=100',
      },
      {
        id: 'tasks-done-later',
        label: 'done tasks of one job, a later page',
        path: `/api/tasks?job=${lastJob}&state=done&after=${root + 60_000}&limit=100`,
      },
      {
        id: 'task',
        label: 'task detail with traceback and logs',
        path: `/api/tasks/${failedTask}`,
      },
      {
        id: 'product-dirs',
        label: 'file products by directory',
        path: `/api/products/directories?job=${j}`,
      },
      {
        id: 'products',
        label: 'products page with versions',
        path: `/api/products?job=${j}&dir=${dir}&limit=100`,
      },
      { id: 'logs', label: 'logs, newest page', path: `/api/logs?job=${j}&limit=200` },
      {
        id: 'logs-error',
        label: 'logs at error level',
        path: `/api/logs?job=${j}&level=error&limit=200`,
      },
      { id: 'timings', label: 'timings of one job', path: `/api/timings?job=${j}` },
      { id: 'timings-all', label: 'timings, all jobs', path: '/api/timings' },
      { id: 'pass-fail', label: 'pass/fail of one job', path: `/api/pass-fail?job=${j}` },
      { id: 'pass-fail-all', label: 'pass/fail, all jobs', path: '/api/pass-fail' },
      {
        id: 'activity',
        label: 'worker activity (2,000 attempts)',
        path: `/api/activity?job=${lastJob}&limit=2000`,
      },
      { id: 'plot-types', label: 'plot menus: task types', path: `/api/plot/types?job=${j}` },
      {
        id: 'plot-fields',
        label: 'plot menus: fields',
        path: `/api/plot/fields?job=${j}&type=transit_search_bls`,
      },
      {
        id: 'plot-heatmap',
        label: 'heat map: outcome over size × period (6,912 searches)',
        path: `/api/plot?job=${j}&type=transit_search_bls&x=param:size&y=param:period&value=output:outcome`,
      },
      {
        id: 'plot-runtime',
        label: 'run time against period (6,912 searches)',
        path: `/api/plot?job=${j}&type=transit_search_bls&x=param:period&value=timing:wall_ms`,
      },
    ];
    const times = new Map<string, number[]>(views.map((v) => [v.id, []]));
    const sizes = new Map<string, number>();
    const baseline = { status: [] as number[], count: [] as number[], fingerprint: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      const web = await createWebServer({ db: t.db, files: t.files, queue: t.queue });
      try {
        for (const v of views) {
          const r = await timeRequest(`http://127.0.0.1:${web.port}${v.path}`);
          if (r.status !== 200) warnings.push(`${v.path} answered ${r.status}`);
          times.get(v.id)!.push(r.ms);
          sizes.set(v.id, r.bytes);
        }
      } finally {
        await web.close();
      }
      let s = performance.now();
      await t.db.status();
      baseline.status.push(performance.now() - s);
      s = performance.now();
      await t.db.sql.get('SELECT count(*) AS n FROM eas_tasks');
      baseline.count.push(performance.now() - s);
      const { progressFingerprint } = await import('../../src/taskdb/index.js');
      s = performance.now();
      await progressFingerprint(t.db.sql);
      baseline.fingerprint.push(performance.now() - s);
    }
    // Live: one server that has answered every view once, then a change in the running job
    // (an attempt starts), then the aggregate views again: what a dashboard watching a run does.
    const liveViews = views.filter((v) =>
      ['progress', 'timings-all', 'pass-fail-all', 'plot-heatmap', 'plot-runtime'].includes(v.id),
    );
    const liveTimes = new Map<string, number[]>(liveViews.map((v) => [v.id, []]));
    {
      const web = await createWebServer({ db: t.db, files: t.files, queue: t.queue });
      try {
        for (const v of liveViews) await timeRequest(`http://127.0.0.1:${web.port}${v.path}`);
        for (let round = 0; round < ROUNDS; round++) {
          await t.db.sql.run(
            `UPDATE eas_attempts SET state = 'running', started_at = ?, heartbeat_at = ?
             WHERE id = (SELECT min(id) FROM eas_attempts WHERE job_id = ? AND state = 'queued')`,
            [Date.now(), Date.now(), lastJob],
          );
          // The server re-reads the fingerprint at most every 250 ms.
          await new Promise((r) => setTimeout(r, 300));
          for (const v of liveViews) {
            const r = await timeRequest(`http://127.0.0.1:${web.port}${v.path}`);
            liveTimes.get(v.id)!.push(r.ms);
          }
        }
      } finally {
        await web.close();
      }
    }
    const statusMs = round(median(baseline.status), 1);
    const countMs = round(median(baseline.count), 1);
    const figures: Figure[] = [
      figure({
        id: 'status-query',
        label: '`eas status` query (baseline of the progress view)',
        value: statusMs,
        unit: 'ms',
        target: { op: '<=', value: TARGET_MS },
        baseline: { label: 'count(*) of eas_tasks', value: countMs, unit: 'ms' },
      }),
      figure({
        id: 'live-fingerprint',
        label: 'live updates: change fingerprint, polled every second',
        value: round(median(baseline.fingerprint), 2),
        unit: 'ms',
        target: { op: '<=', value: TARGET_MS },
        baseline: { label: 'count(*) of eas_tasks', value: countMs, unit: 'ms' },
      }),
      ...views.map((v) =>
        figure({
          id: `view-${v.id}`,
          label: `${v.label}`,
          value: round(median(times.get(v.id)!), 1),
          unit: 'ms',
          target: { op: '<=', value: TARGET_MS },
          baseline: { label: '`eas status` query', value: statusMs, unit: 'ms' },
        }),
      ),
      ...liveViews.map((v) =>
        figure({
          id: `live-${v.id}`,
          label: `${v.label}, live (after progress in the running job)`,
          value: round(median(liveTimes.get(v.id)!), 1),
          unit: 'ms',
          target: { op: '<=', value: TARGET_MS },
          baseline: { label: '`eas status` query', value: statusMs, unit: 'ms' },
        }),
      ),
    ];
    const counts = await t.db.counts();
    return {
      scenario: 'web-views',
      title: `Dashboard API views at ${tasks.toLocaleString('en-US')} tasks (SQLite)`,
      machine: machineFacts(),
      startedAt,
      durationMs: Math.round(performance.now() - t0),
      figures,
      details: {
        tasks,
        rows: counts,
        build: {
          submitSeconds: submitMs.map((ms) => round(ms / 1000, 2)),
          historySeconds: round(simulateMs / 1000, 1),
          storeTotalsMs: round(storeTotalsMs, 1),
          storedTotalsJobs: storedJobs,
        },
        viewsMs: Object.fromEntries([...times].map(([k, v]) => [k, v.map((x) => round(x, 1))])),
        liveViewsMs: Object.fromEntries(
          [...liveTimes].map(([k, v]) => [k, v.map((x) => round(x, 1))]),
        ),
        responseBytes: Object.fromEntries(sizes),
        baselineMs: baseline,
      },
      notes: [
        `Database: ${GRIDS} submissions of the bench grid (${tasks.toLocaleString('en-US')} tasks through controller.submit), then a run's history written in bulk SQL: one attempt per non-control task (the last job half way: running, queued, waiting), an outcome, sde and period per transit search, a log line per started attempt, a QC-passed version per written product. The ended jobs' dashboard totals are then stored as the controller stores them after a job ends (TaskDatabase.storeJobTotals; details.build.storeTotalsMs).`,
        `Each view: the median of ${ROUNDS} cold HTTP requests from 127.0.0.1 (a fresh server each round, so nothing comes from its cache; the live view and repeated requests answer from a cache keyed on the change fingerprint).`,
        'Live: the same server after it answered each aggregate view once, timed again after an attempt of the running job started: views of finished jobs come from the per-job cache, the running job is read again.',
        'Baselines: TaskDatabase.status() (the query behind `eas status`) and a plain count(*) over eas_tasks, on the same database in the same run.',
      ],
      warnings,
    };
  } finally {
    await t.close();
  }
}
