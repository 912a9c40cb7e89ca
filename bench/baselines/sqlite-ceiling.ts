import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** Options of {@link measureSqliteCeiling}. */
export interface CeilingOptions {
  /**
   * `flat`: independent tasks, all queued at the start. `parent-children`: groups of two
   * children and a parent that is queued when its counter of unmet children reaches zero.
   */
  shape: 'flat' | 'parent-children';
  /** Tasks (for `parent-children`, rounded down to a multiple of 3). */
  tasks: number;
  /** Tasks per transaction (100 in DESIGN §9's table; 1 for its "one transaction per task" column). */
  perTransaction: number;
}

/** What {@link measureSqliteCeiling} measured. */
export interface CeilingResult extends CeilingOptions {
  ms: number;
  tasksPerSec: number;
  /** Tasks per second of this process's CPU time (steadier on a busy machine). */
  tasksPerCpuSecond: number;
  transactions: number;
}

/**
 * The engine's ceiling for the task lifecycle (DESIGN §9, "what the engines allow"): the
 * minimal lifecycle written directly with better-sqlite3 on a temporary file in WAL mode with
 * `synchronous = NORMAL`, prepared statements, no application around it.
 *
 * Per batch of `perTransaction` tasks, two transactions, as a real worker needs (the work runs
 * between them):
 * - claim: take the batch from the queue table, insert an attempt per task, mark it running;
 * - complete: mark each attempt succeeded, insert a version, mark the task done; release:
 *   decrement each dependent's counter and queue it (queue row + state) when it reaches zero.
 *
 * Setup (tables, task rows, edges) is not timed.
 */
export function measureSqliteCeiling(options: CeilingOptions): CeilingResult {
  const dir = mkdtempSync(join(tmpdir(), 'eas-bench-ceiling-'));
  const db = new Database(join(dir, 'ceiling.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`
      CREATE TABLE tasks (id INTEGER PRIMARY KEY, state TEXT NOT NULL, unmet INTEGER NOT NULL,
                          attempt_id INTEGER, updated_at INTEGER NOT NULL);
      CREATE TABLE attempts (id INTEGER PRIMARY KEY, task_id INTEGER NOT NULL, state TEXT NOT NULL,
                             started_at INTEGER, ended_at INTEGER);
      CREATE TABLE versions (id INTEGER PRIMARY KEY, attempt_id INTEGER NOT NULL,
                             passed_qc INTEGER NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE deps (consumer INTEGER NOT NULL, provider INTEGER NOT NULL,
                         PRIMARY KEY (consumer, provider));
      CREATE INDEX deps_provider ON deps (provider);
      CREATE TABLE queue (task_id INTEGER PRIMARY KEY);
    `);
    const n =
      options.shape === 'parent-children' ? Math.floor(options.tasks / 3) * 3 : options.tasks;
    const now = Date.now();
    const insertTask = db.prepare(
      'INSERT INTO tasks (id, state, unmet, updated_at) VALUES (?, ?, ?, ?)',
    );
    const insertDep = db.prepare('INSERT INTO deps (consumer, provider) VALUES (?, ?)');
    const insertQueue = db.prepare('INSERT INTO queue (task_id) VALUES (?)');
    db.transaction(() => {
      for (let id = 1; id <= n; id++) {
        const isParent = options.shape === 'parent-children' && id % 3 === 0;
        insertTask.run(id, isParent ? 'waiting' : 'queued', isParent ? 2 : 0, now);
        if (isParent) {
          insertDep.run(id, id - 2);
          insertDep.run(id, id - 1);
        } else insertQueue.run(id);
      }
    })();

    const takeQueue = db.prepare('SELECT task_id FROM queue ORDER BY task_id LIMIT ?').pluck();
    const deleteQueue = db.prepare('DELETE FROM queue WHERE task_id = ?');
    const insertAttempt = db.prepare(
      "INSERT INTO attempts (id, task_id, state, started_at) VALUES (?, ?, 'running', ?)",
    );
    const markRunning = db.prepare(
      "UPDATE tasks SET state = 'running', attempt_id = ?, updated_at = ? WHERE id = ?",
    );
    const endAttempt = db.prepare(
      "UPDATE attempts SET state = 'succeeded', ended_at = ? WHERE id = ?",
    );
    const insertVersion = db.prepare(
      'INSERT INTO versions (id, attempt_id, passed_qc, created_at) VALUES (?, ?, 1, ?)',
    );
    const markDone = db.prepare("UPDATE tasks SET state = 'done', updated_at = ? WHERE id = ?");
    const dependents = db.prepare('SELECT consumer FROM deps WHERE provider = ?').pluck();
    const decrement = db
      .prepare('UPDATE tasks SET unmet = unmet - 1, updated_at = ? WHERE id = ? RETURNING unmet')
      .pluck();
    const markQueued = db.prepare("UPDATE tasks SET state = 'queued', updated_at = ? WHERE id = ?");

    let attemptId = 0;
    let versionId = 0;
    let transactions = 0;
    const claim = db.transaction((max: number): { task: number; attempt: number }[] => {
      const t = Date.now();
      const ids = takeQueue.all(max) as number[];
      return ids.map((task) => {
        deleteQueue.run(task);
        const attempt = ++attemptId;
        insertAttempt.run(attempt, task, t);
        markRunning.run(attempt, t, task);
        return { task, attempt };
      });
    });
    const complete = db.transaction((batch: { task: number; attempt: number }[]) => {
      const t = Date.now();
      for (const { task, attempt } of batch) {
        endAttempt.run(t, attempt);
        insertVersion.run(++versionId, attempt, t);
        markDone.run(t, task);
        for (const consumer of dependents.all(task) as number[]) {
          if ((decrement.get(t, consumer) as number) === 0) {
            insertQueue.run(consumer);
            markQueued.run(t, consumer);
          }
        }
      }
    });

    let finished = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (;;) {
      const batch = claim(options.perTransaction);
      transactions++;
      if (batch.length === 0) break;
      complete(batch);
      transactions++;
      finished += batch.length;
    }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (finished !== n) throw new Error(`ceiling: finished ${finished} of ${n} tasks`);
    return {
      ...options,
      tasks: n,
      ms,
      tasksPerSec: (n / ms) * 1000,
      tasksPerCpuSecond: (n / (cpu.user + cpu.system)) * 1e6,
      transactions,
    };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
