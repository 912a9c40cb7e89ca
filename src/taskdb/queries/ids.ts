import type { SqlExecutor } from '../../core/index.js';

/** The id spaces of the task database. */
export type IdSpace = 'job' | 'task' | 'attempt' | 'product' | 'version';

/**
 * The id spaces the hot paths allocate from as every attempt starts and ends. Where the engine
 * has sequences (`DialectProfile.sequenceIds`) they come from one, lock-free, and are not
 * consecutive: see {@link allocateIdList}.
 */
export type HotIdSpace = 'attempt' | 'version';

/** The sequence of each hot id space (migration 0002), owned by its table's id column. */
const SEQUENCES: Record<HotIdSpace, string> = {
  attempt: 'eas_attempts_id_seq',
  version: 'eas_versions_id_seq',
};

/**
 * Reserves `n` consecutive ids in one statement and returns the first. The counter row is
 * locked until the transaction ends, which is what makes the block exclusive; on SQLite the
 * IMMEDIATE transaction already serialises writers, on PostgreSQL concurrent submitters wait
 * for each other only for the length of one transaction.
 */
export async function allocateIds(
  tx: SqlExecutor,
  space: Exclude<IdSpace, HotIdSpace>,
  n: number,
): Promise<number> {
  return reserveBlock(tx, space, n);
}

/**
 * Reserves `n` ids of a hot space, increasing but not necessarily consecutive. On PostgreSQL
 * they come from a sequence: `nextval` takes no lock that lasts, whereas the counter row of
 * {@link allocateIds} stays locked until the transaction commits — a commit that waits for its
 * disk flush would hold every other worker's commit behind it. On SQLite, one writer at a
 * time, they are a consecutive block from the counter.
 */
export async function allocateIdList(
  tx: SqlExecutor,
  space: HotIdSpace,
  n: number,
): Promise<number[]> {
  if (n <= 0) return [];
  if (tx.profile.sequenceIds) {
    const rows = await tx.all<{ id: number }>(
      `SELECT nextval('${SEQUENCES[space]}') AS id FROM generate_series(1, CAST(? AS INTEGER))`,
      [n],
    );
    return rows.map((r) => Number(r.id));
  }
  const first = await reserveBlock(tx, space, n);
  return Array.from({ length: n }, (_, i) => first + i);
}

/**
 * The id counters as a relation to read from, `(name, value)`: where the hot spaces come from
 * sequences, their value is the sequence's (the last id handed out), so a copy of the database
 * carries the same counters whichever engine it goes to.
 */
export function countersRelation(tx: SqlExecutor): string {
  if (!tx.profile.sequenceIds) return 'eas_counters';
  const cases = Object.entries(SEQUENCES)
    .map(
      ([space, seq]) =>
        `WHEN '${space}' THEN greatest(value, (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM ${seq}))`,
    )
    .join(' ');
  return `(SELECT name, CASE name ${cases} ELSE value END AS value FROM eas_counters) AS eas_counters`;
}

async function reserveBlock(tx: SqlExecutor, space: IdSpace, n: number): Promise<number> {
  if (n <= 0) return 0;
  const row = await tx.get<{ value: number }>(
    'UPDATE eas_counters SET value = value + ? WHERE name = ? RETURNING value',
    [n, space],
  );
  if (!row) throw new Error(`id counter ${space} missing: the task database is not migrated`);
  return Number(row.value) - n + 1;
}

/** Splits `ids` into chunks that fit one statement's parameter limit (leaving room for others). */
export function chunks<T>(items: readonly T[], size = 900): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
