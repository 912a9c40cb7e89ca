import { dirname } from 'node:path';
import type { Knex } from 'knex';
import { EasError } from '../errors.js';
import { makeDirectorySync } from '../fs.js';
import { silentLogger, type Logger } from '../logger.js';
import { Mutex } from '../mutex.js';
import { redactUrl } from '../config.js';
import { DIALECT_PROFILES, type Dialect, type DialectProfile } from './dialects.js';
import { FileSessionLock, PostgresSessionLock, type SessionLock } from './session-lock.js';

/** A row as returned by a query: column name → value. */
export type Row = Record<string, unknown>;

/** A bind parameter: SQL has no booleans on SQLite, so pass 0/1. */
export type SqlParam = string | number | bigint | null | Buffer;

/**
 * Runs SQL with `?` placeholders on either engine. Statements are written once in the SQL both
 * engines share (`ON CONFLICT`, `RETURNING`, partial indexes, `WITH RECURSIVE`); what differs
 * is in {@link DialectProfile}.
 */
export interface SqlExecutor {
  /** The engine. */
  readonly dialect: Dialect;
  /** What the engine can do. */
  readonly profile: DialectProfile;
  /** Rows of a query (or of a statement with `RETURNING`). */
  all<T = Row>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
  /** The first row, or undefined. */
  get<T = Row>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined>;
  /** Runs a statement; resolves to the number of rows changed. */
  run(sql: string, params?: readonly SqlParam[]): Promise<number>;
  /**
   * Runs `fn` in one transaction: committed when `fn` resolves, rolled back when it rejects.
   * On SQLite it is an IMMEDIATE transaction (the write lock is taken at BEGIN, so two
   * processes never deadlock upgrading a read lock). Nested calls join the outer transaction.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
}

/** A connection (pool) to a task database, plus the knex instance migrations run on. */
export interface SqlDatabase extends SqlExecutor {
  /** knex for migrations and schema work. */
  readonly knex: Knex;
  /** The URL with any password redacted. */
  readonly displayUrl: string;
  /**
   * A lock one process at a time holds, released when the holder dies: a PostgreSQL advisory
   * lock on a connection of its own, or a lock file beside a SQLite database.
   *
   * @throws EasError `USAGE` for an in-memory SQLite database (no other process can see it).
   */
  sessionLock(name: string): SessionLock;
  /** Closes every connection. */
  close(): Promise<void>;
}

/**
 * Options of {@link openSqlDatabase}.
 *
 * @inline
 */
export interface OpenSqlOptions {
  /** Largest PostgreSQL pool. @defaultValue 10 */
  poolMax?: number;
  /** SQLite busy timeout: how long a writer waits for another process's lock. @defaultValue 15000 */
  busyTimeoutMs?: number;
  /** Receives knex's own warnings (never printed to stdout). @defaultValue silent */
  logger?: Logger;
}

/**
 * Routes knex's messages to our logger instead of its default, which writes to stdout. Its
 * warnings come one level down: they repeat what our own error says (a refused connection is
 * reported as `BACKEND_UNAVAILABLE` anyway), so at the CLI's `warn` level they would say it twice.
 */
function knexLog(logger: Logger | undefined): Knex.Config['log'] {
  const log = (logger ?? silentLogger()).child({ component: 'knex' });
  const text = (m: unknown): string =>
    typeof m === 'string' ? m : m instanceof Error ? m.message : JSON.stringify(m);
  return {
    warn: (m: unknown) => log.info({ detail: text(m) }, 'knex warning'),
    error: (m: unknown) => log.warn({ detail: text(m) }, 'knex error'),
    deprecate: (m: unknown) => log.info({ detail: text(m) }, 'knex deprecation'),
    debug: (m: unknown) => log.debug({ detail: text(m) }, 'knex debug'),
  };
}

/**
 * Opens a database by URL (`sqlite:<file>` or `postgres://…`).
 *
 * Why SQLite statements bypass knex's query path: knex's SQLite client cannot open an
 * IMMEDIATE transaction and adds an async pool round trip per statement, which caps the
 * embedded lifecycle far below DESIGN §9's 5,000 tasks/s. So on SQLite knex runs migrations
 * only, and statements go straight to a better-sqlite3 connection with cached prepared
 * statements. On PostgreSQL every statement goes through knex (pooling, transactions).
 *
 * @throws EasError `BACKEND_UNAVAILABLE` when the server does not answer; `MISSING_PEER` when
 *   `pg` is not installed.
 */
export async function openSqlDatabase(
  url: string,
  options: OpenSqlOptions = {},
): Promise<SqlDatabase> {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length), options);
  if (/^postgres(ql)?:\/\//.test(url)) return openPostgres(url, options);
  throw new EasError(
    'CONFIG_INVALID',
    `Database URL "${redactUrl(url)}" is neither sqlite:<file> nor postgres://…`,
    {
      where: 'database.url',
    },
  );
}

async function loadKnex(): Promise<typeof import('knex').default> {
  const mod = await import('knex');
  return (mod.default ??
    (mod as unknown as { knex: typeof import('knex').default })
      .knex) as typeof import('knex').default;
}

// ---------------------------------------------------------------------------------------------
// SQLite

type BetterDb = import('better-sqlite3').Database;
type BetterStmt = import('better-sqlite3').Statement;

async function openSqlite(file: string, options: OpenSqlOptions): Promise<SqlDatabase> {
  const { default: Database } = await import('better-sqlite3');
  if (file !== ':memory:') makeDirectorySync(dirname(file), 'directory of the SQLite database');
  let db: BetterDb;
  try {
    db = new Database(file);
  } catch (e) {
    throw new EasError(
      'BACKEND_UNAVAILABLE',
      `Cannot open SQLite database ${file}: ${(e as Error).message}`,
      {
        cause: e,
        where: file,
      },
    );
  }
  db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 15_000}`);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a commit is durable against a process crash (the WAL is written), and
  // only an OS crash or power loss can lose the last transactions. Recovery then re-runs them.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = OFF');
  const knex = (await loadKnex())({
    client: 'better-sqlite3',
    connection: { filename: file },
    useNullAsDefault: true,
    log: knexLog(options.logger),
    pool: {
      min: 0,
      max: 1,
      afterCreate: (conn: BetterDb, done: (err: Error | null, conn: BetterDb) => void) => {
        conn.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 15_000}`);
        done(null, conn);
      },
    },
  });
  return new SqliteDatabase(db, knex, file);
}

class SqliteDatabase implements SqlDatabase {
  readonly dialect = 'sqlite' as const;
  readonly profile = DIALECT_PROFILES.sqlite;
  readonly displayUrl: string;
  private readonly statements = new Map<string, BetterStmt>();
  private readonly mutex = new Mutex();
  private readonly inTx: SqliteTx;
  private closed = false;

  constructor(
    readonly db: BetterDb,
    readonly knex: Knex,
    private readonly file: string,
  ) {
    this.displayUrl = `sqlite:${file}`;
    this.inTx = new SqliteTx(this);
  }

  sessionLock(name: string): SessionLock {
    if (this.file === ':memory:' || this.file === '') {
      throw new EasError('USAGE', 'An in-memory SQLite database has no lock other processes see.');
    }
    if (!/^[a-z0-9-]+$/.test(name)) throw new EasError('USAGE', `Bad lock name "${name}"`);
    return new FileSessionLock(`${this.file}.${name}.lock`, name);
  }

  prepare(sql: string): BetterStmt {
    let s = this.statements.get(sql);
    if (!s) {
      if (this.closed) throw new EasError('CLOSED', 'The task database is closed.');
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  allSync<T>(sql: string, params: readonly SqlParam[]): T[] {
    const s = this.prepare(sql);
    if (s.reader) return s.all(...params) as T[];
    s.run(...params);
    return [];
  }

  runSync(sql: string, params: readonly SqlParam[]): number {
    const s = this.prepare(sql);
    if (s.reader) {
      s.all(...params);
      return 0;
    }
    return s.run(...params).changes;
  }

  all<T = Row>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    return this.mutex.run(() => this.allSync<T>(sql, params));
  }

  async get<T = Row>(sql: string, params: readonly SqlParam[] = []): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }

  run(sql: string, params: readonly SqlParam[] = []): Promise<number> {
    return this.mutex.run(() => this.runSync(sql, params));
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.mutex.run(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.inTx);
        this.db.exec('COMMIT');
        return result;
      } catch (e) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw e;
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.mutex.run(async () => {
      this.closed = true;
      this.statements.clear();
      await this.knex.destroy();
      this.db.close();
    });
  }
}

/** The executor handed to a transaction callback: runs directly, the lock is already held. */
class SqliteTx implements SqlExecutor {
  readonly dialect = 'sqlite' as const;
  readonly profile = DIALECT_PROFILES.sqlite;
  constructor(private readonly owner: SqliteDatabase) {}
  async all<T = Row>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    return this.owner.allSync<T>(sql, params);
  }
  async get<T = Row>(sql: string, params: readonly SqlParam[] = []): Promise<T | undefined> {
    return this.owner.allSync<T>(sql, params)[0];
  }
  async run(sql: string, params: readonly SqlParam[] = []): Promise<number> {
    return this.owner.runSync(sql, params);
  }
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return fn(this);
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

async function openPostgres(url: string, options: OpenSqlOptions): Promise<SqlDatabase> {
  const knexFactory = await loadKnex();
  let pgTypes: { getTypeParser: (oid: number, format?: string) => (v: string) => unknown };
  try {
    const pg = await import('pg');
    pgTypes = (pg.default ?? pg).types as typeof pgTypes;
  } catch (e) {
    throw new EasError(
      'MISSING_PEER',
      'PostgreSQL support needs the "pg" package: run `npm i pg`.',
      { cause: e },
    );
  }
  // int8 (count(*), bigint epoch-ms columns) and numeric arrive as strings from pg; every such
  // value here fits a double exactly (ids and milliseconds < 2^53), so read them as numbers.
  const types = {
    getTypeParser: (oid: number, format?: string) =>
      oid === 20 || oid === 1700 ? (v: string) => Number(v) : pgTypes.getTypeParser(oid, format),
  };
  const knex = knexFactory({
    client: 'pg',
    connection: { connectionString: url, types } as unknown as Knex.PgConnectionConfig,
    pool: { min: 0, max: options.poolMax ?? 10 },
    acquireConnectionTimeout: 10_000,
    log: knexLog(options.logger),
  });
  const database = new PostgresDatabase(knex, redactUrl(url));
  try {
    await knex.raw('select 1');
  } catch (e) {
    await knex.destroy();
    throw new EasError(
      'BACKEND_UNAVAILABLE',
      `PostgreSQL at ${redactUrl(url)} is unreachable: ${(e as Error).message}. Is the server running?`,
      { cause: e, where: 'database.url' },
    );
  }
  return database;
}

class PostgresExecutor implements SqlExecutor {
  readonly dialect = 'postgres' as const;
  readonly profile = DIALECT_PROFILES.postgres;
  constructor(protected readonly k: Knex | Knex.Transaction) {}

  async all<T = Row>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    const result = (await this.k.raw(sql, params as Knex.RawBinding[])) as { rows: T[] };
    return result.rows;
  }
  async get<T = Row>(sql: string, params: readonly SqlParam[] = []): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }
  async run(sql: string, params: readonly SqlParam[] = []): Promise<number> {
    const result = (await this.k.raw(sql, params as Knex.RawBinding[])) as {
      rowCount: number | null;
    };
    return result.rowCount ?? 0;
  }
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    if ((this.k as Knex.Transaction).isTransaction) return fn(this);
    return (this.k as Knex).transaction((trx) => fn(new PostgresExecutor(trx)));
  }
}

class PostgresDatabase extends PostgresExecutor implements SqlDatabase {
  constructor(
    readonly knex: Knex,
    readonly displayUrl: string,
  ) {
    super(knex);
  }
  private readonly locks = new Set<SessionLock>();
  sessionLock(name: string): SessionLock {
    const lock = new PostgresSessionLock(this.knex, name);
    this.locks.add(lock);
    return lock;
  }
  async close(): Promise<void> {
    // A held lock keeps a connection out of the pool, and the pool waits for it on destroy.
    await Promise.all([...this.locks].map((l) => l.release()));
    await this.knex.destroy();
  }
}

/** `?, ?, ?` for `n` parameters. */
export function placeholders(n: number): string {
  return n <= 0 ? '' : '?' + ', ?'.repeat(n - 1);
}

/**
 * Inserts many rows in as few statements as the engine allows (chunked by its parameter
 * limit). `conflict` appends e.g. `ON CONFLICT DO NOTHING`.
 */
export async function insertMany(
  sql: SqlExecutor,
  table: string,
  columns: readonly string[],
  rows: readonly (readonly SqlParam[])[],
  conflict = '',
): Promise<void> {
  if (rows.length === 0) return;
  const perRow = columns.length;
  const chunk = Math.max(1, Math.min(500, Math.floor(sql.profile.maxParams / perRow)));
  const rowPh = `(${placeholders(perRow)})`;
  const head = `INSERT INTO ${table} (${columns.join(', ')}) VALUES `;
  for (let i = 0; i < rows.length; i += chunk) {
    const part = rows.slice(i, i + chunk);
    const params: SqlParam[] = [];
    for (const r of part) for (const v of r) params.push(v);
    await sql.run(`${head}${part.map(() => rowPh).join(', ')} ${conflict}`, params);
  }
}
