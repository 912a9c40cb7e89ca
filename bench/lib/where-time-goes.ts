import type { EmbeddedRunResult } from './pipeline-run.js';
import { round } from './stats.js';

/** One operation's share of an instrumented run. */
export interface OpShare {
  calls: number;
  /** Mean items per call (attempts per claim/start/finish…). */
  itemsPerCall: number;
  /** Time inside SQLite statements (incl. BEGIN/COMMIT) caused by this operation, ms. */
  sqlMs: number;
  /** `sqlMs` per worker task, µs. */
  sqlUsPerTask: number;
  /** `sqlMs` as a share of the run's wall clock. */
  shareOfWall: number;
  statements: number;
  transactions: number;
  commitMs: number;
  commitMaxMs: number;
  /** COMMITs over 2 ms. */
  slowCommits: number;
  /** Time its transactions queued for the connection (another operation held it), ms. */
  mutexWaitMs: number;
  /** Mean elapsed per call (includes mutex waits and, for claims, waiting for work), ms. */
  meanElapsedMs: number;
}

/** Where an instrumented run's wall clock went. */
export interface TimeBreakdown {
  runMs: number;
  workerTasks: number;
  /** Wall clock per task, µs. */
  usPerTask: number;
  /** CPU of the process per task, µs (single-threaded: near `usPerTask` means CPU-bound). */
  cpuUsPerTask: number;
  /** All time inside SQLite, per task, µs. */
  sqlUsPerTask: number;
  /** CPU outside SQLite (harness, handlers, QC, queue façade, zod, promises, GC), per task, µs. */
  jsUsPerTask: number;
  byOperation: Record<string, OpShare>;
  topStatements: { op: string; sql: string; count: number; ms: number; meanUs: number }[];
}

/** Turns an instrumented run's profile into per-task figures. */
export function whereTimeGoes(r: EmbeddedRunResult): TimeBreakdown | undefined {
  const p = r.profile;
  if (!p) return undefined;
  const n = r.workerTasks;
  const byOperation: Record<string, OpShare> = {};
  let sqlTotal = 0;
  for (const [op, s] of Object.entries(p.sqlByOp)) {
    sqlTotal += s.ms;
    const o = p.ops[op];
    byOperation[op] = {
      calls: o?.calls ?? 0,
      itemsPerCall: o && o.calls ? round(o.items / o.calls, 1) : 0,
      sqlMs: round(s.ms, 1),
      sqlUsPerTask: round((s.ms / n) * 1000, 1),
      shareOfWall: round(s.ms / r.runMs, 3),
      statements: s.statements,
      transactions: s.transactions,
      commitMs: round(s.commitMs, 1),
      commitMaxMs: s.commitMaxMs,
      slowCommits: s.slowCommits,
      mutexWaitMs: round(s.mutexWaitMs, 1),
      meanElapsedMs: o && o.calls ? round(o.elapsedMs / o.calls, 3) : 0,
    };
  }
  const cpuMs = r.cpu.userMs + r.cpu.systemMs;
  return {
    runMs: r.runMs,
    workerTasks: n,
    usPerTask: round((r.runMs / n) * 1000, 1),
    cpuUsPerTask: round((cpuMs / n) * 1000, 1),
    sqlUsPerTask: round((sqlTotal / n) * 1000, 1),
    jsUsPerTask: round(((cpuMs - sqlTotal) / n) * 1000, 1),
    byOperation,
    topStatements: p.topStatements,
  };
}
