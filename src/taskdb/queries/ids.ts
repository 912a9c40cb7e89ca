import type { SqlExecutor } from '../../core/index.js';

/** The id spaces of the task database. */
export type IdSpace = 'job' | 'task' | 'attempt' | 'product' | 'version';

/**
 * Reserves `n` consecutive ids in one statement and returns the first. The counter row is
 * locked until the transaction ends, which is what makes the block exclusive; on SQLite the
 * IMMEDIATE transaction already serialises writers, on PostgreSQL concurrent submitters wait
 * for each other only for the length of one transaction.
 */
export async function allocateIds(tx: SqlExecutor, space: IdSpace, n: number): Promise<number> {
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
