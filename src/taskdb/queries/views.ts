import {
  deserializeTypedMetadata,
  placeholders,
  type SqlExecutor,
  type TypedMetadata,
} from '../../core/index.js';
import { Conditions } from './conditions.js';
import {
  levelsFrom,
  TASK_STATES,
  type AttemptLogLine,
  type JobStatus,
  type StateCounts,
  type TaskState,
} from '../types.js';
import { metadataOf } from './lifecycle.js';
import { progressCounts, type ProgressCount } from './totals.js';

/** A job as listed by `eas status`. */
export interface JobSummary {
  id: number;
  name: string;
  status: JobStatus;
  priority: number;
  workingDirectory: string;
  submittedAt: number;
  finishedAt: number | null;
  taskCount: number;
  source: string | null;
  /** Seed of `random.random()` in the job's expressions. */
  seed: string;
}

/** Task counts by type and state: the shape of `eas status --json` (DESIGN §7). */
export interface StatusView {
  jobs: (JobSummary & { counts: StateCounts })[];
  taskTypes: Record<string, StateCounts>;
  totals: StateCounts;
}

/** A zeroed count per state. */
export function emptyCounts(): StateCounts {
  return Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as StateCounts;
}

function jobFromRow(r: Record<string, unknown>): JobSummary {
  return {
    id: Number(r.id),
    name: String(r.name),
    status: r.status as JobStatus,
    priority: Number(r.priority),
    workingDirectory: String(r.working_directory),
    submittedAt: Number(r.submitted_at),
    finishedAt: r.finished_at === null ? null : Number(r.finished_at),
    taskCount: Number(r.task_count),
    source: (r.source as string | null) ?? null,
    seed: String(r.seed),
  };
}

/** Lists jobs, newest first. */
export async function listJobs(sql: SqlExecutor, jobId?: number): Promise<JobSummary[]> {
  const rows = await sql.all(
    `SELECT id, name, status, priority, working_directory, submitted_at, finished_at, task_count, source, seed FROM eas_jobs
     ${jobId === undefined ? '' : 'WHERE id = ?'} ORDER BY id DESC`,
    jobId === undefined ? [] : [jobId],
  );
  return rows.map(jobFromRow);
}

/**
 * Counts tasks (control-flow ones included) by type and state, overall and per job: an ended
 * job's as the controller stored them after it ended, the others' from their tasks (see
 * {@link progressCounts}). Task types come in the order of their first job and then by name, on
 * both engines.
 */
export async function statusView(sql: SqlExecutor, jobId?: number): Promise<StatusView> {
  const rows = await progressCounts(sql, jobId === undefined ? undefined : [jobId]);
  // Stored and counted rows arrive in two runs, and PostgreSQL groups in no set order.
  rows.sort((a, b) => a.jobId - b.jobId || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  return progressOf(await listJobs(sql, jobId), rows);
}

/**
 * Builds the progress view of `jobs` from their counts (see {@link progressCounts}); counts of a
 * job not among `jobs` (its row gone) are left out.
 */
export function progressOf(
  jobs: readonly JobSummary[],
  counts: readonly ProgressCount[],
): StatusView {
  const perJob = new Map<number, StateCounts>(jobs.map((j) => [j.id, emptyCounts()]));
  const taskTypes: Record<string, StateCounts> = {};
  const totals = emptyCounts();
  for (const r of counts) {
    const j = perJob.get(r.jobId);
    if (!j) continue;
    j[r.state] += r.tasks;
    (taskTypes[r.type] ??= emptyCounts())[r.state] += r.tasks;
    totals[r.state] += r.tasks;
  }
  return {
    jobs: jobs.map((j) => ({ ...j, counts: perJob.get(j.id) ?? emptyCounts() })),
    taskTypes,
    totals,
  };
}

/** A task as shown in the tree and lists. */
export interface TaskSummary {
  id: number;
  jobId: number;
  parentId: number | null;
  position: number;
  path: string;
  name: string | null;
  type: string;
  workingDirectory: string;
  depth: number;
  state: TaskState;
  unmet: number;
  control: boolean;
  attemptCount: number;
  reason: string | null;
  childCount?: number;
}

/** The columns {@link taskFromRow} reads, over `eas_tasks t`. */
export const TASK_SUMMARY_COLUMNS =
  't.id, t.job_id, t.parent_id, t.position, t.path, t.name, t.type, t.working_directory, t.depth, t.state, t.unmet, t.control, t.attempt_count, t.reason';

/** A {@link TaskSummary} from a row of {@link TASK_SUMMARY_COLUMNS} (and `child_count`). */
export function taskFromRow(r: Record<string, unknown>): TaskSummary {
  return {
    id: Number(r.id),
    jobId: Number(r.job_id),
    parentId: r.parent_id === null ? null : Number(r.parent_id),
    position: Number(r.position),
    path: String(r.path),
    name: (r.name as string | null) ?? null,
    type: String(r.type),
    workingDirectory: String(r.working_directory),
    depth: Number(r.depth),
    state: r.state as TaskState,
    unmet: Number(r.unmet),
    control: Number(r.control) === 1,
    attemptCount: Number(r.attempt_count),
    reason: (r.reason as string | null) ?? null,
    ...(r.child_count === undefined ? {} : { childCount: Number(r.child_count) }),
  };
}

/**
 * Children of a task (or the roots of a job when `parentId` is null), in chain order, each with
 * its number of children: one level of the tree, so a 100,000-task job is browsed lazily.
 */
export async function taskChildren(
  sql: SqlExecutor,
  jobId: number,
  parentId: number | null,
  limit = 1000,
  offset = 0,
): Promise<TaskSummary[]> {
  const rows = await sql.all(
    `SELECT ${TASK_SUMMARY_COLUMNS}, (SELECT count(*) FROM eas_tasks c WHERE c.parent_id = t.id) AS child_count
     FROM eas_tasks t WHERE t.job_id = ? AND ${parentId === null ? 't.parent_id IS NULL' : 't.parent_id = ?'}
     ORDER BY t.position LIMIT ? OFFSET ?`,
    parentId === null ? [jobId, limit, offset] : [jobId, parentId, limit, offset],
  );
  return rows.map(taskFromRow);
}

/** Tasks matching filters, in id order. */
export async function listTasks(
  sql: SqlExecutor,
  filter: { jobId?: number; states?: TaskState[]; type?: string; limit?: number; afterId?: number },
): Promise<TaskSummary[]> {
  const c = new Conditions()
    .equals('t.job_id', filter.jobId)
    .among('t.state', filter.states)
    .equals('t.type', filter.type)
    .after('t.id', filter.afterId);
  const rows = await sql.all(
    `SELECT ${TASK_SUMMARY_COLUMNS} FROM eas_tasks t ${c.whereClause()} ORDER BY t.id LIMIT ?`,
    [...c.params, filter.limit ?? 1000],
  );
  return rows.map(taskFromRow);
}

/** One attempt in full. */
export interface AttemptDetail {
  id: number;
  number: number;
  kind: string;
  state: string;
  qc: string | null;
  worker: string | null;
  host: string | null;
  queuedAt: number;
  startedAt: number | null;
  endedAt: number | null;
  heartbeatAt: number | null;
  wallMs: number | null;
  cpuMs: number | null;
  cpuChildrenMs: number | null;
  exitCode: number | null;
  signal: string | null;
  error: string | null;
  traceback: string | null;
  outputMetadata: TypedMetadata;
  versions: VersionDetail[];
}

/** One stored version of a product. */
export interface VersionDetail {
  id: number;
  productId: number;
  attemptId: number;
  semanticType: string;
  workingDirectory: string;
  filename: string;
  sha256: string;
  size: number;
  passedQc: boolean;
  createdAt: number;
}

/** Everything about one task: `eas task <id>` and the dashboard's task page. */
export interface TaskDetail extends TaskSummary {
  jobName: string;
  description: Record<string, unknown>;
  metadata: TypedMetadata;
  attempts: AttemptDetail[];
  inputs: {
    semanticType: string;
    workingDirectory: string;
    filename: string;
    producerTaskId: number;
    producerPath: string;
    producerState: TaskState;
    ready: boolean;
  }[];
  outputs: {
    semanticType: string;
    workingDirectory: string;
    filename: string;
    optional: boolean;
    productId: number;
  }[];
  metadataFrom: {
    name: string;
    providerTaskId: number;
    providerState: TaskState;
    ready: boolean;
  }[];
  /** Why the task is not ready, when it is waiting: the inputs it still waits for. */
  waitingFor: string[];
}

/** Full detail of a task, or undefined. */
export async function taskDetail(
  sql: SqlExecutor,
  taskId: number,
): Promise<TaskDetail | undefined> {
  const row = await sql.get(
    `SELECT ${TASK_SUMMARY_COLUMNS}, t.description, t.metadata, j.name AS job_name
     FROM eas_tasks t JOIN eas_jobs j ON j.id = t.job_id WHERE t.id = ?`,
    [taskId],
  );
  if (!row) return undefined;
  const attemptsRows = await sql.all(
    `SELECT * FROM eas_attempts WHERE task_id = ? ORDER BY number`,
    [taskId],
  );
  const attemptIds = attemptsRows.map((a) => Number(a.id));
  const meta = await metadataOf(sql, 'attempt', attemptIds);
  const versions = attemptIds.length
    ? await sql.all(
        `SELECT v.id, v.product_id, v.attempt_id, v.sha256, v.size, v.passed_qc, v.created_at, p.semantic_type, p.working_directory, p.filename
         FROM eas_versions v JOIN eas_products p ON p.id = v.product_id WHERE v.attempt_id IN (${placeholders(attemptIds.length)}) ORDER BY v.id`,
        attemptIds,
      )
    : [];
  const inputs = await sql.all<{
    semantic_type: string;
    working_directory: string;
    filename: string;
    producer_task_id: number;
    producer_path: string;
    producer_state: TaskState;
    met: number;
    has_version: number;
  }>(
    `SELECT d.semantic_type, p.working_directory, p.filename, p.producer_task_id, pt.path AS producer_path, pt.state AS producer_state,
            d.met, (SELECT count(*) FROM eas_versions v WHERE v.product_id = p.id AND v.passed_qc = 1) AS has_version
     FROM eas_file_deps d JOIN eas_products p ON p.id = d.product_id JOIN eas_tasks pt ON pt.id = p.producer_task_id
     WHERE d.consumer_task_id = ? ORDER BY d.semantic_type`,
    [taskId],
  );
  const outputs = await sql.all<{
    id: number;
    semantic_type: string;
    working_directory: string;
    filename: string;
    optional: number;
  }>(
    `SELECT id, semantic_type, working_directory, filename, optional FROM eas_products WHERE producer_task_id = ? ORDER BY id`,
    [taskId],
  );
  const metaFrom = await sql.all<{ name: string; provider_task_id: number; state: TaskState }>(
    `SELECT md.name, md.provider_task_id, pt.state FROM eas_metadata_deps md JOIN eas_tasks pt ON pt.id = md.provider_task_id
     WHERE md.consumer_task_id = ?`,
    [taskId],
  );
  const summary = taskFromRow(row);
  const inputList = inputs.map((i) => ({
    semanticType: i.semantic_type,
    workingDirectory: i.working_directory,
    filename: i.filename,
    producerTaskId: Number(i.producer_task_id),
    producerPath: i.producer_path,
    producerState: i.producer_state,
    ready: Number(i.has_version) > 0 && (Number(i.met) === 1 || i.producer_state === 'done'),
  }));
  const metaList = metaFrom.map((m) => ({
    name: m.name,
    providerTaskId: Number(m.provider_task_id),
    providerState: m.state,
    ready: m.state === 'done',
  }));
  const waitingFor =
    summary.state === 'waiting' || summary.state === 'blocked'
      ? [
          ...inputList
            .filter((i) => !i.ready)
            .map(
              (i) =>
                `input ${i.semanticType} = ${i.filename}: producer ${i.producerPath} is ${i.producerState}`,
            ),
          ...metaList
            .filter((m) => !m.ready)
            .map((m) => `metadata of ${m.name}: task ${m.providerTaskId} is ${m.providerState}`),
        ]
      : [];
  return {
    ...summary,
    jobName: String(row.job_name),
    description: JSON.parse(String(row.description)) as Record<string, unknown>,
    metadata: deserializeTypedMetadata(String(row.metadata)),
    attempts: attemptsRows.map((a) => ({
      id: Number(a.id),
      number: Number(a.number),
      kind: String(a.kind),
      state: String(a.state),
      qc: (a.qc as string | null) ?? null,
      worker: (a.worker as string | null) ?? null,
      host: (a.host as string | null) ?? null,
      queuedAt: Number(a.queued_at),
      startedAt: numOrNull(a.started_at),
      endedAt: numOrNull(a.ended_at),
      heartbeatAt: numOrNull(a.heartbeat_at),
      wallMs: numOrNull(a.wall_ms),
      cpuMs: numOrNull(a.cpu_ms),
      cpuChildrenMs: numOrNull(a.cpu_children_ms),
      exitCode: numOrNull(a.exit_code),
      signal: (a.signal as string | null) ?? null,
      error: (a.error as string | null) ?? null,
      traceback: (a.traceback as string | null) ?? null,
      outputMetadata: meta.get(Number(a.id)) ?? {},
      versions: versions.filter((v) => Number(v.attempt_id) === Number(a.id)).map(versionFromRow),
    })),
    inputs: inputList,
    outputs: outputs.map((o) => ({
      semanticType: o.semantic_type,
      workingDirectory: o.working_directory,
      filename: o.filename,
      optional: Number(o.optional) === 1,
      productId: Number(o.id),
    })),
    metadataFrom: metaList,
    waitingFor,
  };
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

function versionFromRow(v: Record<string, unknown>): VersionDetail {
  return {
    id: Number(v.id),
    productId: Number(v.product_id),
    attemptId: Number(v.attempt_id),
    semanticType: String(v.semantic_type),
    workingDirectory: String(v.working_directory),
    filename: String(v.filename),
    sha256: String(v.sha256),
    size: Number(v.size),
    passedQc: Number(v.passed_qc) === 1,
    createdAt: Number(v.created_at),
  };
}

/** A log line as read back. */
export interface StoredLogLine extends AttemptLogLine {
  id: number;
}

/** Which log lines to read: by job, task or attempt, at a minimum level, how many. */
export interface LogFilter {
  jobId?: number;
  taskId?: number;
  attemptId?: number;
  minLevel?: string;
  limit?: number;
}

/** Log lines, oldest first, filtered by job, task, attempt and minimum level. */
export async function readLogs(
  sql: SqlExecutor,
  filter: LogFilter & { afterId?: number },
): Promise<StoredLogLine[]> {
  const c = new Conditions()
    .equals('job_id', filter.jobId)
    .equals('task_id', filter.taskId)
    .equals('attempt_id', filter.attemptId)
    .among('level', filter.minLevel ? levelsFrom(filter.minLevel) : undefined)
    .after('id', filter.afterId);
  const rows = await sql.all(
    `SELECT id, attempt_id, task_id, job_id, ts, level, stream, message FROM eas_log_lines
     ${c.whereClause()} ORDER BY id LIMIT ?`,
    [...c.params, filter.limit ?? 1000],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    attemptId: Number(r.attempt_id),
    taskId: Number(r.task_id),
    jobId: Number(r.job_id),
    ts: Number(r.ts),
    level: r.level as StoredLogLine['level'],
    stream: r.stream as StoredLogLine['stream'],
    message: String(r.message),
  }));
}

/** A failed task with its last attempt's error and traceback: `eas errors`. */
export interface ErrorEntry {
  taskId: number;
  jobId: number;
  path: string;
  name: string | null;
  type: string;
  state: TaskState;
  reason: string | null;
  attemptId: number | null;
  attemptNumber: number | null;
  error: string | null;
  traceback: string | null;
  exitCode: number | null;
  signal: string | null;
}

/** Failed and blocked tasks, each with its latest attempt's error. */
export async function listErrors(
  sql: SqlExecutor,
  jobId?: number,
  limit = 200,
): Promise<ErrorEntry[]> {
  const rows = await sql.all(
    `SELECT t.id, t.job_id, t.path, t.name, t.type, t.state, t.reason, a.id AS attempt_id, a.number, a.error, a.traceback, a.exit_code, a.signal
     FROM eas_tasks t LEFT JOIN eas_attempts a ON a.id = t.current_attempt_id
     WHERE t.state IN ('failed', 'blocked') ${jobId === undefined ? '' : 'AND t.job_id = ?'}
     ORDER BY CASE t.state WHEN 'failed' THEN 0 ELSE 1 END, t.id LIMIT ?`,
    jobId === undefined ? [limit] : [jobId, limit],
  );
  return rows.map((r) => ({
    taskId: Number(r.id),
    jobId: Number(r.job_id),
    path: String(r.path),
    name: (r.name as string | null) ?? null,
    type: String(r.type),
    state: r.state as TaskState,
    reason: (r.reason as string | null) ?? null,
    attemptId: r.state === 'failed' ? numOrNull(r.attempt_id) : null,
    attemptNumber: r.state === 'failed' ? numOrNull(r.number) : null,
    error: r.state === 'failed' ? ((r.error as string | null) ?? null) : null,
    traceback: r.state === 'failed' ? ((r.traceback as string | null) ?? null) : null,
    exitCode: r.state === 'failed' ? numOrNull(r.exit_code) : null,
    signal: r.state === 'failed' ? ((r.signal as string | null) ?? null) : null,
  }));
}

/** A product with its versions: `eas products`. */
export interface ProductView {
  id: number;
  jobId: number;
  workingDirectory: string;
  filename: string;
  semanticType: string;
  producerTaskId: number;
  optional: boolean;
  versions: VersionDetail[];
}

/** Products of a job (or all), by working directory and filename, with their versions. */
export async function listProducts(
  sql: SqlExecutor,
  filter: { jobId?: number; workingDirectory?: string; limit?: number },
): Promise<ProductView[]> {
  const c = new Conditions()
    .equals('p.job_id', filter.jobId)
    .equals('p.working_directory', filter.workingDirectory);
  const products = await sql.all(
    `SELECT p.* FROM eas_products p ${c.whereClause()}
     ORDER BY p.job_id, p.working_directory, p.filename LIMIT ?`,
    [...c.params, filter.limit ?? 1000],
  );
  const ids = products.map((p) => Number(p.id));
  const versions = ids.length
    ? await sql.all(
        `SELECT v.id, v.product_id, v.attempt_id, v.sha256, v.size, v.passed_qc, v.created_at, p.semantic_type, p.working_directory, p.filename
         FROM eas_versions v JOIN eas_products p ON p.id = v.product_id WHERE v.product_id IN (${placeholders(ids.length)}) ORDER BY v.id`,
        ids,
      )
    : [];
  return products.map((p) => ({
    id: Number(p.id),
    jobId: Number(p.job_id),
    workingDirectory: String(p.working_directory),
    filename: String(p.filename),
    semanticType: String(p.semantic_type),
    producerTaskId: Number(p.producer_task_id),
    optional: Number(p.optional) === 1,
    versions: versions.filter((v) => Number(v.product_id) === Number(p.id)).map(versionFromRow),
  }));
}

/**
 * The newest QC-passed version of a file by logical path: in `jobId` when given, else in the
 * newest job that has one. Used by `eas get` and to bind a chain's input to an earlier job.
 */
export async function findPassedVersion(
  sql: SqlExecutor,
  workingDirectory: string,
  filename: string,
  jobId?: number,
): Promise<(VersionDetail & { jobId: number; metadata: TypedMetadata }) | undefined> {
  const row = await sql.get(
    `SELECT v.id, v.product_id, v.attempt_id, v.sha256, v.size, v.passed_qc, v.created_at, p.semantic_type, p.working_directory,
            p.filename, p.job_id
     FROM eas_products p JOIN eas_versions v ON v.product_id = p.id
     WHERE p.working_directory = ? AND p.filename = ? AND v.passed_qc = 1 ${jobId === undefined ? '' : 'AND p.job_id = ?'}
     ORDER BY v.id DESC LIMIT 1`,
    jobId === undefined ? [workingDirectory, filename] : [workingDirectory, filename, jobId],
  );
  if (!row) return undefined;
  const meta = await metadataOf(sql, 'version', [Number(row.id)]);
  return {
    ...versionFromRow(row),
    jobId: Number(row.job_id),
    metadata: meta.get(Number(row.id)) ?? {},
  };
}

/** Row counts of every table: used to prove a rejected input changed nothing. */
export async function tableCounts(sql: SqlExecutor): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of [
    'eas_jobs',
    'eas_tasks',
    'eas_attempts',
    'eas_products',
    'eas_versions',
    'eas_metadata',
    'eas_file_deps',
    'eas_metadata_deps',
    'eas_log_lines',
  ]) {
    const r = await sql.get<{ n: number }>(`SELECT count(*) AS n FROM ${t}`);
    out[t] = Number(r?.n ?? 0);
  }
  return out;
}
