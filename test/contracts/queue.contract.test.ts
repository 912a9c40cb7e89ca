import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe } from 'vitest';
import { createRedisQueueBackend, createSqlQueueBackend } from '../../src/queue/index.js';
import {
  REDIS_URL,
  freshPostgresSchema,
  postgresAvailable,
  redisAvailable,
  tempDir,
} from '../helpers/services.js';
import { runQueueContract } from './queue-contract.js';

// Print why the PostgreSQL or Redis suite is skipped, or throw under EAS_REQUIRE_SERVICES=1.
const postgres = await postgresAvailable();
const redis = await redisAvailable();

/** Deletes every key under `prefix:` (SCAN, not KEYS: the server may be shared). */
async function deleteRedisKeys(prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await client.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

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

describe.skipIf(!redis)('redis backend', () => {
  runQueueContract('redis', async () => {
    // A prefix of its own per test: tests never see each other's keys, and cleanup deletes
    // exactly this test's keys.
    const prefix = `eas-test-${randomBytes(6).toString('hex')}`;
    const backend = await createRedisQueueBackend({ url: REDIS_URL, prefix });
    return {
      backend,
      cleanup: async () => {
        await backend.close();
        await deleteRedisKeys(prefix);
      },
    };
  });
});
