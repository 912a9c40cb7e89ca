/**
 * Session locks and leader election on real PostgreSQL and SQLite: one holder at a time, locks
 * scoped to a schema, a lock lost with its connection (the server terminated it), and a
 * LeaderElection that steps down when that happens and leads again once it can.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { advisoryLockKeys, openSqlDatabase, type SqlDatabase } from '../../src/core/index.js';
import { LeaderElection } from '../../src/control/index.js';
import { freshPostgresSchema, postgresAvailable, tempDir } from '../helpers/services.js';

const postgres = await postgresAvailable();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function pgDatabase(url?: string): Promise<{ db: SqlDatabase; url: string }> {
  let u = url;
  if (u === undefined) {
    const schema = await freshPostgresSchema();
    cleanups.push(() => schema.drop());
    u = schema.url;
  }
  const db = await openSqlDatabase(u);
  cleanups.push(() => db.close());
  return { db, url: u };
}

describe.skipIf(!postgres)('PostgreSQL session lock', () => {
  it('has one holder at a time, scoped to the schema, and passes on release', async () => {
    const a = await pgDatabase();
    const b = await pgDatabase(a.url);
    const other = await pgDatabase();
    const la = a.db.sessionLock('controller');
    const lb = b.db.sessionLock('controller');
    expect(await la.tryAcquire()).toBe(true);
    expect(await la.tryAcquire()).toBe(true); // re-entrant for its holder
    expect(await lb.tryAcquire()).toBe(false);
    expect(await other.db.sessionLock('controller').tryAcquire()).toBe(true); // another schema
    expect(await la.verify()).toBe(true);
    await la.release();
    expect(await la.verify()).toBe(false);
    expect(await lb.tryAcquire()).toBe(true);
    await lb.release();
  });

  it('is lost with its connection, and the election steps down, then leads again', async () => {
    const a = await pgDatabase();
    const admin = await pgDatabase(a.url);
    const election = new LeaderElection({ lock: a.db.sessionLock('controller'), checkMs: 50 });
    const events: string[] = [];
    election.on('leader:elected', () => events.push('elected'));
    election.on('leader:lost', () => events.push('lost'));
    let leads = 0;
    let aborted = 0;
    const done = election.run(async (signal) => {
      leads++;
      await new Promise<void>((resolve) =>
        signal.addEventListener('abort', () => resolve(), { once: true }),
      );
      aborted++;
    });
    const until = async (what: string, ok: () => boolean): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await until('elected', () => election.role === 'leader');
    // The server ends the leader's lock connection (as a database restart would).
    const [{ s: schema }] = (await admin.db.all<{ s: string }>('SELECT current_schema() AS s')) as [
      { s: string },
    ];
    const [k1, k2] = advisoryLockKeys(`${schema}.controller`);
    const killed = await admin.db.all<{ n: number }>(
      `SELECT count(pg_terminate_backend(l.pid))::int AS n FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.classid = ? AND l.objid = ? AND l.objsubid = 2`,
      [k1 >>> 0, k2 >>> 0],
    );
    expect(killed[0]!.n).toBeGreaterThanOrEqual(1);
    await until('stepped down and elected again', () => leads === 2);
    expect(aborted).toBe(1);
    expect(events).toEqual(['elected', 'lost', 'elected']);
    election.stop();
    await done;
    expect(election.role).toBe('stopped');
  });
});

describe('SQLite session lock (a lock file)', () => {
  it('has one holder at a time and passes on release', async () => {
    const dir = tempDir('eas-lock-');
    cleanups.push(() => dir.remove());
    const url = `sqlite:${join(dir.dir, 'eas.db')}`;
    const a = await openSqlDatabase(url);
    const b = await openSqlDatabase(url);
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    const la = a.sessionLock('controller');
    // Both handles live in this process: the second sees the file held by a live pid (ours).
    expect(await la.tryAcquire()).toBe(true);
    expect(await b.sessionLock('controller').tryAcquire()).toBe(false);
    await la.release();
    expect(await b.sessionLock('controller').tryAcquire()).toBe(true);
  });

  it('refuses an in-memory database', async () => {
    const m = await openSqlDatabase('sqlite::memory:');
    cleanups.push(() => m.close());
    expect(() => m.sessionLock('controller')).toThrow(/in-memory/);
  });
});
