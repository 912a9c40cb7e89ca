import {
  decodeTypedValue,
  deserializeTypedMetadata,
  encodeTypedValue,
  insertMany,
  parseJsonKeepingFloats,
  placeholders,
  type SqlExecutor,
  type SqlParam,
  type TypedMetadata,
} from '../../core/index.js';
import type {
  AttemptKind,
  AttemptLogLine,
  AttemptOutcome,
  AttemptPayload,
  ExpectedOutput,
  FinishResult,
  JobStatus,
  ReadyAttempt,
  StagedInput,
  TakeRequest,
  WorkerInfo,
} from '../types.js';
import { allocateIdList, chunks } from './ids.js';
import { LOG_LINE_COLUMNS, METADATA_COLUMNS, VERSION_COLUMNS } from './columns.js';

/**
 * How often a task may lose its lease (worker killed, node lost) before it is failed: enough to
 * survive a few infrastructure accidents, few enough that a task that kills its worker every
 * time (out of memory, say) does not loop forever.
 */
export const MAX_STALLS = 5;

/** The live (non-terminal) task states, as an SQL list. */
const LIVE_STATES_SQL = "('waiting', 'queued', 'running', 'stalled')";

interface NewAttempt {
  taskId: number;
  jobId: number;
  taskType: string;
  attemptCount: number;
  priority: number;
}

/**
 * Creates one queued attempt per task and marks the tasks `queued`. Returns what to enqueue.
 */
export async function createAttempts(
  tx: SqlExecutor,
  tasks: readonly NewAttempt[],
  kind: AttemptKind,
  now: number,
  availableAt: number | ((t: NewAttempt) => number),
): Promise<ReadyAttempt[]> {
  if (tasks.length === 0) return [];
  const ids = await allocateIdList(tx, 'attempt', tasks.length);
  const ready = await insertAttempts(tx, tasks, ids, kind, now, availableAt);
  // One statement per chunk derives each task's current attempt from the attempts table.
  for (const part of chunks(tasks.map((t) => t.taskId))) {
    await tx.run(
      `UPDATE eas_tasks SET state = 'queued', attempt_count = attempt_count + 1, updated_at = ?, reason = NULL,
         current_attempt_id = (SELECT max(a.id) FROM eas_attempts a WHERE a.task_id = eas_tasks.id)
       WHERE id IN (${placeholders(part.length)})`,
      [now, ...part],
    );
  }
  return ready;
}

/**
 * Inserts one queued attempt per task, with the given ids, and returns what to enqueue; the
 * tasks' rows are the caller's (see {@link createAttempts}).
 */
export async function insertAttempts(
  tx: SqlExecutor,
  tasks: readonly NewAttempt[],
  ids: readonly number[],
  kind: AttemptKind,
  now: number,
  availableAt: number | ((t: NewAttempt) => number),
): Promise<ReadyAttempt[]> {
  const rows: SqlParam[][] = [];
  const ready: ReadyAttempt[] = [];
  tasks.forEach((t, i) => {
    const id = ids[i]!;
    const at = typeof availableAt === 'function' ? availableAt(t) : availableAt;
    rows.push([id, t.taskId, t.jobId, t.attemptCount + 1, kind, 'queued', t.taskType, now, at]);
    ready.push({
      attemptId: id,
      taskId: t.taskId,
      jobId: t.jobId,
      taskType: t.taskType,
      priority: t.priority,
      availableAt: at,
    });
  });
  await insertMany(
    tx,
    'eas_attempts',
    [
      'id',
      'task_id',
      'job_id',
      'number',
      'kind',
      'state',
      'task_type',
      'queued_at',
      'available_at',
    ],
    rows,
  );
  return ready;
}

/**
 * Marks queued attempts as running under `worker` and returns what the worker needs to run
 * them. Attempts that are no longer queued (cancelled, superseded, already started elsewhere)
 * come back in `stale`: the worker drops them.
 */
export async function startAttempts(
  tx: SqlExecutor,
  attemptIds: readonly number[],
  worker: WorkerInfo,
  now: number,
): Promise<{ payloads: AttemptPayload[]; stale: number[] }> {
  if (attemptIds.length === 0) return { payloads: [], stale: [] };
  const rows = tx.profile.serverLifecycle
    ? await markStartedOnServer(tx, attemptIds, worker, now)
    : await markStarted(tx, attemptIds, worker, now);
  const startedIds = new Set(rows.map((r) => Number(r.attempt_id)));
  const stale = attemptIds.filter((id) => !startedIds.has(id));
  if (rows.length === 0) return { payloads: [], stale };
  return { payloads: await payloadsOf(tx, rows), stale };
}

/** A started attempt with the task fields its payload needs. */
interface StartedRow {
  attempt_id: number;
  number: number;
  id: number;
  job_id: number;
  type: string;
  name: string | null;
  path: string;
  working_directory: string;
  description: string;
  metadata: string;
  job_name: string;
  job_seed: string;
  has_inputs: number | boolean;
  has_outputs: number | boolean;
  has_requested: number | boolean;
  /**
   * Requested metadata, when the server looked it up with the start: `[name, key, type,
   * value]` rows (key null for a provider without metadata), or null for a task without any.
   */
  requested?: [string, string | null, string, string | null][] | null;
}

/** Marks the attempts and their tasks running, statement by statement (inside a transaction). */
async function markStarted(
  tx: SqlExecutor,
  attemptIds: readonly number[],
  worker: WorkerInfo,
  now: number,
): Promise<StartedRow[]> {
  await lockJobsOfAttempts(tx, attemptIds);
  const started: { id: number; task_id: number; number: number }[] = [];
  for (const part of chunks(attemptIds)) {
    const rows = await tx.all<{ id: number; task_id: number; number: number }>(
      `UPDATE eas_attempts SET state = 'running', started_at = ?, heartbeat_at = ?, worker = ?, host = ?, pid = ?
       WHERE id IN (${placeholders(part.length)}) AND state = 'queued'
       RETURNING id, task_id, number`,
      [now, now, worker.id, worker.host, worker.pid, ...part],
    );
    started.push(...rows);
  }
  const taskRows: Omit<StartedRow, 'attempt_id' | 'number'>[] = [];
  for (const part of chunks(started.map((r) => Number(r.task_id)))) {
    await tx.run(
      `UPDATE eas_tasks SET state = 'running', updated_at = ? WHERE id IN (${placeholders(part.length)})`,
      [now, ...part],
    );
    taskRows.push(
      ...(await tx.all<(typeof taskRows)[number]>(
        `SELECT t.id, t.job_id, t.type, t.name, t.path, t.working_directory, t.description, t.metadata,
                j.name AS job_name, j.seed AS job_seed,
                EXISTS (SELECT 1 FROM eas_file_deps d WHERE d.consumer_task_id = t.id) AS has_inputs,
                EXISTS (SELECT 1 FROM eas_products p WHERE p.producer_task_id = t.id) AS has_outputs,
                EXISTS (SELECT 1 FROM eas_metadata_deps md WHERE md.consumer_task_id = t.id) AS has_requested
         FROM eas_tasks t JOIN eas_jobs j ON j.id = t.job_id WHERE t.id IN (${placeholders(part.length)})`,
        part,
      )),
    );
  }
  const byTask = new Map(taskRows.map((t) => [Number(t.id), t]));
  return started.map((a) => ({
    ...byTask.get(Number(a.task_id))!,
    attempt_id: Number(a.id),
    number: Number(a.number),
  }));
}

/**
 * The same as {@link markStarted} in one round trip: the server-side function of migration 0002
 * (see `DialectProfile.serverLifecycle`), atomic on its own, so no transaction round trips.
 */
async function markStartedOnServer(
  db: SqlExecutor,
  attemptIds: readonly number[],
  worker: WorkerInfo,
  now: number,
): Promise<StartedRow[]> {
  return db.all<StartedRow>(
    'SELECT * FROM eas_start_attempts(CAST(? AS BIGINT[]), CAST(? AS BIGINT), ?, ?, CAST(? AS INTEGER))',
    [`{${attemptIds.join(',')}}`, now, worker.id, worker.host, worker.pid],
  );
}

/** Builds the payloads of started attempts: their inputs, outputs and requested metadata. */
async function payloadsOf(tx: SqlExecutor, taskRows: StartedRow[]): Promise<AttemptPayload[]> {
  // Each of the three lookups runs only for the tasks that have something to look up (one
  // round trip saved per lookup and batch where none has, e.g. tasks without files).
  const having = (flag: 'has_inputs' | 'has_outputs' | 'has_requested'): number[] =>
    taskRows.filter((t) => t[flag] === true || Number(t[flag]) === 1).map((t) => Number(t.id));
  const inputs = await stagedInputs(tx, having('has_inputs'));
  const outputs = await expectedOutputs(tx, having('has_outputs'));
  // The server's start brings requested metadata along; only the rest is looked up.
  const brought = new Map<number, Record<string, TypedMetadata>>();
  for (const t of taskRows) if (t.requested) brought.set(Number(t.id), requestedOf(t.requested));
  const requested = await requestedMetadata(
    tx,
    having('has_requested').filter((id) => !brought.has(id)),
  );
  for (const [id, m] of brought) requested.set(id, m);
  return taskRows.map((t): AttemptPayload => {
    return {
      attemptId: Number(t.attempt_id),
      attemptNumber: Number(t.number),
      taskId: Number(t.id),
      jobId: Number(t.job_id),
      jobName: t.job_name,
      jobSeed: String(t.job_seed),
      taskType: t.type,
      name: t.name,
      path: t.path,
      workingDirectory: t.working_directory,
      description: parseJsonKeepingFloats(t.description) as Record<string, unknown>,
      metadata: deserializeTypedMetadata(t.metadata),
      inputs: inputs.get(Number(t.id)) ?? [],
      outputs: outputs.get(Number(t.id)) ?? [],
      requestedMetadata: requested.get(Number(t.id)) ?? {},
    };
  });
}

async function stagedInputs(
  tx: SqlExecutor,
  taskIds: readonly number[],
): Promise<Map<number, StagedInput[]>> {
  const out = new Map<number, StagedInput[]>();
  const versionIds: number[] = [];
  const rowsAll: {
    consumer_task_id: number;
    semantic_type: string;
    product_id: number;
    working_directory: string;
    filename: string;
    version_id: number | null;
    sha256: string | null;
    size: number | null;
  }[] = [];
  for (const part of chunks(taskIds)) {
    rowsAll.push(
      ...(await tx.all<(typeof rowsAll)[number]>(
        `SELECT d.consumer_task_id, d.semantic_type, d.product_id, p.working_directory, p.filename,
                v.id AS version_id, v.sha256, v.size
         FROM eas_file_deps d
         JOIN eas_products p ON p.id = d.product_id
         LEFT JOIN eas_versions v ON v.id = (
           SELECT max(v2.id) FROM eas_versions v2 WHERE v2.product_id = d.product_id AND v2.passed_qc = 1)
         WHERE d.consumer_task_id IN (${placeholders(part.length)})
         ORDER BY d.consumer_task_id, d.semantic_type`,
        part,
      )),
    );
  }
  for (const r of rowsAll) if (r.version_id !== null) versionIds.push(Number(r.version_id));
  const meta = await metadataOf(tx, 'version', versionIds);
  for (const r of rowsAll) {
    if (r.version_id === null || r.sha256 === null) continue; // readiness guarantees a version; skip defensively
    const list = out.get(Number(r.consumer_task_id)) ?? [];
    list.push({
      semanticType: r.semantic_type,
      workingDirectory: r.working_directory,
      filename: r.filename,
      productId: Number(r.product_id),
      sha256: r.sha256,
      size: Number(r.size),
      metadata: meta.get(Number(r.version_id)) ?? {},
    });
    out.set(Number(r.consumer_task_id), list);
  }
  return out;
}

async function expectedOutputs(
  tx: SqlExecutor,
  taskIds: readonly number[],
): Promise<Map<number, ExpectedOutput[]>> {
  const out = new Map<number, ExpectedOutput[]>();
  for (const part of chunks(taskIds)) {
    const rows = await tx.all<{
      id: number;
      producer_task_id: number;
      semantic_type: string;
      working_directory: string;
      filename: string;
      optional: number;
    }>(
      `SELECT id, producer_task_id, semantic_type, working_directory, filename, optional
       FROM eas_products WHERE producer_task_id IN (${placeholders(part.length)}) ORDER BY id`,
      part,
    );
    for (const r of rows) {
      const list = out.get(Number(r.producer_task_id)) ?? [];
      list.push({
        semanticType: r.semantic_type,
        workingDirectory: r.working_directory,
        filename: r.filename,
        productId: Number(r.id),
        optional: Number(r.optional) === 1,
      });
      out.set(Number(r.producer_task_id), list);
    }
  }
  return out;
}

/** Requested metadata from `[name, key, type, value]` rows (see {@link StartedRow.requested}). */
function requestedOf(rows: NonNullable<StartedRow['requested']>): Record<string, TypedMetadata> {
  const byName: Record<string, TypedMetadata> = {};
  for (const [name, key, type, value] of rows) {
    const m = (byName[name] ??= {});
    if (key !== null) m[key] = decodeTypedValue(type, value);
  }
  return byName;
}

async function requestedMetadata(
  tx: SqlExecutor,
  taskIds: readonly number[],
): Promise<Map<number, Record<string, TypedMetadata>>> {
  const out = new Map<number, Record<string, TypedMetadata>>();
  for (const part of chunks(taskIds)) {
    const rows = await tx.all<{
      consumer_task_id: number;
      name: string;
      key: string | null;
      type: string;
      value: string | null;
    }>(
      `SELECT md.consumer_task_id, md.name, m.key, m.type, m.value
       FROM eas_metadata_deps md
       JOIN eas_tasks pt ON pt.id = md.provider_task_id
       LEFT JOIN eas_metadata m ON m.owner_kind = 'attempt' AND m.owner_id = pt.current_attempt_id
       WHERE md.consumer_task_id IN (${placeholders(part.length)})`,
      part,
    );
    for (const r of rows) {
      const byName = out.get(Number(r.consumer_task_id)) ?? {};
      const m = (byName[r.name] ??= {});
      if (r.key !== null) m[r.key] = decodeTypedValue(r.type, r.value);
      out.set(Number(r.consumer_task_id), byName);
    }
  }
  return out;
}

/** Typed metadata of many owners of one kind; with `keys`, only those keys. */
export async function metadataOf(
  tx: SqlExecutor,
  kind: 'task' | 'attempt' | 'version',
  ids: readonly number[],
  keys?: readonly string[],
): Promise<Map<number, TypedMetadata>> {
  const out = new Map<number, TypedMetadata>();
  const only = keys && keys.length > 0 ? keys : undefined;
  const keyFilter = only ? ` AND key IN (${placeholders(only.length)})` : '';
  for (const part of chunks(ids)) {
    const rows = await tx.all<{
      owner_id: number;
      key: string;
      type: string;
      value: string | null;
    }>(
      `SELECT owner_id, key, type, value FROM eas_metadata WHERE owner_kind = ? AND owner_id IN (${placeholders(part.length)})${keyFilter}`,
      [kind, ...part, ...(only ?? [])],
    );
    for (const r of rows) {
      const m = out.get(Number(r.owner_id)) ?? {};
      m[r.key] = decodeTypedValue(r.type, r.value);
      out.set(Number(r.owner_id), m);
    }
  }
  return out;
}

/**
 * Records heartbeats. Returns the attempts still running under `workerId`; any other id has
 * lost its lease (stalled, cancelled) and its worker should stop it.
 */
export async function heartbeat(
  tx: SqlExecutor,
  workerId: string,
  attemptIds: readonly number[],
  now: number,
): Promise<number[]> {
  const alive: number[] = [];
  await lockJobsOfAttempts(tx, attemptIds);
  for (const part of chunks(attemptIds)) {
    const rows = await tx.all<{ id: number }>(
      `UPDATE eas_attempts SET heartbeat_at = ? WHERE id IN (${placeholders(part.length)}) AND state = 'running' AND worker = ?
       RETURNING id`,
      [now, ...part, workerId],
    );
    for (const r of rows) alive.push(Number(r.id));
  }
  await tx.run('UPDATE eas_worker_hosts SET last_seen_at = ? WHERE id = ?', [now, workerId]);
  return alive;
}

/** Appends log lines of running attempts (batched by the harness). */
export async function appendLogs(tx: SqlExecutor, lines: readonly AttemptLogLine[]): Promise<void> {
  await insertMany(
    tx,
    'eas_log_lines',
    LOG_LINE_COLUMNS,
    lines.map((l) => [l.attemptId, l.taskId, l.jobId, l.ts, l.level, l.stream, l.message]),
  );
}

interface AttemptRow {
  id: number;
  task_id: number;
  job_id: number;
  state: string;
  worker: string | null;
  attempt_count: number;
  stall_count: number;
  task_type: string;
  task_path: string;
  priority: number;
}

/**
 * Records the end of many attempts in one transaction: timings, outputs (versions with their QC
 * flag), output metadata and logs; then moves each task on — `done` and its dependents
 * released, a retry queued after backoff, or `failed` with its dependents `blocked`.
 *
 * A report for an attempt that is not `running` under the reporting worker is refused and
 * listed in `stale`: a stalled attempt that comes back late can never overwrite a newer one.
 */
/**
 * Where the advisory locks of jobs live: a job's key is this plus its id (PostgreSQL's one-key
 * form, apart from the two-key locks of `SessionLock`). Migration 0011 writes the same number.
 */
export const JOB_LOCK_SPACE = 4990361439395905536n;

/**
 * Takes the shared lock of each job among `jobIds`, in id order, for this transaction (where
 * the engine has row locks; SQLite has one writer). Every transaction that moves a job's
 * attempts or tasks on (a start, a finish, an expansion, a stall, a heartbeat, reconcile) holds
 * it before its first row lock; a cancel, rerun or delete holds the exclusive one
 * ({@link lockJobExclusive}), so it sees the job with no such transaction under way and none
 * starting until it commits: nothing it cancels can be released, started or finished beside it.
 */
export async function lockJobsShared(tx: SqlExecutor, jobIds: Iterable<number>): Promise<void> {
  if (!tx.profile.rowLocks) return;
  const ids = [...new Set(jobIds)].sort((a, b) => a - b);
  if (ids.length === 0) return;
  await tx.all(
    `SELECT pg_advisory_xact_lock_shared(CAST(? AS BIGINT) + j) FROM unnest(CAST(? AS BIGINT[])) AS j ORDER BY j`,
    [JOB_LOCK_SPACE.toString(), `{${ids.join(',')}}`],
  );
}

/** {@link lockJobsShared} for the jobs of these attempts. */
export async function lockJobsOfAttempts(
  tx: SqlExecutor,
  attemptIds: readonly number[],
): Promise<void> {
  if (!tx.profile.rowLocks || attemptIds.length === 0) return;
  // One statement, as the server-side eas_lock_jobs_shared: the jobs looked up and locked.
  await tx.all(
    `SELECT pg_advisory_xact_lock_shared(CAST(? AS BIGINT) + s.job_id)
       FROM (SELECT DISTINCT job_id FROM eas_attempts WHERE id = ANY (CAST(? AS BIGINT[])) ORDER BY job_id) s`,
    [JOB_LOCK_SPACE.toString(), `{${attemptIds.join(',')}}`],
  );
}

/** The exclusive lock of a job for this transaction (see {@link lockJobsShared}). */
export async function lockJobExclusive(tx: SqlExecutor, jobId: number): Promise<void> {
  if (!tx.profile.rowLocks) return;
  await tx.all('SELECT pg_advisory_xact_lock(CAST(? AS BIGINT) + CAST(? AS BIGINT))', [
    JOB_LOCK_SPACE.toString(),
    jobId,
  ]);
}

/**
 * ` FOR UPDATE OF a` where rows must be locked (see `DialectProfile.rowLocks`): an attempt read
 * as `running` under a worker stays so until this transaction ends. Callers read in id order,
 * so two transactions lock shared attempts in the same order.
 */
export function lockAttempts(tx: SqlExecutor): string {
  return tx.profile.rowLocks ? ' FOR UPDATE OF a' : '';
}

export async function finishAttempts(
  tx: SqlExecutor,
  outcomes: readonly AttemptOutcome[],
  now: number,
): Promise<FinishResult> {
  const result: FinishResult = {
    ready: [],
    stale: [],
    done: [],
    failed: [],
    blocked: [],
    finishedJobs: [],
    started: [],
  };
  if (outcomes.length === 0) return result;
  await lockJobsOfAttempts(
    tx,
    outcomes.map((o) => o.attemptId),
  );
  const rows = new Map<number, AttemptRow>();
  for (const part of chunks(outcomes.map((o) => o.attemptId))) {
    for (const r of await tx.all<AttemptRow>(
      `SELECT a.id, a.task_id, a.job_id, a.state, a.worker, t.attempt_count, t.stall_count, a.task_type, t.path AS task_path,
              j.priority
       FROM eas_attempts a JOIN eas_tasks t ON t.id = a.task_id JOIN eas_jobs j ON j.id = a.job_id
       WHERE a.id IN (${placeholders(part.length)}) ORDER BY a.id${lockAttempts(tx)}`,
      part,
    )) {
      rows.set(Number(r.id), r);
    }
  }

  const valid: { o: AttemptOutcome; row: AttemptRow }[] = [];
  for (const o of outcomes) {
    const row = rows.get(o.attemptId);
    if (!row || row.state !== 'running' || row.worker !== o.workerId)
      result.stale.push(o.attemptId);
    else valid.push({ o, row });
  }
  if (valid.length === 0) return result;

  // Attempt rows: one statement for the whole batch (one round trip on PostgreSQL), joining
  // the new values as a VALUES list (a CTE: SQLite names no VALUES columns otherwise). CASTs type the parameters on PostgreSQL, where the
  // columns of a VALUES list of bare parameters would be text.
  const attemptValues = valid.map(({ o }) => {
    const passed = o.succeeded && o.qcPassed;
    return [
      o.attemptId,
      o.succeeded ? 'succeeded' : 'failed',
      o.succeeded ? (passed ? 'passed' : 'failed') : 'failed',
      o.endedAt,
      o.startedAt,
      o.wallMs,
      o.cpuMs,
      o.cpuChildrenMs,
      o.exitCode ?? null,
      o.signal ?? null,
      o.error ?? null,
      o.traceback ?? null,
    ] as SqlParam[];
  });
  const perRow = 12;
  const rowsPerStatement = Math.max(1, Math.min(500, Math.floor(tx.profile.maxParams / perRow)));
  for (let i = 0; i < attemptValues.length; i += rowsPerStatement) {
    const part = attemptValues.slice(i, i + rowsPerStatement);
    await tx.run(
      `WITH v(id, state, qc, ended_at, started_at, wall_ms, cpu_ms, cpu_children_ms, exit_code, signal, error, traceback)
         AS (VALUES ${part.map(() => `(${placeholders(perRow)})`).join(', ')})
       UPDATE eas_attempts SET state = CAST(v.state AS TEXT), qc = CAST(v.qc AS TEXT),
         ended_at = CAST(v.ended_at AS BIGINT),
         started_at = coalesce(CAST(v.started_at AS BIGINT), eas_attempts.started_at),
         wall_ms = CAST(v.wall_ms AS DOUBLE PRECISION), cpu_ms = CAST(v.cpu_ms AS DOUBLE PRECISION),
         cpu_children_ms = CAST(v.cpu_children_ms AS DOUBLE PRECISION), exit_code = CAST(v.exit_code AS INTEGER),
         signal = CAST(v.signal AS TEXT), error = CAST(v.error AS TEXT), traceback = CAST(v.traceback AS TEXT)
       FROM v WHERE eas_attempts.id = CAST(v.id AS BIGINT)`,
      part.flat(),
    );
  }

  // Output versions and metadata.
  const taskIds = valid.map((v) => Number(v.row.task_id));
  const products = new Map<
    number,
    { id: number; semantic_type: string; filename: string; optional: number }[]
  >();
  for (const part of chunks(taskIds)) {
    for (const r of await tx.all<{
      id: number;
      producer_task_id: number;
      semantic_type: string;
      filename: string;
      optional: number;
    }>(
      `SELECT id, producer_task_id, semantic_type, filename, optional FROM eas_products WHERE producer_task_id IN (${placeholders(part.length)})`,
      part,
    )) {
      const list = products.get(Number(r.producer_task_id)) ?? [];
      list.push({
        id: Number(r.id),
        semantic_type: r.semantic_type,
        filename: r.filename,
        optional: Number(r.optional),
      });
      products.set(Number(r.producer_task_id), list);
    }
  }
  let versionCount = 0;
  for (const { o, row } of valid) {
    const declared = products.get(Number(row.task_id)) ?? [];
    for (const out of o.outputs)
      if (declared.some((p) => p.semantic_type === out.semanticType)) versionCount++;
  }
  const versionIds = await allocateIdList(tx, 'version', versionCount);
  let nextVersion = 0;
  const versionRows: SqlParam[][] = [];
  const metaRows: SqlParam[][] = [];
  const notWritten = new Map<number, { productId: number; filename: string }[]>(); // task → optional outputs missing
  for (const { o, row } of valid) {
    const passed = o.succeeded && o.qcPassed;
    const declared = products.get(Number(row.task_id)) ?? [];
    for (const out of o.outputs) {
      const product = declared.find((p) => p.semantic_type === out.semanticType);
      if (!product) continue;
      const vid = versionIds[nextVersion++]!;
      versionRows.push([vid, product.id, o.attemptId, out.sha256, out.size, passed ? 1 : 0, now]);
      for (const [k, v] of Object.entries(out.metadata ?? {})) {
        const enc = encodeTypedValue(v);
        metaRows.push(['version', vid, k, enc.type, enc.value]);
      }
    }
    for (const [k, v] of Object.entries(o.outputMetadata)) {
      const enc = encodeTypedValue(v);
      metaRows.push(['attempt', o.attemptId, k, enc.type, enc.value]);
    }
    if (passed) {
      const missing = declared
        .filter((p) => !o.outputs.some((w) => w.semanticType === p.semantic_type))
        .map((p) => ({ productId: p.id, filename: p.filename }));
      if (missing.length > 0) notWritten.set(Number(row.task_id), missing);
    }
  }
  await insertMany(
    tx,
    'eas_versions',
    VERSION_COLUMNS,
    versionRows,
    'ON CONFLICT (product_id, attempt_id) DO NOTHING',
  );
  await insertMany(
    tx,
    'eas_metadata',
    METADATA_COLUMNS,
    metaRows,
    'ON CONFLICT (owner_kind, owner_id, key) DO NOTHING',
  );
  const logRows: SqlParam[][] = [];
  for (const { o, row } of valid) {
    for (const l of o.logs ?? [])
      logRows.push([o.attemptId, row.task_id, row.job_id, l.ts, l.level, l.stream, l.message]);
  }
  await insertMany(tx, 'eas_log_lines', LOG_LINE_COLUMNS, logRows);

  // Tasks move on.
  const doneTasks: number[] = [];
  const retries: (NewAttempt & { at: number })[] = [];
  const failedTasks: { id: number; reason: string }[] = [];
  // The retry budget counts failed attempts (a failed run or a failed QC) since the last rerun,
  // never attempts lost to a dead or stopping worker.
  const failures = new Map<number, number>();
  const failing = valid
    .filter(({ o }) => !(o.succeeded && o.qcPassed))
    .map(({ row }) => Number(row.task_id));
  for (const part of chunks(failing)) {
    for (const r of await tx.all<{ task_id: number; n: number }>(
      `SELECT task_id, count(*) AS n FROM eas_attempts a WHERE task_id IN (${placeholders(part.length)}) AND qc = 'failed'
         AND a.id >= coalesce((SELECT max(r.id) FROM eas_attempts r WHERE r.task_id = a.task_id AND r.kind = 'rerun'), 0)
       GROUP BY task_id`,
      part,
    )) {
      failures.set(Number(r.task_id), Number(r.n));
    }
  }
  for (const { o, row } of valid) {
    if (o.succeeded && o.qcPassed) doneTasks.push(Number(row.task_id));
    else if ((failures.get(Number(row.task_id)) ?? 1) < o.retry.maxAttempts) {
      const n = Number(row.attempt_count);
      const delay = Math.min(
        o.retry.maxBackoffMs,
        o.retry.backoffMs * 2 ** ((failures.get(Number(row.task_id)) ?? 1) - 1),
      );
      retries.push({
        taskId: Number(row.task_id),
        jobId: Number(row.job_id),
        taskType: row.task_type,
        attemptCount: n,
        priority: Number(row.priority),
        at: now + delay,
      });
    } else {
      const why = o.succeeded
        ? `QC failed: ${o.error ?? 'no reason given'}`
        : (o.error ?? 'attempt failed');
      failedTasks.push({
        id: Number(row.task_id),
        reason: `attempt ${row.attempt_count} failed: ${why}`,
      });
    }
  }
  for (const part of chunks(doneTasks)) {
    await tx.run(
      `UPDATE eas_tasks SET state = 'done', finished_at = ?, updated_at = ?, reason = NULL WHERE id IN (${placeholders(part.length)})`,
      [now, now, ...part],
    );
  }
  result.done.push(...doneTasks);
  result.ready.push(
    ...(await createAttempts(
      tx,
      retries,
      'retry',
      now,
      (t) => (t as NewAttempt & { at: number }).at,
    )),
  );
  for (const f of failedTasks) {
    await tx.run(
      `UPDATE eas_tasks SET state = 'failed', finished_at = ?, updated_at = ?, reason = ? WHERE id = ?`,
      [now, now, f.reason, f.id],
    );
    result.failed.push(f.id);
  }

  // One lock, in id order, of the products of every task this batch ended, before releasing or
  // blocking their consumers: two passes could deadlock with an expansion reading both.
  await lockProductsOf(tx, [...doneTasks, ...failedTasks.map((f) => f.id)]);
  // Release dependents of done tasks, except through optional outputs that were not written.
  const skipped = new Set<number>();
  for (const list of notWritten.values()) for (const m of list) skipped.add(m.productId);
  result.ready.push(...(await releaseDependents(tx, doneTasks, skipped, now)));

  // Block dependents of failures and of missing optional outputs.
  const pathOf = new Map(valid.map(({ row }) => [Number(row.task_id), row.task_path]));
  if (failedTasks.length > 0) {
    result.blocked.push(
      ...(await blockDependents(
        tx,
        failedTasks.map((f) => f.id),
        null,
        (producer) => `producer ${pathOf.get(producer) ?? producer} failed`,
        now,
      )),
    );
  }
  for (const [taskId, missing] of notWritten) {
    for (const m of missing) {
      result.blocked.push(
        ...(await blockDependents(
          tx,
          [taskId],
          new Set([m.productId]),
          () => `producer did not write ${m.filename}`,
          now,
        )),
      );
    }
  }

  const touchedJobs = new Set(valid.map(({ row }) => Number(row.job_id)));
  result.finishedJobs = await settleJobs(tx, [...touchedJobs], now);
  return result;
}

/**
 * Records attempts that all succeeded and passed QC in one round trip, through the server-side
 * function of migration 0002 (see `DialectProfile.serverLifecycle`): the same effects as
 * {@link finishAttempts} for that case. Resolves to undefined, having changed nothing, when the
 * batch needs the general path: a declared output was not written, or a text holds a NUL
 * character (JSON for the server cannot carry it).
 */
export async function finishPassedOnServer(
  db: SqlExecutor,
  outcomes: readonly AttemptOutcome[],
  now: number,
  take?: TakeRequest,
): Promise<FinishResult | undefined> {
  const batch = outcomes.map((o) => ({
    id: o.attemptId,
    worker: o.workerId,
    ended_at: o.endedAt,
    started_at: o.startedAt,
    wall_ms: o.wallMs,
    cpu_ms: o.cpuMs,
    cpu_children_ms: o.cpuChildrenMs,
    exit_code: o.exitCode ?? null,
    signal: o.signal ?? null,
    error: o.error ?? null,
    traceback: o.traceback ?? null,
    outputs: o.outputs.map((out) => ({
      st: out.semanticType,
      sha256: out.sha256,
      size: out.size,
      meta: Object.entries(out.metadata ?? {}).map(([k, v]) => encodedRow(k, v)),
    })),
    meta: Object.entries(o.outputMetadata).map(([k, v]) => encodedRow(k, v)),
    logs: (o.logs ?? []).map((l) => [l.ts, l.level, l.stream, l.message]),
  }));
  const json = JSON.stringify(batch);
  if (json.includes('\\u0000')) return undefined;
  const row =
    take && take.max > 0
      ? await db.get<{ r: ServerFinish }>(
          `SELECT eas_finish_take(CAST(? AS JSONB), CAST(? AS BIGINT), ?, ?, CAST(? AS INTEGER),
             CAST(? AS TEXT[]), CAST(? AS INTEGER)) AS r`,
          [
            json,
            now,
            take.worker.id,
            take.worker.host,
            take.worker.pid,
            textArray(take.types),
            take.max,
          ],
        )
      : await db.get<{ r: ServerFinish }>(
          'SELECT eas_finish_passed(CAST(? AS JSONB), CAST(? AS BIGINT)) AS r',
          [json, now],
        );
  const r = row!.r;
  if (r.fallback) return undefined;
  // The attempts started for the worker are committed: their payloads' file lookups read rows
  // that no longer change.
  const started = r.started?.length ? await payloadsOf(db, r.started) : [];
  return {
    started,
    ready: r.ready.map((a) => ({
      attemptId: Number(a.attemptId),
      taskId: Number(a.taskId),
      jobId: Number(a.jobId),
      taskType: a.taskType,
      priority: Number(a.priority),
      availableAt: Number(a.availableAt),
    })),
    stale: r.stale.map(Number),
    done: r.done.map(Number),
    failed: [],
    blocked: [],
    finishedJobs: r.finished.map((j) => ({ jobId: Number(j.jobId), status: j.status })),
  };
}

/**
 * Starts, under the reporting worker, up to `take.max` of the attempts `result` released whose
 * task type the worker runs and that are due now (lowest attempt ids first), inside the
 * caller's transaction: they
 * move from `result.ready` to `result.started`. The general path's counterpart of
 * `eas_finish_take`.
 */
export async function takeReady(
  tx: SqlExecutor,
  result: FinishResult,
  take: TakeRequest | undefined,
  now: number,
): Promise<FinishResult> {
  if (!take || take.max <= 0 || result.ready.length === 0) return result;
  const types = new Set(take.types);
  // Retries waiting out a backoff are not taken; dependents released now and retries without
  // a backoff are.
  const ids = result.ready
    .filter((a) => types.has(a.taskType) && a.availableAt <= now)
    .map((a) => a.attemptId)
    .sort((a, b) => a - b)
    .slice(0, take.max);
  if (ids.length === 0) return result;
  const rows = await markStarted(tx, ids, take.worker, now);
  const taken = new Set(rows.map((r) => Number(r.attempt_id)));
  return {
    ...result,
    ready: result.ready.filter((a) => !taken.has(a.attemptId)),
    started: [...result.started, ...(await payloadsOf(tx, rows))],
  };
}

/** A PostgreSQL text[] literal: each element double-quoted, its `"` and `\\` escaped. */
function textArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/(["\\])/g, '\\$1')}"`).join(',')}}`;
}

/** What `eas_finish_passed` and `eas_finish_take` return. */
interface ServerFinish {
  fallback?: boolean;
  /** `eas_finish_take` only: start rows of the attempts it started for the worker. */
  started?: StartedRow[];
  stale: number[];
  done: number[];
  ready: ReadyAttempt[];
  finished: { jobId: number; status: JobStatus }[];
}

function encodedRow(key: string, value: TypedMetadata[string]): [string, string, string | null] {
  const enc = encodeTypedValue(value);
  return [key, enc.type, enc.value];
}

/**
 * Decrements the unmet-dependency counters of the dependents of `providerTaskIds` (file edges
 * through their products, minus `skipProducts`, and metadata edges) and queues those that
 * reach zero. Event-driven: only the edges of the given providers are read.
 */
/**
 * Locks product rows (where the engine has row locks) in id order across chunks: a finish
 * (`FOR NO KEY UPDATE`, before it looks for dependents) and a run-time expansion (`FOR SHARE`,
 * before it looks for QC-passed versions) meeting on a product serialise on it, whichever
 * commits second seeing the other's rows; one order everywhere keeps them from deadlocking.
 * See migration 0010.
 */
export async function lockProductRows(
  tx: SqlExecutor,
  productIds: readonly number[],
  mode: 'FOR SHARE' | 'FOR NO KEY UPDATE',
): Promise<void> {
  if (!tx.profile.rowLocks) return;
  for (const part of chunks(
    [...productIds].sort((a, b) => a - b),
    450,
  )) {
    await tx.all(
      `SELECT id FROM eas_products WHERE id IN (${placeholders(part.length)}) ORDER BY id ${mode}`,
      part,
    );
  }
}

/**
 * Locks the product rows of `producerTaskIds` (see {@link lockProductRows}) before a finish
 * looks for their consumers, to release or to block them.
 */
export async function lockProductsOf(
  tx: SqlExecutor,
  producerTaskIds: readonly number[],
): Promise<void> {
  if (!tx.profile.rowLocks || producerTaskIds.length === 0) return;
  const products: number[] = [];
  for (const part of chunks(producerTaskIds, 450)) {
    for (const r of await tx.all<{ id: unknown }>(
      `SELECT id FROM eas_products WHERE producer_task_id IN (${placeholders(part.length)})`,
      part,
    ))
      products.push(Number(r.id));
  }
  await lockProductRows(tx, products, 'FOR NO KEY UPDATE');
}

export async function releaseDependents(
  tx: SqlExecutor,
  providerTaskIds: readonly number[],
  skipProducts: ReadonlySet<number>,
  now: number,
): Promise<ReadyAttempt[]> {
  if (providerTaskIds.length === 0) return [];
  // The providers' products first: a run-time expansion reading one (`insertPlannedTasks`)
  // waits for this commit, or this waits for its commit and then sees its consumers.
  await lockProductsOf(tx, providerTaskIds);
  const decrement = new Map<number, number>();
  // File edges (through the providers' products, not yet met) and metadata edges in one
  // round trip; a metadata edge has no product.
  for (const part of chunks(providerTaskIds, 450)) {
    const edges = await tx.all<{ consumer_task_id: number; product_id: number | null }>(
      `SELECT d.consumer_task_id, d.product_id FROM eas_file_deps d JOIN eas_products p ON p.id = d.product_id
       WHERE p.producer_task_id IN (${placeholders(part.length)}) AND d.met = 0
       UNION ALL
       SELECT md.consumer_task_id, NULL FROM eas_metadata_deps md
       WHERE md.provider_task_id IN (${placeholders(part.length)})`,
      [...part, ...part],
    );
    for (const e of edges) {
      if (e.product_id !== null && skipProducts.has(Number(e.product_id))) continue;
      decrement.set(
        Number(e.consumer_task_id),
        (decrement.get(Number(e.consumer_task_id)) ?? 0) + 1,
      );
    }
  }
  if (decrement.size === 0) return [];
  const byAmount = new Map<number, number[]>();
  for (const [id, n] of decrement) byAmount.set(n, [...(byAmount.get(n) ?? []), id]);
  for (const [n, ids] of byAmount) {
    for (const part of chunks(ids)) {
      await tx.run(
        `UPDATE eas_tasks SET unmet = unmet - ?, updated_at = ? WHERE id IN (${placeholders(part.length)}) AND state = 'waiting'`,
        [n, now, ...part],
      );
    }
  }
  const ready: NewAttempt[] = [];
  for (const part of chunks([...decrement.keys()])) {
    for (const r of await tx.all<{
      id: number;
      job_id: number;
      type: string;
      attempt_count: number;
      priority: number;
    }>(
      `SELECT t.id, t.job_id, t.type, t.attempt_count, j.priority FROM eas_tasks t JOIN eas_jobs j ON j.id = t.job_id
       WHERE t.id IN (${placeholders(part.length)}) AND t.unmet <= 0 AND t.state = 'waiting'
       ORDER BY t.id`,
      part,
    )) {
      ready.push({
        taskId: Number(r.id),
        jobId: Number(r.job_id),
        taskType: r.type,
        attemptCount: Number(r.attempt_count),
        priority: Number(r.priority),
      });
    }
  }
  return createAttempts(tx, ready, 'first', now, now);
}

/**
 * Marks the transitive dependents of `producerTaskIds` `blocked`, with a reason naming the
 * first cause. `onlyProducts` limits the first step to edges through those products (an
 * optional output that was not written). Returns the ids blocked.
 */
export async function blockDependents(
  tx: SqlExecutor,
  producerTaskIds: readonly number[],
  onlyProducts: ReadonlySet<number> | null,
  reasonFor: (producerTaskId: number) => string,
  now: number,
): Promise<number[]> {
  const blocked: number[] = [];
  // The producers' products first, as a release does: a run-time expansion reading one either
  // commits first (and its readers are found here) or sees these producers ended.
  await lockProductsOf(tx, producerTaskIds);
  let frontier: { id: number; reason: string }[] = producerTaskIds.map((id) => ({
    id,
    reason: reasonFor(id),
  }));
  let first = true;
  while (frontier.length > 0) {
    const next: { id: number; reason: string }[] = [];
    const reasonOf = new Map(frontier.map((f) => [f.id, f.reason]));
    for (const part of chunks(frontier.map((f) => f.id))) {
      const edges = await tx.all<{
        consumer_task_id: number;
        provider: number;
        product_id: number | null;
        filename: string | null;
      }>(
        `SELECT d.consumer_task_id, p.producer_task_id AS provider, d.product_id, p.filename
           FROM eas_file_deps d JOIN eas_products p ON p.id = d.product_id
           WHERE p.producer_task_id IN (${placeholders(part.length)}) AND d.met = 0
         UNION ALL
         SELECT consumer_task_id, provider_task_id AS provider, NULL AS product_id, NULL AS filename
           FROM eas_metadata_deps WHERE provider_task_id IN (${placeholders(part.length)})`,
        [...part, ...part],
      );
      const candidates = new Map<number, string>();
      for (const e of edges) {
        if (
          first &&
          onlyProducts &&
          (e.product_id === null || !onlyProducts.has(Number(e.product_id)))
        )
          continue;
        const base = reasonOf.get(Number(e.provider)) ?? 'upstream failure';
        const via = e.filename ? `input ${e.filename}: ` : 'requested metadata: ';
        if (!candidates.has(Number(e.consumer_task_id)))
          candidates.set(Number(e.consumer_task_id), `${via}${base}`);
      }
      if (candidates.size === 0) continue;
      const ids = [...candidates.keys()];
      for (const cpart of chunks(ids)) {
        const changed = await tx.all<{ id: number; path: string }>(
          `UPDATE eas_tasks SET state = 'blocked', reason = ?, updated_at = ?, finished_at = ?
           WHERE id IN (${placeholders(cpart.length)}) AND state = 'waiting' RETURNING id, path`,
          ['', now, now, ...cpart],
        );
        for (const c of changed) {
          const reason = candidates.get(Number(c.id))!;
          await tx.run('UPDATE eas_tasks SET reason = ? WHERE id = ?', [reason, c.id]);
          blocked.push(Number(c.id));
          next.push({ id: Number(c.id), reason: `upstream task ${c.path} is blocked (${reason})` });
        }
      }
    }
    frontier = next;
    first = false;
  }
  return blocked;
}

/**
 * Blocks each `waiting` task of `reasons` with its reason, then, through {@link blockDependents},
 * every task downstream of those, each with `downstream(path, reason)` of the first cause
 * (default: `upstream task <path> is blocked`). Returns the ids blocked, the named ones first.
 */
export async function blockWithReasons(
  tx: SqlExecutor,
  reasons: ReadonlyMap<number, string>,
  now: number,
  downstream: (path: string, reason: string) => string = (path) =>
    `upstream task ${path} is blocked`,
): Promise<number[]> {
  if (reasons.size === 0) return [];
  const paths = new Map<number, string>();
  for (const [id, reason] of reasons) {
    const r = await tx.get<{ path: string }>(
      `UPDATE eas_tasks SET state = 'blocked', reason = ?, finished_at = ?, updated_at = ?
       WHERE id = ? AND state = 'waiting' RETURNING path`,
      [reason, now, now, id],
    );
    if (r) paths.set(id, r.path);
  }
  return [
    ...paths.keys(),
    ...(await blockDependents(
      tx,
      [...paths.keys()],
      null,
      (id) => downstream(paths.get(id) ?? String(id), reasons.get(id) ?? ''),
      now,
    )),
  ];
}

/**
 * Gives every job among `jobIds` that has no live task left its final status: `failed` when
 * any task failed or was blocked, else `done`.
 */
export async function settleJobs(
  tx: SqlExecutor,
  jobIds: readonly number[],
  now: number,
): Promise<{ jobId: number; status: JobStatus }[]> {
  const settled: { jobId: number; status: JobStatus }[] = [];
  const hasLive = async (jobId: number): Promise<boolean> =>
    (await tx.get(
      `SELECT 1 AS x FROM eas_tasks WHERE job_id = ? AND state IN ${LIVE_STATES_SQL} LIMIT 1`,
      [jobId],
    )) !== undefined;
  for (const jobId of jobIds) {
    if (await hasLive(jobId)) continue;
    if (tx.profile.rowLocks) {
      // A rerun may be reopening the job in a transaction not yet committed: wait for its lock
      // on the job row, then look again, seeing what it committed (each statement reads anew).
      const row = await tx.get<{ status: string }>(
        `SELECT status FROM eas_jobs WHERE id = ? FOR UPDATE`,
        [jobId],
      );
      if (row?.status !== 'running' || (await hasLive(jobId))) continue;
    }
    const bad = await tx.get(
      `SELECT 1 AS x FROM eas_tasks WHERE job_id = ? AND state IN ('failed', 'blocked') LIMIT 1`,
      [jobId],
    );
    const status: JobStatus = bad ? 'failed' : 'done';
    const n = await tx.run(
      `UPDATE eas_jobs SET status = ?, finished_at = ? WHERE id = ? AND status = 'running'`,
      [status, now, jobId],
    );
    if (n > 0) settled.push({ jobId, status });
  }
  return settled;
}

/**
 * Settles the running jobs that have no live task left (see {@link settleJobs}): one read when
 * there are none, a transaction only when there are.
 */
export async function settleEndedJobs(
  db: SqlExecutor,
  now: number,
): Promise<{ jobId: number; status: JobStatus }[]> {
  const ended = await db.all<{ id: number }>(
    `SELECT j.id FROM eas_jobs j WHERE j.status = 'running' AND NOT EXISTS
       (SELECT 1 FROM eas_tasks t WHERE t.job_id = j.id AND t.state IN ${LIVE_STATES_SQL})`,
  );
  if (ended.length === 0) return [];
  return db.transaction((tx) =>
    settleJobs(
      tx,
      ended.map((r) => Number(r.id)),
      now,
    ),
  );
}

/**
 * Handles attempts whose lease ran out: a running attempt becomes `stalled` and its task gets a
 * new attempt (or fails after {@link MAX_STALLS}); an attempt that was claimed but never
 * started is simply ready again.
 */
export async function stallAttempts(
  tx: SqlExecutor,
  attemptIds: readonly number[],
  now: number,
  options: { handBack?: boolean } = {},
): Promise<{ ready: ReadyAttempt[]; stalled: number[]; failed: number[]; blocked: number[] }> {
  const out = {
    ready: [] as ReadyAttempt[],
    stalled: [] as number[],
    failed: [] as number[],
    blocked: [] as number[],
  };
  if (attemptIds.length === 0) return out;
  await lockJobsOfAttempts(tx, attemptIds);
  const rows: (AttemptRow & { task_state: string })[] = [];
  for (const part of chunks(attemptIds)) {
    rows.push(
      ...(await tx.all<(typeof rows)[number]>(
        `SELECT a.id, a.task_id, a.job_id, a.state, a.worker, t.attempt_count, t.stall_count, t.state AS task_state, a.task_type,
                t.path AS task_path, j.priority
         FROM eas_attempts a JOIN eas_tasks t ON t.id = a.task_id JOIN eas_jobs j ON j.id = a.job_id
         WHERE a.id IN (${placeholders(part.length)}) ORDER BY a.id${lockAttempts(tx)}`,
        part,
      )),
    );
  }
  const again: NewAttempt[] = [];
  for (const r of rows) {
    if (r.state === 'queued') {
      out.ready.push({
        attemptId: Number(r.id),
        taskId: Number(r.task_id),
        jobId: Number(r.job_id),
        taskType: r.task_type,
        priority: Number(r.priority),
        availableAt: now,
      });
      continue;
    }
    if (r.state !== 'running') continue;
    await tx.run(
      `UPDATE eas_attempts SET state = 'stalled', ended_at = ?, error = coalesce(error, ?) WHERE id = ?`,
      [
        now,
        options.handBack
          ? 'handed back: its worker was stopping and the grace period ran out'
          : 'lease expired: the worker stopped heartbeating',
        r.id,
      ],
    );
    out.stalled.push(Number(r.id));
    // A hand-back by a worker that stops on purpose is not an accident of the task's making.
    const stalls = Number(r.stall_count) + (options.handBack ? 0 : 1);
    if (!options.handBack && stalls >= MAX_STALLS) {
      await tx.run(
        `UPDATE eas_tasks SET state = 'failed', stall_count = ?, finished_at = ?, updated_at = ?, reason = ? WHERE id = ?`,
        [stalls, now, now, `lease lost ${stalls} times (its worker died each time)`, r.task_id],
      );
      out.failed.push(Number(r.task_id));
      out.blocked.push(
        ...(await blockDependents(
          tx,
          [Number(r.task_id)],
          null,
          () => `producer ${r.task_path} failed`,
          now,
        )),
      );
    } else {
      await tx.run(
        `UPDATE eas_tasks SET state = 'stalled', stall_count = ?, updated_at = ? WHERE id = ?`,
        [stalls, now, r.task_id],
      );
      again.push({
        taskId: Number(r.task_id),
        jobId: Number(r.job_id),
        taskType: r.task_type,
        attemptCount: Number(r.attempt_count),
        priority: Number(r.priority),
      });
    }
  }
  out.ready.push(...(await createAttempts(tx, again, 'stall', now, now)));
  if (out.failed.length > 0)
    await settleJobs(tx, [...new Set(rows.map((r) => Number(r.job_id)))], now);
  return out;
}

/** Rows of the metadata of one owner for writing. */
export function metadataRows(kind: string, ownerId: number, m: TypedMetadata): SqlParam[][] {
  return Object.entries(m).map(([k, v]) => {
    const enc = encodeTypedValue(v);
    return [kind, ownerId, k, enc.type, enc.value];
  });
}
