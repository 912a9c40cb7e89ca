import type { Knex } from 'knex';
import { EasError, type Logger } from '../../../../core/index.js';
import * as m0001 from './0001-create-queue.js';

/** One schema step of the SQL queue. */
export interface QueueMigration {
  /** `NNNN-description`, recorded in `eas_queue_migrations`. */
  readonly name: string;
  /** Applies the step. */
  up(knex: Knex): Promise<void>;
  /** Reverts the step. */
  down(knex: Knex): Promise<void>;
}

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

/** Serves {@link QUEUE_MIGRATIONS} to knex instead of a migrations directory. */
export const queueMigrationSource: Knex.MigrationSource<QueueMigration> = {
  getMigrations: async () => [...QUEUE_MIGRATIONS],
  getMigrationName: (migration) => migration.name,
  getMigration: async (migration) => ({ up: migration.up, down: migration.down }),
};

const MIGRATOR_CONFIG: Knex.MigratorConfig = {
  migrationSource: queueMigrationSource as Knex.MigrationSource<unknown>,
  tableName: QUEUE_MIGRATIONS_TABLE,
};

/**
 * How long {@link migrateQueue} keeps retrying when other processes migrate the same database
 * at the same moment (several workers starting together on one SQLite file). Knex creates its
 * bookkeeping tables outside its lock and reports a held lock as an error, so the losers of
 * that race retry; long enough for the winner to finish, short enough to surface a real fault.
 */
const MIGRATE_RETRY_MS = 30_000;

function isMigrationRace(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /already locked|already exists|SQLITE_BUSY|database is locked|duplicate key|unique constraint/i.test(
    message,
  );
}

/**
 * Brings the queue's tables up to date. Cheap when they are: one read of the migrations table.
 * Safe when several processes do it at once.
 *
 * @throws EasError `BACKEND_UNAVAILABLE` when a migration fails or the race does not settle.
 */
export async function migrateQueue(knex: Knex, logger: Logger): Promise<void> {
  const deadline = Date.now() + MIGRATE_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      const [, pending] = (await knex.migrate.list(MIGRATOR_CONFIG)) as [unknown[], unknown[]];
      if (pending.length === 0) return;
      const [, applied] = (await knex.migrate.latest(MIGRATOR_CONFIG)) as [number, string[]];
      if (applied.length > 0) logger.info({ migrations: applied }, 'queue migrations applied');
      return;
    } catch (e) {
      if (isMigrationRace(e) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, Math.min(500, 10 * attempt) + Math.random() * 20));
        continue;
      }
      throw new EasError(
        'BACKEND_UNAVAILABLE',
        `Cannot migrate the SQL job queue: ${(e as Error).message}`,
        {
          cause: e,
          where: QUEUE_MIGRATIONS_TABLE,
        },
      );
    }
  }
}
