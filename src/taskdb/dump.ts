import { createHash, type Hash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import {
  EasError,
  insertMany,
  isEasError,
  openSqlDatabase,
  placeholders,
  redactUrl,
  silentLogger,
  type Dialect,
  type Logger,
  type Row,
  type SqlDatabase,
  type SqlExecutor,
  type SqlParam,
} from '../core/index.js';
import { TASKDB_MIGRATIONS } from './migrations/index.js';
import { countersRelation, type IdSpace } from './queries/ids.js';
import { TaskDatabase } from './task-database.js';

/** One column of a table's primary key; text columns need a byte-order collation on PostgreSQL. */
interface KeyColumn {
  readonly name: string;
  readonly text: boolean;
}

/** How one table is copied. */
interface DumpTable {
  readonly name: string;
  /** Primary key: the order rows are read, copied and checksummed in. */
  readonly key: readonly KeyColumn[];
  /** The id counter that allocates this table's `id`. */
  readonly counter?: IdSpace;
  /** Appended to the INSERT (a fresh database already holds the counter rows). */
  readonly conflict?: string;
  /** What to read instead of the table itself. */
  readonly from?: (tx: SqlExecutor) => string;
}

const ID: KeyColumn = { name: 'id', text: false };

/**
 * The tables of the task database that are copied, parents before children (jobs, then tasks,
 * attempts, products, versions, then the rows that refer to them). No foreign keys enforce
 * that order today; it keeps a partially read copy meaningful and is ready for them.
 * `eas_counters` comes last: its rows replace the zeros of the freshly migrated target, then
 * the id fix-up checks them against the copied ids.
 *
 * Keep in step with `migrations/`: test/taskdb/dump.test.ts fails when a migration adds an
 * `eas_*` table that is neither listed here nor deliberately left out.
 */
const TABLES: readonly DumpTable[] = [
  { name: 'eas_jobs', key: [ID], counter: 'job' },
  { name: 'eas_tasks', key: [ID], counter: 'task' },
  { name: 'eas_attempts', key: [ID], counter: 'attempt' },
  { name: 'eas_products', key: [ID], counter: 'product' },
  { name: 'eas_versions', key: [ID], counter: 'version' },
  {
    name: 'eas_metadata',
    key: [
      { name: 'owner_kind', text: true },
      { name: 'owner_id', text: false },
      { name: 'key', text: true },
    ],
  },
  {
    name: 'eas_file_deps',
    key: [
      { name: 'consumer_task_id', text: false },
      { name: 'semantic_type', text: true },
    ],
  },
  {
    name: 'eas_metadata_deps',
    key: [
      { name: 'consumer_task_id', text: false },
      { name: 'provider_task_id', text: false },
    ],
  },
  { name: 'eas_log_lines', key: [ID] },
  ...(
    [
      ['eas_job_progress', 'type', 'state'],
      ['eas_job_timings', 'task_type', 'state'],
      ['eas_job_outcomes', 'task_type', 'outcome_sha256'],
    ] as const
  ).map(([name, ...text]) => ({
    name,
    key: [{ name: 'job_id', text: false }, ...text.map((c) => ({ name: c, text: true }))],
  })),
  { name: 'eas_worker_hosts', key: [{ name: 'id', text: true }] },
  {
    name: 'eas_counters',
    key: [{ name: 'name', text: true }],
    conflict: 'ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    from: countersRelation,
  },
];

/**
 * The tables {@link copyDatabase} copies and {@link tableChecksums} covers, in copy order.
 *
 * Not copied: knex's migration bookkeeping (`eas_migrations`, `eas_migrations_lock`; the target
 * has its own, at the same schema version) and the SQL job queue (`eas_queue` and its migration
 * tables). The queue is a cache of the task database (DESIGN §4): the controller's reconcile,
 * run at every start, puts each queued attempt back into whichever queue the target uses (the
 * SQL queue, or Redis on a cluster).
 */
export const DUMP_TABLES: readonly string[] = TABLES.map((t) => t.name);

/** The SQL queue's table: never copied, but a target whose queue holds items is not empty. */
const QUEUE_TABLE = 'eas_queue';

/**
 * Rows read from the source and written to the target per page. Large enough that a page costs
 * a handful of statements (the inserts are chunked by the engine's parameter limit), small
 * enough that a page of the widest table (attempts with tracebacks) stays a few megabytes: a
 * 1,000,000-task database is streamed, never held in memory.
 */
const DEFAULT_PAGE_ROWS = 1000;

/**
 * What differs between the engines when a whole database is read in order. Kept beside the code
 * that needs it; the general engine profile lives in `core/sql/dialects.ts`.
 */
interface CopyDialect {
  /**
   * The first statement of a reading transaction, so that every table is read from one
   * snapshot while the database stays in use. PostgreSQL: REPEATABLE READ gives that without
   * blocking writers. SQLite: the IMMEDIATE transaction every {@link SqlExecutor.transaction}
   * opens already holds the write lock, so nothing changes while it is read.
   */
  readonly snapshot: string | null;
  /**
   * The collation that orders text by its bytes. Checksums need the same row order on both
   * engines: SQLite's default (BINARY, memcmp of UTF-8) is code-point order, and PostgreSQL's
   * "C" collation over UTF-8 is the same order, whereas its database default (often
   * en_US.UTF-8) is not.
   */
  readonly byteOrder: string | null;
  /**
   * Read with a server-side cursor instead of keyset pages. PostgreSQL: ordering text keys by
   * "C" cannot use the primary-key index (built with the database collation), so a keyset page
   * would sort the whole table each time; one cursor sorts once and then streams. SQLite:
   * no cursors in SQL, and keyset pages walk the primary-key index, whose order is BINARY.
   */
  readonly cursors: boolean;
  /** Lists the tables of the database (of the schema in use on PostgreSQL). */
  readonly listTables: string;
  /**
   * Lists columns filled by a sequence (`serial`, identity), whose next value must follow the
   * copied ids. null on SQLite: an AUTOINCREMENT column's counter (`sqlite_sequence`) already
   * follows the largest id inserted explicitly.
   */
  readonly serialColumns: string | null;
  /** What to check besides the URL when a database has no task-database tables. */
  readonly urlHint: string;
}

const COPY_DIALECTS: Record<Dialect, CopyDialect> = {
  sqlite: {
    snapshot: null,
    byteOrder: null,
    cursors: false,
    listTables: `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name`,
    serialColumns: null,
    urlHint: '',
  },
  postgres: {
    snapshot: 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY',
    byteOrder: 'C',
    cursors: true,
    listTables: `SELECT table_name AS name FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`,
    serialColumns: `SELECT table_name AS table_name, column_name AS column_name
      FROM information_schema.columns
      WHERE table_schema = current_schema()
        AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')`,
    urlHint: ' (for PostgreSQL also its search_path)',
  },
};

/** Row count and checksum of one table (see {@link tableChecksums} for the encoding). */
export interface TableChecksum {
  /** Rows in the table. */
  rows: number;
  /** sha256 (hex) of the table's rows in primary-key order, canonically encoded. */
  sha256: string;
}

/** Options of {@link copyDatabase} and {@link tableChecksums}. */
export interface CopyDatabaseOptions {
  /** Rows read (and written) per page. @defaultValue 1000 */
  pageSize?: number;
  /** Called after each page with the table and the rows copied from it so far. */
  onProgress?: (progress: { table: string; rows: number }) => void;
  /** Logger; binds `{ component: 'taskdb-dump' }`. @defaultValue silent */
  logger?: Logger;
}

/** What {@link copyDatabase} did. */
export interface CopyResult {
  /**
   * Per table of {@link DUMP_TABLES}, the rows copied and their checksum, computed from the
   * source rows as they were read (one consistent snapshot). Compare with
   * `tableChecksums(target)` to verify what was written.
   */
  tables: Record<string, TableChecksum>;
  /**
   * Id counters raised to the largest copied id because the source's counter was behind it
   * (normally none: a counter is never behind its table).
   */
  countersRaised: IdSpace[];
  /** PostgreSQL sequences moved past the largest copied id, as `table.column`. */
  sequencesReset: string[];
}

/** Options of {@link openCopySource} and {@link openCopyTarget}. */
export interface OpenCopyOptions {
  /** Logger for the connection and migrations. @defaultValue silent */
  logger?: Logger;
}

/**
 * Copies every row of a task database into another one, on the same engine or across SQLite
 * and PostgreSQL (`eas db dump` / `eas db restore`).
 *
 * - `target` must be a task database at the same schema version as `source` and hold no rows
 *   (a freshly migrated one, such as {@link openCopyTarget} makes): no jobs, tasks, attempts,
 *   log lines or worker hosts, id counters at 0 and an empty SQL queue.
 * - Tables are copied in the order of {@link DUMP_TABLES}, each in primary-key order, a page of
 *   `pageSize` rows at a time, so memory does not grow with the database.
 * - Everything is written inside one transaction on the target: a failure (or a non-empty
 *   target) leaves it as it was. The source is read inside one transaction too, so the copy is
 *   a consistent snapshot; on SQLite that transaction holds the source's write lock, so a
 *   pipeline writing to it waits (stop `eas run` first on a large database).
 * - Afterwards whatever allocates ids follows the copied rows: each id counter is at least the
 *   largest id of its table, and on PostgreSQL every sequence (the log lines' `serial` id) is
 *   moved past the largest copied value. New jobs on the target never collide.
 * - The SQL job queue is not copied: run the controller (`eas run`, `eas controller`) on the
 *   target and its start-up reconcile queues every queued attempt again.
 * - On PostgreSQL the target is ANALYZEd afterwards (plans chosen on empty tables are slow).
 *
 * Prefer it over a native dump (`pg_dump`, `.backup`) when the engines differ or when the
 * copy must be checked row for row: the result carries the checksums of what was read.
 *
 * @throws EasError `USAGE` when either side is not a task database, the schema versions differ,
 *   `source` and `target` are the same connection, or the target is not empty (naming the
 *   tables that hold rows); `INTERNAL` when a row cannot be written (the target is unchanged).
 */
export async function copyDatabase(
  source: SqlDatabase,
  target: SqlDatabase,
  options: CopyDatabaseOptions = {},
): Promise<CopyResult> {
  if (source === target) {
    throw new EasError('USAGE', `Cannot copy ${source.displayUrl} into itself.`, {
      where: source.displayUrl,
    });
  }
  const pageSize = pageSizeOf(options);
  const log = (options.logger ?? silentLogger()).child({ component: 'taskdb-dump' });
  await checkSchema(source, 'source');
  await checkSchema(target, 'target');
  const started = Date.now();
  const result = await source.transaction(async (src) => {
    const snapshot = COPY_DIALECTS[src.dialect].snapshot;
    if (snapshot) await src.run(snapshot);
    return target.transaction(async (dst): Promise<CopyResult> => {
      await assertEmpty(dst, target.displayUrl);
      const tables: Record<string, TableChecksum> = {};
      for (const table of TABLES) {
        tables[table.name] = await copyTable(src, dst, table, pageSize, target.displayUrl, options);
      }
      const countersRaised = await raiseCounters(dst);
      const sequencesReset = await resetSequences(dst);
      return { tables, countersRaised, sequencesReset };
    });
  });
  if (target.profile.analyzeAfterBulk) await target.run('ANALYZE');
  const rows = Object.values(result.tables).reduce((n, t) => n + t.rows, 0);
  log.info(
    {
      source: source.displayUrl,
      target: target.displayUrl,
      rows,
      ms: Date.now() - started,
      countersRaised: result.countersRaised,
    },
    'database copied',
  );
  if (result.countersRaised.length > 0) {
    log.warn({ counters: result.countersRaised }, 'id counters were behind their tables');
  }
  return result;
}

/**
 * Row count and sha256 of every table of {@link DUMP_TABLES}, read in one transaction.
 *
 * The encoding is the same on SQLite and PostgreSQL for the same data, so two databases on
 * different engines compare equal when their rows are equal:
 * - rows in primary-key order, text keys compared by bytes (code points);
 * - one line per row: `"column":value` pairs sorted by column name, joined by `,`, ended by `\n`;
 * - values: `null`; numbers as JavaScript's shortest round-trip text (`String(n)`: the same
 *   double always gives the same text, an integral double has no `.0`, and PostgreSQL's bigint
 *   and numeric already arrive as numbers); bigints in decimal; booleans as `1`/`0` (SQLite
 *   stores them so); strings, JSON text included, as `JSON.stringify` of the stored text, so
 *   `"5"` and `5` differ; binary as `x'<hex>'`.
 *
 * On SQLite the transaction holds the write lock while it reads (a consistent answer); on
 * PostgreSQL it is a REPEATABLE READ snapshot that blocks nobody, which is why `db` must be a
 * database or a transaction that has run nothing yet.
 *
 * @throws the engine's error when a table is missing (not a task database).
 */
export async function tableChecksums(
  db: SqlExecutor,
  options: Pick<CopyDatabaseOptions, 'pageSize'> = {},
): Promise<Record<string, TableChecksum>> {
  const pageSize = pageSizeOf(options);
  return db.transaction(async (tx) => {
    const snapshot = COPY_DIALECTS[tx.dialect].snapshot;
    if (snapshot) await tx.run(snapshot);
    const out: Record<string, TableChecksum> = {};
    for (const table of TABLES) {
      const hash = createHash('sha256');
      let rows = 0;
      for await (const page of readPages(tx, table, pageSize)) {
        hashRows(hash, page);
        rows += page.length;
      }
      out[table.name] = { rows, sha256: hash.digest('hex') };
    }
    return out;
  });
}

/**
 * The tables whose rows or checksum differ between two results of {@link tableChecksums} (or
 * a {@link CopyResult}'s `tables`), in {@link DUMP_TABLES} order. Empty when identical.
 */
export function differingTables(
  a: Record<string, TableChecksum>,
  b: Record<string, TableChecksum>,
): string[] {
  const names = [...DUMP_TABLES, ...Object.keys(a), ...Object.keys(b)];
  return [...new Set(names)].filter(
    (n) => a[n]?.rows !== b[n]?.rows || a[n]?.sha256 !== b[n]?.sha256,
  );
}

/**
 * Opens an existing task database to copy from, without migrating or creating anything.
 *
 * @throws EasError `NOT_FOUND` when a SQLite file does not exist; `USAGE` when the file is not
 *   a SQLite database or the database has no task-database tables (naming the URL);
 *   `BACKEND_UNAVAILABLE` when PostgreSQL does not answer.
 */
export async function openCopySource(
  url: string,
  options: OpenCopyOptions = {},
): Promise<SqlDatabase> {
  const file = sqliteFile(url);
  if (file !== undefined) {
    if (!existsSync(file)) {
      throw new EasError('NOT_FOUND', `No SQLite database at ${file}: check the path.`, {
        where: file,
      });
    }
    if (!statSync(file).isFile()) {
      throw new EasError('USAGE', `${file} is a directory, not a SQLite database file.`, {
        where: file,
      });
    }
  }
  const sql = await openForCopy(url, options);
  try {
    await schemaVersion(sql);
    return sql;
  } catch (e) {
    await sql.close();
    throw e;
  }
}

/**
 * Opens the database to copy into, making it a task database if it is not one yet: a new
 * SQLite file (or an empty database) is created and migrated, an existing task database is
 * migrated to this version's schema. It is not checked for rows here: {@link copyDatabase}
 * refuses a non-empty target.
 *
 * @throws EasError `USAGE` when it holds tables but is no task database (nothing is created in
 *   it), is at a newer schema than this plato-eas, or a SQLite path is no SQLite file;
 *   `BACKEND_UNAVAILABLE` when PostgreSQL does not answer.
 */
export async function openCopyTarget(
  url: string,
  options: OpenCopyOptions = {},
): Promise<SqlDatabase> {
  const file = sqliteFile(url);
  if (file !== undefined && existsSync(file) && !statSync(file).isFile()) {
    throw new EasError('USAGE', `${file} is a directory, not a SQLite database file.`, {
      where: file,
    });
  }
  const sql = await openForCopy(url, options);
  try {
    const tables = (await sql.all<{ name: string }>(COPY_DIALECTS[sql.dialect].listTables)).map(
      (r) => String(r.name),
    );
    if (tables.length > 0 && !tables.includes('eas_migrations')) {
      const shown = tables.slice(0, 5).join(', ') + (tables.length > 5 ? ', …' : '');
      throw new EasError(
        'USAGE',
        `${sql.displayUrl} is not a plato-eas task database but holds tables (${shown}). ` +
          'Copy into a new file, an empty database or schema, or a freshly migrated task database. Nothing was changed.',
        { where: sql.displayUrl },
      );
    }
    if (tables.length > 0) {
      const unknown = (await schemaVersion(sql)).filter((n) => !KNOWN_MIGRATIONS.includes(n));
      if (unknown.length > 0) throw newerSchema(sql.displayUrl, unknown);
    }
    await new TaskDatabase(sql, { logger: options.logger }).migrate();
    return sql;
  } catch (e) {
    await sql.close();
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------

const KNOWN_MIGRATIONS: readonly string[] = TASKDB_MIGRATIONS.map((m) => m.name);

function pageSizeOf(options: { pageSize?: number }): number {
  const n = options.pageSize ?? DEFAULT_PAGE_ROWS;
  if (!Number.isInteger(n) || n < 1) {
    throw new EasError('USAGE', `pageSize must be a positive integer, got ${n}`, {
      where: 'pageSize',
    });
  }
  return n;
}

/** The file of a `sqlite:` URL (undefined for PostgreSQL and for `:memory:`). */
function sqliteFile(url: string): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const file = url.slice('sqlite:'.length);
  return file === ':memory:' ? undefined : file;
}

/** Opens a database; a file that SQLite cannot read as a database is bad input, not an outage. */
async function openForCopy(url: string, options: OpenCopyOptions): Promise<SqlDatabase> {
  try {
    return await openSqlDatabase(url, { logger: options.logger });
  } catch (e) {
    if (isEasError(e)) throw e;
    throw new EasError(
      'USAGE',
      `${redactUrl(url)} cannot be opened as a database: ${(e as Error).message}`,
      { cause: e, where: redactUrl(url) },
    );
  }
}

/** The applied task-database migrations, oldest first. */
async function schemaVersion(sql: SqlExecutor & { displayUrl: string }): Promise<string[]> {
  let rows: { name: string }[];
  try {
    rows = await sql.all<{ name: string }>('SELECT name FROM eas_migrations ORDER BY id');
  } catch (e) {
    throw new EasError(
      'USAGE',
      `${sql.displayUrl} is not a plato-eas task database: it has no eas_migrations table. Check the URL${COPY_DIALECTS[sql.dialect].urlHint}.`,
      { cause: e, where: sql.displayUrl },
    );
  }
  return rows.map((r) => String(r.name));
}

function newerSchema(displayUrl: string, unknown: readonly string[]): EasError {
  return new EasError(
    'USAGE',
    `${displayUrl} has a newer schema than this plato-eas knows (${unknown.join(', ')}): upgrade plato-eas.`,
    { where: displayUrl },
  );
}

/** Both sides must be at exactly the schema this code copies. */
async function checkSchema(sql: SqlDatabase, role: 'source' | 'target'): Promise<void> {
  const applied = await schemaVersion(sql);
  const unknown = applied.filter((n) => !KNOWN_MIGRATIONS.includes(n));
  if (unknown.length > 0) throw newerSchema(sql.displayUrl, unknown);
  const missing = KNOWN_MIGRATIONS.filter((n) => !applied.includes(n));
  if (missing.length > 0) {
    const fix =
      role === 'source'
        ? `migrate it first (any eas command with --database ${sql.displayUrl} does)`
        : 'open it with openCopyTarget, which migrates it';
    throw new EasError(
      'USAGE',
      `The ${role} ${sql.displayUrl} is at an older schema (missing ${missing.join(', ')}): ${fix}.`,
      { where: sql.displayUrl },
    );
  }
}

/** Refuses a target with any row (beyond the zero id counters of a fresh migration). */
async function assertEmpty(dst: SqlExecutor, displayUrl: string): Promise<void> {
  const filled: string[] = [];
  for (const table of TABLES) {
    if (table.name === 'eas_counters') continue;
    if (await dst.get(`SELECT 1 AS one FROM ${table.name} LIMIT 1`)) filled.push(table.name);
  }
  const counters = await dst.all<{ name: string }>(
    'SELECT name FROM eas_counters WHERE value <> 0 ORDER BY name',
  );
  if (counters.length > 0) {
    filled.push(`eas_counters (${counters.map((c) => String(c.name)).join(', ')} not 0)`);
  }
  const tables = await dst.all<{ name: string }>(COPY_DIALECTS[dst.dialect].listTables);
  if (tables.some((t) => t.name === QUEUE_TABLE)) {
    if (await dst.get(`SELECT 1 AS one FROM ${QUEUE_TABLE} LIMIT 1`)) filled.push(QUEUE_TABLE);
  }
  if (filled.length > 0) {
    throw new EasError(
      'USAGE',
      `The target ${displayUrl} is not empty: ${filled.join(', ')} hold rows. ` +
        'Copy only into a new file or a freshly migrated database with no jobs. Nothing was changed.',
      { where: displayUrl, details: { tables: filled } },
    );
  }
}

/** Reads a table in primary-key order (text keys by bytes), a page at a time. */
async function* readPages(
  tx: SqlExecutor,
  table: DumpTable,
  pageSize: number,
): AsyncGenerator<Row[]> {
  const d = COPY_DIALECTS[tx.dialect];
  const from = table.from?.(tx) ?? table.name;
  const order = table.key
    .map((k) => (k.text && d.byteOrder ? `${k.name} COLLATE "${d.byteOrder}"` : k.name))
    .join(', ');
  if (d.cursors) {
    const cursor = `eas_dump_${table.name}`;
    await tx.run(`DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT * FROM ${from} ORDER BY ${order}`);
    for (;;) {
      const rows = await tx.all(`FETCH FORWARD ${pageSize} FROM ${cursor}`);
      if (rows.length > 0) yield rows;
      if (rows.length < pageSize) break;
    }
    // Only on the normal path: after an error the transaction is rolled back, which drops it.
    await tx.run(`CLOSE ${cursor}`);
    return;
  }
  const columns = table.key.map((k) => k.name);
  const after = `WHERE (${columns.join(', ')}) > (${placeholders(columns.length)})`;
  let last: SqlParam[] | undefined;
  for (;;) {
    const rows = await tx.all(
      `SELECT * FROM ${from} ${last ? after : ''} ORDER BY ${order} LIMIT ?`,
      [...(last ?? []), pageSize],
    );
    if (rows.length > 0) yield rows;
    if (rows.length < pageSize) return;
    const end = rows[rows.length - 1]!;
    last = columns.map((c) => toParam(end[c]));
  }
}

async function copyTable(
  src: SqlExecutor,
  dst: SqlExecutor,
  table: DumpTable,
  pageSize: number,
  targetUrl: string,
  options: CopyDatabaseOptions,
): Promise<TableChecksum> {
  const hash = createHash('sha256');
  let rows = 0;
  for await (const page of readPages(src, table, pageSize)) {
    const columns = Object.keys(page[0]!);
    try {
      await insertMany(
        dst,
        table.name,
        columns,
        page.map((r) => columns.map((c) => toParam(r[c]))),
        table.conflict,
      );
    } catch (e) {
      if (isEasError(e)) throw e;
      const first = table.key.map((k) => `${k.name}=${String(page[0]![k.name])}`).join(', ');
      throw new EasError(
        'INTERNAL',
        `Copying ${table.name} into ${targetUrl} failed in the page starting at ${first}: ${(e as Error).message}. The target is unchanged.`,
        { cause: e, where: `${targetUrl}: ${table.name}` },
      );
    }
    hashRows(hash, page);
    rows += page.length;
    options.onProgress?.({ table: table.name, rows });
  }
  return { rows, sha256: hash.digest('hex') };
}

/** A value read from one engine as a bind parameter of the other. */
function toParam(v: unknown): SqlParam {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'bigint') return v;
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

/** The canonical text of one value (see {@link tableChecksums}). */
function encodeValue(v: unknown): string {
  if (v === undefined || v === null) return 'null';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Buffer.isBuffer(v)) return `x'${v.toString('hex')}'`;
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  return JSON.stringify(String(v));
}

function hashRows(hash: Hash, rows: readonly Row[]): void {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!).sort();
  const names = columns.map((c) => `${JSON.stringify(c)}:`);
  for (const row of rows) {
    let line = '';
    for (let i = 0; i < columns.length; i++) {
      line += (i > 0 ? ',' : '') + names[i] + encodeValue(row[columns[i]!]);
    }
    hash.update(line + '\n');
  }
}

/** Raises each id counter that is behind the largest id of its table. */
async function raiseCounters(dst: SqlExecutor): Promise<IdSpace[]> {
  const raised: IdSpace[] = [];
  for (const table of TABLES) {
    if (!table.counter) continue;
    const changed = await dst.run(
      `UPDATE eas_counters SET value = (SELECT max(id) FROM ${table.name})
       WHERE name = ? AND value < (SELECT coalesce(max(id), 0) FROM ${table.name})`,
      [table.counter],
    );
    if (changed > 0) raised.push(table.counter);
  }
  return raised;
}

/**
 * Moves every sequence of a copied table past its largest value. `setval` is not
 * transactional: should the copy's transaction roll back after it, the sequence stays ahead,
 * which only leaves a gap in the ids.
 */
async function resetSequences(dst: SqlExecutor): Promise<string[]> {
  const query = COPY_DIALECTS[dst.dialect].serialColumns;
  if (!query) return [];
  const columns = await dst.all<{ table_name: string; column_name: string }>(query);
  const reset: string[] = [];
  for (const { table_name: table, column_name: column } of columns) {
    if (!DUMP_TABLES.includes(table)) continue;
    await dst.get(
      `SELECT setval(pg_get_serial_sequence(?, ?), coalesce(max(${column}), 0) + 1, false) AS v FROM ${table}`,
      [table, column],
    );
    reset.push(`${table}.${column}`);
  }
  return reset.sort();
}
