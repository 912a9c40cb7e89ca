/**
 * The job queue (DESIGN §5): the controller enqueues ready attempts, workers claim them under
 * a lease, renew the lease while they work, and complete or fail them; the controller reclaims
 * expired leases. One queue per task type, claimed fairly across the types a worker runs,
 * ordered by priority within a type. The task database is the truth; the queue is a cache the
 * controller can rebuild.
 *
 * {@link JobQueue} is the façade (validation, logs, events); {@link QueueBackend} is the
 * contract; {@link SqlQueueBackend} keeps the queue in the task database (SQLite or
 * PostgreSQL). A Redis backend is planned.
 *
 * @example
 * ```ts
 * import { createJobQueue } from 'plato-eas/queue';
 *
 * await using queue = await createJobQueue({ backend: 'sql', sql: 'sqlite:.eas/eas.db' });
 * await queue.enqueue([{ attemptId: 1, taskType: 'binning', jobId: 7, priority: 5 }]);
 * const items = await queue.claim({
 *   owner: 'worker-1',
 *   types: ['binning', 'verify'],
 *   max: 10,
 *   leaseMs: 30_000,
 *   waitMs: 1_000,
 * });
 * // … run them, heartbeating with queue.extend('worker-1', ids, 30_000) …
 * await queue.complete('worker-1', items.map((i) => i.attemptId));
 * ```
 * @module
 */
export { JobQueue, createJobQueue } from './job-queue.js';
export {
  DEFAULT_POLL_MS,
  type JobQueueOptions,
  type JobQueueTarget,
  type SqlJobQueueTarget,
  type RedisJobQueueTarget,
  type CustomJobQueueTarget,
  type SqlQueueBackendOptions,
} from './options.js';
export type {
  QueueBackend,
  QueueBackendContext,
  QueueItem,
  LeasedItem,
  ClaimRequest,
  QueueCounts,
} from './queue-backend.js';
export type {
  JobQueueEvents,
  ItemsEnqueuedEvent,
  ItemsClaimedEvent,
  LeasesExpiredEvent,
} from './types.js';
export { QueueClosedError } from './errors.js';
export { SqlQueueBackend, createSqlQueueBackend } from './backends/sql/sql-queue-backend.js';
export {
  QUEUE_MIGRATIONS,
  QUEUE_MIGRATIONS_TABLE,
  type QueueMigration,
} from './backends/sql/migrations/index.js';
