import type { ChainDocument } from '../../src/chain/index.js';
import type { WorkerHarness } from '../../src/sdk/index.js';
import type { StateCounts } from '../../src/taskdb/index.js';
import { createTestPipeline, type TestPipeline } from '../../src/testing/index.js';
import { DbProfiler, type DbProfileReport, type SlowCommit } from './db-profile.js';
import { round } from './stats.js';

/** Options of {@link runEmbedded}. */
export interface EmbeddedRunOptions {
  chain: ChainDocument;
  /** Worker concurrency. */
  concurrency: number;
  /** Run the controller's loop (reaping, reconcile) beside the worker, as `eas run` does. @defaultValue true */
  controller?: boolean;
  /**
   * Instrument database and queue calls (see {@link DbProfiler}); `commits`: time only BEGIN
   * and COMMIT (cheap enough for a headline run), to find slow commits. @defaultValue false
   */
  profile?: boolean | 'commits';
  /** Called with the pipeline and worker before anything runs (to attach listeners). */
  attach?: (t: TestPipeline, worker: WorkerHarness) => void;
  /** Called after the job finished, before the pipeline closes (to measure more on it). */
  after?: (t: TestPipeline) => Promise<void>;
  /** Give up after this long, ms. @defaultValue 90000 */
  timeoutMs?: number;
}

/** What {@link runEmbedded} observed. */
export interface EmbeddedRunResult {
  /** Tasks the submission created (control-flow nodes included). */
  tasks: number;
  /** Tasks a worker runs (control-flow nodes excluded). */
  workerTasks: number;
  submitMs: number;
  /** From the worker's start to the `batch:committed` that finished the job. */
  runMs: number;
  /** `workerTasks / runMs`. */
  tasksPerSec: number;
  finished: boolean;
  jobStatus: string;
  totals: StateCounts;
  attemptsStarted: number;
  /** Tasks whose attempt started more than once (at-least-once delivery made visible). */
  tasksStartedTwice: number;
  /** Reports the task database refused as stale. */
  staleReports: number;
  workerErrors: string[];
  leasesLost: number;
  /** `batch:committed` events and the tasks they finished. */
  batches: { count: number; meanDone: number; maxDone: number };
  /** CPU of this process during the run, ms, and the share of the run's wall clock. */
  cpu: { userMs: number; systemMs: number; shareOfWall: number };
  /**
   * Tasks per second of this process's CPU time: what the run would reach with a core to
   * itself. On a machine busy with other work it is the steadier figure.
   */
  tasksPerCpuSecond: number;
  /** Times the OS took the CPU away from this process during the run (a busy machine). */
  involuntaryContextSwitches: number;
  /** Event-loop utilisation during the run (1 = never idle). */
  eventLoopUtilization: number;
  /** Database and queue calls during the run (submission excluded), when profiled. */
  profile?: DbProfileReport;
  /** Database calls of the submission, when profiled. */
  submitProfile?: DbProfileReport;
  /** COMMITs over 2 ms during the run, when profiled. */
  slowCommits?: SlowCommit[];
}

const countArray = (i: number) => (args: unknown[]) => (args[i] as unknown[]).length;

/**
 * Submits `chain` to a fresh embedded pipeline (SQLite and the SQL queue in a temporary
 * directory, built-in handlers in process) and runs it to its end with one worker and, as
 * `eas run` does, the controller's loop; returns timings and what looked wrong.
 */
export async function runEmbedded(options: EmbeddedRunOptions): Promise<EmbeddedRunResult> {
  const t = await createTestPipeline({ concurrency: options.concurrency });
  try {
    const profiler = options.profile ? new DbProfiler() : undefined;
    if (options.profile === 'commits') profiler!.instrumentSqlite(t.db.sql, { statements: false });
    else if (profiler) {
      profiler.instrumentSqlite(t.db.sql);
      profiler.wrap(t.db, 'submit', 'db.submit');
      profiler.wrap(t.db, 'startAttempts', 'db.startAttempts', countArray(0));
      profiler.wrap(t.db, 'finishAttempts', 'db.finishAttempts', countArray(0));
      profiler.wrap(t.db, 'heartbeat', 'db.heartbeat', countArray(1));
      profiler.wrap(t.db, 'reconcile', 'db.reconcile');
      profiler.wrap(t.db, 'stallAttempts', 'db.stallAttempts', countArray(0));
      profiler.wrap(t.db, 'job', 'db.job');
      profiler.wrap(t.queue, 'claim', 'queue.claim', (_a, r) => (r as unknown[]).length);
      profiler.wrap(t.queue, 'complete', 'queue.complete', countArray(1));
      profiler.wrap(t.queue, 'enqueue', 'queue.enqueue', countArray(0));
      profiler.wrap(t.queue, 'extend', 'queue.extend', countArray(1));
      profiler.wrap(t.queue, 'reclaimExpired', 'queue.reclaimExpired');
    }
    const controller = t.controller();
    const worker = t.worker();
    options.attach?.(t, worker);

    const t0 = performance.now();
    const summary = await controller.submit({ chain: options.chain });
    const submitMs = performance.now() - t0;
    const jobId = summary.jobId!;
    const workerTasks = Object.entries(summary.byType)
      .filter(([type]) => !t.registry.isControlFlow(type))
      .reduce((n, [, c]) => n + c, 0);

    const started = new Map<number, number>();
    let staleReports = 0;
    let leasesLost = 0;
    const workerErrors: string[] = [];
    const batches = { count: 0, done: 0, maxDone: 0 };
    let finishedAt: number | undefined;
    let resolveFinished: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (resolveFinished = resolve));
    worker.on('attempt:started', (p) => started.set(p.taskId, (started.get(p.taskId) ?? 0) + 1));
    worker.on('batch:committed', (r) => {
      batches.count++;
      batches.done += r.done.length;
      batches.maxDone = Math.max(batches.maxDone, r.done.length);
      staleReports += r.stale.length;
      if (finishedAt === undefined && r.finishedJobs.some((j) => j.jobId === jobId)) {
        finishedAt = performance.now();
        resolveFinished();
      }
    });
    worker.on('lease:lost', () => leasesLost++);
    worker.on('worker:error', (e) => {
      if (workerErrors.length < 20) workerErrors.push(e.message);
    });
    controller.on('job:finished', (j) => {
      if (j.jobId === jobId && finishedAt === undefined) {
        finishedAt = performance.now();
        resolveFinished();
      }
    });

    const submitProfile = profiler?.report();
    profiler?.reset();
    const ctx0 = process.resourceUsage().involuntaryContextSwitches;
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const runStart = performance.now();
    const controllerRun = options.controller === false ? undefined : controller.run();
    const workerRun = worker.run();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      finished,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, options.timeoutMs ?? 90_000))),
    ]);
    clearTimeout(timer);
    const runEnd = finishedAt ?? performance.now();
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    const ctx = process.resourceUsage().involuntaryContextSwitches - ctx0;
    const profile = profiler?.report();
    const slowCommits = profiler ? [...profiler.slowCommits] : undefined;
    worker.stop('bench done');
    controller.stop('bench done');
    await workerRun;
    await controllerRun;

    const status = await t.db.status(jobId);
    const job = await t.db.job(jobId);
    await options.after?.(t);
    const runMs = runEnd - runStart;
    let attemptsStarted = 0;
    let tasksStartedTwice = 0;
    for (const n of started.values()) {
      attemptsStarted += n;
      if (n > 1) tasksStartedTwice++;
    }
    return {
      tasks: summary.tasks,
      workerTasks,
      submitMs: round(submitMs, 1),
      runMs: round(runMs, 1),
      tasksPerSec: Math.round((workerTasks / runMs) * 1000),
      finished: finishedAt !== undefined,
      jobStatus: job?.status ?? 'missing',
      totals: status.totals,
      attemptsStarted,
      tasksStartedTwice,
      staleReports,
      workerErrors,
      leasesLost,
      batches: {
        count: batches.count,
        meanDone: round(batches.done / Math.max(1, batches.count), 1),
        maxDone: batches.maxDone,
      },
      cpu: {
        userMs: Math.round(cpu.user / 1000),
        systemMs: Math.round(cpu.system / 1000),
        shareOfWall: round((cpu.user + cpu.system) / 1000 / runMs, 2),
      },
      tasksPerCpuSecond: Math.round((workerTasks / (cpu.user + cpu.system)) * 1e6),
      involuntaryContextSwitches: ctx,
      eventLoopUtilization: round(elu.utilization, 2),
      ...(profile ? { profile, submitProfile, slowCommits } : {}),
    };
  } finally {
    await t.close();
  }
}

/** Problems a run showed: tasks not done, duplicates, refused reports, errors. */
export function runWarnings(label: string, r: EmbeddedRunResult): string[] {
  const w: string[] = [];
  if (!r.finished) w.push(`${label}: the job did not finish before the time limit`);
  if (r.jobStatus !== 'done') w.push(`${label}: job status is ${r.jobStatus}, not done`);
  const notDone = Object.entries(r.totals).filter(([s, n]) => s !== 'done' && n > 0);
  if (notDone.length > 0)
    w.push(
      `${label}: tasks not done at the end: ${notDone.map(([s, n]) => `${s}=${n}`).join(', ')}`,
    );
  if (r.totals.done !== r.tasks) w.push(`${label}: ${r.totals.done} of ${r.tasks} tasks done`);
  if (r.attemptsStarted !== r.workerTasks)
    w.push(`${label}: ${r.attemptsStarted} attempts started for ${r.workerTasks} tasks`);
  if (r.tasksStartedTwice > 0) w.push(`${label}: ${r.tasksStartedTwice} tasks started twice`);
  if (r.staleReports > 0) w.push(`${label}: ${r.staleReports} reports refused as stale`);
  if (r.leasesLost > 0) w.push(`${label}: ${r.leasesLost} leases lost`);
  for (const e of r.workerErrors) w.push(`${label}: worker error: ${e}`);
  return w;
}
