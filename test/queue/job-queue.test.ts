import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import {
  EasError,
  InvalidInputError,
  isEasError,
  openSqlDatabase,
  type Logger,
} from '../../src/core/index.js';
import {
  JobQueue,
  createJobQueue,
  createSqlQueueBackend,
  type ItemsClaimedEvent,
  type ItemsEnqueuedEvent,
  type LeasesExpiredEvent,
  type QueueBackend,
  type SqlQueueBackendOptions,
} from '../../src/queue/index.js';
import { sqlQueueBackendOptionsSchema } from '../../src/queue/options.js';
import { REDIS_URL, redisAvailable, tempDir } from '../helpers/services.js';

const redis = await redisAvailable();

const LEASE = 30_000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function sqliteUrl(): string {
  const dir = tempDir('eas-job-queue-');
  cleanups.push(dir.remove);
  return `sqlite:${join(dir.dir, 'eas.db')}`;
}

async function sqlQueue(logger?: Logger): Promise<JobQueue> {
  const queue = await createJobQueue({ backend: 'sql', sql: sqliteUrl() }, { logger });
  cleanups.push(() => queue.close());
  return queue;
}

async function rejection(promise: Promise<unknown>): Promise<EasError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(isEasError(error)).toBe(true);
  return error as EasError;
}

describe('createJobQueue', () => {
  it('opens the SQL backend from a URL', async () => {
    const queue = await sqlQueue();
    expect(queue.backendName).toBe('sql');
    await queue.enqueue([{ attemptId: 1, taskType: 'a', jobId: 1 }]);
    const [item] = await queue.claim({ owner: 'w', types: ['a'], max: 1, leaseMs: LEASE });
    expect(await queue.complete('w', [item!.attemptId])).toEqual([1]);
  });

  it('shares a task database it is given and leaves it open on close', async () => {
    const db = await openSqlDatabase(sqliteUrl());
    cleanups.push(() => db.close());
    const queue = await createJobQueue({ backend: 'sql', sql: db });
    await queue.enqueue([{ attemptId: 1, taskType: 'a', jobId: 1 }]);
    await queue.close();
    expect(await db.get('SELECT attempt_id FROM eas_queue')).toEqual({ attempt_id: 1 });
  });

  it.skipIf(!redis)('builds the Redis backend from a URL', async () => {
    const queue = await createJobQueue({
      backend: 'redis',
      url: REDIS_URL,
      prefix: `jq${process.pid}x${Date.now()}`,
    });
    cleanups.push(async () => {
      await queue.clear();
      await queue.close();
    });
    expect(queue.backendName).toBe('redis');
    await queue.enqueue([{ attemptId: 1, taskType: 'a', jobId: 1 }]);
    const [item] = await queue.claim({ owner: 'w', types: ['a'], max: 1, leaseMs: LEASE });
    expect(item?.attemptId).toBe(1);
    expect(await queue.complete('w', [1])).toEqual([1]);
  });

  it('refuses an unknown backend with USAGE', async () => {
    const error = await rejection(createJobQueue({ backend: 'mysql' } as never));
    expect(error.code).toBe('USAGE');
    expect(error.message).toContain('"mysql"');
  });

  it('refuses a backend built by the caller that lacks methods, naming them', async () => {
    const inner = await createSqlQueueBackend({ sql: sqliteUrl() });
    cleanups.push(() => inner.close());
    // A backend written before `adopt` existed: every other method, under a name of its own.
    const old = new Proxy(inner, {
      get: (target, prop, receiver) =>
        prop === 'adopt'
          ? undefined
          : prop === 'name'
            ? 'old'
            : Reflect.get(target, prop, receiver),
    });
    const error = await rejection(createJobQueue({ backend: old }));
    expect(error.code).toBe('USAGE');
    expect(error.message).toBe(
      'The job-queue backend "old" lacks adopt: a backend implements every method of QueueBackend.',
    );
  });

  it('wraps a backend built by the caller and closes it on close', async () => {
    const inner = await createSqlQueueBackend({ sql: sqliteUrl() });
    const calls: string[] = [];
    const recording = recordingCalls(inner, calls, 'recording');
    const queue = await createJobQueue({ backend: recording });
    expect(queue.backendName).toBe('recording');
    await queue.enqueue([{ attemptId: 1, taskType: 'a', jobId: 1 }]);
    expect(await queue.has(1)).toBe(true);
    await queue.close();
    expect(calls).toEqual(['enqueue', 'has', 'close']);
    await expect(inner.counts()).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('forwards adopt to the backend, but not an empty list', async () => {
    const inner = await createSqlQueueBackend({ sql: sqliteUrl() });
    const calls: string[] = [];
    const recording = recordingCalls(inner, calls);
    const queue = await createJobQueue({ backend: recording });
    cleanups.push(() => queue.close());
    expect(await queue.adopt('w', [], LEASE)).toEqual([]);
    expect(calls).toEqual([]);
    expect(await queue.adopt('w', [{ attemptId: 1, taskType: 'a', jobId: 1 }], LEASE)).toEqual([1]);
    expect(calls).toEqual(['adopt']);
    expect(await queue.counts()).toEqual({ a: { ready: 0, delayed: 0, leased: 1 } });
  });
});

/** `inner` with each method call's name pushed to `calls`, and `name` in place of its own. */
function recordingCalls(inner: QueueBackend, calls: string[], name?: string): QueueBackend {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'name' && name !== undefined) return name;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

describe('JobQueue validation', () => {
  it('rejects a claim with no task types, max < 1 or leaseMs ≤ 0, naming each field', async () => {
    const queue = await sqlQueue();
    const error = await rejection(queue.claim({ owner: '', types: [], max: 0, leaseMs: 0 }));
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.code).toBe('USAGE');
    const paths = (error as InvalidInputError).problems.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'claim.request.owner',
        'claim.request.types',
        'claim.request.max',
        'claim.request.leaseMs',
      ]),
    );
  });

  it('rejects a bad item and enqueues nothing of the batch', async () => {
    const queue = await sqlQueue();
    const error = await rejection(
      queue.enqueue([
        { attemptId: 1, taskType: 'a', jobId: 1 },
        { attemptId: 2.5, taskType: '', jobId: 1 },
      ]),
    );
    expect(error.code).toBe('USAGE');
    expect((error as InvalidInputError).problems.map((p) => p.path)).toEqual([
      'enqueue.items.1.attemptId',
      'enqueue.items.1.taskType',
    ]);
    expect(await queue.counts()).toEqual({});
  });

  it('rejects a bad owner, id list or lease length on extend, complete, fail', async () => {
    const queue = await sqlQueue();
    expect((await rejection(queue.extend('w', [1], -5))).code).toBe('USAGE');
    expect((await rejection(queue.extend('', [1], 5))).code).toBe('USAGE');
    expect((await rejection(queue.complete('w', [-1]))).code).toBe('USAGE');
    expect((await rejection(queue.fail('w', ['x' as unknown as number]))).code).toBe('USAGE');
    expect((await rejection(queue.reclaimExpired(undefined, 0))).code).toBe('USAGE');
    expect((await rejection(queue.removeJob(Number.NaN))).code).toBe('USAGE');
  });

  it('rejects a bad owner, item or lease length on adopt, naming each field, and adopts nothing', async () => {
    const queue = await sqlQueue();
    const good = { attemptId: 1, taskType: 'a', jobId: 1 };
    const badItem = await rejection(
      queue.adopt('w', [good, { attemptId: -1, taskType: '', jobId: 1 }], LEASE),
    );
    expect(badItem).toBeInstanceOf(InvalidInputError);
    expect(badItem.code).toBe('USAGE');
    expect((badItem as InvalidInputError).problems.map((p) => p.path)).toEqual([
      'adopt.items.1.attemptId',
      'adopt.items.1.taskType',
    ]);
    expect((await rejection(queue.adopt('', [good], LEASE))).code).toBe('USAGE');
    const badLease = await rejection(queue.adopt('w', [good], 0));
    expect((badLease as InvalidInputError).problems.map((p) => p.path)).toEqual(['adopt.leaseMs']);
    expect(await queue.counts()).toEqual({});
  });
});

describe('JobQueue events and logs', () => {
  it('emits item:enqueued, item:claimed and lease:expired', async () => {
    const queue = await sqlQueue();
    const enqueued: ItemsEnqueuedEvent[] = [];
    const claimed: ItemsClaimedEvent[] = [];
    const expired: LeasesExpiredEvent[] = [];
    queue.on('item:enqueued', (e) => enqueued.push(e));
    queue.on('item:claimed', (e) => claimed.push(e));
    queue.on('lease:expired', (e) => expired.push(e));
    await queue.enqueue([
      { attemptId: 1, taskType: 'a', jobId: 1 },
      { attemptId: 2, taskType: 'a', jobId: 1 },
    ]);
    await queue.claim({ owner: 'w', types: ['a'], max: 1, leaseMs: 10 });
    await queue.claim({ owner: 'w', types: ['none'], max: 1, leaseMs: 10 });
    await queue.reclaimExpired(Date.now() + 1_000);
    expect(enqueued).toEqual([{ count: 2 }]);
    expect(claimed).toHaveLength(1);
    expect(claimed[0]!.owner).toBe('w');
    expect(claimed[0]!.items.map((i) => i.attemptId)).toEqual([1]);
    expect(expired).toHaveLength(1);
    expect(expired[0]!.items.map((i) => i.attemptId)).toEqual([1]);
  });

  it('off and once stop delivering events', async () => {
    const queue = await sqlQueue();
    let onceCalls = 0;
    let offCalls = 0;
    const listener = (): void => {
      offCalls++;
    };
    queue.once('item:enqueued', () => onceCalls++);
    queue.on('item:enqueued', listener);
    queue.off('item:enqueued', listener);
    await queue.enqueue([{ attemptId: 1, taskType: 'a', jobId: 1 }]);
    await queue.enqueue([{ attemptId: 2, taskType: 'a', jobId: 1 }]);
    expect(onceCalls).toBe(1);
    expect(offCalls).toBe(0);
  });

  it('a throwing listener does not fail the operation', async () => {
    const queue = await sqlQueue();
    queue.on('item:enqueued', () => {
      throw new Error('listener bug');
    });
    await queue.enqueue([{ attemptId: 1, taskType: 'a', jobId: 1 }]);
    expect(await queue.has(1)).toBe(true);
  });

  it('logs through a child logger bound to component queue and the backend', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n'))
          if (line) lines.push(JSON.parse(line));
        done();
      },
    });
    const queue = await sqlQueue(pino({ level: 'debug' }, sink));
    await queue.enqueue([{ attemptId: 1, taskType: 'a', jobId: 1 }]);
    await queue.clear();
    const cleared = lines.find((l) => l.msg === 'queue cleared');
    expect(cleared).toMatchObject({ component: 'queue', backend: 'sql' });
    expect(lines.find((l) => l.msg === 'items enqueued')).toMatchObject({
      count: 1,
      component: 'queue',
    });
  });
});

describe('JobQueue close', () => {
  it('rejects every later call with CLOSED; close is idempotent', async () => {
    const queue = await sqlQueue();
    await queue.close();
    await queue.close();
    for (const call of [
      () => queue.enqueue([{ attemptId: 1, taskType: 'a', jobId: 1 }]),
      () => queue.claim({ owner: 'w', types: ['a'], max: 1, leaseMs: LEASE }),
      () => queue.adopt('w', [], LEASE),
      () => queue.counts(),
      () => queue.clear(),
    ]) {
      expect((await rejection(call())).code).toBe('CLOSED');
    }
  });

  it('supports await using', async () => {
    let outer: JobQueue | undefined;
    {
      await using queue = await createJobQueue({ backend: 'sql', sql: sqliteUrl() });
      outer = queue;
      await queue.enqueue([{ attemptId: 1, taskType: 'a', jobId: 1 }]);
    }
    expect((await rejection(outer.counts())).code).toBe('CLOSED');
  });
});

describe('options types', () => {
  it('SqlQueueBackendOptions matches what its zod schema accepts', () => {
    expectTypeOf<SqlQueueBackendOptions>().toEqualTypeOf<
      z.input<typeof sqlQueueBackendOptionsSchema>
    >();
  });
});
