import { measureSqliteCeiling, type CeilingResult } from '../baselines/sqlite-ceiling.js';
import { flatChain, parentChildrenChain } from '../lib/chains.js';
import { machineFacts } from '../lib/machine.js';
import { runEmbedded, runWarnings, type EmbeddedRunResult } from '../lib/pipeline-run.js';
import { figure, type ScenarioResult } from '../lib/report.js';
import { whereTimeGoes } from '../lib/where-time-goes.js';

const FLAT_TASKS = 20_000;
const DAG_PARENTS = 10_000;
const TARGET = { op: '>=', value: 5_000 } as const;

/** The best of `runs` ceiling measurements: a ceiling is what the engine allows at its best. */
function bestCeiling(runs: number, measure: () => CeilingResult): CeilingResult {
  let best: CeilingResult | undefined;
  for (let i = 0; i < runs; i++) {
    const r = measure();
    if (!best || r.tasksPerSec > best.tasksPerSec) best = r;
  }
  return best!;
}

function progress(message: string): void {
  process.stderr.write(`  embedded-throughput: ${message}\n`);
}

/**
 * DESIGN §9 "no-op task throughput, embedded (SQLite, in-process handlers), whole lifecycle
 * incl. QC ≥ 5,000 tasks/s", beside the engine's ceiling for the same shape measured in the
 * same process: a flat chain at worker concurrency 16 and 64, and parents waiting for two
 * children each. A second, instrumented pass of the concurrency-16 runs says where the time
 * goes.
 */
export async function run(): Promise<ScenarioResult> {
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const warnings: string[] = [];

  progress('warm-up (2,000 tasks)');
  await runEmbedded({ chain: flatChain(2_000), concurrency: 16 });

  progress('engine ceilings (raw better-sqlite3)');
  const ceilingFlat = bestCeiling(2, () =>
    measureSqliteCeiling({ shape: 'flat', tasks: FLAT_TASKS, perTransaction: 100 }),
  );
  const ceilingDag = bestCeiling(2, () =>
    measureSqliteCeiling({ shape: 'parent-children', tasks: DAG_PARENTS * 3, perTransaction: 100 }),
  );
  // The same lifecycle in batches as large as the worker's (it claims at most its free slots):
  // what the engine allows at the batch sizes the harness can form.
  const ceilingBatch16 = bestCeiling(1, () =>
    measureSqliteCeiling({ shape: 'flat', tasks: FLAT_TASKS, perTransaction: 16 }),
  );
  const ceilingBatch64 = bestCeiling(1, () =>
    measureSqliteCeiling({ shape: 'flat', tasks: FLAT_TASKS, perTransaction: 64 }),
  );
  const ceilingPerTask = bestCeiling(1, () =>
    measureSqliteCeiling({ shape: 'flat', tasks: 5_000, perTransaction: 1 }),
  );

  const runs: Record<string, EmbeddedRunResult> = {};
  const measure = async (key: string, what: string, make: () => Promise<EmbeddedRunResult>) => {
    progress(what);
    runs[key] = await make();
    warnings.push(...runWarnings(key, runs[key]));
  };
  await measure('flat-c16', `flat ${FLAT_TASKS} tasks, concurrency 16`, () =>
    runEmbedded({ chain: flatChain(FLAT_TASKS), concurrency: 16 }),
  );
  await measure('flat-c64', `flat ${FLAT_TASKS} tasks, concurrency 64`, () =>
    runEmbedded({ chain: flatChain(FLAT_TASKS), concurrency: 64 }),
  );
  await measure('dag-c16', `${DAG_PARENTS} parents + 2 children each, concurrency 16`, () =>
    runEmbedded({ chain: parentChildrenChain(DAG_PARENTS), concurrency: 16 }),
  );
  await measure('flat-c16-profiled', 'flat 10,000, concurrency 16, instrumented', () =>
    runEmbedded({ chain: flatChain(FLAT_TASKS / 2), concurrency: 16, profile: true }),
  );
  await measure(
    'dag-c16-profiled',
    '5,000 parents + 2 children, concurrency 16, instrumented',
    () =>
      runEmbedded({ chain: parentChildrenChain(DAG_PARENTS / 2), concurrency: 16, profile: true }),
  );

  const ceilingOf = (c: CeilingResult) => ({
    label: `engine ceiling (raw SQLite, ${c.perTransaction}/tx)`,
    value: Math.round(c.tasksPerSec),
    unit: 'tasks/s',
  });
  const flat16 = runs['flat-c16']!;
  const flat64 = runs['flat-c64']!;
  const dag = runs['dag-c16']!;
  const figures = [
    figure({
      id: 'flat-20k-c16',
      label: `flat ${FLAT_TASKS.toLocaleString('en-US')} null, concurrency 16`,
      value: flat16.tasksPerSec,
      unit: 'tasks/s',
      target: TARGET,
      baseline: ceilingOf(ceilingFlat),
    }),
    figure({
      id: 'flat-20k-c64',
      label: `flat ${FLAT_TASKS.toLocaleString('en-US')} null, concurrency 64`,
      value: flat64.tasksPerSec,
      unit: 'tasks/s',
      target: TARGET,
      baseline: ceilingOf(ceilingFlat),
    }),
    figure({
      id: 'dag-10k-c16',
      label: `${DAG_PARENTS.toLocaleString('en-US')} parents × 2 children (${dag.workerTasks.toLocaleString('en-US')} tasks), c16`,
      value: dag.tasksPerSec,
      unit: 'tasks/s',
      target: TARGET,
      baseline: ceilingOf(ceilingDag),
    }),
    // The same three per CPU-second of the process, beside the ceiling's: what each would reach
    // with a core to itself. The steadier figures when other work shares the machine.
    ...[
      { id: 'flat-20k-c16', run: flat16, ceiling: ceilingFlat, what: 'flat c16' },
      { id: 'flat-20k-c64', run: flat64, ceiling: ceilingFlat, what: 'flat c64' },
      { id: 'dag-10k-c16', run: dag, ceiling: ceilingDag, what: 'parents × 2 children c16' },
    ].map((c) =>
      figure({
        id: `${c.id}-per-cpu-second`,
        label: `${c.what}, per CPU-second`,
        value: c.run.tasksPerCpuSecond,
        unit: 'tasks/s',
        baseline: {
          label: 'engine ceiling per CPU-second',
          value: Math.round(c.ceiling.tasksPerCpuSecond),
          unit: 'tasks/s',
        },
      }),
    ),
  ];

  const round = (c: CeilingResult) => ({
    ...c,
    ms: Math.round(c.ms),
    tasksPerSec: Math.round(c.tasksPerSec),
    tasksPerCpuSecond: Math.round(c.tasksPerCpuSecond),
  });
  return {
    scenario: 'embedded-throughput',
    title: 'No-op task throughput, embedded SQLite, whole lifecycle incl. QC',
    machine: machineFacts(),
    startedAt,
    durationMs: Math.round(performance.now() - t0),
    figures,
    details: {
      ceilings: {
        flat100PerTx: round(ceilingFlat),
        parentChildren100PerTx: round(ceilingDag),
        flat16PerTx: round(ceilingBatch16),
        flat64PerTx: round(ceilingBatch64),
        flatOnePerTx: round(ceilingPerTask),
      },
      // The raw profiles are digested into whereTimeGoes; keep the runs readable.
      runs: Object.fromEntries(
        Object.entries(runs).map(([k, r]) => [
          k,
          { ...r, profile: undefined, submitProfile: undefined, slowCommits: undefined },
        ]),
      ),
      whereTimeGoes: {
        'flat-c16': whereTimeGoes(runs['flat-c16-profiled']!),
        'dag-c16': whereTimeGoes(runs['dag-c16-profiled']!),
      },
    },
    notes: [
      'tasks/s = tasks run by the worker / time from the worker starting to the batch that finished the job (submission excluded; see runs.*.submitMs).',
      'Embedded as `eas run` runs it: one process, the controller loop (reaping, reconcile) and one worker with default options (claimWaitMs 500, SQL queue poll 25 ms) on SQLite in a temporary directory.',
      `Engine ceiling: raw better-sqlite3 lifecycle (claim tx: attempt row + task running; complete tx: attempt update + version row + task done + release dependents), 100 tasks per transaction, same shape (DESIGN §9 quotes ≈52,000 tasks/s on its machines). Same lifecycle at other batch sizes: 64/tx ${Math.round(ceilingBatch64.tasksPerSec)}, 16/tx ${Math.round(ceilingBatch16.tasksPerSec)}, 1/tx ${Math.round(ceilingPerTask.tasksPerSec)} tasks/s (DESIGN quotes 12,000–18,000 for 1/tx). The worker claims at most its free slots, so its batches are at most its concurrency.`,
      "runs.*.tasksPerCpuSecond divides by this process's CPU time instead of wall clock: what the run would reach with a core to itself. Compare it with the headline when machine.loadAverage1m is high (other work on the machine takes the CPU away; see runs.*.involuntaryContextSwitches).",
      'For scale, not measured here (DESIGN §9, BullMQ 6.7 on Redis 7): plain no-op jobs ≈13,000/s at concurrency 16; FlowProducer parent + 2 children ≈6,900 jobs/s.',
      'The *-profiled runs repeat the concurrency-16 runs with every SQL statement and queue/database call timed (see whereTimeGoes); their own tasks/s is a little lower and is not a headline figure.',
    ],
    warnings,
  };
}
