/**
 * Per-job totals of the task database — task counts by type and state, timing sums, outcome
 * counts — as `eas status` and the dashboard's aggregate views read them: an ended job's as the
 * controller stored them after it ended (`TaskDatabase.storeJobTotals`, migration 0008), every
 * other job's (running, or ended and not stored) counted from its rows.
 */
import { createHash } from 'node:crypto';
import {
  insertMany,
  isTransientBackendError,
  type SqlDatabase,
  type SqlExecutor,
} from '../../core/index.js';
import { Conditions } from './conditions.js';
import { chunks } from './ids.js';
import type { TaskState } from '../types.js';

function jobFilter(column: string, jobIds: readonly number[] | undefined): Conditions {
  return new Conditions().among(column, jobIds);
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** Tasks of one job, type and state. */
export interface ProgressCount {
  /** The job. */
  jobId: number;
  /** The task type. */
  type: string;
  /** The task state. */
  state: TaskState;
  /** How many tasks. */
  tasks: number;
}

/**
 * Which of the given jobs (all when undefined or empty) have their totals stored for their
 * latest end (see `TaskDatabase.storeJobTotals`), and which are to be summed from their rows;
 * `all` when every job of the database is summed, so one scan without a filter serves them.
 */
async function storedOrSummed(
  sql: SqlExecutor,
  jobIds: readonly number[] | undefined,
): Promise<{ stored: number[]; summed: number[]; all: boolean }> {
  const c = jobFilter('id', jobIds);
  const jobs = await sql.all<{
    id: number;
    status: string;
    finished_at: unknown;
    totals_of: unknown;
  }>(`SELECT id, status, finished_at, totals_of FROM eas_jobs ${c.whereClause()}`, c.params);
  const stored: number[] = [];
  const summed: number[] = [];
  for (const j of jobs) {
    const kept =
      j.status !== 'running' &&
      j.finished_at !== null &&
      j.totals_of !== null &&
      Number(j.totals_of) === Number(j.finished_at);
    (kept ? stored : summed).push(Number(j.id));
  }
  return { stored, summed, all: jobIds === undefined && stored.length === 0 };
}

/** One kind of per-job totals: how its stored rows are read and how it is counted from rows. */
interface TotalsKind<R> {
  /** Selects the stored rows in the columns `of` reads (a job filter is appended). */
  stored: string;
  /** A row, stored or counted, as a value. */
  of: (r: Record<string, unknown>) => R;
  /** Counts it from the rows of the given jobs (all when undefined or empty). */
  sum: (sql: SqlExecutor, jobIds?: readonly number[]) => Promise<R[]>;
}

/**
 * Per-job totals of one kind: the stored totals of ended jobs, the others counted from their
 * rows, a few hundred jobs per statement.
 */
async function storedOrSummedRows<R>(
  sql: SqlExecutor,
  jobIds: readonly number[] | undefined,
  kind: TotalsKind<R>,
): Promise<R[]> {
  const { stored, summed, all } = await storedOrSummed(sql, jobIds);
  const out: R[] = [];
  for (const part of chunks(stored)) {
    const c = jobFilter('job_id', part);
    out.push(...(await sql.all(`${kind.stored} ${c.whereClause()}`, c.params)).map(kind.of));
  }
  if (all) out.push(...(await kind.sum(sql)));
  else for (const part of chunks(summed)) out.push(...(await kind.sum(sql, part)));
  return out;
}

/**
 * Task counts per job, type and state, summed from the tasks of the given jobs (all when
 * undefined): one grouped scan of the `(job_id, type, state)` index, which covers it, so no
 * table row is read.
 */
async function summedProgressCounts(
  sql: SqlExecutor,
  jobIds?: readonly number[],
): Promise<ProgressCount[]> {
  const c = jobFilter('job_id', jobIds);
  const rows = await sql.all(
    `SELECT job_id, type, state, count(*) AS n FROM eas_tasks ${c.whereClause()} GROUP BY job_id, type, state`,
    c.params,
  );
  return rows.map(progressCountOf);
}

function progressCountOf(r: Record<string, unknown>): ProgressCount {
  return {
    jobId: Number(r.job_id),
    type: String(r.type),
    state: r.state as TaskState,
    tasks: Number(r.n),
  };
}

const PROGRESS: TotalsKind<ProgressCount> = {
  stored: 'SELECT job_id, type, state, tasks AS n FROM eas_job_progress',
  of: progressCountOf,
  sum: summedProgressCounts,
};

/**
 * Task counts per job, type and state, of the given jobs (all when undefined or empty): an
 * ended job's as stored after it ended (`TaskDatabase.storeJobTotals`), the others' from their
 * tasks.
 */
export function progressCounts(
  sql: SqlExecutor,
  jobIds?: readonly number[],
): Promise<ProgressCount[]> {
  return storedOrSummedRows(sql, jobIds, PROGRESS);
}

/**
 * Sums of the timings of one job's finished attempts of one type and state (they add up across
 * jobs).
 */
export interface TimingTotals {
  /** The job. */
  jobId: number;
  /** The task type. */
  taskType: string;
  /** The attempt state: `succeeded`, `failed` or `stalled`. */
  state: string;
  /** How many attempts. */
  attempts: number;
  /** Sum of their wall times, ms (0 when none has one). */
  wallMs: number;
  /** How many of them have a wall time. */
  wallCount: number;
  /** Shortest wall time, ms, or null when none has one. */
  minWallMs: number | null;
  /** Longest wall time, ms, or null when none has one. */
  maxWallMs: number | null;
  /** Sum of their own CPU times (`cpu_ms`), ms. */
  cpuMs: number;
  /** How many of them have a CPU time. */
  cpuCount: number;
  /**
   * Sum of their CPU times with their child processes (`cpu_children_ms`, where an external
   * code's work is), ms.
   */
  cpuChildrenMs: number;
  /** How many of them have a CPU time with child processes. */
  cpuChildrenCount: number;
  /** Sum of their waits from queued to started, ms. */
  waitMs: number;
  /** How many of them have a start. */
  waitCount: number;
}

/** The attempt states the timing sums count: those that ran and ended. */
const TIMED_STATES = "state IN ('succeeded', 'failed', 'stalled')";

/**
 * Timing sums per job, task type and state, summed from the attempts of the given jobs (all
 * when undefined or empty).
 */
async function summedTimingTotals(
  sql: SqlExecutor,
  jobIds?: readonly number[],
): Promise<TimingTotals[]> {
  const c = jobFilter('job_id', jobIds);
  c.where.push(TIMED_STATES);
  const rows = await sql.all(
    `SELECT job_id, task_type, state, count(*) AS n, sum(wall_ms) AS wall, count(wall_ms) AS n_wall,
            min(wall_ms) AS min_wall, max(wall_ms) AS max_wall, sum(cpu_ms) AS cpu, count(cpu_ms) AS n_cpu,
            sum(cpu_children_ms) AS cpu_children, count(cpu_children_ms) AS n_cpu_children,
            sum(started_at - queued_at) AS wait, count(started_at) AS n_wait
     FROM eas_attempts ${c.whereClause()} GROUP BY job_id, task_type, state`,
    c.params,
  );
  return rows.map(timingTotalsOf);
}

function timingTotalsOf(r: Record<string, unknown>): TimingTotals {
  return {
    jobId: Number(r.job_id),
    taskType: String(r.task_type),
    state: String(r.state),
    attempts: Number(r.n),
    wallMs: Number(r.wall ?? 0),
    wallCount: Number(r.n_wall),
    minWallMs: numOrNull(r.min_wall),
    maxWallMs: numOrNull(r.max_wall),
    cpuMs: Number(r.cpu ?? 0),
    cpuCount: Number(r.n_cpu),
    cpuChildrenMs: Number(r.cpu_children ?? 0),
    cpuChildrenCount: Number(r.n_cpu_children),
    waitMs: Number(r.wait ?? 0),
    waitCount: Number(r.n_wait),
  };
}

const TIMINGS: TotalsKind<TimingTotals> = {
  stored: `SELECT job_id, task_type, state, attempts AS n, wall_ms AS wall, wall_count AS n_wall,
      min_wall_ms AS min_wall, max_wall_ms AS max_wall, cpu_ms AS cpu, cpu_count AS n_cpu,
      cpu_children_ms AS cpu_children, cpu_children_count AS n_cpu_children, wait_ms AS wait, wait_count AS n_wait
    FROM eas_job_timings`,
  of: timingTotalsOf,
  sum: summedTimingTotals,
};

/**
 * Timing sums per job, task type and state of finished attempts (of the given jobs; all when
 * undefined or empty): an ended job's as stored after it ended (`TaskDatabase.storeJobTotals`),
 * the others' from their attempts.
 */
export function timingTotals(
  sql: SqlExecutor,
  jobIds?: readonly number[],
): Promise<TimingTotals[]> {
  return storedOrSummedRows(sql, jobIds, TIMINGS);
}

/** Outcomes (`PASS`, `FAIL`, `UNDEFINED`…) counted per task type. */
export interface OutcomeSummary {
  /** The task type. */
  taskType: string;
  /** The `outcome` the attempts reported, as text. */
  outcome: string;
  /** How many attempts reported it. */
  attempts: number;
}

/** Outcome counts of one job. */
export type JobOutcomeCount = OutcomeSummary & { jobId: number };

/**
 * Attempts per job, task type and reported `outcome`, counted from the given jobs' attempts
 * (all when undefined or empty). Given jobs, it goes from their attempts (the job index) to
 * their outcome rows (the metadata's key): CROSS JOIN keeps that order on SQLite, where the
 * planner would otherwise read every outcome of the database. Over all jobs, every outcome row
 * is read once, joined to its attempt.
 */
async function summedOutcomeCounts(
  sql: SqlExecutor,
  jobIds?: readonly number[],
): Promise<JobOutcomeCount[]> {
  const c = jobFilter('a.job_id', jobIds);
  // Only attempts that passed QC: what a failed one reported is no result.
  c.where.push("m.owner_kind = 'attempt'", "m.key = 'outcome'", "a.qc = 'passed'");
  const from =
    c.params.length > 0
      ? 'eas_attempts a CROSS JOIN eas_metadata m'
      : 'eas_metadata m CROSS JOIN eas_attempts a';
  c.where.push('m.owner_id = a.id');
  const rows = await sql.all(
    `SELECT a.job_id, a.task_type, m.value, count(*) AS n FROM ${from}
     ${c.whereClause()} GROUP BY a.job_id, a.task_type, m.value`,
    c.params,
  );
  return rows.map(outcomeCountOf);
}

function outcomeCountOf(r: Record<string, unknown>): JobOutcomeCount {
  return {
    jobId: Number(r.job_id),
    taskType: String(r.task_type),
    outcome: String(r.value),
    attempts: Number(r.n),
  };
}

const OUTCOMES: TotalsKind<JobOutcomeCount> = {
  stored: 'SELECT job_id, task_type, outcome AS value, attempts AS n FROM eas_job_outcomes',
  of: outcomeCountOf,
  sum: summedOutcomeCounts,
};

/**
 * Attempts per job, task type and reported `outcome` (of the given jobs; all when undefined or
 * empty): an ended job's as stored after it ended (`TaskDatabase.storeJobTotals`), the others'
 * counted from their attempts' metadata.
 */
export function outcomeCounts(
  sql: SqlExecutor,
  jobIds?: readonly number[],
): Promise<JobOutcomeCount[]> {
  return storedOrSummedRows(sql, jobIds, OUTCOMES);
}

/** What `TaskDatabase.storeJobTotals` did. */
export interface StoredJobTotals {
  /** Jobs whose totals are stored now. */
  stored: number[];
  /**
   * Jobs whose totals could not be stored, with the database's message: marked so, they are
   * counted from their rows and not tried again until their next end.
   */
  failed: { jobId: number; error: string }[];
}

/**
 * Stores the totals that `eas status` and the dashboard's aggregate views read — task counts by
 * type and state, timing sums, outcome counts — of up to `max` (default 4) ended jobs whose
 * totals are not stored yet, or were stored for an earlier end. An ended job's tasks and
 * attempts no longer change, so those views read its totals instead of all its rows.
 *
 * The totals are read outside a write transaction (a large job's take a while, and on SQLite
 * a write transaction holds every writer back), each from the job's own rows. The write then
 * marks the job only if it still ended at the same moment, so a job rerun meanwhile is left
 * for its next end. A job whose totals the database refuses (any error but a transient one)
 * is marked as failed rather than tried at every call; the views count it from its rows.
 *
 * @throws the database's error when it is unreachable (transient: the caller tries again later).
 */
export async function storeJobTotals(sql: SqlDatabase, max = 4): Promise<StoredJobTotals> {
  const due = await sql.all<{ id: number; finished_at: number }>(
    `SELECT id, finished_at FROM eas_jobs
     WHERE status <> 'running' AND finished_at IS NOT NULL
       AND (totals_of IS NULL OR (totals_of <> finished_at AND totals_of <> ${TOTALS_FAILED}))
     ORDER BY id LIMIT ?`,
    [max],
  );
  const result: StoredJobTotals = { stored: [], failed: [] };
  for (const job of due) {
    const id = Number(job.id);
    const finishedAt = Number(job.finished_at);
    try {
      if (await storeTotalsOf(sql, id, finishedAt)) result.stored.push(id);
    } catch (e) {
      if (isTransientBackendError(e)) throw e;
      await sql.run(
        `UPDATE eas_jobs SET totals_of = ${TOTALS_FAILED} WHERE id = ? AND finished_at = ?`,
        [id, finishedAt],
      );
      result.failed.push({ jobId: id, error: e instanceof Error ? e.message : String(e) });
    }
  }
  return result;
}

/** `eas_jobs.totals_of` of a job whose totals could not be stored. */
const TOTALS_FAILED = -1;

/** Reads one ended job's totals and writes them; false when the job no longer ended then. */
async function storeTotalsOf(sql: SqlDatabase, id: number, finishedAt: number): Promise<boolean> {
  const progress = await summedProgressCounts(sql, [id]);
  const timings = await summedTimingTotals(sql, [id]);
  const outcomes = await summedOutcomeCounts(sql, [id]);
  return sql.transaction(async (tx) => {
    const marked = await tx.run(
      `UPDATE eas_jobs SET totals_of = ? WHERE id = ? AND status <> 'running' AND finished_at = ?`,
      [finishedAt, id, finishedAt],
    );
    if (marked === 0) return false;
    for (const table of JOB_TOTALS_TABLES)
      await tx.run(`DELETE FROM ${table} WHERE job_id = ?`, [id]);
    await insertMany(
      tx,
      'eas_job_progress',
      ['job_id', 'type', 'state', 'tasks'],
      progress.map((p) => [id, p.type, p.state, p.tasks]),
    );
    await insertMany(
      tx,
      'eas_job_timings',
      [
        'job_id',
        'task_type',
        'state',
        'attempts',
        'wall_ms',
        'wall_count',
        'min_wall_ms',
        'max_wall_ms',
        'cpu_ms',
        'cpu_count',
        'cpu_children_ms',
        'cpu_children_count',
        'wait_ms',
        'wait_count',
      ],
      timings.map((t) => [
        id,
        t.taskType,
        t.state,
        t.attempts,
        t.wallMs,
        t.wallCount,
        t.minWallMs,
        t.maxWallMs,
        t.cpuMs,
        t.cpuCount,
        t.cpuChildrenMs,
        t.cpuChildrenCount,
        t.waitMs,
        t.waitCount,
      ]),
    );
    await insertMany(
      tx,
      'eas_job_outcomes',
      ['job_id', 'task_type', 'outcome_sha256', 'outcome', 'attempts'],
      outcomes.map((o) => [
        id,
        o.taskType,
        createHash('sha256').update(o.outcome).digest('hex'),
        o.outcome,
        o.attempts,
      ]),
    );
    return true;
  });
}

/** The tables of `TaskDatabase.storeJobTotals`: each job's rows go with the job. */
export const JOB_TOTALS_TABLES = [
  'eas_job_progress',
  'eas_job_timings',
  'eas_job_outcomes',
] as const;
