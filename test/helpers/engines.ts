import { join } from 'node:path';
import { describe, it } from 'vitest';
import { createTaskDatabase, TaskDatabase } from '../../src/taskdb/index.js';
import { generalPath } from './general-path.js';
import { freshPostgresSchema, postgresAvailable, tempDir } from './services.js';

const pgOk = await postgresAvailable();

/** A task database of one engine, and how to remove it. */
type OpenDatabase = () => Promise<{ db: TaskDatabase; close: () => Promise<void> }>;

const ENGINES: [string, OpenDatabase, boolean][] = [
  [
    'on SQLite',
    async () => {
      const { dir, remove } = tempDir('eas-engine-');
      const db = await createTaskDatabase({ url: `sqlite:${join(dir, 'eas.db')}` });
      return {
        db,
        close: async () => {
          await db.close();
          remove();
        },
      };
    },
    true,
  ],
  [
    'on PostgreSQL',
    async () => {
      const schema = await freshPostgresSchema();
      const db = await createTaskDatabase({ url: schema.url });
      return {
        db,
        close: async () => {
          await db.close();
          await schema.drop();
        },
      };
    },
    pgOk,
  ],
];

/**
 * One test per case and engine (SQLite in a temporary directory; PostgreSQL in a fresh schema,
 * when it answers), each on a database of its own. On PostgreSQL each case runs again through
 * the general, statement-by-statement lifecycle paths (on SQLite they are the only ones).
 */
export function casesOnEachEngine(cases: [string, (db: TaskDatabase) => Promise<void>][]): void {
  for (const [engine, open, available] of ENGINES) {
    describe.runIf(available)(engine, () => {
      for (const [title, run] of cases) {
        it(title, async () => {
          const { db, close } = await open();
          try {
            await run(db);
            if (db.sql.profile.serverLifecycle) await run(new TaskDatabase(generalPath(db.sql)));
          } finally {
            await close();
          }
        });
      }
    });
  }
}
