import type { SqlExecutor } from '../../src/core/index.js';

/**
 * The same executor with `serverLifecycle` off, in its transactions too: a task database over
 * it takes the general, statement-by-statement lifecycle paths (those SQLite uses) on
 * PostgreSQL.
 */
export function generalPath<T extends SqlExecutor>(ex: T): T {
  return Object.create(ex, {
    profile: { value: { ...ex.profile, serverLifecycle: false } },
    transaction: {
      value: <R>(fn: (tx: SqlExecutor) => Promise<R>) =>
        ex.transaction((tx) => fn(generalPath(tx))),
    },
  }) as T;
}
