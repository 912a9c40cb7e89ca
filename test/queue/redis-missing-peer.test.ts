import { describe, expect, it, vi } from 'vitest';
import { isEasError } from '../../src/core/index.js';

describe('Redis queue without ioredis installed', () => {
  it('fails with MISSING_PEER and says which package to install', async () => {
    // Make `import('ioredis')` fail as it does when the optional peer is not installed.
    vi.doMock('ioredis', () => {
      throw new Error("Cannot find package 'ioredis'");
    });
    const { createRedisQueueBackend } = await import('../../src/queue/index.js');
    const error = await createRedisQueueBackend({ url: 'redis://127.0.0.1:6379' }).catch(
      (e: unknown) => e,
    );
    expect(isEasError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'MISSING_PEER' });
    expect((error as Error).message).toBe(
      'Redis support needs the "ioredis" package: run `npm i ioredis`.',
    );
    vi.doUnmock('ioredis');
  });
});
