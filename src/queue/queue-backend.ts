import type { Logger } from '../core/index.js';

/** One unit of queued work: the id of an attempt that is ready to run, and how to route it. */
export interface QueueItem {
  /** The attempt's id in the task database. Unique within the queue: enqueueing it again is a no-op. */
  attemptId: number;
  /** The task type; one queue per task type. */
  taskType: string;
  /** The job, for per-job priority and for dropping a cancelled job's items. */
  jobId: number;
  /** Higher runs first among items of one task type. @defaultValue 0 */
  priority?: number;
  /** Not claimable before this time (epoch ms): retry backoff. @defaultValue now */
  availableAt?: number;
}

/** An item a worker holds under a lease. */
export interface LeasedItem extends Required<QueueItem> {
  /** Who holds the lease (a worker id). */
  owner: string;
  /** When the lease runs out (epoch ms) unless extended. */
  leaseExpiresAt: number;
}

/** What {@link QueueBackend.claim} is asked for. */
export interface ClaimRequest {
  /** The worker claiming; it must present the same id to extend, complete or fail. */
  owner: string;
  /** Task types the worker can run. Claims are fair across them (no type starves another). */
  types: readonly string[];
  /** Most items to return (≥ 1). */
  max: number;
  /** Lease length, ms. */
  leaseMs: number;
  /**
   * How long to wait for work when none is ready, ms. 0 returns at once. Backends that can block
   * (Redis) wake as soon as an item is enqueued; the SQL backend polls within this window.
   * @defaultValue 0
   */
  waitMs?: number;
  /**
   * Aborts a waiting claim (returns what it has, possibly nothing). A signal already aborted
   * when `claim` is called returns `[]` without claiming.
   */
  signal?: AbortSignal;
}

/** Item counts of one task type. */
export interface QueueCounts {
  /** Claimable now or later (backoff). */
  ready: number;
  /** Of `ready`, those whose `availableAt` is in the future. */
  delayed: number;
  /** Held under a lease. */
  leased: number;
}

/**
 * Named FIFO mailboxes beside a queue, for processes that talk through it: the dispatcher of
 * the task lifecycle and the workers it serves (see `Dispatcher` in `plato-eas/control`).
 * Messages are strings; a message is taken by one reader. Only backends that can block on a
 * list offer them (Redis).
 */
export interface Mailboxes {
  /**
   * Appends messages to a mailbox, in order. With `keepLast`, the mailbox then keeps only its
   * newest `keepLast` messages (a mailbox nobody reads must not grow without end).
   */
  post(box: string, messages: readonly string[], keepLast?: number): Promise<void>;
  /**
   * Takes up to `max` messages from the head of a mailbox, waiting up to `waitMs` for the first
   * when it is empty (0: not at all). An aborted `signal` ends the wait with nothing. After a
   * wait it may return the first message alone; those behind it come with the next call.
   */
  take(box: string, max: number, waitMs: number, signal?: AbortSignal): Promise<string[]>;
  /** Deletes mailboxes and whatever they still hold. */
  remove(boxes: readonly string[]): Promise<void>;
}

/**
 * The contract every job-queue backend fulfils (`sql` in the task database, `redis`).
 *
 * Semantics: an item is enqueued once per attempt id (idempotent); `claim` moves ready items to
 * a lease held by one owner, atomically, so two claimers never receive the same item; the owner
 * keeps it by `extend`ing the lease; `complete` and `fail` remove it; `reclaimExpired` returns
 * items whose lease ran out and removes them, so the caller (the controller) decides what
 * happens next. Operations by a non-owner, or on an item no longer leased, return false — they
 * never throw for that. (Batch operations "return false" by leaving the id out of the ids they
 * return.) A lease that ran out is still held by its owner until `reclaimExpired` (or
 * `releaseOwner`, `remove`) takes the item: until then the owner may extend, complete or fail it.
 * `adopt` adds items already leased by an owner that started the attempts itself: each is then
 * exactly what `enqueue` followed by that owner's `claim` would have left, except that no
 * claimer ever received it or was woken for it.
 *
 * Not part of the contract: the order among items of equal priority (roughly FIFO), retry
 * policy and backoff (the controller computes `availableAt`), task states (the task database
 * holds the truth; the queue is a cache the controller can rebuild).
 */
export interface QueueBackend {
  /** The backend's name: `sql` or `redis`. */
  readonly name: string;
  /** Adds items; an attempt id already present is left as it is. */
  enqueue(items: readonly QueueItem[]): Promise<void>;
  /**
   * Adds items already leased by `owner`, with a lease ending at now + `leaseMs`: attempts a
   * worker started itself in the task database, without claiming them from the queue. Each
   * added item is stored exactly as if it had been enqueued and then claimed by `owner`, so
   * `counts` shows it as leased, `has` finds it, the owner can `extend`, `complete` or `fail`
   * it, and `reclaimExpired`, `releaseOwner`, `remove` and `removeJob` take it like any leased
   * item. It is never claimable and wakes no waiting claimer (it is not ready).
   *
   * Idempotent like `enqueue`: an attempt id already present (ready, delayed or leased, by
   * anyone, `owner` included) is left exactly as it is and left out of the result. An empty
   * list returns `[]` without a round trip to the server or database. Large lists are split
   * into several statements or scripts (safe, as the operation is idempotent per id).
   *
   * Pick it over `enqueue` + `claim` when the worker already runs the attempts: a claim could
   * hand it other ready items instead, and an enqueue would wake idle claimers for nothing.
   *
   * @returns The attempt ids added, leased by `owner`, each once, in input order.
   */
  adopt(owner: string, items: readonly QueueItem[], leaseMs: number): Promise<number[]>;
  /** Leases up to `max` ready items of the given types to `owner`. */
  claim(request: ClaimRequest): Promise<LeasedItem[]>;
  /** Pushes the lease of the owner's items to now + `leaseMs`. Returns the ids still held. */
  extend(owner: string, attemptIds: readonly number[], leaseMs: number): Promise<number[]>;
  /** Removes items the owner finished. Returns the ids that were held by the owner. */
  complete(owner: string, attemptIds: readonly number[]): Promise<number[]>;
  /** Removes items whose attempt failed (same semantics as complete; kept apart for metrics). */
  fail(owner: string, attemptIds: readonly number[]): Promise<number[]>;
  /** Removes and returns leased items whose lease ended before `now`. */
  reclaimExpired(now?: number, max?: number): Promise<LeasedItem[]>;
  /** Removes and returns every item leased by `owner` (a worker known to be dead). */
  releaseOwner(owner: string): Promise<LeasedItem[]>;
  /** Removes items by attempt id whatever their state (cancelled jobs, deleted tasks). */
  remove(attemptIds: readonly number[]): Promise<void>;
  /** Removes every item of a job. */
  removeJob(jobId: number): Promise<void>;
  /** Counts per task type; task types with no items are absent. */
  counts(): Promise<Record<string, QueueCounts>>;
  /** Whether the attempt is in the queue (ready or leased). */
  has(attemptId: number): Promise<boolean>;
  /** Removes everything (`eas queue empty`). */
  clear(): Promise<void>;
  /** Mailboxes beside the queue, where the backend has them (Redis); undefined otherwise. */
  readonly mailboxes?: Mailboxes;
  /**
   * Releases connections. Claims waiting for work end at once, returning what they have.
   * Idempotent; further calls of the other methods reject with EasError `CLOSED`.
   */
  close(): Promise<void>;
}

/** What every backend factory receives. */
export interface QueueBackendContext {
  logger: Logger;
}
