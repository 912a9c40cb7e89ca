/**
 * Session locks: one holder at a time across processes, released by the server (or the
 * operating system) the moment the holder dies — the building block of leader election.
 *
 * - PostgreSQL: `pg_try_advisory_lock` on a connection taken out of the pool and kept for as
 *   long as the lock is held. When the holding process dies its connection closes and the server
 *   drops the lock at once; a standby's next try wins.
 * - SQLite (one machine by nature): a lock file beside the database, created exclusively, naming
 *   the holder's host and pid. A file whose holder on this host is no longer alive is stale and
 *   is taken over.
 *
 * @module
 */
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { EasError } from '../errors.js';
import { processAlive } from '../process.js';

/** A lock held by one process at a time. */
export interface SessionLock {
  /** The lock's name. */
  readonly name: string;
  /** Takes the lock if it is free; true when this process now holds it (or already did). */
  tryAcquire(): Promise<boolean>;
  /**
   * Whether the lock is still held, asked of the server (PostgreSQL) or the file (SQLite); false
   * once the connection holding it was lost. A holder checks before acting as the holder.
   */
  verify(): Promise<boolean>;
  /** Gives the lock up (a no-op when not held). */
  release(): Promise<void>;
}

/** The two 32-bit keys of `pg_try_advisory_lock(int, int)` for a lock name. */
export function advisoryLockKeys(name: string): [number, number] {
  const h = createHash('sha256').update(`plato-eas:${name}`).digest();
  return [h.readInt32BE(0), h.readInt32BE(4)];
}

interface PgConnection {
  query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  on(event: 'error' | 'end', listener: (...args: unknown[]) => void): unknown;
  removeListener(event: 'error' | 'end', listener: (...args: unknown[]) => void): unknown;
}

interface KnexClientWithPool {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(connection: PgConnection): Promise<void>;
}

/** A PostgreSQL advisory lock on a connection of its own (see the module comment). */
export class PostgresSessionLock implements SessionLock {
  private connection: PgConnection | undefined;
  /** From the name and the schema: pipelines in different schemas of one database do not share locks. */
  private keys: [number, number] | undefined;
  /** The server or the network ended the lock's connection: the lock is gone with it. */
  private readonly onGone = (): void => {
    const connection = this.connection;
    if (connection !== undefined) void this.drop(connection);
  };

  constructor(
    private readonly knex: Knex,
    readonly name: string,
  ) {}

  private get client(): KnexClientWithPool {
    return this.knex.client as unknown as KnexClientWithPool;
  }

  async tryAcquire(): Promise<boolean> {
    if (this.connection !== undefined && (await this.verify())) return true;
    let connection: PgConnection;
    try {
      connection = await this.client.acquireConnection();
    } catch (e) {
      throw new EasError(
        'BACKEND_UNAVAILABLE',
        `Cannot take the "${this.name}" lock: ${String(e)}`,
        {
          cause: e,
        },
      );
    }
    try {
      if (this.keys === undefined) {
        const { rows } = await connection.query('SELECT current_schema() AS s');
        this.keys = advisoryLockKeys(`${String(rows[0]?.s)}.${this.name}`);
      }
      const { rows } = await connection.query('SELECT pg_try_advisory_lock($1, $2) AS ok', [
        ...this.keys,
      ]);
      if (rows[0]?.ok === true) {
        this.connection = connection;
        connection.on('error', this.onGone);
        connection.on('end', this.onGone);
        return true;
      }
    } catch {
      // Not taken; the connection goes back to the pool, which discards it if it is broken.
    }
    await this.client.releaseConnection(connection).catch(() => undefined);
    return false;
  }

  async verify(): Promise<boolean> {
    const connection = this.connection;
    if (connection === undefined || this.keys === undefined) return false;
    try {
      const { rows } = await connection.query(
        `SELECT count(*)::int AS n FROM pg_locks
          WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND classid = $1 AND objid = $2 AND objsubid = 2 AND granted`,
        // pg_locks shows the two int4 keys as oids (unsigned).
        [this.keys[0] >>> 0, this.keys[1] >>> 0],
      );
      if (rows[0]?.n === 1) return true;
    } catch {
      // The connection is gone: so is the lock.
    }
    await this.drop(connection);
    return false;
  }

  async release(): Promise<void> {
    const connection = this.connection;
    if (connection === undefined || this.keys === undefined) return;
    await connection
      .query('SELECT pg_advisory_unlock($1, $2)', [...this.keys])
      .catch(() => undefined);
    await this.drop(connection);
  }

  private async drop(connection: PgConnection): Promise<void> {
    if (this.connection === connection) this.connection = undefined;
    connection.removeListener('error', this.onGone);
    connection.removeListener('end', this.onGone);
    await this.client.releaseConnection(connection).catch(() => undefined);
  }
}

/** A lock file beside a SQLite database (see the module comment). */
export class FileSessionLock implements SessionLock {
  private held = false;
  private readonly host = hostname();

  constructor(
    private readonly path: string,
    readonly name: string,
  ) {}

  async tryAcquire(): Promise<boolean> {
    if (this.held && (await this.verify())) return true;
    for (let tries = 0; tries < 2; tries++) {
      // Written whole to a file of our own, then linked into place: link() fails if the lock
      // exists, so the lock file appears atomically and is never seen half-written.
      const mine = `${this.path}.${process.pid}.tmp`;
      writeFileSync(mine, JSON.stringify({ host: this.host, pid: process.pid }));
      try {
        linkSync(mine, this.path);
        this.held = true;
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      } finally {
        unlinkSync(mine);
      }
      const holder = this.holder();
      // Someone else's lock, alive or on another machine: not ours to take.
      if (holder !== undefined && (holder.host !== this.host || processAlive(holder.pid))) {
        return false;
      }
      // A stale file (its holder on this host died) or an unreadable one: take it over.
      try {
        unlinkSync(this.path);
      } catch {
        // Another process removed it first; try again.
      }
    }
    return false;
  }

  async verify(): Promise<boolean> {
    if (!this.held) return false;
    const holder = this.holder();
    this.held = holder !== undefined && holder.host === this.host && holder.pid === process.pid;
    return this.held;
  }

  async release(): Promise<void> {
    if (!(await this.verify())) return;
    this.held = false;
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }

  private holder(): { host: string; pid: number } | undefined {
    try {
      const v = JSON.parse(readFileSync(this.path, 'utf8')) as { host?: unknown; pid?: unknown };
      return typeof v.host === 'string' && typeof v.pid === 'number'
        ? { host: v.host, pid: v.pid }
        : undefined;
    } catch {
      return undefined;
    }
  }
}
