import type { SqlExecutor } from '../../core/index.js';
import type { JobStatus, ReadyAttempt } from '../types.js';
import { blockWithReasons, createAttempts, lockJobsShared, settleJobs } from './lifecycle.js';

/** Running jobs one reconcile pass repairs on PostgreSQL (one shared advisory lock each). */
const RECONCILE_MAX_JOBS = 1000;

/** What a reconcile pass repaired. */
export interface ReconcileResult {
  /** Every attempt that should be in the queue (queued in the database): re-enqueue them (idempotent). */
  queued: ReadyAttempt[];
  /** Waiting tasks whose unmet counter was wrong and was corrected. */
  countersFixed: number;
  /** Tasks found ready and queued by this pass. */
  released: number;
  /** Tasks found blocked by this pass. */
  blocked: number;
  /** Jobs found finished. */
  finishedJobs: { jobId: number; status: JobStatus }[];
}

/**
 * The slow path that repairs what the event-driven path may have missed (a crash between two
 * steps, a lost queue): recounts the unmet dependencies of waiting tasks from the edges,
 * queues tasks that are in fact ready, blocks tasks whose provider failed, settles finished
 * jobs, and lists every queued attempt so the caller can rebuild the queue. The database is
 * the truth, the queue a cache. Scans tables: run at start-up and rarely.
 */
export async function reconcile(tx: SqlExecutor, now: number): Promise<ReconcileResult> {
  // The running jobs' shared locks first (see `lockJobsShared`): a cancel under way finishes
  // before this reads their tasks, and none starts until this commits. Only the locked jobs
  // are repaired: a job a rerun reopens after this look waits for the next pass. At most
  // RECONCILE_MAX_JOBS a pass, picked at random beyond that, so the server's lock table holds.
  let only = '';
  let onlyIds: number[] = [];
  if (tx.profile.rowLocks) {
    onlyIds = (
      await tx.all<{ id: unknown }>(
        `SELECT id FROM eas_jobs WHERE status = 'running' ORDER BY random() LIMIT ${RECONCILE_MAX_JOBS}`,
      )
    ).map((r) => Number(r.id));
    await lockJobsShared(tx, onlyIds);
    only = ` AND t.job_id IN (${onlyIds.length > 0 ? onlyIds.join(',') : 'NULL'})`;
  }
  const rows = await tx.all<{
    id: number;
    job_id: number;
    type: string;
    attempt_count: number;
    unmet: number;
    priority: number;
    pending_files: number;
    pending_meta: number;
    dead_files: number;
    dead_meta: number;
  }>(
    `SELECT t.id, t.job_id, t.type, t.attempt_count, t.unmet, j.priority,
       (SELECT count(*) FROM eas_file_deps d WHERE d.consumer_task_id = t.id AND d.met = 0
          AND NOT EXISTS (SELECT 1 FROM eas_versions v WHERE v.product_id = d.product_id AND v.passed_qc = 1)) AS pending_files,
       (SELECT count(*) FROM eas_metadata_deps md JOIN eas_tasks pt ON pt.id = md.provider_task_id
          WHERE md.consumer_task_id = t.id AND pt.state <> 'done') AS pending_meta,
       (SELECT count(*) FROM eas_file_deps d JOIN eas_products p ON p.id = d.product_id JOIN eas_tasks pt ON pt.id = p.producer_task_id
          WHERE d.consumer_task_id = t.id AND d.met = 0
            AND (pt.state IN ('failed', 'blocked', 'cancelled')
                 OR (pt.state = 'done' AND NOT EXISTS (SELECT 1 FROM eas_versions v WHERE v.product_id = d.product_id AND v.passed_qc = 1)))) AS dead_files,
       (SELECT count(*) FROM eas_metadata_deps md JOIN eas_tasks pt ON pt.id = md.provider_task_id
          WHERE md.consumer_task_id = t.id AND pt.state IN ('failed', 'blocked', 'cancelled')) AS dead_meta
     FROM eas_tasks t JOIN eas_jobs j ON j.id = t.job_id
     WHERE t.state = 'waiting'${only}`,
  );
  let countersFixed = 0;
  const ready: {
    taskId: number;
    jobId: number;
    taskType: string;
    attemptCount: number;
    priority: number;
  }[] = [];
  const deadConsumers = new Set<number>();
  for (const r of rows) {
    const actual = Number(r.pending_files) + Number(r.pending_meta);
    if (Number(r.dead_files) + Number(r.dead_meta) > 0) {
      deadConsumers.add(Number(r.id));
      continue;
    }
    if (actual !== Number(r.unmet)) {
      countersFixed++;
      await tx.run('UPDATE eas_tasks SET unmet = ?, updated_at = ? WHERE id = ?', [
        actual,
        now,
        r.id,
      ]);
    }
    if (actual === 0) {
      ready.push({
        taskId: Number(r.id),
        jobId: Number(r.job_id),
        taskType: r.type,
        attemptCount: Number(r.attempt_count),
        priority: Number(r.priority),
      });
    }
  }
  await createAttempts(tx, ready, 'first', now, now);

  // Waiting tasks with a dead provider are blocked themselves (only they: another dependent of
  // the same provider may be waiting on a file it did write), then their own dependents.
  const blocked = (
    await blockWithReasons(
      tx,
      new Map(
        [...deadConsumers].map((id) => [
          id,
          "an input's producer failed or did not write it (found by reconcile)",
        ]),
      ),
      now,
    )
  ).length;

  const queued = (
    await tx.all<{
      id: number;
      task_id: number;
      job_id: number;
      task_type: string;
      priority: number;
      available_at: number;
    }>(
      `SELECT a.id, a.task_id, a.job_id, a.task_type, j.priority, a.available_at
       FROM eas_attempts a JOIN eas_jobs j ON j.id = a.job_id WHERE a.state = 'queued' ORDER BY a.id`,
    )
  ).map((a) => ({
    attemptId: Number(a.id),
    taskId: Number(a.task_id),
    jobId: Number(a.job_id),
    taskType: a.task_type,
    priority: Number(a.priority),
    availableAt: Number(a.available_at),
  }));

  const running = tx.profile.rowLocks
    ? onlyIds
    : (await tx.all<{ id: number }>(`SELECT id FROM eas_jobs WHERE status = 'running'`)).map((r) =>
        Number(r.id),
      );
  const finishedJobs = await settleJobs(tx, running, now);
  return { queued, countersFixed, released: ready.length, blocked, finishedJobs };
}
