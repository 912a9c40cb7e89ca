/**
 * Queries of the web dashboard (DESIGN §7), written to stay fast at 1,000,000 tasks: every list
 * is a keyset page (`WHERE key > ? ORDER BY key LIMIT ?`, never `OFFSET`), every count reads a
 * covering index, and per-row details are fetched in one `IN (…)` query per page (no N+1).
 */
import {
  decodeTypedValue,
  deserializeTypedMetadata,
  placeholders,
  type SqlExecutor,
  type TypedMetadata,
} from '../../core/index.js';
import { progressCounts, type OutcomeSummary, type TimingTotals } from './totals.js';
import { Conditions } from './conditions.js';
import {
  listJobs,
  progressOf,
  taskFromRow,
  TASK_SUMMARY_COLUMNS,
  type LogFilter,
  type StatusView,
  type TaskSummary,
} from './views.js';
import { metadataOf } from './lifecycle.js';
import { LOG_LEVELS, levelsFrom, TASK_STATES, type TaskState } from '../types.js';

/** Largest page any dashboard list returns. */
export const DASHBOARD_MAX_PAGE = 1000;

function pageSize(limit: number | undefined, fallback = 100): number {
  const n = Math.floor(limit ?? fallback);
  return Math.min(DASHBOARD_MAX_PAGE, Math.max(1, Number.isFinite(n) ? n : fallback));
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

/** A page of a keyset-paginated list: `next` is the key to pass as `after` for the next page. */
export interface DashboardPage<T, K = number> {
  items: T[];
  /** Key of the last item when there may be more, else null. */
  next: K | null;
}

function page<T, K>(items: T[], limit: number, key: (item: T) => K): DashboardPage<T, K> {
  const last = items[items.length - 1];
  return { items, next: items.length === limit && last !== undefined ? key(last) : null };
}

/** Task counts by state per job, per task type and in total: the dashboard's progress view. */
export type DashboardProgress = StatusView;

/** The progress view of one job or all, uncached: {@link progressCounts} plus the job list. */
export async function dashboardProgress(
  sql: SqlExecutor,
  jobId?: number,
): Promise<DashboardProgress> {
  const jobs = await listJobs(sql, jobId);
  return progressOf(jobs, await progressCounts(sql, jobId === undefined ? undefined : [jobId]));
}

/**
 * A cheap fingerprint of the database's progress: it changes whenever an attempt is created,
 * starts or ends, a log line is written or a job changes status. Read from primary keys and the
 * partial index on live attempts only, so it can be polled every second at any size; the live
 * view recomputes {@link dashboardProgress} only when it changes.
 */
export async function progressFingerprint(sql: SqlExecutor): Promise<string> {
  const a = await sql.get<{ max_id: number | null }>('SELECT max(id) AS max_id FROM eas_attempts');
  const live = await sql.all<{ state: string; n: number }>(
    `SELECT state, count(*) AS n FROM eas_attempts WHERE state IN ('queued', 'running') GROUP BY state`,
  );
  const logs = await sql.get<{ max_id: number | null }>(
    'SELECT max(id) AS max_id FROM eas_log_lines',
  );
  const jobs = await sql.all<{ id: number; status: string }>(
    'SELECT id, status FROM eas_jobs ORDER BY id',
  );
  return [
    a?.max_id ?? 0,
    live.map((r) => `${r.state}=${r.n}`).join(','),
    logs?.max_id ?? 0,
    jobs.map((j) => `${j.id}:${j.status}`).join(','),
  ].join('|');
}

/**
 * One page of one level of the task tree: the children of `parentId` (the job's roots when
 * null) after sibling position `afterPosition`, each with its number of children. Served by the
 * `(parent_id, position)` index; a node with 100,000 children is read a page at a time.
 */
export async function treeChildren(
  sql: SqlExecutor,
  filter: { jobId: number; parentId: number | null; afterPosition?: number; limit?: number },
): Promise<DashboardPage<TaskSummary>> {
  const limit = pageSize(filter.limit);
  const c = new Conditions(
    filter.parentId === null ? ['t.job_id = ?', 't.parent_id IS NULL'] : ['t.parent_id = ?'],
  );
  c.params.push(filter.parentId === null ? filter.jobId : filter.parentId);
  c.after('t.position', filter.afterPosition);
  const rows = await sql.all(
    `SELECT ${TASK_SUMMARY_COLUMNS}, (SELECT count(*) FROM eas_tasks c WHERE c.parent_id = t.id) AS child_count
     FROM eas_tasks t ${c.whereClause()} ORDER BY t.position LIMIT ?`,
    [...c.params, limit],
  );
  return page(rows.map(taskFromRow), limit, (t) => t.position);
}

/** A task in a filtered list, with its current attempt's error (for failed tasks). */
export interface TaskListItem extends TaskSummary {
  /** The error of its current attempt, when that attempt failed. */
  error: string | null;
}

/** Most jobs a task list reads one by one before it falls back to one query over all of them. */
const PER_JOB_LISTS = 64;

/**
 * A page of tasks by job, states, type and depth, in id order after `afterId`: the list behind
 * "failed tasks of type X" and the depth filter.
 *
 * The page is merged from one small range read per (job, state) — or per job with a depth — on
 * the `(job_id, state, id)`, `(job_id, type, state, id)` and `(job_id, depth, id)` indexes, each
 * already in id order, so a page of a job's 100,000 `done` tasks reads about 100 index entries
 * instead of sorting 100,000 rows. Beyond 64 jobs it is one query.
 */
export async function taskPage(
  sql: SqlExecutor,
  filter: {
    jobId?: number;
    states?: TaskState[];
    type?: string;
    depth?: number;
    afterId?: number;
    limit?: number;
  },
): Promise<DashboardPage<TaskListItem>> {
  const limit = pageSize(filter.limit);
  const select = (c: Conditions, n: number) =>
    sql.all(
      `SELECT ${TASK_SUMMARY_COLUMNS}, a.error FROM eas_tasks t LEFT JOIN eas_attempts a ON a.id = t.current_attempt_id
       ${c.whereClause()} ORDER BY t.id LIMIT ?`,
      [...c.params, n],
    );
  const jobIds =
    filter.jobId !== undefined
      ? [filter.jobId]
      : (await sql.all<{ id: number }>('SELECT id FROM eas_jobs ORDER BY id')).map((r) =>
          Number(r.id),
        );
  let rows: Record<string, unknown>[];
  if (jobIds.length > PER_JOB_LISTS) {
    rows = await select(
      new Conditions()
        .among('t.state', filter.states)
        .equals('t.type', filter.type)
        .equals('t.depth', filter.depth)
        .after('t.id', filter.afterId),
      limit,
    );
  } else {
    const reads: Conditions[] = [];
    for (const jobId of jobIds) {
      if (filter.depth !== undefined) {
        reads.push(
          new Conditions()
            .equals('t.job_id', jobId)
            .equals('t.depth', filter.depth)
            .among('t.state', filter.states)
            .equals('t.type', filter.type)
            .after('t.id', filter.afterId),
        );
        continue;
      }
      for (const state of filter.states ?? TASK_STATES) {
        reads.push(
          new Conditions()
            .equals('t.job_id', jobId)
            .equals('t.type', filter.type)
            .equals('t.state', state)
            .after('t.id', filter.afterId),
        );
      }
    }
    rows = [];
    for (const c of reads) rows.push(...(await select(c, limit)));
    rows.sort((a, b) => Number(a.id) - Number(b.id));
    rows = rows.slice(0, limit);
  }
  return page(
    rows.map((r) => ({
      ...taskFromRow(r),
      error: r.state === 'failed' ? strOrNull(r.error) : null,
    })),
    limit,
    (t) => t.id,
  );
}

/** A log line with the task it belongs to. */
export interface DashboardLogLine {
  id: number;
  attemptId: number;
  taskId: number;
  jobId: number;
  ts: number;
  level: string;
  stream: string;
  message: string;
}

/**
 * Log lines, newest first, at `minLevel` or above, by job, task or attempt, before id
 * `beforeId` (keyset, newest page first).
 */
export async function logPage(
  sql: SqlExecutor,
  filter: LogFilter & { beforeId?: number },
): Promise<DashboardPage<DashboardLogLine>> {
  const limit = pageSize(filter.limit, 200);
  const levels = levelsFrom(filter.minLevel ?? LOG_LEVELS[0]);
  // By job alone: one read per level on the (job_id, level) index, whose entries are in id
  // order within a level, merged; an old job's newest lines are then found without walking
  // back through every later job's lines.
  const perLevel =
    filter.jobId !== undefined && filter.taskId === undefined && filter.attemptId === undefined;
  const reads = perLevel
    ? levels.map((level) => new Conditions().equals('job_id', filter.jobId).equals('level', level))
    : [
        new Conditions()
          .equals('job_id', filter.jobId)
          .equals('task_id', filter.taskId)
          .equals('attempt_id', filter.attemptId)
          .among('level', levels.length < LOG_LEVELS.length ? levels : undefined),
      ];
  let rows: Record<string, unknown>[] = [];
  for (const c of reads) {
    if (filter.beforeId !== undefined) {
      c.where.push('id < ?');
      c.params.push(filter.beforeId);
    }
    rows.push(
      ...(await sql.all(
        `SELECT id, attempt_id, task_id, job_id, ts, level, stream, message FROM eas_log_lines
         ${c.whereClause()} ORDER BY id DESC LIMIT ?`,
        [...c.params, limit],
      )),
    );
  }
  if (reads.length > 1) rows = rows.sort((a, b) => Number(b.id) - Number(a.id)).slice(0, limit);
  return page(
    rows.map((r) => ({
      id: Number(r.id),
      attemptId: Number(r.attempt_id),
      taskId: Number(r.task_id),
      jobId: Number(r.job_id),
      ts: Number(r.ts),
      level: String(r.level),
      stream: String(r.stream),
      message: String(r.message),
    })),
    limit,
    (l) => l.id,
  );
}

/** A stored version as a download needs it. */
export interface DownloadableVersion {
  id: number;
  productId: number;
  jobId: number;
  workingDirectory: string;
  filename: string;
  semanticType: string;
  sha256: string;
  size: number;
  passedQc: boolean;
}

/** One version by id, with its product's logical path, or undefined. */
export async function versionById(
  sql: SqlExecutor,
  versionId: number,
): Promise<DownloadableVersion | undefined> {
  const r = await sql.get(
    `SELECT v.id, v.product_id, v.sha256, v.size, v.passed_qc, p.job_id, p.working_directory, p.filename, p.semantic_type
     FROM eas_versions v JOIN eas_products p ON p.id = v.product_id WHERE v.id = ?`,
    [versionId],
  );
  if (!r) return undefined;
  return {
    id: Number(r.id),
    productId: Number(r.product_id),
    jobId: Number(r.job_id),
    workingDirectory: String(r.working_directory),
    filename: String(r.filename),
    semanticType: String(r.semantic_type),
    sha256: String(r.sha256),
    size: Number(r.size),
    passedQc: Number(r.passed_qc) === 1,
  };
}

/** A working directory of a job with its number of products. */
export interface ProductDirectory {
  workingDirectory: string;
  products: number;
}

/** The working directories of a job's products (served by the unique product index). */
export async function productDirectories(
  sql: SqlExecutor,
  jobId: number,
): Promise<ProductDirectory[]> {
  const rows = await sql.all<{ working_directory: string; n: number }>(
    `SELECT working_directory, count(*) AS n FROM eas_products WHERE job_id = ?
     GROUP BY working_directory ORDER BY working_directory`,
    [jobId],
  );
  return rows.map((r) => ({
    workingDirectory: String(r.working_directory),
    products: Number(r.n),
  }));
}

/** A product with its versions (newest last), each with its QC verdict and output metadata. */
export interface DashboardProduct {
  id: number;
  jobId: number;
  workingDirectory: string;
  filename: string;
  semanticType: string;
  producerTaskId: number;
  producerState: TaskState;
  optional: boolean;
  versions: {
    id: number;
    attemptId: number;
    sha256: string;
    size: number;
    passedQc: boolean;
    createdAt: number;
    metadata: TypedMetadata;
  }[];
}

/**
 * A page of a job's products in one working directory, by filename after `afterFilename`, with
 * every version and its metadata (three queries per page).
 */
export async function productPage(
  sql: SqlExecutor,
  filter: { jobId: number; workingDirectory: string; afterFilename?: string; limit?: number },
): Promise<DashboardPage<DashboardProduct, string>> {
  const limit = pageSize(filter.limit);
  const c = new Conditions(['p.job_id = ?', 'p.working_directory = ?']);
  c.params.push(filter.jobId, filter.workingDirectory);
  if (filter.afterFilename !== undefined) {
    c.where.push('p.filename > ?');
    c.params.push(filter.afterFilename);
  }
  const products = await sql.all(
    `SELECT p.id, p.job_id, p.working_directory, p.filename, p.semantic_type, p.producer_task_id, p.optional, t.state AS producer_state
     FROM eas_products p JOIN eas_tasks t ON t.id = p.producer_task_id
     ${c.whereClause()} ORDER BY p.filename LIMIT ?`,
    [...c.params, limit],
  );
  const ids = products.map((p) => Number(p.id));
  const versions = ids.length
    ? await sql.all(
        `SELECT id, product_id, attempt_id, sha256, size, passed_qc, created_at FROM eas_versions
         WHERE product_id IN (${placeholders(ids.length)}) ORDER BY id`,
        ids,
      )
    : [];
  const meta = await metadataOf(
    sql,
    'version',
    versions.map((v) => Number(v.id)),
  );
  const byProduct = new Map<number, DashboardProduct['versions']>();
  for (const v of versions) {
    const list = byProduct.get(Number(v.product_id)) ?? [];
    list.push({
      id: Number(v.id),
      attemptId: Number(v.attempt_id),
      sha256: String(v.sha256),
      size: Number(v.size),
      passedQc: Number(v.passed_qc) === 1,
      createdAt: Number(v.created_at),
      metadata: meta.get(Number(v.id)) ?? {},
    });
    byProduct.set(Number(v.product_id), list);
  }
  return page(
    products.map((p) => ({
      id: Number(p.id),
      jobId: Number(p.job_id),
      workingDirectory: String(p.working_directory),
      filename: String(p.filename),
      semanticType: String(p.semantic_type),
      producerTaskId: Number(p.producer_task_id),
      producerState: p.producer_state as TaskState,
      optional: Number(p.optional) === 1,
      versions: byProduct.get(Number(p.id)) ?? [],
    })),
    limit,
    (p) => p.filename,
  );
}

/** Timings of finished attempts of one task type and final state. */
export interface TimingSummary {
  taskType: string;
  state: string;
  attempts: number;
  meanWallMs: number | null;
  minWallMs: number | null;
  maxWallMs: number | null;
  /** Mean of the attempts' own CPU (`cpu_ms`): about nothing for an external code. */
  meanCpuMs: number | null;
  /** Mean CPU with child processes (`cpu_children_ms`): an external code's work. */
  meanCpuChildrenMs: number | null;
  /** Mean time from queued to started, ms. */
  meanWaitMs: number | null;
}

/** Combines timing sums (of any set of jobs) into means per task type and state. */
export function summarizeTimings(totals: readonly TimingTotals[]): TimingSummary[] {
  const acc = new Map<string, Omit<TimingTotals, 'jobId'>>();
  for (const t of totals) {
    const key = `${t.taskType}\u0000${t.state}`;
    const a = acc.get(key);
    if (!a) {
      acc.set(key, { ...t });
      continue;
    }
    a.attempts += t.attempts;
    a.wallMs += t.wallMs;
    a.wallCount += t.wallCount;
    a.cpuMs += t.cpuMs;
    a.cpuCount += t.cpuCount;
    a.cpuChildrenMs += t.cpuChildrenMs;
    a.cpuChildrenCount += t.cpuChildrenCount;
    a.waitMs += t.waitMs;
    a.waitCount += t.waitCount;
    if (t.minWallMs !== null) a.minWallMs = Math.min(a.minWallMs ?? Infinity, t.minWallMs);
    if (t.maxWallMs !== null) a.maxWallMs = Math.max(a.maxWallMs ?? -Infinity, t.maxWallMs);
  }
  const r3 = (v: number): number => Math.round(v * 1000) / 1000;
  return [...acc.values()]
    .sort((a, b) => a.taskType.localeCompare(b.taskType) || a.state.localeCompare(b.state))
    .map((a) => ({
      taskType: a.taskType,
      state: a.state,
      attempts: a.attempts,
      meanWallMs: a.wallCount ? r3(a.wallMs / a.wallCount) : null,
      minWallMs: a.minWallMs,
      maxWallMs: a.maxWallMs,
      meanCpuMs: a.cpuCount ? r3(a.cpuMs / a.cpuCount) : null,
      meanCpuChildrenMs: a.cpuChildrenCount ? r3(a.cpuChildrenMs / a.cpuChildrenCount) : null,
      meanWaitMs: a.waitCount ? r3(a.waitMs / a.waitCount) : null,
    }));
}

/** Adds outcome counts up across jobs, per task type and outcome. */
export function summarizeOutcomes(rows: readonly OutcomeSummary[]): OutcomeSummary[] {
  const acc = new Map<string, OutcomeSummary>();
  for (const r of rows) {
    const key = `${r.taskType}\u0000${r.outcome}`;
    const a = acc.get(key);
    if (a) a.attempts += r.attempts;
    else acc.set(key, { taskType: r.taskType, outcome: r.outcome, attempts: r.attempts });
  }
  return [...acc.values()].sort(
    (a, b) => a.taskType.localeCompare(b.taskType) || a.outcome.localeCompare(b.outcome),
  );
}

/** One task of a plot: its loop parameters, description fields and its current attempt's results. */
export interface PlotRow {
  taskId: number;
  state: TaskState;
  /** The task's metadata (loop parameters and their `_index`). */
  metadata: TypedMetadata;
  /** Top-level scalar fields of the evaluated description (`lc_duration`…). */
  description: Record<string, unknown>;
  /** Output metadata of the current attempt (only the keys asked for, when given). */
  output: TypedMetadata;
  /** The current attempt's wall time, ms. */
  wallMs: number | null;
  /** Its own CPU, ms (about nothing for an external code). */
  cpuMs: number | null;
  /** Its CPU with child processes, ms (an external code's work). */
  cpuChildrenMs: number | null;
}

/**
 * A page of the tasks of one type (in a job, or all jobs) with what a result plot needs, in id
 * order after `afterId`: one query per page when `outputKeys` names the output metadata wanted
 * (at most 8), two otherwise.
 */
export async function plotRows(
  sql: SqlExecutor,
  filter: {
    jobId?: number;
    taskType: string;
    /** Only tasks in this state; with `jobId`, pages are then ranges of the `(job_id, type, state, id)` index. */
    state?: TaskState;
    outputKeys?: readonly string[];
    /** Read the description's scalar fields (`desc:` plot fields). @defaultValue true */
    descriptions?: boolean;
    afterId?: number;
    limit?: number;
  },
): Promise<DashboardPage<PlotRow>> {
  const withDescription = filter.descriptions ?? true;
  const limit = Math.min(20_000, Math.max(1, filter.limit ?? 5000));
  const c = new Conditions().equals('t.job_id', filter.jobId).equals('t.type', filter.taskType);
  c.equals('t.state', filter.state).after('t.id', filter.afterId);
  // Output metadata by key: one primary-key lookup per row and key, in the same query, when the
  // keys are known (a plot); otherwise every key, in one IN query per chunk (the field menus).
  // Only an attempt that passed QC has outputs to plot: what a failed one reported (an outcome
  // of PASS with its archive missing) is no result.
  const keys = filter.outputKeys ?? [];
  const joins = keys
    .map(
      (_, i) =>
        `LEFT JOIN eas_metadata m${i} ON m${i}.owner_kind = 'attempt' AND m${i}.owner_id = t.current_attempt_id AND m${i}.key = ? AND a.qc = 'passed'`,
    )
    .join(' ');
  const columns = keys
    .map((_, i) => `, m${i}.type AS m${i}_type, m${i}.value AS m${i}_value`)
    .join('');
  const rows = await sql.all(
    `SELECT t.id, t.state, t.metadata, ${withDescription ? 't.description' : "'{}' AS description"}, t.current_attempt_id, a.qc, a.wall_ms, a.cpu_ms, a.cpu_children_ms${columns}
     FROM eas_tasks t LEFT JOIN eas_attempts a ON a.id = t.current_attempt_id ${joins}
     ${c.whereClause()} ORDER BY t.id LIMIT ?`,
    [...keys, ...c.params, limit],
  );
  const all =
    filter.outputKeys === undefined
      ? await metadataOf(
          sql,
          'attempt',
          rows
            .filter((r) => r.qc === 'passed')
            .map((r) => numOrNull(r.current_attempt_id))
            .filter((id): id is number => id !== null),
        )
      : undefined;
  const descriptions = new Map<string, Record<string, unknown>>();
  return page(
    rows.map((r) => {
      const text = String(r.description);
      let description = descriptions.get(text);
      if (!description) {
        description = scalarFields(text);
        if (descriptions.size < 1000) descriptions.set(text, description);
      }
      const attemptId = numOrNull(r.current_attempt_id);
      let output: TypedMetadata = {};
      if (all) output = attemptId === null ? {} : (all.get(attemptId) ?? {});
      else
        keys.forEach((k, i) => {
          const type = r[`m${i}_type`];
          if (type !== null && type !== undefined)
            output[k] = decodeTypedValue(String(type), strOrNull(r[`m${i}_value`]));
        });
      return {
        taskId: Number(r.id),
        state: r.state as TaskState,
        metadata: deserializeTypedMetadata(String(r.metadata)),
        description,
        output,
        wallMs: numOrNull(r.wall_ms),
        cpuMs: numOrNull(r.cpu_ms),
        cpuChildrenMs: numOrNull(r.cpu_children_ms),
      };
    }),
    limit,
    (p) => p.taskId,
  );
}

function scalarFields(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return out;
  }
  if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
      if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') out[k] = v;
    }
  }
  return out;
}

/**
 * The task types of a job (or all jobs) that are not control flow, by count: one grouped count
 * on a covering index, then one index lookup per type for whether it is control flow.
 */
export async function workTypes(
  sql: SqlExecutor,
  jobId?: number,
): Promise<{ type: string; tasks: number }[]> {
  const c = new Conditions().equals('job_id', jobId);
  const rows = await sql.all<{ type: string; n: number }>(
    `SELECT type, count(*) AS n FROM eas_tasks ${c.whereClause()} GROUP BY type ORDER BY type`,
    c.params,
  );
  const out: { type: string; tasks: number }[] = [];
  for (const r of rows) {
    const one = await sql.get<{ control: number }>(
      'SELECT control FROM eas_tasks WHERE type = ? LIMIT 1',
      [r.type],
    );
    if (Number(one?.control ?? 0) === 0) out.push({ type: String(r.type), tasks: Number(r.n) });
  }
  return out;
}

/** One attempt on the activity timeline of its worker host. */
export interface ActivityItem {
  attemptId: number;
  taskId: number;
  jobId: number;
  taskType: string;
  state: string;
  worker: string | null;
  host: string | null;
  startedAt: number;
  endedAt: number | null;
}

/** The newest `limit` attempts that started (in a job, or all jobs): the per-host timeline. */
export async function recentActivity(
  sql: SqlExecutor,
  filter: { jobId?: number; limit?: number },
): Promise<ActivityItem[]> {
  const limit = Math.min(5000, Math.max(1, filter.limit ?? 2000));
  const c = new Conditions(['started_at IS NOT NULL']).equals('job_id', filter.jobId);
  const rows = await sql.all(
    `SELECT id, task_id, job_id, task_type, state, worker, host, started_at, ended_at FROM eas_attempts
     ${c.whereClause()} ORDER BY id DESC LIMIT ?`,
    [...c.params, limit],
  );
  return rows.map((r) => ({
    attemptId: Number(r.id),
    taskId: Number(r.task_id),
    jobId: Number(r.job_id),
    taskType: String(r.task_type),
    state: String(r.state),
    worker: strOrNull(r.worker),
    host: strOrNull(r.host),
    startedAt: Number(r.started_at),
    endedAt: numOrNull(r.ended_at),
  }));
}
