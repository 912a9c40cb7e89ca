/** The SQL engines plato-eas runs on. */
export type Dialect = 'sqlite' | 'postgres';

/**
 * What differs between the engines, in one table (STYLE §2): query code branches on these
 * flags, never on the engine's name.
 */
export interface DialectProfile {
  /**
   * `FOR UPDATE SKIP LOCKED` exists. PostgreSQL: several claimers each take different queued
   * rows without waiting on each other. SQLite has one writer at a time (an IMMEDIATE
   * transaction), so there is nothing to skip.
   */
  skipLocked: boolean;
  /**
   * Most bind parameters one statement may carry: SQLite's compiled-in limit is 32766,
   * PostgreSQL's wire protocol allows 65535. Bulk inserts chunk by this.
   */
  maxParams: number;
  /**
   * `ANALYZE` after bulk inserts matters: PostgreSQL keeps plans chosen while tables were empty
   * (sequential scans) until statistics are refreshed; SQLite's planner copes without.
   */
  analyzeAfterBulk: boolean;
  /**
   * Many connections may write at once (PostgreSQL), so work can spread over a pool. SQLite
   * writes through one connection per process.
   */
  concurrentWriters: boolean;
  /**
   * `SELECT … FOR UPDATE` exists and is needed. PostgreSQL runs transactions side by side
   * (READ COMMITTED): one that decides from a row it read (an attempt still `running` under
   * this worker) must lock the row, or a concurrent one (the reaper stalling that attempt) can
   * change it between the read and the write. SQLite serializes writers (IMMEDIATE
   * transactions): nothing can change in between, and it has no such syntax.
   */
  rowLocks: boolean;
  /**
   * The hot lifecycle paths run on the server in one round trip per batch: starting attempts is
   * one statement (data-modifying CTEs) and finishing the attempts that passed QC is one call of
   * a PL/pgSQL function (migration 0002). Over a network every statement of a transaction is a
   * round trip during which the transaction holds its locks, so this is where PostgreSQL's
   * throughput comes from. SQLite runs in-process: a statement costs microseconds, and it has
   * neither data-modifying CTEs nor stored functions.
   */
  serverLifecycle: boolean;
  /**
   * Attempt and version ids come from sequences. `nextval` holds no lock, whereas a counter row
   * updated in a transaction stays locked until it commits; on PostgreSQL each commit waits for
   * its disk flush, so a counter would queue every concurrent commit behind the one before.
   * SQLite has no sequences and needs none (one writer at a time).
   */
  sequenceIds: boolean;
}

/** The profile of each engine. */
export const DIALECT_PROFILES: Record<Dialect, DialectProfile> = {
  sqlite: {
    skipLocked: false,
    maxParams: 32_000,
    analyzeAfterBulk: false,
    concurrentWriters: false,
    rowLocks: false,
    serverLifecycle: false,
    sequenceIds: false,
  },
  postgres: {
    skipLocked: true,
    maxParams: 65_000,
    analyzeAfterBulk: true,
    concurrentWriters: true,
    rowLocks: true,
    serverLifecycle: true,
    sequenceIds: true,
  },
};

/** The engine behind a knex instance (for migrations, which receive knex alone). */
export function dialectOfKnex(knex: { client: { config: { client?: unknown } } }): Dialect {
  const client = String(knex.client.config.client ?? '');
  return client === 'pg' || client === 'postgres' || client === 'postgresql'
    ? 'postgres'
    : 'sqlite';
}
