import { AsyncLocalStorage } from 'node:async_hooks';
import type { SqlDatabase, SqlParam } from '../../src/core/index.js';
import { round } from './stats.js';

/** Calls of one wrapped operation (a task-database or job-queue method). */
export interface OpStats {
  calls: number;
  /** Items the calls carried (attempts, outcomes…), when the wrapper knows how to count them. */
  items: number;
  /** Elapsed time from call to settle, summed: includes waiting for the connection and, for a claim, waiting for work. */
  elapsedMs: number;
  maxMs: number;
}

/** Time spent inside SQLite, charged to the operation that ran the statements. */
export interface SqlStats {
  statements: number;
  /** Time inside better-sqlite3 calls (prepare cache lookups, binding, stepping): the engine's share. */
  ms: number;
  /** Transactions opened (BEGIN … COMMIT). */
  transactions: number;
  /** Of `ms`, time in COMMIT (the WAL write; now and then a checkpoint). */
  commitMs: number;
  /** Slowest COMMIT, ms. */
  commitMaxMs: number;
  /** COMMITs over 2 ms (WAL checkpoints, a busy disk). */
  slowCommits: number;
  /** Time transactions waited for the connection's mutex before BEGIN. */
  mutexWaitMs: number;
}

/** What {@link DbProfiler.report} returns. */
export interface DbProfileReport {
  ops: Record<string, OpStats>;
  sqlByOp: Record<string, SqlStats>;
  topStatements: { op: string; sql: string; count: number; ms: number; meanUs: number }[];
}

/** A COMMIT over 2 ms: in WAL mode, usually the one that ran a checkpoint (with its fsync). */
export interface SlowCommit {
  op: string;
  /** performance.now() when it ended. */
  endAt: number;
  ms: number;
}

type AnyFn = (...args: unknown[]) => unknown;

interface SqliteInternals {
  allSync?: (sql: string, params: readonly SqlParam[]) => unknown;
  runSync?: (sql: string, params: readonly SqlParam[]) => unknown;
  db?: { exec: (sql: string) => unknown };
}

/** Collapses whitespace and long placeholder lists so statements group by shape. */
function statementKey(sql: string): string {
  return sql
    .replace(/\s+/g, ' ')
    .replace(/\((\?, )+\?\)(, \((\?, )+\?\))+/g, '(?…),…')
    .replace(/(\?, ){3,}\?/g, '?…')
    .trim()
    .slice(0, 140);
}

/**
 * Bench-only instrumentation of a pipeline's database traffic, installed by replacing methods
 * on the live instances (nothing in `src/` changes):
 *
 * - {@link wrap} times a method of the task database or job queue (calls, items, elapsed) and
 *   labels every SQL statement it causes, through `AsyncLocalStorage`, with its name;
 * - {@link instrumentSqlite} times each statement inside better-sqlite3 (unless told not to),
 *   BEGIN and COMMIT, and the wait for the connection's mutex.
 *
 * It relies on internals of the SQLite `SqlDatabase` (`allSync`, `runSync`, `db`): if they
 * change, statement timing reports nothing rather than failing. Costs about a microsecond a
 * statement, so headline figures are measured without it.
 */
export class DbProfiler {
  private readonly als = new AsyncLocalStorage<string>();
  private readonly ops = new Map<string, OpStats>();
  private readonly sql = new Map<string, SqlStats>();
  private readonly statements = new Map<
    string,
    { op: string; sql: string; count: number; ms: number }
  >();
  private slow: SlowCommit[] = [];

  /** COMMITs over 2 ms so far, with when they ended (performance.now()). */
  get slowCommits(): readonly SlowCommit[] {
    return this.slow;
  }

  private label(): string {
    return this.als.getStore() ?? 'other';
  }

  private sqlStats(op: string): SqlStats {
    let s = this.sql.get(op);
    if (!s) {
      s = {
        statements: 0,
        ms: 0,
        transactions: 0,
        commitMs: 0,
        commitMaxMs: 0,
        slowCommits: 0,
        mutexWaitMs: 0,
      };
      this.sql.set(op, s);
    }
    return s;
  }

  private recordOp(label: string, ms: number, items: number): void {
    let s = this.ops.get(label);
    if (!s) {
      s = { calls: 0, items: 0, elapsedMs: 0, maxMs: 0 };
      this.ops.set(label, s);
    }
    s.calls++;
    s.items += items;
    s.elapsedMs += ms;
    if (ms > s.maxMs) s.maxMs = ms;
  }

  private recordStatement(sql: string, ms: number): void {
    const op = this.label();
    const s = this.sqlStats(op);
    s.statements++;
    s.ms += ms;
    const key = `${op}\u0000${statementKey(sql)}`;
    let st = this.statements.get(key);
    if (!st) {
      st = { op, sql: statementKey(sql), count: 0, ms: 0 };
      this.statements.set(key, st);
    }
    st.count++;
    st.ms += ms;
  }

  /**
   * Replaces `obj[name]` (an async method) with a timed one that labels the SQL it causes.
   * `count` tells how many items a call carried.
   */
  wrap<O extends object>(
    obj: O,
    name: keyof O & string,
    label: string,
    count?: (args: unknown[], result: unknown) => number,
  ): void {
    const target = obj as unknown as Record<string, unknown>;
    const original = target[name];
    if (typeof original !== 'function') throw new Error(`${label}: ${name} is not a method`);
    const fn = original as AnyFn;
    target[name] = (...args: unknown[]): unknown => {
      const t0 = performance.now();
      return this.als.run(label, () =>
        Promise.resolve(fn.apply(obj, args)).then(
          (result) => {
            this.recordOp(label, performance.now() - t0, count?.(args, result) ?? 0);
            return result;
          },
          (e: unknown) => {
            this.recordOp(label, performance.now() - t0, 0);
            throw e;
          },
        ),
      );
    };
  }

  /** Times every statement, BEGIN/COMMIT and mutex wait of a SQLite `SqlDatabase`. */
  instrumentSqlite(sql: SqlDatabase, options: { statements?: boolean } = {}): boolean {
    const inner = sql as unknown as SqliteInternals;
    if (!inner.allSync || !inner.runSync || !inner.db || sql.dialect !== 'sqlite') return false;
    const names = options.statements === false ? [] : (['allSync', 'runSync'] as const);
    for (const name of names) {
      const original = inner[name]!.bind(inner);
      inner[name] = (text: string, params: readonly SqlParam[]): unknown => {
        const t0 = performance.now();
        try {
          return original(text, params);
        } finally {
          this.recordStatement(text, performance.now() - t0);
        }
      };
    }
    const raw = inner.db;
    const exec = raw.exec.bind(raw);
    raw.exec = (text: string): unknown => {
      const t0 = performance.now();
      try {
        return exec(text);
      } finally {
        const ms = performance.now() - t0;
        const s = this.sqlStats(this.label());
        s.ms += ms;
        if (text === 'COMMIT') {
          s.commitMs += ms;
          if (ms > s.commitMaxMs) s.commitMaxMs = ms;
          if (ms > 2) {
            s.slowCommits++;
            if (this.slow.length < 1_000) this.slow.push({ op: this.label(), endAt: t0 + ms, ms });
          }
        }
        if (text.startsWith('BEGIN')) s.transactions++;
      }
    };
    const transaction = sql.transaction.bind(sql);
    sql.transaction = <T>(fn: Parameters<SqlDatabase['transaction']>[0]): Promise<T> => {
      const called = performance.now();
      const op = this.label();
      return transaction((tx) => {
        this.sqlStats(op).mutexWaitMs += performance.now() - called;
        return fn(tx) as Promise<T>;
      }) as Promise<T>;
    };
    return true;
  }

  /** Forgets everything recorded so far (the instrumentation stays). */
  reset(): void {
    this.ops.clear();
    this.sql.clear();
    this.statements.clear();
    this.slow = [];
  }

  /** Everything recorded so far, times rounded to microseconds. */
  report(top = 12): DbProfileReport {
    const ops: Record<string, OpStats> = {};
    for (const [k, v] of [...this.ops].sort((a, b) => b[1].elapsedMs - a[1].elapsedMs))
      ops[k] = { ...v, elapsedMs: round(v.elapsedMs), maxMs: round(v.maxMs) };
    const sqlByOp: Record<string, SqlStats> = {};
    for (const [k, v] of [...this.sql].sort((a, b) => b[1].ms - a[1].ms))
      sqlByOp[k] = {
        statements: v.statements,
        ms: round(v.ms),
        transactions: v.transactions,
        commitMs: round(v.commitMs),
        commitMaxMs: round(v.commitMaxMs),
        slowCommits: v.slowCommits,
        mutexWaitMs: round(v.mutexWaitMs),
      };
    const topStatements = [...this.statements.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map((s) => ({ ...s, ms: round(s.ms), meanUs: round((s.ms / s.count) * 1000, 1) }));
    return { ops, sqlByOp, topStatements };
  }
}
