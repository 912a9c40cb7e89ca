import { join } from 'node:path';
import { describe } from 'vitest';
import { createSqlQueueBackend } from '../../src/queue/index.js';
import { freshPostgresSchema, postgresAvailable, tempDir } from '../helpers/services.js';
import { runQueueContract } from './queue-contract.js';

// Prints why the PostgreSQL suite is skipped, or throws under EAS_REQUIRE_SERVICES=1.
const postgres = await postgresAvailable();

describe('sql backend on SQLite', () => {
  runQueueContract('sql (SQLite file)', async () => {
    const dir = tempDir('eas-queue-');
    const backend = await createSqlQueueBackend({ sql: `sqlite:${join(dir.dir, 'eas.db')}` });
    return {
      backend,
      cleanup: async () => {
        await backend.close();
        dir.remove();
      },
    };
  });
});

describe.skipIf(!postgres)('sql backend on PostgreSQL', () => {
  runQueueContract('sql (PostgreSQL)', async () => {
    const schema = await freshPostgresSchema();
    const backend = await createSqlQueueBackend({ sql: schema.url });
    return {
      backend,
      cleanup: async () => {
        await backend.close();
        await schema.drop();
      },
    };
  });
});
