import {
  openSqlDatabase,
  runMigrations,
  silentLogger,
  type Logger,
  type SqlDatabase,
  type SqlExecutor,
} from '../core/index.js';
import { TASKDB_MIGRATIONS } from './migrations/index.js';
import {
  appendLogs,
  finishAttempts,
  finishPassedOnServer,
  settleEndedJobs,
  heartbeat,
  startAttempts,
  stallAttempts,
  takeReady,
} from './queries/lifecycle.js';
import {
  cancelJob,
  deleteJob,
  referencedObjects,
  rerunJob,
  type CancelResult,
  type DeleteResult,
  type RerunResult,
} from './queries/jobs.js';
import { reconcile, type ReconcileResult } from './queries/reconcile.js';
import { importFiles, type ImportedFile } from './queries/import.js';
import { outcomeRows, timingRows, type OutcomeRow, type TimingRow } from './queries/reports.js';
import {
  childCount,
  expandDeferred,
  jobProduct,
  type DeferredExpansion,
} from './queries/deferred.js';
import { submitJob } from './queries/submit.js';
import { storeJobTotals, type StoredJobTotals } from './queries/totals.js';
import { scalingDemand, type TaskTypeDemand } from './queries/scaling.js';
import {
  findPassedVersion,
  listErrors,
  listJobs,
  listProducts,
  listTasks,
  readLogs,
  statusView,
  tableCounts,
  taskChildren,
  taskDetail,
  type ErrorEntry,
  type JobSummary,
  type ProductView,
  type StatusView,
  type StoredLogLine,
  type TaskDetail,
  type TaskSummary,
  type VersionDetail,
} from './queries/views.js';
import type {
  AttemptLogLine,
  AttemptOutcome,
  AttemptPayload,
  FinishResult,
  JobStatus,
  PlannedJob,
  ReadyAttempt,
  SubmitResult,
  TakeRequest,
  TaskState,
  WorkerInfo,
} from './types.js';
import type { TypedMetadata } from '../core/index.js';

/** Options of {@link createTaskDatabase}. */
export interface TaskDatabaseOptions {
  /** `sqlite:<file>` or `postgres://…`. */
  url: string;
  /** Logger; the database binds `{ component: 'taskdb' }`. @defaultValue silent */
  logger?: Logger;
  /** Run pending migrations on open. @defaultValue true */
  migrate?: boolean;
  /** Largest PostgreSQL connection pool. @defaultValue 10 */
  poolMax?: number;
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
}

/** A worker host as recorded for the activity views. */
export interface WorkerHostRecord {
  id: string;
  host: string;
  pid: number;
  types: string[];
  concurrency: number;
  state: 'running' | 'stopped';
  startedAt: number;
  lastSeenAt: number;
}

/**
 * The canonical record of every job, task, attempt, file product and version, metadata, log
 * line and dependency — and the judge of readiness (DESIGN §5). Runs on SQLite (embedded) and
 * PostgreSQL (cluster) with the same schema and the same SQL.
 *
 * Lifecycle methods (`submit`, `startAttempts`, `finishAttempts`, `stallAttempts`,
 * `reconcile`) each run in one transaction and return the attempts that became ready, which
 * the caller puts into the job queue: the database is the truth and
 * the queue a cache that `reconcile` can rebuild.
 *
 * @example
 * ```ts
 * await using db = await createTaskDatabase({ url: 'sqlite:.eas/eas.db' });
 * const { totals } = await db.status();
 * ```
 */
export class TaskDatabase {
  /** The SQL connection (shared with the SQL job queue in embedded mode). */
  readonly sql: SqlDatabase;
  private readonly log: Logger;
  private readonly now: () => number;

  /** Use {@link createTaskDatabase}. */
  constructor(sql: SqlDatabase, options: { logger?: Logger; now?: () => number } = {}) {
    this.sql = sql;
    this.log = (options.logger ?? silentLogger()).child({ component: 'taskdb' });
    this.now = options.now ?? Date.now;
  }

  /** Applies pending migrations. Safe to call from several processes at once (knex locks). */
  async migrate(): Promise<void> {
    await runMigrations(
      this.sql.knex,
      TASKDB_MIGRATIONS,
      'eas_migrations',
      'task database',
      this.log,
    );
  }

  /** Writes a planned job in one transaction; returns its id and the attempts ready at once. */
  async submit(job: PlannedJob): Promise<SubmitResult> {
    const result = await this.sql.transaction((tx) => submitJob(tx, job, this.now()));
    if (this.sql.profile.analyzeAfterBulk && job.tasks.length >= 1000)
      await this.sql.run('ANALYZE');
    this.log.info(
      { jobId: result.jobId, tasks: result.taskCount, ready: result.ready.length },
      'job submitted',
    );
    return result;
  }

  /** Marks claimed attempts running under `worker` and returns their payloads (see {@link startAttempts}). */
  startAttempts(
    attemptIds: readonly number[],
    worker: WorkerInfo,
  ): Promise<{ payloads: AttemptPayload[]; stale: number[] }> {
    // With a server-side lifecycle the start is one statement: atomic without a transaction.
    if (this.sql.profile.serverLifecycle)
      return startAttempts(this.sql, attemptIds, worker, this.now());
    return this.sql.transaction((tx) => startAttempts(tx, attemptIds, worker, this.now()));
  }

  /**
   * Records finished attempts and moves their tasks on, in one transaction. With `take`, up to
   * `take.max` of the attempts this releases are started under the reporting worker in the same
   * transaction and come back in `started` (see {@link TakeRequest}).
   */
  async finishAttempts(
    outcomes: readonly AttemptOutcome[],
    take?: TakeRequest,
  ): Promise<FinishResult> {
    const now = this.now();
    const general = (list: readonly AttemptOutcome[], t?: TakeRequest): Promise<FinishResult> =>
      this.sql.transaction(async (tx) =>
        takeReady(tx, await finishAttempts(tx, list, now), t, now),
      );
    if (!this.sql.profile.serverLifecycle) return general(outcomes, take);
    // The common case (succeeded, QC passed) in one round trip on the server; the rest, and a
    // batch the server hands back, through the general path. Each attempt's effects stay in
    // one transaction either way.
    const passed = outcomes.filter((o) => o.succeeded && o.qcPassed);
    const rest = outcomes.filter((o) => !(o.succeeded && o.qcPassed));
    const fast =
      passed.length > 0 ? await finishPassedOnServer(this.sql, passed, now, take) : undefined;
    if (passed.length > 0 && !fast) return general(outcomes, take);
    if (rest.length === 0) return fast!;
    const left = take && { ...take, max: take.max - (fast?.started.length ?? 0) };
    const slow = await general(rest, left);
    return fast ? mergeFinishResults([fast, slow]) : slow;
  }

  /**
   * Handles attempts whose lease expired: stalled and re-queued as new attempts. With
   * `handBack` (a worker stopping on purpose) the loss does not count towards the stall limit.
   */
  stallAttempts(
    attemptIds: readonly number[],
    options: { handBack?: boolean } = {},
  ): Promise<{ ready: ReadyAttempt[]; stalled: number[]; failed: number[]; blocked: number[] }> {
    return this.sql.transaction((tx) => stallAttempts(tx, attemptIds, this.now(), options));
  }

  /**
   * Attempts still `running` whose last heartbeat is older than `olderThanMs`: their worker
   * is gone even though no lease says so (the queue lost the item). Reconcile stalls them.
   */
  async silentAttempts(olderThanMs: number): Promise<number[]> {
    const rows = await this.sql.all<{ id: number }>(
      `SELECT id FROM eas_attempts WHERE state = 'running' AND coalesce(heartbeat_at, started_at) < ?`,
      [this.now() - olderThanMs],
    );
    return rows.map((r) => Number(r.id));
  }

  /**
   * How many attempts are live — `queued` (ready, in backoff, or claimed and not yet started) or
   * `running`: each should have an item in the job queue (ready or leased). One count on the
   * live-attempts index.
   */
  async liveAttemptCount(): Promise<number> {
    const rows = await this.sql.all<{ n: number }>(
      `SELECT count(*) AS n FROM eas_attempts WHERE state IN ('queued', 'running')`,
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Records a run-time expansion of a deferred control-flow task (see {@link expandDeferred}). */
  expandDeferred(e: DeferredExpansion): ReturnType<typeof expandDeferred> {
    return this.sql.transaction((tx) => expandDeferred(tx, e, this.now()));
  }

  /** Records outside files as a finished job's QC-passed products (see {@link importFiles}). */
  importFiles(
    jobName: string,
    files: readonly ImportedFile[],
  ): Promise<{ jobId: number; taskId: number }> {
    return this.sql.transaction((tx) => importFiles(tx, jobName, files, this.now()));
  }

  /** Finished attempts with timings and loop parameters (`eas timings`), a page at a time. */
  timings(filter: { jobId?: number; afterId?: number; limit?: number } = {}): Promise<TimingRow[]> {
    return timingRows(this.sql, filter);
  }

  /** Attempts that reported an `outcome` (`eas pass-fail`), a page at a time. */
  outcomes(
    filter: { jobId?: number; afterId?: number; limit?: number } = {},
  ): Promise<OutcomeRow[]> {
    return outcomeRows(this.sql, filter);
  }

  /** Number of children of a task. */
  childCount(taskId: number): Promise<number> {
    return childCount(this.sql, taskId);
  }

  /** The product a task of the job declares at (working directory, filename). */
  jobProduct(
    jobId: number,
    workingDirectory: string,
    filename: string,
  ): Promise<number | undefined> {
    return jobProduct(this.sql, jobId, workingDirectory, filename);
  }

  /** Records heartbeats; returns the attempts still running under the worker. */
  heartbeat(workerId: string, attemptIds: readonly number[]): Promise<number[]> {
    return this.sql.transaction((tx) => heartbeat(tx, workerId, attemptIds, this.now()));
  }

  /** Appends log lines of running attempts. */
  appendLogs(lines: readonly AttemptLogLine[]): Promise<void> {
    if (lines.length === 0) return Promise.resolve();
    return this.sql.transaction((tx) => appendLogs(tx, lines));
  }

  /**
   * Settles running jobs that have no live task left. The report of a job's last task settles
   * it in the same transaction, but on PostgreSQL two reports of a job's last tasks committing
   * at the same moment each still see the other's task running, and neither settles the job.
   * The controller runs this with every reap, so such a job ends within a second.
   */
  settleEndedJobs(): Promise<{ jobId: number; status: JobStatus }[]> {
    return settleEndedJobs(this.sql, this.now());
  }

  /**
   * Stores the job totals (task counts, timing sums, outcome counts) of up to `max` (default 4)
   * jobs that ended since their totals were last stored; `eas status` and the dashboard's
   * progress, timings and pass/fail views then read an ended job's totals instead of all its rows. The
   * controller runs this with every reap. A job whose totals the database refuses is reported
   * in `failed` and counted from its rows from then on.
   * @throws the database's error when it is unreachable.
   */
  storeJobTotals(max?: number): Promise<StoredJobTotals> {
    return storeJobTotals(this.sql, max);
  }

  /** Repairs counters and lists every queued attempt (see {@link reconcile}). */
  reconcile(): Promise<ReconcileResult> {
    return this.sql.transaction((tx) => reconcile(tx, this.now()));
  }

  /**
   * Cancels a running job in one transaction: live tasks and their queued or running attempts
   * become `cancelled` (see {@link cancelJob}). Remove the job's queue items afterwards.
   * @throws EasError `NOT_FOUND`, or `USAGE` when the job is not running.
   */
  cancelJob(jobId: number): Promise<CancelResult> {
    return this.sql.transaction((tx) => cancelJob(tx, jobId, this.now()));
  }

  /**
   * Runs the failed part of a job again in one transaction (see {@link rerunJob}); returns the
   * attempts to enqueue.
   * @throws EasError `NOT_FOUND`, or `USAGE` when nothing failed, was blocked or cancelled.
   */
  rerunJob(jobId: number): Promise<RerunResult> {
    return this.sql.transaction((tx) => rerunJob(tx, jobId, this.now()));
  }

  /**
   * Deletes a job's rows in one transaction (see {@link deleteJob}); returns the file-store
   * keys no other version refers to. Remove its queue items and those objects afterwards.
   * @throws EasError `NOT_FOUND`, or `USAGE` when it is running (without `force`) or another
   *   job reads its products.
   */
  deleteJob(jobId: number, options: { force?: boolean } = {}): Promise<DeleteResult> {
    return this.sql.transaction((tx) => deleteJob(tx, jobId, this.now(), options));
  }

  /**
   * Those of `keys` (file-store keys, sha256) that a version refers to; the others back no
   * version and may be removed (see `collectGarbage`).
   */
  referencedObjects(keys: readonly string[]): Promise<Set<string>> {
    return referencedObjects(this.sql, keys);
  }

  /** Records a worker host (upsert). */
  async registerWorker(w: {
    id: string;
    host: string;
    pid: number;
    types: string[];
    concurrency: number;
  }): Promise<void> {
    const now = this.now();
    await this.sql.run(
      `INSERT INTO eas_worker_hosts (id, host, pid, types, concurrency, state, started_at, last_seen_at)
       VALUES (?, ?, ?, ?, ?, 'running', ?, ?)
       ON CONFLICT (id) DO UPDATE SET state = 'running', last_seen_at = excluded.last_seen_at`,
      [w.id, w.host, w.pid, JSON.stringify(w.types), w.concurrency, now, now],
    );
  }

  /** Marks a worker stopped. */
  async stopWorker(id: string): Promise<void> {
    await this.sql.run(
      `UPDATE eas_worker_hosts SET state = 'stopped', last_seen_at = ? WHERE id = ?`,
      [this.now(), id],
    );
  }

  /** Worker hosts, most recently seen first. */
  async workers(state?: 'running' | 'stopped'): Promise<WorkerHostRecord[]> {
    const rows = await this.sql.all(
      `SELECT * FROM eas_worker_hosts ${state ? 'WHERE state = ?' : ''} ORDER BY last_seen_at DESC`,
      state ? [state] : [],
    );
    return rows.map((r) => ({
      id: String(r.id),
      host: String(r.host),
      pid: Number(r.pid),
      types: JSON.parse(String(r.types)) as string[],
      concurrency: Number(r.concurrency),
      state: r.state as 'running' | 'stopped',
      startedAt: Number(r.started_at),
      lastSeenAt: Number(r.last_seen_at),
    }));
  }

  /** Attempts running under the given workers (to release a dead worker's work). */
  async runningAttemptsOf(workerIds: readonly string[]): Promise<number[]> {
    if (workerIds.length === 0) return [];
    const rows = await this.sql.all<{ id: number }>(
      `SELECT id FROM eas_attempts WHERE state = 'running' AND worker IN (${workerIds.map(() => '?').join(', ')})`,
      workerIds,
    );
    return rows.map((r) => Number(r.id));
  }

  /** Task counts by type and state, per job and in total (`eas status`). */
  status(jobId?: number): Promise<StatusView> {
    return statusView(this.sql, jobId);
  }

  /** Jobs, newest first. */
  jobs(): Promise<JobSummary[]> {
    return listJobs(this.sql);
  }

  /** One job, or undefined. */
  async job(jobId: number): Promise<JobSummary | undefined> {
    return (await listJobs(this.sql, jobId))[0];
  }

  /** One level of the task tree (roots of a job when `parentId` is null). */
  children(
    jobId: number,
    parentId: number | null,
    limit?: number,
    offset?: number,
  ): Promise<TaskSummary[]> {
    return taskChildren(this.sql, jobId, parentId, limit, offset);
  }

  /** Tasks by filter. */
  tasks(
    filter: {
      jobId?: number;
      states?: TaskState[];
      type?: string;
      limit?: number;
      afterId?: number;
    } = {},
  ): Promise<TaskSummary[]> {
    return listTasks(this.sql, filter);
  }

  /** Everything about one task. */
  task(taskId: number): Promise<TaskDetail | undefined> {
    return taskDetail(this.sql, taskId);
  }

  /** Log lines by filter. */
  logs(
    filter: {
      jobId?: number;
      taskId?: number;
      attemptId?: number;
      minLevel?: string;
      limit?: number;
      afterId?: number;
    } = {},
  ): Promise<StoredLogLine[]> {
    return readLogs(this.sql, filter);
  }

  /** Failed and blocked tasks with their errors. */
  errors(jobId?: number, limit?: number): Promise<ErrorEntry[]> {
    return listErrors(this.sql, jobId, limit);
  }

  /** Products with their versions. */
  products(
    filter: { jobId?: number; workingDirectory?: string; limit?: number } = {},
  ): Promise<ProductView[]> {
    return listProducts(this.sql, filter);
  }

  /** The newest QC-passed version of a logical file (in a job, or the newest job that has one). */
  findPassedVersion(
    workingDirectory: string,
    filename: string,
    jobId?: number,
  ): Promise<(VersionDetail & { jobId: number; metadata: TypedMetadata }) | undefined> {
    return findPassedVersion(this.sql, workingDirectory, filename, jobId);
  }

  /** Row counts of every table. */
  counts(): Promise<Record<string, number>> {
    return tableCounts(this.sql);
  }

  /** Runs `fn` in one transaction (for components that combine several steps). */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.sql.transaction(fn);
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.sql.close();
  }

  /** `await using db = …` closes it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * The live attempts per task type with the workers running them: the demand the autoscaler
   * turns into replicas per container (see {@link scalingDemand}). Queued attempts still in
   * their retry backoff are counted apart as `delayed`.
   */
  scalingDemand(): Promise<TaskTypeDemand[]> {
    return scalingDemand(this.sql, this.now());
  }
}

/**
 * Opens (and by default migrates) a task database.
 *
 * @throws EasError `BACKEND_UNAVAILABLE` (exit 3) when PostgreSQL does not answer.
 */
export async function createTaskDatabase(options: TaskDatabaseOptions): Promise<TaskDatabase> {
  const sql = await openSqlDatabase(options.url, {
    poolMax: options.poolMax,
    logger: options.logger,
  });
  const db = new TaskDatabase(sql, { logger: options.logger, now: options.now });
  if (options.migrate ?? true) {
    try {
      await db.migrate();
    } catch (e) {
      await sql.close();
      throw e;
    }
  }
  return db;
}

/** One {@link FinishResult} from several (the server's part and the general path's). */
function mergeFinishResults(results: readonly FinishResult[]): FinishResult {
  const jobs = new Map<number, FinishResult['finishedJobs'][number]>();
  for (const r of results) for (const j of r.finishedJobs) jobs.set(j.jobId, j);
  return {
    ready: results.flatMap((r) => r.ready),
    stale: results.flatMap((r) => r.stale),
    done: results.flatMap((r) => r.done),
    failed: results.flatMap((r) => r.failed),
    blocked: results.flatMap((r) => r.blocked),
    finishedJobs: [...jobs.values()],
    started: results.flatMap((r) => r.started),
  };
}
