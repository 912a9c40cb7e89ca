import type { SqlExecutor } from '../../core/index.js';

/** Live attempts of one task type: what the autoscaler counts as demand. */
export interface TaskTypeDemand {
  /** The task type. */
  taskType: string;
  /** Attempts waiting for a worker: ready now, or claimed and not yet started. */
  queued: number;
  /** Queued attempts waiting out a retry backoff (`available_at` still ahead). */
  delayed: number;
  /** Attempts running. */
  running: number;
  /** Running attempts per worker. */
  workers: RunningOnWorker[];
}

/** How many attempts of a task type one worker runs. */
export interface RunningOnWorker {
  /** The worker id recorded on the attempts (`<host>:<pid>:<suffix>`). */
  workerId: string;
  /** The host recorded on the attempts. */
  host: string;
  /** Attempts of the task type it runs. */
  attempts: number;
}

/**
 * The live attempts (queued or running) grouped by task type, with the workers that run them:
 * the demand snapshot of the autoscaler. One grouped read of the live-attempts partial index,
 * so its cost follows the live attempts, not the finished ones. Task types with no live
 * attempt are absent.
 */
export async function scalingDemand(sql: SqlExecutor, now: number): Promise<TaskTypeDemand[]> {
  const rows = await sql.all<{
    task_type: string;
    worker: string | null;
    host: string | null;
    queued: number | string;
    delayed: number | string;
    running: number | string;
  }>(
    `SELECT task_type, worker, host,
       sum(CASE WHEN state = 'queued' AND available_at <= ? THEN 1 ELSE 0 END) AS queued,
       sum(CASE WHEN state = 'queued' AND available_at > ? THEN 1 ELSE 0 END) AS delayed,
       sum(CASE WHEN state = 'running' THEN 1 ELSE 0 END) AS running
     FROM eas_attempts WHERE state IN ('queued', 'running')
     GROUP BY task_type, worker, host`,
    [now, now],
  );
  const byType = new Map<string, TaskTypeDemand>();
  for (const r of rows) {
    const type = String(r.task_type);
    let d = byType.get(type);
    if (!d)
      byType.set(type, (d = { taskType: type, queued: 0, delayed: 0, running: 0, workers: [] }));
    d.queued += Number(r.queued);
    d.delayed += Number(r.delayed);
    const running = Number(r.running);
    d.running += running;
    if (running > 0 && r.worker !== null) {
      d.workers.push({ workerId: String(r.worker), host: String(r.host ?? ''), attempts: running });
    }
  }
  return [...byType.values()].sort((a, b) => a.taskType.localeCompare(b.taskType));
}
