import { EasError, placeholders, type SqlExecutor } from '../../core/index.js';
import type { JobStatus, ReadyAttempt, TaskState } from '../types.js';
import { chunks } from './ids.js';
import { blockWithReasons, createAttempts, lockJobExclusive, settleJobs } from './lifecycle.js';
import { JOB_TOTALS_TABLES } from './totals.js';

/** The reason written on every task a cancel stops. */
export const CANCEL_REASON = 'job cancelled';

/** What `cancelJob` changed. */
export interface CancelResult {
  jobId: number;
  jobName: string;
  /** Tasks cancelled, by the state they were in. */
  tasks: Record<'waiting' | 'queued' | 'running' | 'stalled', number>;
  /** Tasks cancelled in all. */
  cancelledTasks: number;
  /** Queued or running attempts marked `cancelled`. */
  cancelledAttempts: number;
  /** Of those, attempts that were running: their workers stop them at their next heartbeat. */
  runningAttempts: number;
}

/** What `rerunJob` changed. */
export interface RerunResult {
  jobId: number;
  jobName: string;
  /** The job's status before the rerun. */
  previousStatus: JobStatus;
  /** Failed tasks given a new attempt of kind `rerun`. */
  rerunTasks: number[];
  /** Blocked or cancelled tasks back to `waiting` (some of them queued at once, see `ready`). */
  reopenedTasks: number[];
  /**
   * Reopened tasks blocked again in the same transaction: an input's producer is `done` but did
   * not write that (optional) file, so no rerun can unblock them.
   */
  stillBlocked: number[];
  /** Attempts created by the rerun, to enqueue. */
  ready: ReadyAttempt[];
  /** The job's status after the rerun: `running`, or its final status when nothing could run. */
  status: JobStatus;
}

/** What `deleteJob` removed. */
export interface DeleteResult {
  jobId: number;
  jobName: string;
  /** The job was running and was cancelled first (`force`). */
  cancelled: CancelResult | null;
  /** Rows removed per table. */
  removed: {
    tasks: number;
    attempts: number;
    products: number;
    versions: number;
    metadata: number;
    fileDeps: number;
    metadataDeps: number;
    logLines: number;
  };
  /** File-store keys (sha256) no remaining version refers to: the caller deletes these objects. */
  unreferencedObjects: string[];
  /**
   * For each of {@link DeleteResult.unreferencedObjects}, when the job's newest version of it
   * was committed (ms since the epoch): an object stored after that was stored for someone
   * else's report, and is kept (see `FileRepository.deleteIfIdle`).
   */
  lastCommittedAt: Record<string, number>;
  /** File-store keys of the job that another job's versions still refer to: kept. */
  sharedObjects: string[];
}

interface JobRow {
  id: number;
  name: string;
  status: JobStatus;
}

async function jobRow(tx: SqlExecutor, jobId: number): Promise<JobRow> {
  const row = await tx.get<JobRow>('SELECT id, name, status FROM eas_jobs WHERE id = ?', [jobId]);
  if (!row) {
    throw new EasError('NOT_FOUND', `No job ${jobId}. List jobs with: eas status`, {
      where: `job ${jobId}`,
    });
  }
  return { id: Number(row.id), name: String(row.name), status: row.status };
}

/**
 * Cancels a running job in one transaction: every live task (waiting, queued, running, stalled)
 * becomes `cancelled` with the reason "job cancelled", their queued and running attempts become
 * `cancelled`, and the job `cancelled` with its finish time. A worker running one of them finds
 * at its next heartbeat that the attempt is no longer running under it and stops it; a report
 * that arrives anyway is refused (`finishAttempts` lists it as stale). The caller removes the
 * job's items from the queue after the commit.
 *
 * @throws EasError `NOT_FOUND` for an unknown job, `USAGE` for a job that is not running
 *   (nothing is changed then).
 */
export async function cancelJob(
  tx: SqlExecutor,
  jobId: number,
  now: number,
): Promise<CancelResult> {
  await lockJobExclusive(tx, jobId);
  const job = await jobRow(tx, jobId);
  if (job.status !== 'running') {
    throw new EasError(
      'USAGE',
      `Job ${jobId} "${job.name}" is ${job.status}, not running: there is nothing to cancel.` +
        (job.status === 'failed' || job.status === 'cancelled'
          ? ` Run its failed part again with: eas rerun ${jobId}`
          : ''),
      { where: `job ${jobId}` },
    );
  }
  const tasks = { waiting: 0, queued: 0, running: 0, stalled: 0 };
  let cancelledAttempts = 0;
  let runningAttempts = 0;
  const countAttempt = (state: string, n: number): void => {
    cancelledAttempts += n;
    if (state === 'running') runningAttempts += n;
  };
  if (tx.profile.rowLocks) {
    // Counted from the rows the updates change, as they were when locked: a finish committing
    // meanwhile either ends a task first (not counted, not cancelled) or waits for the cancel.
    for (const r of await tx.all<{ state: string; n: number }>(
      `WITH c AS (
         UPDATE eas_attempts a SET state = 'cancelled', ended_at = ?, error = coalesce(a.error, ?)
         FROM (SELECT id, state FROM eas_attempts WHERE job_id = ? AND state IN ('queued', 'running')
               ORDER BY id FOR UPDATE) o
         WHERE a.id = o.id RETURNING o.state)
       SELECT state, count(*) AS n FROM c GROUP BY state`,
      [now, CANCEL_REASON, jobId],
    ))
      countAttempt(r.state, Number(r.n));
    for (const r of await tx.all<{ state: TaskState; n: number }>(
      `WITH c AS (
         UPDATE eas_tasks t SET state = 'cancelled', reason = ?, finished_at = ?, updated_at = ?
         FROM (SELECT id, state FROM eas_tasks
               WHERE job_id = ? AND state IN ('waiting', 'queued', 'running', 'stalled')
               ORDER BY id FOR UPDATE) o
         WHERE t.id = o.id RETURNING o.state)
       SELECT state, count(*) AS n FROM c GROUP BY state`,
      [CANCEL_REASON, now, now, jobId],
    ))
      tasks[r.state as keyof typeof tasks] = Number(r.n);
  } else {
    // One writer at a time (SQLite): nothing changes between the counts and the updates.
    for (const r of await tx.all<{ state: TaskState; n: number }>(
      `SELECT state, count(*) AS n FROM eas_tasks
       WHERE job_id = ? AND state IN ('waiting', 'queued', 'running', 'stalled') GROUP BY state`,
      [jobId],
    ))
      tasks[r.state as keyof typeof tasks] = Number(r.n);
    for (const r of await tx.all<{ state: string; n: number }>(
      `SELECT state, count(*) AS n FROM eas_attempts
       WHERE job_id = ? AND state IN ('queued', 'running') GROUP BY state`,
      [jobId],
    ))
      countAttempt(r.state, Number(r.n));
    await tx.run(
      `UPDATE eas_attempts SET state = 'cancelled', ended_at = ?, error = coalesce(error, ?)
       WHERE job_id = ? AND state IN ('queued', 'running')`,
      [now, CANCEL_REASON, jobId],
    );
    await tx.run(
      `UPDATE eas_tasks SET state = 'cancelled', reason = ?, finished_at = ?, updated_at = ?
       WHERE job_id = ? AND state IN ('waiting', 'queued', 'running', 'stalled')`,
      [CANCEL_REASON, now, now, jobId],
    );
  }
  await tx.run(`UPDATE eas_jobs SET status = 'cancelled', finished_at = ? WHERE id = ?`, [
    now,
    jobId,
  ]);
  return {
    jobId,
    jobName: job.name,
    tasks,
    cancelledTasks: tasks.waiting + tasks.queued + tasks.running + tasks.stalled,
    cancelledAttempts,
    runningAttempts,
  };
}

interface TaskRow {
  id: number;
  type: string;
  state: TaskState;
  attempt_count: number;
}

/**
 * Runs the failed part of a job again, in one transaction:
 *
 * - every `failed` task gets a new attempt of kind `rerun`, queued now, with its reason cleared
 *   and its stall count reset; its earlier attempts and their versions are kept;
 * - every `blocked` or `cancelled` task goes back to `waiting`, with its unmet counter recounted
 *   from the edges as reconcile does (a file input is met when its product has a QC-passed
 *   version, a metadata dependency when its provider is `done`); those with none unmet are
 *   queued at once (kind `rerun` if they ran before, else `first`). A reopened task whose input's
 *   producer is `done` but did not write that file is blocked again, with its dependents;
 * - the job is `running` again, its finish time cleared (settled at once if nothing could run).
 *
 * Everything `done` is untouched. Dependents are released by the usual event-driven path when
 * the rerun attempts pass QC.
 *
 * @throws EasError `NOT_FOUND` for an unknown job, `USAGE` when no task of the job is failed,
 *   blocked or cancelled (nothing is changed then).
 */
export async function rerunJob(tx: SqlExecutor, jobId: number, now: number): Promise<RerunResult> {
  await lockJobExclusive(tx, jobId);
  const job = await jobRow(tx, jobId);
  const { priority } = (await tx.get<{ priority: number }>(
    'SELECT priority FROM eas_jobs WHERE id = ?',
    [jobId],
  ))!;
  const rows = await tx.all<TaskRow>(
    `SELECT id, type, state, attempt_count FROM eas_tasks
     WHERE job_id = ? AND state IN ('failed', 'blocked', 'cancelled') ORDER BY id`,
    [jobId],
  );
  if (rows.length === 0) {
    throw new EasError(
      'USAGE',
      `Job ${jobId} "${job.name}" is ${job.status} and has no failed, blocked or cancelled task: there is nothing to rerun.`,
      { where: `job ${jobId}` },
    );
  }
  const failed = rows.filter((r) => r.state === 'failed');
  const reopened = rows.filter((r) => r.state !== 'failed');

  await tx.run(
    `UPDATE eas_jobs SET status = 'running', finished_at = NULL, totals_of = NULL WHERE id = ?`,
    [jobId],
  );

  // Failed tasks: a fresh attempt now. Their inputs were met when they ran and the producers,
  // being done, are untouched.
  const failedIds = failed.map((r) => Number(r.id));
  for (const part of chunks(failedIds)) {
    await tx.run(
      `UPDATE eas_tasks SET stall_count = 0, finished_at = NULL WHERE id IN (${placeholders(part.length)})`,
      part,
    );
  }
  const ready = await createAttempts(
    tx,
    failed.map((r) => ({
      taskId: Number(r.id),
      jobId,
      taskType: r.type,
      attemptCount: Number(r.attempt_count),
      priority: Number(priority),
    })),
    'rerun',
    now,
    now,
  );

  // Blocked and cancelled tasks: waiting again, their counters recounted from the edges.
  const reopenedIds = reopened.map((r) => Number(r.id));
  for (const part of chunks(reopenedIds)) {
    await tx.run(
      `UPDATE eas_tasks SET state = 'waiting', reason = NULL, finished_at = NULL, stall_count = 0, updated_at = ?,
         unmet =
           (SELECT count(*) FROM eas_file_deps d WHERE d.consumer_task_id = eas_tasks.id AND d.met = 0
              AND NOT EXISTS (SELECT 1 FROM eas_versions v WHERE v.product_id = d.product_id AND v.passed_qc = 1))
         + (SELECT count(*) FROM eas_metadata_deps md JOIN eas_tasks pt ON pt.id = md.provider_task_id
              WHERE md.consumer_task_id = eas_tasks.id AND pt.state <> 'done')
       WHERE id IN (${placeholders(part.length)})`,
      [now, ...part],
    );
  }

  // A done producer that did not write a file will never write it: its consumers stay blocked.
  const dead = new Map<number, string>();
  for (const part of chunks(reopenedIds)) {
    for (const r of await tx.all<{ id: number; filename: string }>(
      `SELECT d.consumer_task_id AS id, p.filename FROM eas_file_deps d
         JOIN eas_products p ON p.id = d.product_id JOIN eas_tasks pt ON pt.id = p.producer_task_id
       WHERE d.consumer_task_id IN (${placeholders(part.length)}) AND d.met = 0 AND pt.state = 'done'
         AND NOT EXISTS (SELECT 1 FROM eas_versions v WHERE v.product_id = d.product_id AND v.passed_qc = 1)`,
      part,
    )) {
      if (!dead.has(Number(r.id))) dead.set(Number(r.id), r.filename);
    }
  }
  const stillBlocked = await blockWithReasons(
    tx,
    new Map([...dead].map(([id, f]) => [id, `input ${f}: producer did not write ${f}`])),
    now,
  );

  // Reopened tasks with nothing unmet run now.
  const byId = new Map(reopened.map((r) => [Number(r.id), r]));
  const nowReady: TaskRow[] = [];
  for (const part of chunks(reopenedIds)) {
    for (const r of await tx.all<{ id: number }>(
      `SELECT id FROM eas_tasks WHERE id IN (${placeholders(part.length)}) AND state = 'waiting' AND unmet <= 0`,
      part,
    )) {
      nowReady.push(byId.get(Number(r.id))!);
    }
  }
  const asNew = (r: TaskRow) => ({
    taskId: Number(r.id),
    jobId,
    taskType: r.type,
    attemptCount: Number(r.attempt_count),
    priority: Number(priority),
  });
  ready.push(
    ...(await createAttempts(
      tx,
      nowReady.filter((r) => Number(r.attempt_count) > 0).map(asNew),
      'rerun',
      now,
      now,
    )),
    ...(await createAttempts(
      tx,
      nowReady.filter((r) => Number(r.attempt_count) === 0).map(asNew),
      'first',
      now,
      now,
    )),
  );

  const settled = await settleJobs(tx, [jobId], now);
  return {
    jobId,
    jobName: job.name,
    previousStatus: job.status,
    rerunTasks: failedIds,
    reopenedTasks: reopenedIds,
    stillBlocked,
    ready,
    status: settled[0]?.status ?? 'running',
  };
}

/**
 * Deletes a job and everything recorded about it, in one transaction: its tasks, attempts,
 * products, versions, metadata (of its tasks, attempts and versions), dependency edges and log
 * lines. Returns the file-store keys no remaining version refers to, for the caller to delete
 * after the commit (objects are content-addressed and may be shared with other jobs).
 *
 * A running job must be cancelled first; with `force` it is cancelled here, in the same
 * transaction. A job whose products another job reads as inputs cannot be deleted: that job's
 * record would lose its inputs.
 *
 * @throws EasError `NOT_FOUND` for an unknown job; `USAGE` for a running job without `force`,
 *   or when another job reads its products (nothing is changed then).
 */
export async function deleteJob(
  tx: SqlExecutor,
  jobId: number,
  now: number,
  options: { force?: boolean } = {},
): Promise<DeleteResult> {
  await lockJobExclusive(tx, jobId);
  const job = await jobRow(tx, jobId);
  if (job.status === 'running' && !options.force) {
    throw new EasError(
      'USAGE',
      `Job ${jobId} "${job.name}" is running. Cancel it first (eas cancel ${jobId}), or delete it with --force, which cancels it.`,
      { where: `job ${jobId}` },
    );
  }
  const readers = await tx.all<{ job_id: number }>(
    `SELECT DISTINCT t.job_id FROM eas_file_deps d
       JOIN eas_products p ON p.id = d.product_id JOIN eas_tasks t ON t.id = d.consumer_task_id
     WHERE p.job_id = ? AND t.job_id <> ? ORDER BY t.job_id`,
    [jobId, jobId],
  );
  if (readers.length > 0) {
    const ids = readers.map((r) => Number(r.job_id));
    throw new EasError(
      'USAGE',
      `Job ${jobId} "${job.name}" cannot be deleted: job${ids.length > 1 ? 's' : ''} ${ids.join(', ')} read${ids.length > 1 ? '' : 's'} its products as inputs. Delete ${ids.length > 1 ? 'those' : 'that job'} first.`,
      { where: `job ${jobId}` },
    );
  }
  const cancelled = job.status === 'running' ? await cancelJob(tx, jobId, now) : null;

  const committedAt = new Map<string, number>();
  for (const r of await tx.all<{ sha256: string; at: unknown }>(
    `SELECT v.sha256, max(v.created_at) AS at FROM eas_versions v JOIN eas_products p ON p.id = v.product_id
     WHERE p.job_id = ? GROUP BY v.sha256`,
    [jobId],
  ))
    committedAt.set(r.sha256, Number(r.at));
  const shas = [...committedAt.keys()].sort();

  const tasksOf = 'SELECT id FROM eas_tasks WHERE job_id = ?';
  const versionsOf =
    'SELECT v.id FROM eas_versions v JOIN eas_products p ON p.id = v.product_id WHERE p.job_id = ?';
  const metadata =
    (await tx.run(
      `DELETE FROM eas_metadata WHERE owner_kind = 'task' AND owner_id IN (${tasksOf})`,
      [jobId],
    )) +
    (await tx.run(
      `DELETE FROM eas_metadata WHERE owner_kind = 'attempt' AND owner_id IN (SELECT id FROM eas_attempts WHERE job_id = ?)`,
      [jobId],
    )) +
    (await tx.run(
      `DELETE FROM eas_metadata WHERE owner_kind = 'version' AND owner_id IN (${versionsOf})`,
      [jobId],
    ));
  const removed = {
    tasks: 0,
    attempts: 0,
    products: 0,
    versions: 0,
    metadata,
    fileDeps: await tx.run(`DELETE FROM eas_file_deps WHERE consumer_task_id IN (${tasksOf})`, [
      jobId,
    ]),
    metadataDeps: await tx.run(
      `DELETE FROM eas_metadata_deps WHERE consumer_task_id IN (${tasksOf}) OR provider_task_id IN (${tasksOf})`,
      [jobId, jobId],
    ),
    logLines: await tx.run('DELETE FROM eas_log_lines WHERE job_id = ?', [jobId]),
  };
  removed.versions = await tx.run(
    'DELETE FROM eas_versions WHERE product_id IN (SELECT id FROM eas_products WHERE job_id = ?)',
    [jobId],
  );
  removed.products = await tx.run('DELETE FROM eas_products WHERE job_id = ?', [jobId]);
  removed.attempts = await tx.run('DELETE FROM eas_attempts WHERE job_id = ?', [jobId]);
  removed.tasks = await tx.run('DELETE FROM eas_tasks WHERE job_id = ?', [jobId]);
  // The job's row first: on PostgreSQL a store of its totals under way holds that row, so the
  // totals are deleted after that store committed, never before it.
  await tx.run('DELETE FROM eas_jobs WHERE id = ?', [jobId]);
  for (const table of JOB_TOTALS_TABLES)
    await tx.run(`DELETE FROM ${table} WHERE job_id = ?`, [jobId]);

  const shared = await referencedObjects(tx, shas);
  return {
    jobId,
    jobName: job.name,
    cancelled,
    removed,
    unreferencedObjects: shas.filter((s) => !shared.has(s)),
    lastCommittedAt: Object.fromEntries(
      shas.filter((s) => !shared.has(s)).map((s) => [s, committedAt.get(s)!]),
    ),
    sharedObjects: shas.filter((s) => shared.has(s)),
  };
}

/** Those of `keys` (file-store keys, sha256) that some version refers to. */
export async function referencedObjects(
  sql: SqlExecutor,
  keys: readonly string[],
): Promise<Set<string>> {
  const found = new Set<string>();
  for (const part of chunks([...keys])) {
    for (const r of await sql.all<{ sha256: string }>(
      `SELECT DISTINCT sha256 FROM eas_versions WHERE sha256 IN (${placeholders(part.length)})`,
      part,
    ))
      found.add(r.sha256);
  }
  return found;
}
