import { EasError, placeholders, type SqlExecutor, type SqlParam } from '../../core/index.js';
import type { JobStatus, PlannedTask, ReadyAttempt } from '../types.js';
import { chunks } from './ids.js';
import {
  blockDependents,
  lockAttempts,
  lockJobsOfAttempts,
  releaseDependents,
  settleJobs,
} from './lifecycle.js';
import { insertPlannedTasks } from './submit.js';

/** The outcome of expanding a deferred control-flow task at run time. */
export interface DeferredExpansion {
  /** The control task's running attempt (claimed by the controller). */
  attemptId: number;
  /** Who holds it. */
  workerId: string;
  /** New tasks; `parentKey: -1` hangs a task under the control task. */
  children: PlannedTask[];
  /** The control task is finished (a conditional; a do-while whose criterion is false). */
  done: boolean;
  /** A do-while: the new body tasks (plan keys) whose output metadata it waits for next. */
  waitFor: { name: string; providerKey: number }[];
}

/**
 * Records a run-time expansion in one transaction: the new tasks with their products and
 * edges (see `insertPlannedTasks`), the control task's attempt succeeded, and the control task
 * either `done` (its dependents released) or back to `waiting` on the metadata of the tasks it
 * named (a do-while iteration). Returns what became ready. A report from anyone but the
 * attempt's holder is refused as stale; an output that another task of the job already
 * declares is a `CONFLICT` (the caller fails the control task with that message).
 */
export async function expandDeferred(
  tx: SqlExecutor,
  e: DeferredExpansion,
  now: number,
): Promise<{
  ready: ReadyAttempt[];
  stale: boolean;
  finishedJobs: { jobId: number; status: JobStatus }[];
}> {
  await lockJobsOfAttempts(tx, [e.attemptId]);
  const row = await tx.get<{
    task_id: number;
    job_id: number;
    state: string;
    worker: string | null;
    priority: number;
    started_at: number | null;
  }>(
    `SELECT a.task_id, a.job_id, a.state, a.worker, j.priority, a.started_at
     FROM eas_attempts a JOIN eas_jobs j ON j.id = a.job_id WHERE a.id = ?${lockAttempts(tx)}`,
    [e.attemptId],
  );
  if (!row || row.state !== 'running' || row.worker !== e.workerId)
    return { ready: [], stale: true, finishedJobs: [] };
  const nodeId = Number(row.task_id);
  const jobId = Number(row.job_id);

  // Each file has one producer per job: refuse an output some task of the job declares already.
  const outputs = e.children.flatMap((t) => t.outputs.map((o) => ({ ...o, path: t.path })));
  for (const part of chunks(outputs, 400)) {
    const existing = await tx.all<{ working_directory: string; filename: string }>(
      `SELECT working_directory, filename FROM eas_products WHERE job_id = ? AND filename IN (${placeholders(part.length)})`,
      [jobId, ...part.map((o) => o.filename)],
    );
    for (const o of part) {
      if (
        existing.some(
          (x) => x.working_directory === o.workingDirectory && x.filename === o.filename,
        )
      ) {
        throw new EasError(
          'CONFLICT',
          `${o.path}: output "${o.filename}" in working directory "${o.workingDirectory}" is already declared by another task of this job`,
          { where: o.path },
        );
      }
    }
  }

  const { firstTaskId, ready, blocked } = await insertPlannedTasks(tx, jobId, e.children, {
    rootParentId: nodeId,
    priority: Number(row.priority),
    now,
  });
  if (e.children.length > 0) {
    await tx.run('UPDATE eas_jobs SET task_count = task_count + ? WHERE id = ?', [
      e.children.length,
      jobId,
    ]);
  }
  await tx.run(
    `UPDATE eas_attempts SET state = 'succeeded', qc = 'passed', ended_at = ?, wall_ms = ?, cpu_ms = 0, cpu_children_ms = 0 WHERE id = ?`,
    [now, now - Number(row.started_at ?? now), e.attemptId],
  );

  if (e.done) {
    await tx.run(
      `UPDATE eas_tasks SET state = 'done', finished_at = ?, updated_at = ?, reason = NULL WHERE id = ?`,
      [now, now, nodeId],
    );
    ready.push(...(await releaseDependents(tx, [nodeId], new Set(), now)));
  } else {
    await tx.run('DELETE FROM eas_metadata_deps WHERE consumer_task_id = ?', [nodeId]);
    const deps: SqlParam[][] = e.waitFor.map((w) => [nodeId, firstTaskId + w.providerKey, w.name]);
    for (const d of deps) {
      await tx.run(
        'INSERT INTO eas_metadata_deps (consumer_task_id, provider_task_id, name) VALUES (?, ?, ?)',
        d,
      );
    }
    await tx.run(`UPDATE eas_tasks SET state = 'waiting', unmet = ?, updated_at = ? WHERE id = ?`, [
      deps.length,
      now,
      nodeId,
    ]);
    // An iteration that can never run (it reads a file its producer will not write) blocks the
    // loop waiting for it, and what waits for the loop.
    const dead = new Set(blocked);
    const deadWaits = deps.map((d) => Number(d[1])).filter((id) => dead.has(id));
    if (deadWaits.length > 0) {
      const paths = new Map<number, string>();
      for (const part of chunks(deadWaits)) {
        for (const r of await tx.all<{ id: unknown; path: string }>(
          `SELECT id, path FROM eas_tasks WHERE id IN (${placeholders(part.length)})`,
          part,
        ))
          paths.set(Number(r.id), r.path);
      }
      await blockDependents(
        tx,
        deadWaits,
        null,
        (id) => `upstream task ${paths.get(id) ?? id} is blocked`,
        now,
      );
    }
  }
  const finishedJobs = await settleJobs(tx, [jobId], now);
  return { ready, stale: false, finishedJobs };
}

/** Number of children of a task. */
export async function childCount(sql: SqlExecutor, taskId: number): Promise<number> {
  const r = await sql.get<{ n: number }>(
    'SELECT count(*) AS n FROM eas_tasks WHERE parent_id = ?',
    [taskId],
  );
  return Number(r?.n ?? 0);
}

/** The product a task of `jobId` declares at (working directory, filename), if any. */
export async function jobProduct(
  sql: SqlExecutor,
  jobId: number,
  workingDirectory: string,
  filename: string,
): Promise<number | undefined> {
  const r = await sql.get<{ id: number }>(
    'SELECT id FROM eas_products WHERE job_id = ? AND working_directory = ? AND filename = ?',
    [jobId, workingDirectory, filename],
  );
  return r ? Number(r.id) : undefined;
}
