import type { Knex } from 'knex';
import { EasError } from '../errors.js';
import type { Logger } from '../logger.js';

/** One schema step, compiled into the bundle (no files read at run time). */
export interface Migration {
  /** `NNNN-description`, recorded in the migrations table. */
  readonly name: string;
  /** Applies the step. */
  up(knex: Knex): Promise<void>;
  /** Reverts the step. */
  down(knex: Knex): Promise<void>;
}

/**
 * How long {@link runMigrations} keeps retrying when other processes migrate the same database
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
 * Brings a set of bundled migrations up to date, recorded in `tableName`. Cheap when nothing is
 * pending (one read of the migrations table); safe when several processes do it at once.
 *
 * @throws EasError `BACKEND_UNAVAILABLE` naming `what` when a migration fails or the race does not settle.
 */
export async function runMigrations(
  knex: Knex,
  migrations: readonly Migration[],
  tableName: string,
  what: string,
  logger: Logger,
): Promise<void> {
  const config: Knex.MigratorConfig = {
    tableName,
    migrationSource: {
      getMigrations: async () => [...migrations],
      getMigrationName: (m: Migration) => m.name,
      getMigration: async (m: Migration) => ({ up: m.up, down: m.down }),
    } as Knex.MigrationSource<unknown>,
  };
  const deadline = Date.now() + MIGRATE_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      const [, pending] = (await knex.migrate.list(config)) as [unknown[], unknown[]];
      if (pending.length === 0) return;
      const [, applied] = (await knex.migrate.latest(config)) as [number, string[]];
      if (applied.length > 0) logger.info({ migrations: applied }, `${what} migrations applied`);
      return;
    } catch (e) {
      if (isMigrationRace(e) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, Math.min(500, 10 * attempt) + Math.random() * 20));
        continue;
      }
      throw new EasError(
        'BACKEND_UNAVAILABLE',
        `Cannot migrate the ${what}: ${(e as Error).message}`,
        {
          cause: e,
          where: tableName,
        },
      );
    }
  }
}
