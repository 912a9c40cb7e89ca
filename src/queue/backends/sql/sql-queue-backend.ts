import {
  EasError,
  openSqlDatabase,
  placeholders,
  silentLogger,
  type Logger,
  type SqlDatabase,
  type SqlExecutor,
  type SqlParam,
} from '../../../core/index.js';
import { QueueClosedError } from '../../errors.js';
import {
  parseArgument,
  sqlQueueBackendOptionsSchema,
  type SqlQueueBackendOptions,
} from '../../options.js';
import type {
  ClaimRequest,
  LeasedItem,
  QueueBackend,
  QueueCounts,
  QueueItem,
} from '../../queue-backend.js';
import { migrateQueue } from './migrations/index.js';
import { WakeUps } from './wake-ups.js';

/**
 * Most attempt ids one statement carries. Id lists are padded up to a power of two (repeating
 * the last id, which `IN (…)` ignores), so SQLite's per-connection cache of prepared
 * statements holds at most log2(1024) + 1 variants of each statement instead of one per list
 * length.
 */
const MAX_IDS_PER_STATEMENT = 1024;

/** Most rows one INSERT carries (padded like id lists; a repeated row hits `DO NOTHING`). */
const MAX_ROWS_PER_INSERT = 512;

/**
 * Enqueueing (or adopting) at least this many items at once refreshes PostgreSQL's statistics
 * of the table (profile flag `analyzeAfterBulk`): a plan chosen while `eas_queue` was empty
 * stays a sequential scan otherwise (DESIGN §5), and claims (or the reaper's scan of leased
 * rows) would slow down as the queue fills.
 */
const ANALYZE_AFTER_ROWS = 5_000;

const ITEM_COLUMNS = 'attempt_id, task_type, job_id, priority, available_at';
const LEASED_COLUMNS = `${ITEM_COLUMNS}, owner, lease_expires_at`;

interface ItemRow {
  attempt_id: number | string;
  task_type: string;
  job_id: number | string;
  priority: number | string;
  available_at: number | string;
}

interface LeasedRow extends ItemRow {
  owner: string;
  lease_expires_at: number | string;
}

function toLeased(row: ItemRow, owner: string, leaseExpiresAt: number): LeasedItem {
  return {
    attemptId: Number(row.attempt_id),
    taskType: row.task_type,
    jobId: Number(row.job_id),
    priority: Number(row.priority),
    availableAt: Number(row.available_at),
    owner,
    leaseExpiresAt,
  };
}

function fromLeasedRow(row: LeasedRow): LeasedItem {
  return toLeased(row, row.owner, Number(row.lease_expires_at));
}

/** Claim order: highest priority first, then earliest `availableAt`, then lowest attempt id. */
function byClaimOrder(a: LeasedItem, b: LeasedItem): number {
  return b.priority - a.priority || a.availableAt - b.availableAt || a.attemptId - b.attemptId;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Splits `values` into chunks of at most `max`, each padded to a power of two with its last value. */
function paddedChunks<T>(values: readonly T[], max: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < values.length; i += max) {
    const chunk = values.slice(i, i + max);
    const size = Math.min(max, nextPowerOfTwo(chunk.length));
    const last = chunk[chunk.length - 1]!;
    while (chunk.length < size) chunk.push(last);
    chunks.push(chunk);
  }
  return chunks;
}

/**
 * The SQL job-queue backend: a table `eas_queue` in a SQLite or PostgreSQL database, normally
 * the task database itself (the embedded default, DESIGN §5). Safe across processes: a claim
 * is one transaction — `SELECT … FOR UPDATE SKIP LOCKED` then `UPDATE` where the engine has
 * row locks (PostgreSQL), an IMMEDIATE transaction (one writer at a time) where it has not
 * (SQLite).
 *
 * **Claim order.** Within a task type: highest `priority` first, then earliest `availableAt`,
 * then lowest attempt id. Items whose `availableAt` is in the future are not claimable.
 *
 * **Fairness across types.** A claim for `max` items over `k` task types with ready work
 * splits `max` as evenly as it can: each type gets ⌊max/k⌋ and the remainder goes one each to
 * the first types of a rotation that advances on every claim. A type with less ready work than
 * its share gives the rest to the others (re-split among them), so a claim returns `max` items
 * whenever that many are ready. So with `max` = 1 a worker alternates between types, and no
 * type starves another whatever their priorities — priorities order items within one type.
 *
 * **Waiting.** With `waitMs`, an empty claim polls every `pollMs`; an `enqueue` through any
 * SQL backend on the same database in the same process wakes it at once.
 *
 * **Leases and clocks.** Lease ends and `availableAt` are compared with the calling process's
 * clock (`Date.now()`); keep the hosts of a cluster NTP-synchronised. A lease that ran out
 * but was not yet reclaimed is still held: its owner can extend, complete or fail it.
 *
 * Made by {@link createSqlQueueBackend}, which also migrates the table; do not construct it
 * directly.
 */
export class SqlQueueBackend implements QueueBackend {
  /** Always `sql`. */
  readonly name = 'sql';
  private closed = false;
  private closing: Promise<void> | undefined;
  private inflight = 0;
  private drained: (() => void) | undefined;
  private rotation = Math.floor(Math.random() * 1024);
  private readonly waiting = new Set<() => void>();
  private readonly wakeUps = WakeUps.get();
  private readonly channel: string;
  private readonly readySql = new Map<number, string>();

  /** @internal Use {@link createSqlQueueBackend}. */
  constructor(
    private readonly sql: SqlDatabase,
    private readonly ownsDatabase: boolean,
    private readonly logger: Logger,
    private readonly pollMs: number,
  ) {
    this.channel = sql.displayUrl;
  }

  /** The database the queue lives in (shared or owned). */
  get database(): SqlDatabase {
    return this.sql;
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

  /** Adds items in one transaction (chunked INSERTs); attempt ids already present are left alone. */
  enqueue(items: readonly QueueItem[]): Promise<void> {
    return this.op('enqueue', async () => {
      if (items.length === 0) return;
      await this.insert(items);
      this.wakeUps.notify(this.channel, new Set(items.map((i) => i.taskType)));
    });
  }

  /**
   * Inserts items already leased by `owner` until now + `leaseMs`, in one transaction (chunked
   * INSERTs), as enqueue then claim would leave them; attempt ids already present are left
   * alone. Wakes no waiting claim: the items are not ready. Returns the ids inserted, in input
   * order.
   */
  adopt(owner: string, items: readonly QueueItem[], leaseMs: number): Promise<number[]> {
    return this.op('adopt', async () => {
      if (items.length === 0) return [];
      const added = await this.insert(items, { owner, leaseMs });
      return [...new Set(items.map((i) => i.attemptId))].filter((id) => added.has(id));
    });
  }

  /**
   * Inserts items, ready or (with `lease`) leased, in one transaction of chunked INSERTs, and
   * returns the attempt ids inserted. RETURNING reports only the rows inserted: a conflicting
   * row (already queued, or the padding's repeat of a row this statement inserted) hits DO
   * NOTHING and is not returned.
   */
  private async insert(
    items: readonly QueueItem[],
    lease?: { owner: string; leaseMs: number },
  ): Promise<Set<number>> {
    const now = Date.now();
    const rows = items.map((i): SqlParam[] => [
      i.attemptId,
      i.taskType,
      i.jobId,
      i.priority ?? 0,
      i.availableAt ?? now,
      ...(lease ? [lease.owner, now + lease.leaseMs] : []),
      now,
    ]);
    const perRow = rows[0]!.length;
    const max = Math.min(MAX_ROWS_PER_INSERT, Math.floor(this.sql.profile.maxParams / perRow));
    const row = `(${placeholders(perRow)})`;
    const columns = lease ? LEASED_COLUMNS : ITEM_COLUMNS;
    const added = await this.sql.transaction(async (tx) => {
      const inserted = new Set<number>();
      for (const chunk of paddedChunks(rows, max)) {
        const returned = await tx.all<{ attempt_id: number | string }>(
          `INSERT INTO eas_queue (${columns}, enqueued_at) VALUES ${chunk.map(() => row).join(', ')} ` +
            'ON CONFLICT (attempt_id) DO NOTHING RETURNING attempt_id',
          chunk.flat(),
        );
        for (const r of returned) inserted.add(Number(r.attempt_id));
      }
      return inserted;
    });
    if (this.sql.profile.analyzeAfterBulk && added.size >= ANALYZE_AFTER_ROWS) {
      await this.sql.run('ANALYZE eas_queue');
    }
    return added;
  }

  /**
   * Leases up to `max` ready items of `types` to `owner`, fairly across types (see the class
   * comment). Returns them in claim order. With `waitMs`, waits for work as described there;
   * an aborted `signal` or `close()` ends the wait with what was claimed (nothing).
   */
  claim(request: ClaimRequest): Promise<LeasedItem[]> {
    return this.op('claim', async () => {
      const types = [...new Set(request.types)];
      const typeSet = new Set(types);
      const waitMs = request.waitMs ?? 0;
      const deadline = Date.now() + waitMs;
      for (;;) {
        if (request.signal?.aborted || this.closed) return [];
        const seen = this.wakeUps.seq(this.channel);
        const items = await this.claimOnce(types, request.owner, request.max, request.leaseMs);
        if (items.length > 0 || waitMs <= 0) return items;
        const left = deadline - Date.now();
        if (left <= 0) return [];
        await this.wakeUps.wait(
          this.channel,
          typeSet,
          seen,
          Math.min(this.pollMs, left),
          request.signal,
          (cancel) => {
            this.waiting.add(cancel);
            return () => this.waiting.delete(cancel);
          },
        );
      }
    });
  }

  private readyStatement(branches: number): string {
    let sql = this.readySql.get(branches);
    if (sql === undefined) {
      // Each branch reads the head of one type's ready rows through the partial index
      // eas_queue_ready. SKIP LOCKED lets concurrent PostgreSQL claimers pass over rows another
      // claim has locked instead of queueing behind it.
      const lock = this.sql.profile.skipLocked ? ' FOR UPDATE SKIP LOCKED' : '';
      const branch =
        `SELECT ${ITEM_COLUMNS} FROM eas_queue WHERE owner IS NULL AND task_type = ? AND available_at <= ? ` +
        `ORDER BY priority DESC, available_at, attempt_id LIMIT ?${lock}`;
      sql =
        branches === 1
          ? branch
          : Array.from({ length: branches }, (_, i) => `SELECT * FROM (${branch}) AS r${i}`).join(
              ' UNION ALL ',
            );
      this.readySql.set(branches, sql);
    }
    return sql;
  }

  private async claimOnce(
    types: readonly string[],
    owner: string,
    max: number,
    leaseMs: number,
  ): Promise<LeasedItem[]> {
    const start = this.rotation++ % types.length;
    let active = [...types.slice(start), ...types.slice(0, start)];
    return this.sql.transaction(async (tx) => {
      const now = Date.now();
      const leaseExpiresAt = now + leaseMs;
      const claimed: LeasedItem[] = [];
      let remaining = max;
      // Each round splits what is still wanted over the types not yet known to be empty; a
      // type that returns less than its share is empty and drops out, and the next round
      // re-splits the rest. Rows leased in an earlier round are no longer `owner IS NULL`, so
      // later rounds cannot return them again (on PostgreSQL our own row locks are not skipped).
      while (remaining > 0 && active.length > 0) {
        const base = Math.floor(remaining / active.length);
        const extra = remaining % active.length;
        const shares = active
          .map((type, i) => ({ type, share: base + (i < extra ? 1 : 0) }))
          .filter((s) => s.share > 0);
        const params: SqlParam[] = [];
        for (const s of shares) params.push(s.type, now, s.share);
        const rows = await tx.all<ItemRow>(this.readyStatement(shares.length), params);
        if (rows.length > 0) await this.lease(tx, rows, owner, leaseExpiresAt);
        const got = new Map<string, number>();
        for (const row of rows) {
          got.set(row.task_type, (got.get(row.task_type) ?? 0) + 1);
          claimed.push(toLeased(row, owner, leaseExpiresAt));
        }
        remaining -= rows.length;
        const empty = new Set(
          shares.filter((s) => (got.get(s.type) ?? 0) < s.share).map((s) => s.type),
        );
        active = active.filter((t) => !empty.has(t));
      }
      return claimed.sort(byClaimOrder);
    });
  }

  private async lease(
    tx: SqlExecutor,
    rows: readonly ItemRow[],
    owner: string,
    leaseExpiresAt: number,
  ): Promise<void> {
    const ids = rows.map((r) => Number(r.attempt_id));
    let changed = 0;
    for (const chunk of paddedChunks(ids, this.idsPerStatement(2))) {
      changed += await tx.run(
        `UPDATE eas_queue SET owner = ?, lease_expires_at = ? WHERE attempt_id IN (${placeholders(chunk.length)})`,
        [owner, leaseExpiresAt, ...chunk],
      );
    }
    // The rows were read in this transaction under a row lock (PostgreSQL) or the database's
    // write lock (SQLite), so every one must have been updated. Anything else is a bug; the
    // throw rolls the claim back rather than hand out items nobody holds.
    if (changed !== ids.length) {
      throw new EasError(
        'INTERNAL',
        `Claim leased ${changed} of ${ids.length} selected queue items.`,
        {
          where: 'eas_queue',
        },
      );
    }
  }

  private idsPerStatement(otherParams: number): number {
    return Math.min(MAX_IDS_PER_STATEMENT, this.sql.profile.maxParams - otherParams);
  }

  /**
   * Runs `build(placeholders)` with `lead` parameters then the ids, chunked, and returns the
   * ids the statements' `RETURNING attempt_id` reported, in the order they were given.
   */
  private async byIds(
    ids: readonly number[],
    lead: readonly SqlParam[],
    build: (ph: string) => string,
  ): Promise<number[]> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return [];
    const chunks = paddedChunks(unique, this.idsPerStatement(lead.length));
    const run = async (ex: SqlExecutor): Promise<number[]> => {
      const hit = new Set<number>();
      for (const chunk of chunks) {
        const rows = await ex.all<{ attempt_id: number | string }>(
          build(placeholders(chunk.length)),
          [...lead, ...chunk],
        );
        for (const r of rows) hit.add(Number(r.attempt_id));
      }
      return unique.filter((id) => hit.has(id));
    };
    return chunks.length === 1 ? run(this.sql) : this.sql.transaction(run);
  }

  /** Pushes the owner's leases to now + `leaseMs`; returns the ids still held by `owner`. */
  extend(owner: string, attemptIds: readonly number[], leaseMs: number): Promise<number[]> {
    return this.op('extend', () =>
      this.byIds(
        attemptIds,
        [Date.now() + leaseMs, owner],
        (ph) =>
          `UPDATE eas_queue SET lease_expires_at = ? WHERE owner = ? AND attempt_id IN (${ph}) RETURNING attempt_id`,
      ),
    );
  }

  private finish(
    operation: string,
    owner: string,
    attemptIds: readonly number[],
  ): Promise<number[]> {
    return this.op(operation, () =>
      this.byIds(
        attemptIds,
        [owner],
        (ph) =>
          `DELETE FROM eas_queue WHERE owner = ? AND attempt_id IN (${ph}) RETURNING attempt_id`,
      ),
    );
  }

  /** Deletes the owner's items; returns the ids that `owner` held. */
  complete(owner: string, attemptIds: readonly number[]): Promise<number[]> {
    return this.finish('complete', owner, attemptIds);
  }

  /** Same as {@link SqlQueueBackend.complete} (kept apart for metrics). */
  fail(owner: string, attemptIds: readonly number[]): Promise<number[]> {
    return this.finish('fail', owner, attemptIds);
  }

  /**
   * Deletes and returns leased items whose lease ended before `now`, oldest lease end first,
   * at most `max`. Concurrent reapers never return the same item twice.
   */
  reclaimExpired(now = Date.now(), max?: number): Promise<LeasedItem[]> {
    return this.op('reclaimExpired', () =>
      this.sql.transaction(async (tx) => {
        const lock = this.sql.profile.skipLocked ? ' FOR UPDATE SKIP LOCKED' : '';
        const limit = max === undefined ? '' : ' LIMIT ?';
        const rows = await tx.all<LeasedRow>(
          `SELECT ${LEASED_COLUMNS} FROM eas_queue WHERE owner IS NOT NULL AND lease_expires_at < ? ` +
            `ORDER BY lease_expires_at, attempt_id${limit}${lock}`,
          max === undefined ? [now] : [now, max],
        );
        const ids = rows.map((r) => Number(r.attempt_id));
        for (const chunk of paddedChunks(ids, this.idsPerStatement(0))) {
          await tx.run(
            `DELETE FROM eas_queue WHERE attempt_id IN (${placeholders(chunk.length)})`,
            chunk,
          );
        }
        if (rows.length > 0) this.logger.debug({ count: rows.length }, 'expired leases reclaimed');
        return rows.map(fromLeasedRow);
      }),
    );
  }

  /** Deletes and returns every item leased by `owner`. */
  releaseOwner(owner: string): Promise<LeasedItem[]> {
    return this.op('releaseOwner', async () => {
      const rows = await this.sql.all<LeasedRow>(
        `DELETE FROM eas_queue WHERE owner = ? RETURNING ${LEASED_COLUMNS}`,
        [owner],
      );
      return rows.map(fromLeasedRow).sort(byClaimOrder);
    });
  }

  /** Deletes items by attempt id, ready or leased. */
  remove(attemptIds: readonly number[]): Promise<void> {
    return this.op('remove', async () => {
      await this.byIds(
        attemptIds,
        [],
        (ph) => `DELETE FROM eas_queue WHERE attempt_id IN (${ph}) RETURNING attempt_id`,
      );
    });
  }

  /** Deletes every item of a job. */
  removeJob(jobId: number): Promise<void> {
    return this.op('removeJob', async () => {
      await this.sql.run('DELETE FROM eas_queue WHERE job_id = ?', [jobId]);
    });
  }

  /** Counts per task type; types with no items are absent. */
  counts(): Promise<Record<string, QueueCounts>> {
    return this.op('counts', async () => {
      const rows = await this.sql.all<{
        task_type: string;
        ready: number | string | null;
        delayed: number | string | null;
        leased: number | string | null;
      }>(
        `SELECT task_type,
           SUM(CASE WHEN owner IS NULL THEN 1 ELSE 0 END) AS ready,
           SUM(CASE WHEN owner IS NULL AND available_at > ? THEN 1 ELSE 0 END) AS delayed,
           SUM(CASE WHEN owner IS NOT NULL THEN 1 ELSE 0 END) AS leased
         FROM eas_queue GROUP BY task_type ORDER BY task_type`,
        [Date.now()],
      );
      const counts: Record<string, QueueCounts> = {};
      for (const r of rows) {
        counts[r.task_type] = {
          ready: Number(r.ready ?? 0),
          delayed: Number(r.delayed ?? 0),
          leased: Number(r.leased ?? 0),
        };
      }
      return counts;
    });
  }

  /** Whether the attempt is queued (ready or leased). */
  has(attemptId: number): Promise<boolean> {
    return this.op('has', async () => {
      const row = await this.sql.get('SELECT 1 AS present FROM eas_queue WHERE attempt_id = ?', [
        attemptId,
      ]);
      return row !== undefined;
    });
  }

  /** Deletes every item. */
  clear(): Promise<void> {
    return this.op('clear', async () => {
      await this.sql.run('DELETE FROM eas_queue');
    });
  }

  /**
   * Ends waiting claims (they return what they have), waits for running operations, and closes
   * the database if the backend opened it. A shared database stays open. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    for (const cancel of [...this.waiting]) cancel();
    if (this.inflight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    if (this.ownsDatabase) await this.sql.close();
    this.logger.debug('queue closed');
  }

  /** Same as {@link SqlQueueBackend.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Makes a {@link SqlQueueBackend} and brings its table up to date (migrations in the bundle,
 * recorded in `eas_queue_migrations`; safe when several processes start at once).
 *
 * Pick it when there is no Redis: it needs nothing beyond the task database, and with SQLite
 * it is the embedded default. Pick Redis for many worker processes that must wake at once.
 *
 * @example
 * ```ts
 * const db = await openSqlDatabase('sqlite:.eas/eas.db');
 * const backend = await createSqlQueueBackend({ sql: db }); // shares db; close() leaves it open
 * ```
 * @throws InvalidInputError `USAGE` for bad options; EasError `BACKEND_UNAVAILABLE` when the
 *   database cannot be opened or migrated.
 */
export async function createSqlQueueBackend(
  options: SqlQueueBackendOptions,
): Promise<SqlQueueBackend> {
  const resolved = parseArgument(
    sqlQueueBackendOptionsSchema,
    options,
    'createSqlQueueBackend.options',
  );
  const logger = (resolved.logger ?? silentLogger()).child({ component: 'queue', backend: 'sql' });
  const owned = typeof resolved.sql === 'string';
  const sql =
    typeof resolved.sql === 'string'
      ? await openSqlDatabase(resolved.sql, resolved.open)
      : resolved.sql;
  try {
    await migrateQueue(sql.knex, logger);
  } catch (e) {
    if (owned) await sql.close();
    throw e;
  }
  logger.debug({ database: sql.displayUrl, owned }, 'queue opened');
  return new SqlQueueBackend(sql, owned, logger, resolved.pollMs);
}
