import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isEasError, openSqlDatabase, type SqlDatabase } from '../../src/core/index.js';
import {
  QUEUE_MIGRATIONS,
  QUEUE_MIGRATIONS_TABLE,
  QueueClosedError,
  createSqlQueueBackend,
  type QueueItem,
  type SqlQueueBackend,
} from '../../src/queue/index.js';
import { freshPostgresSchema, postgresAvailable, tempDir } from '../helpers/services.js';

const postgres = await postgresAvailable();
const LEASE = 30_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function sqliteUrl(): string {
  const dir = tempDir('eas-queue-sql-');
  cleanups.push(dir.remove);
  return `sqlite:${join(dir.dir, 'eas.db')}`;
}

async function pgUrl(): Promise<string> {
  const schema = await freshPostgresSchema();
  cleanups.push(schema.drop);
  return schema.url;
}

async function openDb(url: string): Promise<SqlDatabase> {
  const db = await openSqlDatabase(url);
  cleanups.push(() => db.close());
  return db;
}

async function backendOn(sql: SqlDatabase | string, pollMs?: number): Promise<SqlQueueBackend> {
  const backend = await createSqlQueueBackend({ sql, pollMs });
  cleanups.push(() => backend.close());
  return backend;
}

function items(from: number, count: number, taskType: string): QueueItem[] {
  return Array.from({ length: count }, (_, i) => ({ attemptId: from + i, taskType, jobId: 1 }));
}

describe('createSqlQueueBackend', () => {
  it('shares a SqlDatabase it is given: the queue lives in it and close() leaves it open', async () => {
    const db = await openDb(sqliteUrl());
    const backend = await createSqlQueueBackend({ sql: db });
    await backend.enqueue(items(1, 2, 'a'));
    expect(await db.get('SELECT count(*) AS n FROM eas_queue')).toEqual({ n: 2 });
    await backend.close();
    expect(await db.get('SELECT count(*) AS n FROM eas_queue')).toEqual({ n: 2 });
  });

  it('owns and closes a database it opened from a URL', async () => {
    const backend = await createSqlQueueBackend({ sql: sqliteUrl() });
    const db = backend.database;
    expect(await db.get('SELECT 1 AS one')).toEqual({ one: 1 });
    await backend.close();
    await expect(db.get('SELECT 2 AS two')).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('records its migrations in eas_queue_migrations and applies them once', async () => {
    const db = await openDb(sqliteUrl());
    await backendOn(db);
    await backendOn(db);
    const rows = await db.all<{ name: string }>(
      `SELECT name FROM ${QUEUE_MIGRATIONS_TABLE} ORDER BY id`,
    );
    expect(rows.map((r) => r.name)).toEqual(QUEUE_MIGRATIONS.map((m) => m.name));
    expect(QUEUE_MIGRATIONS.map((m) => m.name)).toEqual(
      [...QUEUE_MIGRATIONS.map((m) => m.name)].sort(),
    );
    for (const m of QUEUE_MIGRATIONS) expect(m.name).toMatch(/^\d{4}-[a-z0-9-]+$/);
  });

  it('creates partial indexes on the ready rows and on the leased rows', async () => {
    const db = await openDb(sqliteUrl());
    await backendOn(db);
    const indexes = await db.all<{ name: string; sql: string }>(
      "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'eas_queue' AND sql IS NOT NULL",
    );
    const byName = Object.fromEntries(indexes.map((i) => [i.name, i.sql.replace(/\s+/g, ' ')]));
    expect(byName.eas_queue_ready).toContain(
      '(task_type, priority DESC, available_at, attempt_id) WHERE owner IS NULL',
    );
    expect(byName.eas_queue_leased).toContain('(lease_expires_at) WHERE owner IS NOT NULL');
  });

  it('survives several processes’ worth of backends migrating one new SQLite file at once', async () => {
    const url = sqliteUrl();
    const backends = await Promise.all(Array.from({ length: 4 }, () => backendOn(url)));
    await backends[0]!.enqueue(items(1, 1, 'a'));
    expect(await backends[3]!.has(1)).toBe(true);
  });

  it('rejects bad options with USAGE', async () => {
    await expect(createSqlQueueBackend({ sql: 'mysql://db/x' })).rejects.toMatchObject({
      code: 'USAGE',
    });
    await expect(createSqlQueueBackend({ sql: sqliteUrl(), pollMs: 0 })).rejects.toMatchObject({
      code: 'USAGE',
    });
  });

  it('rejects with QueueClosedError after close', async () => {
    const backend = await createSqlQueueBackend({ sql: sqliteUrl() });
    await backend.close();
    const error = await backend.counts().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueClosedError);
    expect(isEasError(error) && error.message).toContain('counts() was called after close()');
  });
});

describe('claim fairness rule', () => {
  it('splits max evenly across types with work', async () => {
    const q = await backendOn(sqliteUrl());
    await q.enqueue([...items(1, 10, 'a'), ...items(100, 10, 'b'), ...items(200, 10, 'c')]);
    for (let i = 0; i < 3; i++) {
      const got = await q.claim({ owner: 'w', types: ['a', 'b', 'c'], max: 3, leaseMs: LEASE });
      expect(got.map((x) => x.taskType).sort()).toEqual(['a', 'b', 'c']);
    }
    const five = await q.claim({ owner: 'w', types: ['a', 'b'], max: 5, leaseMs: LEASE });
    const perType = [
      five.filter((x) => x.taskType === 'a').length,
      five.filter((x) => x.taskType === 'b').length,
    ];
    expect(perType.sort()).toEqual([2, 3]);
  });

  it('rotates the type that gets the remainder, so max 1 visits every type in turn', async () => {
    const q = await backendOn(sqliteUrl());
    await q.enqueue([...items(1, 10, 'a'), ...items(100, 10, 'b'), ...items(200, 10, 'c')]);
    for (let round = 0; round < 3; round++) {
      const seen: string[] = [];
      for (let i = 0; i < 3; i++) {
        const [item] = await q.claim({
          owner: 'w',
          types: ['a', 'b', 'c'],
          max: 1,
          leaseMs: LEASE,
        });
        seen.push(item!.taskType);
      }
      expect(seen.sort()).toEqual(['a', 'b', 'c']);
    }
  });
});

describe('waiting claims in one process', () => {
  it('wake at once when another backend on the same database enqueues, without polling', async () => {
    const db = await openDb(sqliteUrl());
    const producer = await backendOn(db, 60_000);
    const consumer = await backendOn(sqliteUrlOf(db), 60_000);
    const claim = consumer.claim({
      owner: 'w',
      types: ['a'],
      max: 1,
      leaseMs: LEASE,
      waitMs: 30_000,
    });
    await new Promise((r) => setTimeout(r, 50));
    const enqueuedAt = Date.now();
    await producer.enqueue(items(1, 1, 'a'));
    expect((await claim).map((i) => i.attemptId)).toEqual([1]);
    expect(Date.now() - enqueuedAt).toBeLessThan(500);
  });

  it('are not woken by items of other task types', async () => {
    const q = await backendOn(sqliteUrl(), 60_000);
    const started = Date.now();
    const claim = q.claim({ owner: 'w', types: ['a'], max: 1, leaseMs: LEASE, waitMs: 400 });
    await q.enqueue(items(1, 1, 'b'));
    expect(await claim).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    expect((await q.counts()).b).toEqual({ ready: 1, delayed: 0, leased: 0 });
  });

  it('find items enqueued by another process by polling every pollMs', async () => {
    const url = sqliteUrl();
    const q = await backendOn(url, 20);
    // A second connection stands in for another process: it writes the table directly, so no
    // in-process wake-up fires.
    const other = await openDb(url);
    const claim = q.claim({ owner: 'w', types: ['a'], max: 1, leaseMs: LEASE, waitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 50));
    const insertedAt = Date.now();
    await other.run(
      'INSERT INTO eas_queue (attempt_id, task_type, job_id, priority, available_at, enqueued_at) VALUES (?, ?, ?, ?, ?, ?)',
      [5, 'a', 1, 0, insertedAt, insertedAt],
    );
    expect((await claim).map((i) => i.attemptId)).toEqual([5]);
    expect(Date.now() - insertedAt).toBeLessThan(1_000);
  });
});

/** The URL of a SQLite database, to open a second, independent handle on the same file. */
function sqliteUrlOf(db: SqlDatabase): string {
  return db.displayUrl;
}

describe('query plans', () => {
  const CLAIM_HEAD =
    'SELECT attempt_id FROM eas_queue WHERE owner IS NULL AND task_type = ? AND available_at <= ? ' +
    'ORDER BY priority DESC, available_at, attempt_id LIMIT ?';

  it('SQLite claims through the partial ready index', async () => {
    const db = await openDb(sqliteUrl());
    const q = await backendOn(db);
    await q.enqueue(items(1, 2_000, 'a'));
    await q.claim({ owner: 'w', types: ['a'], max: 1_500, leaseMs: LEASE });
    const plan = await db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${CLAIM_HEAD}`, [
      'a',
      Date.now(),
      5,
    ]);
    expect(plan.map((p) => p.detail).join('\n')).toContain('USING INDEX eas_queue_ready');
  });

  it.skipIf(!postgres)(
    'PostgreSQL claims through the partial ready index after a bulk enqueue',
    async () => {
      const db = await openDb(await pgUrl());
      const q = await backendOn(db);
      // A bulk enqueue refreshes statistics (ANALYZE), so the planner knows the table is not empty.
      await q.enqueue([...items(1, 6_000, 'a'), ...items(10_001, 6_000, 'b')]);
      await q.claim({ owner: 'w', types: ['a'], max: 5_000, leaseMs: LEASE });
      const plan = await db.all<{ 'QUERY PLAN': string }>(
        `EXPLAIN ${CLAIM_HEAD.replace('task_type = ?', "task_type = 'a'").replace('available_at <= ?', `available_at <= ${Date.now()}`).replace('LIMIT ?', 'LIMIT 5')}`,
      );
      expect(plan.map((p) => p['QUERY PLAN']).join('\n')).toContain('eas_queue_ready');
    },
  );
});
