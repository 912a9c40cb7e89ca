import {
  decodeTypedValue,
  deserializeTypedMetadata,
  placeholders,
  type SqlExecutor,
  type TypedMetadata,
} from '../../core/index.js';
import { Conditions } from './conditions.js';

/** One finished attempt with its timings: a row of `eas timings`. */
export interface TimingRow {
  jobId: number;
  taskId: number;
  path: string;
  name: string | null;
  taskType: string;
  attemptId: number;
  attempt: number;
  state: string;
  qc: string | null;
  host: string | null;
  queuedAt: number;
  startedAt: number | null;
  endedAt: number | null;
  /**
   * Time from queued to started, ms: for a finished attempt, to the moment its worker began
   * running it; for one still running or stalled, to the start the database recorded.
   */
  waitMs: number | null;
  wallMs: number | null;
  cpuMs: number | null;
  cpuChildrenMs: number | null;
  /** The task's metadata (loop parameters). */
  metadata: TypedMetadata;
}

/** One attempt that reported an `outcome`: a row of `eas pass-fail`. */
export interface OutcomeRow extends TimingRow {
  /** `PASS`, `FAIL` or `UNDEFINED` (DESIGN §6). */
  outcome: string;
  /** The attempt's other output metadata. */
  output: TypedMetadata;
}

const ATTEMPT_COLUMNS = `a.id, a.job_id, a.task_id, a.number, a.state, a.qc, a.host, a.queued_at, a.started_at, a.ended_at,
  a.wall_ms, a.cpu_ms, a.cpu_children_ms, t.path, t.name, t.type, t.metadata`;

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

function timingFromRow(r: Record<string, unknown>): TimingRow {
  const started = numOrNull(r.started_at);
  return {
    jobId: Number(r.job_id),
    taskId: Number(r.task_id),
    path: String(r.path),
    name: (r.name as string | null) ?? null,
    taskType: String(r.type),
    attemptId: Number(r.id),
    attempt: Number(r.number),
    state: String(r.state),
    qc: (r.qc as string | null) ?? null,
    host: (r.host as string | null) ?? null,
    queuedAt: Number(r.queued_at),
    startedAt: started,
    endedAt: numOrNull(r.ended_at),
    waitMs: started === null ? null : started - Number(r.queued_at),
    wallMs: numOrNull(r.wall_ms),
    cpuMs: numOrNull(r.cpu_ms),
    cpuChildrenMs: numOrNull(r.cpu_children_ms),
    metadata: deserializeTypedMetadata(String(r.metadata)),
  };
}

/** The conditions of a page of attempts (`a`) by job, after an id. */
function pageFilter(filter: { jobId?: number; afterId?: number }, always: string[]): Conditions {
  return new Conditions(always).equals('a.job_id', filter.jobId).after('a.id', filter.afterId);
}

/**
 * Finished attempts (not control flow) in attempt order, a page at a time (`afterId`), with
 * timings and the task's loop parameters.
 */
export async function timingRows(
  sql: SqlExecutor,
  filter: { jobId?: number; afterId?: number; limit?: number },
): Promise<TimingRow[]> {
  const c = pageFilter(filter, ["a.state IN ('succeeded', 'failed', 'stalled')", 't.control = 0']);
  const rows = await sql.all(
    `SELECT ${ATTEMPT_COLUMNS} FROM eas_attempts a JOIN eas_tasks t ON t.id = a.task_id
     ${c.whereClause()} ORDER BY a.id LIMIT ?`,
    [...c.params, filter.limit ?? 10_000],
  );
  return rows.map(timingFromRow);
}

/**
 * Attempts that passed QC and reported an `outcome`, with their loop parameters and other output
 * metadata. What an attempt that failed QC reported is no result, and is left out.
 */
export async function outcomeRows(
  sql: SqlExecutor,
  filter: { jobId?: number; afterId?: number; limit?: number },
): Promise<OutcomeRow[]> {
  const c = pageFilter(filter, [
    "m.owner_kind = 'attempt'",
    "m.key = 'outcome'",
    "a.qc = 'passed'",
  ]);
  const ids = (
    await sql.all<{ id: number }>(
      `SELECT a.id FROM eas_metadata m JOIN eas_attempts a ON a.id = m.owner_id ${c.whereClause()} ORDER BY a.id LIMIT ?`,
      [...c.params, filter.limit ?? 10_000],
    )
  ).map((r) => Number(r.id));
  if (ids.length === 0) return [];
  const timing = new Map<number, TimingRow>();
  const rows = await sql.all(
    `SELECT ${ATTEMPT_COLUMNS} FROM eas_attempts a JOIN eas_tasks t ON t.id = a.task_id
     WHERE a.id IN (${placeholders(ids.length)})`,
    ids,
  );
  for (const r of rows) timing.set(Number(r.id), timingFromRow(r));
  const output = new Map<number, TypedMetadata>();
  for (const m of await sql.all<{
    owner_id: number;
    key: string;
    type: string;
    value: string | null;
  }>(
    `SELECT owner_id, key, type, value FROM eas_metadata WHERE owner_kind = 'attempt' AND owner_id IN (${placeholders(ids.length)})`,
    ids,
  )) {
    const o = output.get(Number(m.owner_id)) ?? {};
    o[m.key] = decodeTypedValue(m.type, m.value);
    output.set(Number(m.owner_id), o);
  }
  return ids.map((id) => {
    const out = { ...(output.get(id) ?? {}) };
    const outcome = String(out.outcome?.value ?? 'UNDEFINED');
    delete out.outcome;
    return { ...timing.get(id)!, outcome, output: out };
  });
}
