import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** The columns `submit` writes into `eas_tasks` (18), in its order. */
const COLUMNS = [
  'id',
  'job_id',
  'parent_id',
  'position',
  'path',
  'name',
  'type',
  'working_directory',
  'depth',
  'state',
  'unmet',
  'control',
  'description',
  'metadata',
  'attempt_count',
  'created_at',
  'updated_at',
  'finished_at',
] as const;

/** Rows per INSERT: what the task database's `insertMany` uses. */
const ROWS_PER_STATEMENT = 500;

/** What {@link measureRawTaskInsert} measured. */
export interface RawInsertResult {
  rows: number;
  columns: number;
  rowsPerStatement: number;
  ms: number;
}

/**
 * The floor for writing a submitted chain: `rows` task rows of the same shape as the task
 * database's (same table definition and indexes, the same 18 columns bound) inserted with
 * multi-row INSERTs of 500 rows in one transaction, straight through better-sqlite3 on a
 * temporary file (WAL, `synchronous = NORMAL`). Building the parameter arrays is timed, as
 * the real submission builds them too; nothing else is (no expansion, no attempts, no queue).
 */
export function measureRawTaskInsert(rows: number): RawInsertResult {
  const dir = mkdtempSync(join(tmpdir(), 'eas-bench-insert-'));
  const db = new Database(join(dir, 'insert.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`
      CREATE TABLE eas_tasks (
        id bigint PRIMARY KEY, job_id bigint NOT NULL, parent_id bigint, position integer NOT NULL,
        path text NOT NULL, name varchar(255), type varchar(255) NOT NULL,
        working_directory text NOT NULL, depth integer NOT NULL, state varchar(255) NOT NULL,
        unmet integer NOT NULL, control integer NOT NULL, description text NOT NULL,
        metadata text NOT NULL, attempt_count integer NOT NULL DEFAULT 0,
        stall_count integer NOT NULL DEFAULT 0, current_attempt_id bigint, reason text,
        created_at bigint NOT NULL, updated_at bigint NOT NULL, finished_at bigint);
      CREATE INDEX eas_tasks_job_state ON eas_tasks (job_id, state);
      CREATE INDEX eas_tasks_parent ON eas_tasks (parent_id, position);
      CREATE INDEX eas_tasks_type_state ON eas_tasks (type, state);
    `);
    const rowPh = `(${COLUMNS.map(() => '?').join(', ')})`;
    const head = `INSERT INTO eas_tasks (${COLUMNS.join(', ')}) VALUES `;
    const statements = new Map<number, Database.Statement>();
    const statementFor = (n: number): Database.Statement => {
      let s = statements.get(n);
      if (!s) {
        s = db.prepare(head + Array.from({ length: n }, () => rowPh).join(', '));
        statements.set(n, s);
      }
      return s;
    };
    const t0 = performance.now();
    db.transaction(() => {
      const now = Date.now();
      for (let start = 0; start < rows; start += ROWS_PER_STATEMENT) {
        const end = Math.min(rows, start + ROWS_PER_STATEMENT);
        const params: (string | number | null)[] = [];
        for (let i = start; i < end; i++) {
          const root = i === 0;
          params.push(
            i + 1,
            1,
            root ? null : 1,
            root ? 0 : i - 1,
            root ? '' : `task_list[${i - 1}]`,
            null,
            root ? 'execution_chain' : 'null',
            '.',
            root ? 0 : 1,
            root ? 'done' : 'waiting',
            0,
            root ? 1 : 0,
            '{}',
            '{}',
            0,
            now,
            now,
            root ? now : null,
          );
        }
        statementFor(end - start).run(...params);
      }
    })();
    const ms = performance.now() - t0;
    return { rows, columns: COLUMNS.length, rowsPerStatement: ROWS_PER_STATEMENT, ms };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
