import { join } from 'node:path';
import { createTaskDatabase } from '../../src/taskdb/index.js';
import { freshPostgresSchema, postgresAvailable, tempDir } from '../helpers/services.js';
import { runTaskDatabaseJobsContract } from './taskdb-jobs-contract.js';

runTaskDatabaseJobsContract('SQLite', async () => {
  const t = tempDir();
  const db = await createTaskDatabase({ url: `sqlite:${join(t.dir, 'eas.db')}` });
  return { db, cleanup: async () => t.remove() };
});

if (await postgresAvailable()) {
  runTaskDatabaseJobsContract('PostgreSQL', async () => {
    const s = await freshPostgresSchema();
    const db = await createTaskDatabase({ url: s.url });
    return { db, cleanup: s.drop };
  });
}
