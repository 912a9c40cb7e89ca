import type { Knex } from 'knex';
import { runMigrations, type Logger, type Migration } from '../../../../core/index.js';
import * as m0001 from './0001-create-queue.js';

/** One schema step of the SQL queue. */
export type QueueMigration = Migration;

/**
 * Every migration of the SQL queue, oldest first. Append-only: a released migration is never
 * edited or reordered (databases in the field have recorded it as done); a schema change is a
 * new entry. Static imports put them in the bundle, so nothing is read from disk at run time.
 */
export const QUEUE_MIGRATIONS: readonly QueueMigration[] = [
  { name: '0001-create-queue', ...m0001 },
];

/**
 * Where knex records applied queue migrations. Separate from the task database's own table,
 * so both can live in one database file and migrate independently.
 */
export const QUEUE_MIGRATIONS_TABLE = 'eas_queue_migrations';

/**
 * Brings the queue's tables up to date. Cheap when they are; safe when several processes do it
 * at once.
 *
 * @throws EasError `BACKEND_UNAVAILABLE` when a migration fails or the race does not settle.
 */
export async function migrateQueue(knex: Knex, logger: Logger): Promise<void> {
  await runMigrations(knex, QUEUE_MIGRATIONS, QUEUE_MIGRATIONS_TABLE, 'SQL job queue', logger);
}
