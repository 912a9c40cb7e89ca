import { EasError, silentLogger, type Logger } from '../../../core/index.js';
import { QueueClosedError } from '../../errors.js';
import {
  parseArgument,
  redisQueueBackendOptionsSchema,
  type RedisQueueBackendOptions,
} from '../../options.js';
import type {
  Mailboxes,
  ClaimRequest,
  LeasedItem,
  QueueBackend,
  QueueCounts,
  QueueItem,
} from '../../queue-backend.js';
import { RedisConnection } from './connection.js';
import { queueKeys, scriptHead, wakeKey, type QueueKeys } from './keys.js';
import { loadScripts, type ScriptName } from './scripts.js';

/**
 * Most items or ids one script call carries. Bounds how long one call holds the server (a
 * script runs alone) and keeps argument lists far below Lua's limits; longer lists are split,
 * which is safe because enqueue is idempotent and the id operations act per id.
 */
const MAX_PER_CALL = 1_000;

/**
 * Most wake tokens kept per task type. A token wakes one blocked claimer, so a few more than
 * the workers that can wait on one type is enough; when more items are ready than tokens, each
 * claim tops the list up again.
 */
const WAKE_TOKEN_CAP = 1_000;

/**
 * How many due delayed items a claim moves into a type's ready set, at least, per type and
 * round (more when the type's share is larger). Bounds one claim's work when a big backlog of
 * retries falls due at once; the rest follow with the next claims.
 */
const PROMOTE_BATCH = 1_000;

/**
 * Longest a waiting claim blocks before it looks again even without a wake-up. Wake-ups are
 * tokens in Redis lists, so they survive until popped; this only bounds the cost of a token
 * lost to a crash between BLPOP and the claim, or to a server restart without persistence.
 */
const MAX_BLOCK_MS = 5_000;

/** Item data as the scripts store it: `<jobId>:<priority>:<availableAt>:<taskType>`. */
const ITEM_DATA = /^(\d+):(-?\d+):(\d+):([\s\S]*)$/;

function itemData(item: QueueItem, now: number): string {
  return `${item.jobId}:${item.priority ?? 0}:${item.availableAt ?? now}:${item.taskType}`;
}

function toLeased(id: string, data: string, owner: string, leaseExpiresAt: number): LeasedItem {
  const m = ITEM_DATA.exec(data);
  if (!m) {
    throw new EasError('INTERNAL', `Redis queue item ${id} holds malformed data.`, {
      where: 'queue.redis',
    });
  }
  return {
    attemptId: Number(id),
    taskType: m[4]!,
    jobId: Number(m[1]),
    priority: Number(m[2]),
    availableAt: Number(m[3]),
    owner,
    leaseExpiresAt,
  };
}

/** Reads `{ id, data, owner, lease end }` quadruples (reclaim, release). */
function leasedFromQuads(reply: unknown): LeasedItem[] {
  const flat = reply as string[];
  const items: LeasedItem[] = [];
  for (let i = 0; i < flat.length; i += 4) {
    items.push(toLeased(flat[i]!, flat[i + 1]!, flat[i + 2]!, Number(flat[i + 3])));
  }
  return items;
}

/** Claim order: highest priority first, then earliest `availableAt`, then lowest attempt id. */
function byClaimOrder(a: LeasedItem, b: LeasedItem): number {
  return b.priority - a.priority || a.availableAt - b.availableAt || a.attemptId - b.attemptId;
}

function chunks<T>(values: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += size) out.push(values.slice(i, i + size));
  return out;
}

/**
 * The Redis job-queue backend (DESIGN §5): every operation that touches more than one key is
 * one Lua script (src/queue/backends/redis/lua/), so it is atomic and safe across any number of
 * processes; claims block on the server and wake as soon as work arrives.
 *
 * **Data.** Keys are listed in keys.ts: a hash of items, one ready zset and one delayed zset
 * per task type, a zset of leases by end time, and sets per owner and per job so that
 * `releaseOwner` and `removeJob` never scan. Finished items are deleted.
 *
 * **Claim order and fairness** are those of the SQL backend: within a task type, highest
 * `priority` first, then earliest `availableAt`, then lowest attempt id; across types, `max`
 * is split evenly with a rotating remainder, so no type starves another.
 *
 * **Waiting.** Each ready item puts a wake token (capped) in its type's list `wake:<type>`. A
 * claim that finds nothing blocks with BLPOP on its types' lists on a wait connection of its
 * own, so an enqueue from any process wakes it at once, and one token wakes one claimer:
 * idle workers do not all stampede for one item. The claim script keeps the tokens in step
 * with the ready items. A wait also ends when the first delayed item of its types falls due,
 * after at most 5 s (to recover a lost token), when `signal` aborts or when the backend closes.
 *
 * **Clocks.** Lease ends and `availableAt` use the calling process's clock (`Date.now()`,
 * passed to the scripts), as in the SQL backend; keep cluster hosts NTP-synchronised.
 *
 * **Outages.** A call waits at most `commandTimeout` for the server, then rejects with
 * `BACKEND_UNAVAILABLE`; the connection comes back by itself when the server does. The queue
 * is a cache of the task database, which the controller rebuilds it from if Redis lost data.
 *
 * Made by {@link createRedisQueueBackend}; do not construct it directly.
 */
export class RedisQueueBackend implements QueueBackend {
  /** Always `redis`. */
  readonly name = 'redis';
  private readonly head: string[];
  private closed = false;
  private closing: Promise<void> | undefined;
  private inflight = 0;
  private drained: (() => void) | undefined;
  private rotation = Math.floor(Math.random() * 1024);

  /** @internal Use {@link createRedisQueueBackend}. */
  constructor(
    private readonly connection: RedisConnection,
    private readonly keys: QueueKeys,
    private readonly logger: Logger,
  ) {
    this.head = scriptHead(keys);
  }

  /** The server's URL with its password replaced by `***`. */
  get displayUrl(): string {
    return this.connection.displayUrl;
  }

  /** Mailboxes: Redis lists under `<prefix>:box:`, waited on with BLPOP. */
  readonly mailboxes: Mailboxes = {
    post: (box, messages, keepLast) =>
      this.op('post', async () => {
        if (messages.length > 0)
          await this.connection.pushAll('post', this.boxKey(box), messages, keepLast);
      }),
    take: (box, max, waitMs, signal) =>
      this.op('take', async () => {
        const key = this.boxKey(box);
        const now = await this.connection.popSome('take', key, max);
        if (now.length > 0 || waitMs <= 0 || signal?.aborted) return now;
        const first = await this.connection.blockingPopEntry(
          [key],
          Math.min(waitMs, MAX_BLOCK_MS),
          signal,
        );
        // The one message that woke it goes back at once: what came with it is taken by the
        // next call's first pop, so a reader woken from idle (the next step of a chain) does not
        // wait one more round trip for a pop that mostly finds nothing.
        return first ? [first[1]] : [];
      }),
    remove: (boxes) =>
      this.op('remove', () =>
        this.connection.remove(
          'remove',
          boxes.map((b) => this.boxKey(b)),
        ),
      ),
  };

  private boxKey(box: string): string {
    return `${this.keys.boxPrefix}${box}`;
  }

  /** The key prefix of this queue (every key starts with it and `:`). */
  get prefix(): string {
    return this.keys.prefix.slice(0, -1);
  }

  private async op<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new QueueClosedError(operation, this.name);
    this.inflight++;
    try {
      return await fn();
    } finally {
      if (--this.inflight === 0) this.drained?.();
    }
  }

  private run(operation: string, script: ScriptName, args: (string | number)[]): Promise<unknown> {
    return this.connection.script(operation, script, [...this.head, ...args]);
  }

  /**
   * Adds items (one script per 1,000); attempt ids already queued are left alone. Items due
   * now are claimable at once and wake blocked claimers of their type.
   */
  enqueue(items: readonly QueueItem[]): Promise<void> {
    return this.op('enqueue', async () => {
      const now = Date.now();
      for (const chunk of chunks(items, MAX_PER_CALL)) {
        const args: (string | number)[] = [now, WAKE_TOKEN_CAP];
        for (const item of chunk) args.push(item.attemptId, itemData(item, now));
        await this.run('enqueue', 'easEnqueueItems', args);
      }
    });
  }

  /**
   * Adds items already leased by `owner` until now + `leaseMs` (one script per 1,000), as
   * enqueue then claim would leave them; attempt ids already queued are left alone. Adds no
   * wake token: the items are not ready. Returns the ids added, in input order.
   */
  adopt(owner: string, items: readonly QueueItem[], leaseMs: number): Promise<number[]> {
    return this.op('adopt', async () => {
      if (items.length === 0) return [];
      const now = Date.now();
      const leaseExpiresAt = now + leaseMs;
      const added = new Set<number>();
      for (const chunk of chunks(items, MAX_PER_CALL)) {
        const args: (string | number)[] = [owner, leaseExpiresAt];
        for (const item of chunk) args.push(item.attemptId, itemData(item, now));
        const reply = (await this.run('adopt', 'easAdoptItems', args)) as string[];
        for (const id of reply) added.add(Number(id));
      }
      return [...new Set(items.map((i) => i.attemptId))].filter((id) => added.has(id));
    });
  }

  /**
   * Leases up to `max` ready items of `types` to `owner`, fairly across types (see the class
   * comment), returned in claim order. With `waitMs`, blocks for work as described there; an
   * aborted `signal` or `close()` ends the wait with what was claimed (nothing).
   *
   * @throws EasError `BACKEND_UNAVAILABLE` when Redis stays away longer than `commandTimeout`.
   */
  claim(request: ClaimRequest): Promise<LeasedItem[]> {
    return this.op('claim', async () => {
      const types = [...new Set(request.types)];
      const waitMs = request.waitMs ?? 0;
      const deadline = Date.now() + waitMs;
      const wakeKeys = new Map(types.map((t) => [wakeKey(this.keys, t), t]));
      let woken: string | undefined;
      for (;;) {
        if (request.signal?.aborted || this.closed) {
          // A token taken for nothing goes back, so another claimer wakes for that item.
          if (woken !== undefined) this.connection.pushToken(wakeKey(this.keys, woken));
          return [];
        }
        let outcome: { items: LeasedItem[]; nextDue: number };
        try {
          outcome = await this.claimOnce(types, request, woken);
        } catch (e) {
          if (this.closed) return [];
          throw e;
        }
        woken = undefined;
        if (outcome.items.length > 0 || waitMs <= 0) return outcome.items;
        const now = Date.now();
        let wait = Math.min(deadline - now, MAX_BLOCK_MS);
        if (outcome.nextDue >= 0) wait = Math.min(wait, Math.max(1, outcome.nextDue - now));
        if (wait <= 0) return [];
        const key = await this.connection.blockingPop([...wakeKeys.keys()], wait, request.signal);
        woken = key === undefined ? undefined : wakeKeys.get(key);
      }
    });
  }

  private async claimOnce(
    types: readonly string[],
    request: ClaimRequest,
    woken: string | undefined,
  ): Promise<{ items: LeasedItem[]; nextDue: number }> {
    const start = this.rotation++ % types.length;
    const rotated = [...types.slice(start), ...types.slice(0, start)];
    const now = Date.now();
    const leaseExpiresAt = now + request.leaseMs;
    const reply = (await this.run('claim', 'easClaimItems', [
      now,
      request.owner,
      leaseExpiresAt,
      request.max,
      PROMOTE_BATCH,
      woken ?? '',
      WAKE_TOKEN_CAP,
      ...rotated,
    ])) as (number | string)[];
    const items: LeasedItem[] = [];
    for (let i = 1; i < reply.length; i += 2) {
      items.push(toLeased(String(reply[i]), String(reply[i + 1]), request.owner, leaseExpiresAt));
    }
    return { items: items.sort(byClaimOrder), nextDue: Number(reply[0]) };
  }

  /** Runs an id script over distinct ids, 1,000 a call; returns the ids it reported, in input order. */
  private async byIds(
    operation: string,
    script: ScriptName,
    lead: (string | number)[],
    attemptIds: readonly number[],
  ): Promise<number[]> {
    const unique = [...new Set(attemptIds)];
    const hit = new Set<number>();
    for (const chunk of chunks(unique, MAX_PER_CALL)) {
      const reply = (await this.run(operation, script, [...lead, ...chunk])) as string[];
      for (const id of reply) hit.add(Number(id));
    }
    return unique.filter((id) => hit.has(id));
  }

  /** Pushes the owner's leases to now + `leaseMs`; returns the ids still held by `owner`. */
  extend(owner: string, attemptIds: readonly number[], leaseMs: number): Promise<number[]> {
    return this.op('extend', () =>
      this.byIds('extend', 'easExtendLeases', [owner, Date.now() + leaseMs], attemptIds),
    );
  }

  /** Removes the owner's items; returns the ids that `owner` held. */
  complete(owner: string, attemptIds: readonly number[]): Promise<number[]> {
    return this.op('complete', () =>
      this.byIds('complete', 'easFinishLeases', [owner], attemptIds),
    );
  }

  /** Same as {@link RedisQueueBackend.complete} (kept apart for metrics). */
  fail(owner: string, attemptIds: readonly number[]): Promise<number[]> {
    return this.op('fail', () => this.byIds('fail', 'easFinishLeases', [owner], attemptIds));
  }

  /**
   * Removes and returns leased items whose lease ended before `now`, oldest lease end first,
   * at most `max`. Concurrent reapers never return the same item twice.
   */
  reclaimExpired(now = Date.now(), max?: number): Promise<LeasedItem[]> {
    return this.op('reclaimExpired', async () => {
      const reply = await this.run('reclaimExpired', 'easReclaimLeases', [now, max ?? -1]);
      const items = leasedFromQuads(reply);
      if (items.length > 0) this.logger.debug({ count: items.length }, 'expired leases reclaimed');
      return items;
    });
  }

  /** Removes and returns every item leased by `owner`, in claim order. */
  releaseOwner(owner: string): Promise<LeasedItem[]> {
    return this.op('releaseOwner', async () => {
      const reply = await this.run('releaseOwner', 'easReleaseOwner', [owner]);
      return leasedFromQuads(reply).sort(byClaimOrder);
    });
  }

  /** Removes items by attempt id, ready, delayed or leased. */
  remove(attemptIds: readonly number[]): Promise<void> {
    return this.op('remove', async () => {
      for (const chunk of chunks([...new Set(attemptIds)], MAX_PER_CALL)) {
        await this.run('remove', 'easRemoveItems', chunk);
      }
    });
  }

  /** Removes every item of a job (one script: the job's id set says which). */
  removeJob(jobId: number): Promise<void> {
    return this.op('removeJob', async () => {
      await this.run('removeJob', 'easRemoveJob', [jobId]);
    });
  }

  /** Counts per task type, read in one script; types with no items are absent. */
  counts(): Promise<Record<string, QueueCounts>> {
    return this.op('counts', async () => {
      const flat = (await this.run('counts', 'easCountItems', [Date.now()])) as (string | number)[];
      const rows: [string, QueueCounts][] = [];
      for (let i = 0; i < flat.length; i += 4) {
        rows.push([
          String(flat[i]),
          { ready: Number(flat[i + 1]), delayed: Number(flat[i + 2]), leased: Number(flat[i + 3]) },
        ]);
      }
      rows.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return Object.fromEntries(rows);
    });
  }

  /** Whether the attempt is queued (ready, delayed or leased). */
  has(attemptId: number): Promise<boolean> {
    return this.op('has', () => this.connection.hashHas('has', this.keys.items, String(attemptId)));
  }

  /** Removes every item and every key of this queue (its prefix), in one script. */
  clear(): Promise<void> {
    return this.op('clear', async () => {
      await this.run('clear', 'easClearQueue', []);
    });
  }

  /**
   * Ends waiting claims (they return what they have), waits for running operations, and
   * closes the connections. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    this.connection.interrupt();
    if (this.inflight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    this.connection.disconnect();
    this.logger.debug('queue closed');
  }

  /** Same as {@link RedisQueueBackend.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Makes a {@link RedisQueueBackend}: loads `ioredis`, connects, checks the server (Redis 6.0
 * or later) and defines the queue's Lua scripts. Nothing needs creating on the server: keys
 * appear with the first items.
 *
 * Pick it for a cluster with many worker processes: claims block on the server and wake the
 * moment work is enqueued anywhere, and Redis takes far more claims per second than a SQL
 * table. Pick the SQL backend when there is no Redis (the embedded default). Redis Cluster is
 * not supported (the scripts use keys they derive); a single server, or Sentinel-managed
 * primary behind one URL, is.
 *
 * @example
 * ```ts
 * const backend = await createRedisQueueBackend({ url: 'redis://127.0.0.1:6379', prefix: 'survey' });
 * const queue = new JobQueue(backend); // or createJobQueue({ backend: 'redis', url, prefix })
 * ```
 * @throws InvalidInputError `USAGE` for bad options; EasError `MISSING_PEER` when `ioredis` is
 *   not installed; `BACKEND_UNAVAILABLE` naming the (redacted) URL when the server does not
 *   answer within `connectTimeout`.
 */
export async function createRedisQueueBackend(
  options: RedisQueueBackendOptions,
): Promise<RedisQueueBackend> {
  const resolved = parseArgument(
    redisQueueBackendOptionsSchema,
    options,
    'createRedisQueueBackend.options',
  );
  const logger = (resolved.logger ?? silentLogger()).child({
    component: 'queue',
    backend: 'redis',
  });
  const scripts = await loadScripts();
  const connection = await RedisConnection.open({
    url: resolved.url,
    connectTimeoutMs: resolved.connectTimeout,
    commandTimeoutMs: resolved.commandTimeout,
    logger,
    scripts,
  });
  logger.debug({ url: connection.displayUrl, prefix: resolved.prefix }, 'queue opened');
  return new RedisQueueBackend(connection, queueKeys(resolved.prefix), logger);
}
