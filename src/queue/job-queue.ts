import { z } from 'zod';
import { EasError, silentLogger, type Logger } from '../core/index.js';
import { createRedisQueueBackend } from './backends/redis/redis-queue-backend.js';
import { createSqlQueueBackend } from './backends/sql/sql-queue-backend.js';
import { QueueClosedError } from './errors.js';
import {
  attemptIdsSchema,
  claimRequestSchema,
  jobIdSchema,
  leaseMsSchema,
  ownerSchema,
  parseArgument,
  quickCheck,
  queueItemSchema,
  reclaimSchema,
  type JobQueueOptions,
  type JobQueueTarget,
  type RedisJobQueueTarget,
  type SqlJobQueueTarget,
} from './options.js';
import type {
  ClaimRequest,
  Mailboxes,
  LeasedItem,
  QueueBackend,
  QueueBackendContext,
  QueueCounts,
  QueueItem,
} from './queue-backend.js';
import { TypedEventEmitter } from './typed-emitter.js';
import type { JobQueueEvents } from './types.js';

const queueItemsSchema = z.array(queueItemSchema);

/**
 * The job queue: what the controller enqueues ready attempts into and workers claim them from
 * (DESIGN §5). A façade over a {@link QueueBackend}: it validates every argument (a bad one
 * rejects with `USAGE` and changes nothing), logs, emits typed events, and forwards to the
 * backend, whose contract states the semantics (leases, idempotent enqueue, owner-only
 * operations).
 *
 * Make one with {@link createJobQueue}. Every method rejects with `CLOSED` after `close()`.
 *
 * @example
 * ```ts
 * await using queue = await createJobQueue({ backend: 'sql', sql: 'sqlite:.eas/eas.db' });
 * await queue.enqueue([{ attemptId: 1, taskType: 'binning', jobId: 7 }]);
 * const items = await queue.claim({ owner: 'w1', types: ['binning'], max: 10, leaseMs: 30_000 });
 * await queue.complete('w1', items.map((i) => i.attemptId));
 * ```
 */
export class JobQueue implements AsyncDisposable {
  /** The backend's name (`sql`, `redis` or a custom backend's). */
  readonly backendName: string;
  private readonly events = new TypedEventEmitter<JobQueueEvents>();
  private readonly logger: Logger;
  private closing: Promise<void> | undefined;

  /**
   * Wraps a backend; prefer {@link createJobQueue}, which also builds the backend. The queue
   * owns `backend`: its `close()` closes it.
   */
  constructor(
    private readonly backend: QueueBackend,
    options: JobQueueOptions = {},
  ) {
    this.backendName = backend.name;
    this.logger = (options.logger ?? silentLogger()).child({
      component: 'queue',
      backend: backend.name,
    });
  }

  /**
   * Mailboxes beside the queue where the backend has them (Redis), for the dispatcher and the
   * workers it serves; undefined on the SQL backend.
   */
  get mailboxes(): Mailboxes | undefined {
    return this.backend.mailboxes;
  }

  /** Listens to an event: `item:enqueued`, `item:claimed`, `lease:expired`. */
  on<K extends keyof JobQueueEvents>(
    event: K,
    listener: (...args: JobQueueEvents[K]) => void,
  ): this {
    this.events.on(event, listener);
    return this;
  }

  /** Listens to one occurrence of an event. */
  once<K extends keyof JobQueueEvents>(
    event: K,
    listener: (...args: JobQueueEvents[K]) => void,
  ): this {
    this.events.once(event, listener);
    return this;
  }

  /** Stops listening. */
  off<K extends keyof JobQueueEvents>(
    event: K,
    listener: (...args: JobQueueEvents[K]) => void,
  ): this {
    this.events.off(event, listener);
    return this;
  }

  /** A listener that throws must not turn a completed queue operation into a failure. */
  private emit<K extends keyof JobQueueEvents>(event: K, ...args: JobQueueEvents[K]): void {
    try {
      this.events.emit(event, ...args);
    } catch (e) {
      this.logger.error({ event, err: e }, 'queue event listener threw');
    }
  }

  private assertOpen(operation: string): void {
    if (this.closing) throw new QueueClosedError(operation, this.backendName);
  }

  /**
   * Adds ready attempts. An attempt id already queued (ready or leased) is left as it is, so
   * re-enqueueing after a crash is safe. Emits `item:enqueued`.
   *
   * @throws InvalidInputError `USAGE` naming each bad item field (nothing is enqueued).
   */
  async enqueue(items: readonly QueueItem[]): Promise<void> {
    this.assertOpen('enqueue');
    parseArgument(queueItemsSchema, items, 'enqueue.items', quickCheck.queueItems);
    if (items.length === 0) return;
    await this.backend.enqueue(items);
    this.logger.debug({ count: items.length }, 'items enqueued');
    this.emit('item:enqueued', { count: items.length });
  }

  /**
   * Adds attempts `owner` already runs (started in the task database without a claim) as items
   * leased by it until now + `leaseMs`: from then on they are the owner's like claimed items
   * (extend, complete, fail; reclaimed when the lease runs out), and nobody can claim them. An
   * attempt id already queued (ready, delayed or leased, by anyone) is left as it is and left
   * out of the result. Emits no event and wakes no waiting claim: nothing became ready.
   *
   * Pick it over `enqueue` + `claim` when the worker has already started the attempts.
   *
   * @returns The attempt ids added, each once, in input order.
   * @throws InvalidInputError `USAGE` for an empty owner, a bad item field or `leaseMs` ≤ 0
   *   (nothing is added).
   */
  async adopt(owner: string, items: readonly QueueItem[], leaseMs: number): Promise<number[]> {
    this.assertOpen('adopt');
    parseArgument(ownerSchema, owner, 'adopt.owner', quickCheck.owner);
    parseArgument(queueItemsSchema, items, 'adopt.items', quickCheck.queueItems);
    parseArgument(leaseMsSchema, leaseMs, 'adopt.leaseMs', quickCheck.leaseMs);
    if (items.length === 0) return [];
    const adopted = await this.backend.adopt(owner, items, leaseMs);
    if (adopted.length > 0) this.logger.debug({ owner, count: adopted.length }, 'items adopted');
    return adopted;
  }

  /**
   * Leases up to `max` ready items of `types` to `owner` for `leaseMs`, fairly across the
   * types; waits up to `waitMs` for work when none is ready. Emits `item:claimed` when items
   * were claimed.
   *
   * @throws InvalidInputError `USAGE` for an empty owner or type list, `max` < 1, `leaseMs` ≤ 0.
   */
  async claim(request: ClaimRequest): Promise<LeasedItem[]> {
    this.assertOpen('claim');
    parseArgument(claimRequestSchema, request, 'claim.request');
    const items = await this.backend.claim(request);
    if (items.length > 0) {
      this.logger.debug({ owner: request.owner, count: items.length }, 'items claimed');
      this.emit('item:claimed', { owner: request.owner, items });
    }
    return items;
  }

  /**
   * Renews the owner's leases to now + `leaseMs` (the harness's heartbeat). Returns the ids
   * still held; an id missing from the result was lost (reclaimed or removed) — stop its work.
   */
  async extend(owner: string, attemptIds: readonly number[], leaseMs: number): Promise<number[]> {
    this.assertOpen('extend');
    parseArgument(ownerSchema, owner, 'extend.owner', quickCheck.owner);
    parseArgument(attemptIdsSchema, attemptIds, 'extend.attemptIds', quickCheck.attemptIds);
    parseArgument(leaseMsSchema, leaseMs, 'extend.leaseMs', quickCheck.leaseMs);
    return this.backend.extend(owner, attemptIds, leaseMs);
  }

  /** Removes items the owner finished successfully. Returns the ids the owner held. */
  async complete(owner: string, attemptIds: readonly number[]): Promise<number[]> {
    this.assertOpen('complete');
    parseArgument(ownerSchema, owner, 'complete.owner', quickCheck.owner);
    parseArgument(attemptIdsSchema, attemptIds, 'complete.attemptIds', quickCheck.attemptIds);
    return this.backend.complete(owner, attemptIds);
  }

  /** Removes items whose attempt failed. Returns the ids the owner held. */
  async fail(owner: string, attemptIds: readonly number[]): Promise<number[]> {
    this.assertOpen('fail');
    parseArgument(ownerSchema, owner, 'fail.owner');
    parseArgument(attemptIdsSchema, attemptIds, 'fail.attemptIds');
    return this.backend.fail(owner, attemptIds);
  }

  /**
   * Removes and returns leased items whose lease ended before `now` (at most `max`); the
   * controller marks their attempts stalled and re-queues new ones. Emits `lease:expired`.
   */
  async reclaimExpired(now?: number, max?: number): Promise<LeasedItem[]> {
    this.assertOpen('reclaimExpired');
    parseArgument(reclaimSchema, { now, max }, 'reclaimExpired');
    const items = await this.backend.reclaimExpired(now, max);
    if (items.length > 0) {
      this.logger.info({ count: items.length }, 'expired leases reclaimed');
      this.emit('lease:expired', { items });
    }
    return items;
  }

  /** Removes and returns every item leased by `owner` (a worker known to be dead). */
  async releaseOwner(owner: string): Promise<LeasedItem[]> {
    this.assertOpen('releaseOwner');
    parseArgument(ownerSchema, owner, 'releaseOwner.owner');
    const items = await this.backend.releaseOwner(owner);
    if (items.length > 0) this.logger.info({ owner, count: items.length }, 'owner released');
    return items;
  }

  /** Removes items by attempt id, ready or leased (cancelled jobs, deleted tasks). */
  async remove(attemptIds: readonly number[]): Promise<void> {
    this.assertOpen('remove');
    parseArgument(attemptIdsSchema, attemptIds, 'remove.attemptIds');
    await this.backend.remove(attemptIds);
  }

  /** Removes every item of a job. */
  async removeJob(jobId: number): Promise<void> {
    this.assertOpen('removeJob');
    parseArgument(jobIdSchema, jobId, 'removeJob.jobId');
    await this.backend.removeJob(jobId);
  }

  /** Ready, delayed and leased counts per task type (types with no items are absent). */
  async counts(): Promise<Record<string, QueueCounts>> {
    this.assertOpen('counts');
    return this.backend.counts();
  }

  /** Whether the attempt is queued (ready or leased). */
  async has(attemptId: number): Promise<boolean> {
    this.assertOpen('has');
    parseArgument(attemptIdsSchema.element, attemptId, 'has.attemptId');
    return this.backend.has(attemptId);
  }

  /** Removes every item (`eas queue empty`). The task database still knows the attempts. */
  async clear(): Promise<void> {
    this.assertOpen('clear');
    await this.backend.clear();
    this.logger.info('queue cleared');
  }

  /** Closes the backend (waiting claims return at once). Idempotent; later calls reject with `CLOSED`. */
  close(): Promise<void> {
    this.closing ??= this.backend.close();
    return this.closing;
  }

  /** Same as {@link JobQueue.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Builds the backend a {@link JobQueueTarget} names. */
type BackendFactory<T> = (target: T, context: QueueBackendContext) => Promise<QueueBackend>;

/**
 * One factory per named backend: the seam where backends plug in. The Redis backend's module
 * loads `ioredis` itself, lazily, when a Redis queue is opened, so `ioredis` stays an optional
 * peer that only Redis users install.
 */
const BACKEND_FACTORIES: {
  sql: BackendFactory<SqlJobQueueTarget>;
  redis: BackendFactory<RedisJobQueueTarget>;
} = {
  sql: async ({ backend: _backend, ...options }, { logger }) =>
    createSqlQueueBackend({ ...options, logger: options.logger ?? logger }),
  redis: async ({ backend: _backend, ...options }, { logger }) =>
    createRedisQueueBackend({ ...options, logger: options.logger ?? logger }),
};

/** Every method of {@link QueueBackend}, for checking a backend built by the caller. */
const BACKEND_METHODS = [
  'enqueue',
  'adopt',
  'claim',
  'extend',
  'complete',
  'fail',
  'reclaimExpired',
  'releaseOwner',
  'remove',
  'removeJob',
  'counts',
  'has',
  'clear',
  'close',
] as const satisfies readonly (keyof QueueBackend)[];

/** The methods of {@link QueueBackend} an object lacks, or undefined when it is no backend at all. */
function missingBackendMethods(value: unknown): string[] | undefined {
  const v = value as Partial<QueueBackend> | null;
  if (typeof v !== 'object' || v === null || typeof v.name !== 'string') return undefined;
  return BACKEND_METHODS.filter((m) => typeof v[m] !== 'function');
}

/**
 * Opens a job queue on the backend `target` names:
 * - `{ backend: 'sql', sql }` — the SQL backend in a task database (`SqlDatabase`, shared and
 *   left open by `close()`) or in a database opened from a URL (owned). The embedded default.
 * - `{ backend: 'redis', url, prefix? }` — the Redis backend (ioredis, Lua scripts, blocking
 *   claims) for clusters with many worker processes; `ioredis` must be installed.
 * - `{ backend: someQueueBackend }` — a backend built by the caller; the queue owns it.
 *
 * @throws EasError `USAGE` for an unknown backend, InvalidInputError `USAGE` for bad options,
 *   `MISSING_PEER` for Redis without `ioredis`, `BACKEND_UNAVAILABLE` when the database or
 *   Redis cannot be reached (or the database migrated).
 */
export async function createJobQueue(
  target: JobQueueTarget,
  options: JobQueueOptions = {},
): Promise<JobQueue> {
  const context: QueueBackendContext = { logger: options.logger ?? silentLogger() };
  const choice = (target as { backend?: unknown } | undefined)?.backend;
  let backend: QueueBackend;
  if (choice === 'sql') backend = await BACKEND_FACTORIES.sql(target as SqlJobQueueTarget, context);
  else if (choice === 'redis')
    backend = await BACKEND_FACTORIES.redis(target as RedisJobQueueTarget, context);
  else if (missingBackendMethods(choice)?.length === 0) backend = choice as QueueBackend;
  else if (missingBackendMethods(choice)) {
    throw new EasError(
      'USAGE',
      `The job-queue backend ${JSON.stringify((choice as QueueBackend).name)} lacks ` +
        `${missingBackendMethods(choice)!.join(', ')}: a backend implements every method of QueueBackend.`,
      { where: 'queue.backend' },
    );
  } else {
    throw new EasError(
      'USAGE',
      `Unknown job-queue backend ${JSON.stringify(typeof choice === 'string' ? choice : typeof choice)}: ` +
        'pass { backend: "sql", sql }, { backend: "redis", url } or { backend: <a QueueBackend> }.',
      { where: 'queue.backend' },
    );
  }
  return new JobQueue(backend, options);
}
