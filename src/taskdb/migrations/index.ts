import type { Knex } from 'knex';
import * as m0001 from './0001-initial.js';

/** One migration: a name and its up/down functions. */
export interface Migration {
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * The task database's migrations, in order. Append-only: a released migration is never
 * edited; a change is a new entry.
 */
export const TASKDB_MIGRATIONS: readonly Migration[] = [{ name: '0001-initial', ...m0001 }];

/**
 * A knex migration source serving migrations compiled into the bundle, so nothing is read
 * from disk at run time and `dist/` needs no copied assets.
 */
export class BundledMigrationSource implements Knex.MigrationSource<Migration> {
  constructor(private readonly migrations: readonly Migration[]) {}
  async getMigrations(): Promise<Migration[]> {
    return [...this.migrations];
  }
  getMigrationName(migration: Migration): string {
    return migration.name;
  }
  async getMigration(migration: Migration): Promise<Knex.Migration> {
    return { up: migration.up, down: migration.down };
  }
}
