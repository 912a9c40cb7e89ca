import { silentLogger, type Logger } from '../core/index.js';
import type { FileRepository } from '../filestore/index.js';
import type { JobQueue } from '../queue/index.js';
import type {
  CancelResult,
  DeleteResult,
  ReadyAttempt,
  RerunResult,
  TaskDatabase,
} from '../taskdb/index.js';

/** What the job operations work on. */
export interface JobOperationDeps {
  db: TaskDatabase;
  queue: JobQueue;
  /** The file repository; {@link deleteJob} removes objects from it. */
  files?: FileRepository;
  /** @defaultValue silent */
  logger?: Logger;
}

/**
 * How long after a job last committed an object its delete waits before removing it: a report
 * of another job that stored the same bytes a moment before has committed by then (5 s).
 */
export const DELETE_SETTLE_MS = 5_000;

/** What {@link deleteJob} did, the file store included. */
export interface DeleteJobResult extends DeleteResult {
  /** Objects removed from the file store. */
  deletedObjects: string[];
  /** Unreferenced objects that were already gone from the file store. */
  missingObjects: string[];
  /**
   * Unreferenced objects kept: stored again since the job's last version of them (by another
   * job's worker, whose report may not be committed yet). `eas gc` removes them once idle.
   */
  keptObjects: string[];
}

async function enqueue(queue: JobQueue, ready: readonly ReadyAttempt[]): Promise<void> {
  if (ready.length === 0) return;
  await queue.enqueue(ready);
}

/**
 * Cancels a running job: its live tasks and their attempts become `cancelled` in one
 * transaction, then its items leave the queue. Workers stop its running attempts at their next
 * heartbeat; late reports are refused.
 *
 * @throws EasError `NOT_FOUND` (unknown job) or `USAGE` (not running); nothing changes then.
 */
export async function cancelJob(deps: JobOperationDeps, jobId: number): Promise<CancelResult> {
  const result = await deps.db.cancelJob(jobId);
  await deps.queue.removeJob(jobId);
  (deps.logger ?? silentLogger()).info(
    { jobId, tasks: result.cancelledTasks, attempts: result.cancelledAttempts },
    'job cancelled',
  );
  return result;
}

/**
 * Runs the failed part of a job again (failed tasks get a `rerun` attempt, blocked and
 * cancelled ones wait again) in one transaction, then enqueues what is ready. Something must
 * run the queue (`eas run`, workers) for the job to progress.
 *
 * @throws EasError `NOT_FOUND` (unknown job) or `USAGE` (nothing to rerun); nothing changes then.
 */
export async function rerunJob(deps: JobOperationDeps, jobId: number): Promise<RerunResult> {
  const result = await deps.db.rerunJob(jobId);
  await enqueue(deps.queue, result.ready);
  (deps.logger ?? silentLogger()).info(
    {
      jobId,
      rerun: result.rerunTasks.length,
      reopened: result.reopenedTasks.length,
      ready: result.ready.length,
    },
    'job rerun',
  );
  return result;
}

/**
 * Deletes a job: its rows in one transaction (a running job is cancelled first with `force`),
 * then its queue items, then the file-store objects that no version of another job refers to.
 *
 * Objects are deleted after the commit: a crash in between leaves unreferenced objects (`eas
 * gc` removes them), never a version without its object. Another job's worker may have stored
 * the same bytes for a report it has not committed yet: an object stored again after the job's
 * last version of it was committed is kept (see `FileRepository.deleteIfIdle`), and one the job
 * committed less than {@link DELETE_SETTLE_MS} ago is looked up again after that wait (a report
 * that stored it just before commits meanwhile).
 *
 * @throws EasError `NOT_FOUND` (unknown job) or `USAGE` (running without `force`, or its
 *   products are another job's inputs); nothing changes then.
 */
export async function deleteJob(
  deps: JobOperationDeps & { files: FileRepository },
  jobId: number,
  options: {
    force?: boolean;
    /** How long after its last commit of an object the job's delete looks again. @defaultValue {@link DELETE_SETTLE_MS} */
    settleMs?: number;
  } = {},
): Promise<DeleteJobResult> {
  const result = await deps.db.deleteJob(jobId, { force: options.force });
  await deps.queue.removeJob(jobId);
  const outcomes = { deleted: [] as string[], missing: [] as string[], kept: [] as string[] };
  const candidates = result.unreferencedObjects;
  // Another job's worker may have stored the same bytes just before this job's last commit of
  // them, its own report still on the way. Such a report commits within moments: an object
  // this job committed less than DELETE_SETTLE_MS ago is looked up again once that has passed.
  const newest = Math.max(0, ...candidates.map((k) => result.lastCommittedAt[k] ?? 0));
  const wait = newest + (options.settleMs ?? DELETE_SETTLE_MS) - Date.now();
  if (candidates.length > 0 && wait > 0) await new Promise((r) => setTimeout(r, wait));
  const referencedNow =
    candidates.length > 0 ? await deps.db.referencedObjects(candidates) : new Set<string>();
  for (const key of candidates) {
    if (referencedNow.has(key)) {
      outcomes.kept.push(key);
      continue;
    }
    const since = result.lastCommittedAt[key] ?? 0;
    outcomes[await deps.files.deleteIfIdle(key, since)].push(key);
  }
  (deps.logger ?? silentLogger()).info(
    {
      jobId,
      tasks: result.removed.tasks,
      objects: outcomes.deleted.length,
      kept: outcomes.kept.length,
    },
    'job deleted',
  );
  return {
    ...result,
    deletedObjects: outcomes.deleted,
    missingObjects: outcomes.missing,
    keptObjects: outcomes.kept,
  };
}
