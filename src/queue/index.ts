/**
 * The job queue (DESIGN §5): the controller enqueues ready attempts, workers claim them under
 * a lease, renew the lease while they work, and complete or fail them; the controller reclaims
 * expired leases. One queue per task type, claimed fairly across the types a worker runs,
 * ordered by priority within a type. The task database is the truth; the queue is a cache the
 * controller can rebuild.
 *
 * {@link JobQueue} is the façade (validation, logs, events); {@link QueueBackend} is the
 * contract; {@link SqlQueueBackend} keeps the queue in the task database (SQLite or
 * PostgreSQL), the embedded default; {@link RedisQueueBackend} keeps it in Redis (atomic Lua
 * scripts, claims that block on the server) for clusters with many worker processes.
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
 *
 * // On a cluster (needs `npm i ioredis`):
 * await using shared = await createJobQueue({ backend: 'redis', url: 'redis://redis:6379' });
 * ```
 * @module
 */
export { JobQueue, createJobQueue } from './job-queue.js';
export {
  DISPATCH_BOX,
  workerBox,
  type DispatchEvent,
  type DispatchDelivery,
  type WorkerRoom,
} from './dispatch.js';
export {
  DEFAULT_POLL_MS,
  DEFAULT_REDIS_PREFIX,
  DEFAULT_REDIS_CONNECT_TIMEOUT_MS,
  DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
  type JobQueueOptions,
  type JobQueueTarget,
  type SqlJobQueueTarget,
  type RedisJobQueueTarget,
  type CustomJobQueueTarget,
  type SqlQueueBackendOptions,
  type RedisQueueBackendOptions,
} from './options.js';
export type {
  Mailboxes,
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
  RedisQueueBackend,
  createRedisQueueBackend,
} from './backends/redis/redis-queue-backend.js';
export {
  QUEUE_MIGRATIONS,
  QUEUE_MIGRATIONS_TABLE,
  type QueueMigration,
} from './backends/sql/migrations/index.js';
