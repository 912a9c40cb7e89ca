import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { isEasError, type EasError } from '../../src/core/index.js';
import {
  createJobQueue,
  createRedisQueueBackend,
  type QueueItem,
  type RedisQueueBackend,
  type RedisQueueBackendOptions,
} from '../../src/queue/index.js';
import { redisQueueBackendOptionsSchema } from '../../src/queue/options.js';
import { SCRIPT_FILES, loadScripts, luaDir } from '../../src/queue/backends/redis/scripts.js';
import { freePort, startPrivateRedis } from '../helpers/private-servers.js';
import { REDIS_URL, redisAvailable } from '../helpers/services.js';

const redis = await redisAvailable();
const LEASE = 30_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function freshPrefix(): string {
  return `eas-test-${randomBytes(6).toString('hex')}`;
}

/** Every key under `prefix:` on the server at `url`. */
async function keysOf(prefix: string, url = REDIS_URL): Promise<string[]> {
  const client = new Redis(url);
  try {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      found.push(...keys);
      cursor = next;
    } while (cursor !== '0');
    return found.sort();
  } finally {
    client.disconnect();
  }
}

/**
 * Every key under `prefix:` (named without the prefix) with its contents: hash fields, set
 * members (sorted), sorted-set members in order (without scores), list entries.
 */
async function dumpKeys(prefix: string): Promise<Record<string, unknown>> {
  const client = new Redis(REDIS_URL);
  try {
    const dump: Record<string, unknown> = {};
    for (const key of await keysOf(prefix)) {
      const name = key.slice(prefix.length + 1);
      const type = await client.type(key);
      if (type === 'hash') dump[name] = await client.hgetall(key);
      else if (type === 'set') dump[name] = (await client.smembers(key)).sort();
      else if (type === 'zset') dump[name] = await client.zrange(key, 0, -1);
      else if (type === 'list') dump[name] = await client.lrange(key, 0, -1);
      else dump[name] = `unexpected ${type}`;
    }
    return dump;
  } finally {
    client.disconnect();
  }
}

/** The `leased` zset of the queue under `prefix`: attempt id and lease end. */
async function leaseEnds(prefix: string): Promise<{ id: string; score: number }[]> {
  const client = new Redis(REDIS_URL);
  try {
    const flat = await client.zrange(`${prefix}:leased`, 0, -1, 'WITHSCORES');
    const out: { id: string; score: number }[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ id: flat[i]!, score: Number(flat[i + 1]) });
    return out;
  } finally {
    client.disconnect();
  }
}

async function deleteKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const keys = await keysOf(prefix, url);
  if (keys.length === 0) return;
  const client = new Redis(url);
  await client.unlink(...keys);
  client.disconnect();
}

/** A backend on the shared server with a fresh prefix (or the one given); cleaned up after the test. */
async function open(
  prefix = freshPrefix(),
  extra: Partial<RedisQueueBackendOptions> = {},
): Promise<RedisQueueBackend> {
  const backend = await createRedisQueueBackend({ url: REDIS_URL, prefix, ...extra });
  cleanups.push(async () => {
    await backend.close();
    await deleteKeys(prefix);
  });
  return backend;
}

function items(from: number, count: number, taskType = 'a', extra: Partial<QueueItem> = {}) {
  return Array.from({ length: count }, (_, i) => ({
    attemptId: from + i,
    taskType,
    jobId: 1,
    ...extra,
  }));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function rejection(promise: Promise<unknown>): Promise<EasError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isEasError(error), `expected an EasError, got ${String(error)}`).toBe(true);
  return error as EasError;
}

/** Records log lines, to check what the backend logs (and that no password is among them). */
function recordingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/** Tells whether a promise is still pending after `ms`. */
async function pendingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await sleep(ms);
  return !settled;
}

/** Calls per command since the server started (INFO commandstats), e.g. `{ evalsha: 3 }`. */
async function commandCalls(url: string): Promise<Record<string, number>> {
  const client = new Redis(url);
  try {
    const info = await client.info('commandstats');
    const calls: Record<string, number> = {};
    for (const m of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) calls[m[1]!] = Number(m[2]);
    return calls;
  } finally {
    client.disconnect();
  }
}

/** Waits until the server reports `count` clients blocked (BLPOP). */
async function waitForBlockedClients(url: string, count: number): Promise<void> {
  const client = new Redis(url);
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const info = await client.info('clients');
      if (Number(/blocked_clients:(\d+)/.exec(info)?.[1]) === count) return;
      if (Date.now() > deadline) throw new Error(`${count} clients never blocked: ${info}`);
      await sleep(20);
    }
  } finally {
    client.disconnect();
  }
}

describe('Redis queue options and scripts (no server needed)', () => {
  it('RedisQueueBackendOptions matches what its zod schema accepts', () => {
    expectTypeOf<RedisQueueBackendOptions>().toEqualTypeOf<
      z.input<typeof redisQueueBackendOptionsSchema>
    >();
  });

  it('rejects bad options with USAGE, naming the field but never echoing the URL', async () => {
    const badUrl = await rejection(
      createRedisQueueBackend({ url: 'http://user:hunter2@example.org' }),
    );
    expect(badUrl.code).toBe('USAGE');
    expect(badUrl.message).toContain('createRedisQueueBackend.options.url');
    expect(badUrl.message).not.toContain('hunter2');
    for (const prefix of ['a:b', '', 'has space']) {
      const error = await rejection(createRedisQueueBackend({ url: REDIS_URL, prefix }));
      expect(error.code).toBe('USAGE');
      expect(error.message).toContain('options.prefix');
    }
    const badTimeout = await rejection(
      createRedisQueueBackend({ url: REDIS_URL, commandTimeout: 'soon' }),
    );
    expect(badTimeout.code).toBe('USAGE');
    expect(badTimeout.message).toContain('options.commandTimeout');
  });

  it('keeps one Lua file per script, named verb-noun-<numKeys>.lua, each opening with KEYS, ARGV and Returns', async () => {
    const dir = luaDir();
    expect(dir.endsWith(join('src', 'queue', 'backends', 'redis', 'lua'))).toBe(true);
    const files = readdirSync(dir).filter((f) => f.endsWith('.lua'));
    expect(files.sort()).toEqual(Object.values(SCRIPT_FILES).sort());
    for (const file of files) {
      expect(file).toMatch(/^[a-z]+-[a-z]+-6\.lua$/);
      const text = readFileSync(join(dir, file), 'utf8');
      const header = text.slice(0, text.indexOf('--- @include'));
      expect(header, file).toMatch(/^-- [a-z]+-[a-z]+: /);
      expect(header, file).toContain('KEYS[1..6]');
      expect(header, file).toContain('ARGV');
      expect(header, file).toMatch(/-- Returns: /);
    }
    for (const script of await loadScripts()) {
      expect(script.lua, script.name).not.toMatch(/^--- @include/m);
      expect(script.lua, script.name).toContain('local function drop(id)');
      expect(script.numberOfKeys).toBe(6);
    }
  });

  it('fails with BACKEND_UNAVAILABLE within seconds when no server answers, without showing the password', async () => {
    const port = await freePort();
    const started = Date.now();
    const error = await rejection(
      createRedisQueueBackend({
        url: `redis://eas:hunter2@127.0.0.1:${port}`,
        connectTimeout: 2_000,
      }),
    );
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(error.code).toBe('BACKEND_UNAVAILABLE');
    expect(error.message).toContain(`redis://eas:***@127.0.0.1:${port}`);
    expect(error.message).not.toContain('hunter2');
    expect(error.where).toBe('queue.redis.url');
  });
});

describe.skipIf(!redis)('Redis queue backend', () => {
  it('refuses a database the server does not have, or a path that is no number, writing nothing (CONFIG_INVALID)', async () => {
    const prefix = freshPrefix();
    const outOfRange = await rejection(createRedisQueueBackend({ url: `${REDIS_URL}/99`, prefix }));
    expect(outOfRange.code).toBe('CONFIG_INVALID');
    expect(outOfRange.message).toMatch(/has no database 99 \(.*DB index is out of range/);
    const notANumber = await rejection(
      createRedisQueueBackend({ url: `${REDIS_URL}/abc`, prefix }),
    );
    expect(notANumber.code).toBe('CONFIG_INVALID');
    expect(notANumber.message).toContain('"abc" is not a database number');
    // Nothing of that queue went to database 0 instead.
    expect(await keysOf(prefix)).toEqual([]);
    // A database the server has is used.
    const q = await createRedisQueueBackend({ url: `${REDIS_URL}/3`, prefix });
    cleanups.push(async () => {
      await q.close();
      await deleteKeys(prefix, `${REDIS_URL}/3`);
    });
    await q.enqueue(items(1, 1));
    expect((await keysOf(prefix, `${REDIS_URL}/3`)).length).toBeGreaterThan(0);
    expect(await keysOf(prefix)).toEqual([]);
  });

  it('is what createJobQueue opens for { backend: "redis", url, prefix }', async () => {
    const prefix = freshPrefix();
    const queue = await createJobQueue({ backend: 'redis', url: REDIS_URL, prefix });
    cleanups.push(async () => {
      await queue.close();
      await deleteKeys(prefix);
    });
    expect(queue.backendName).toBe('redis');
    await queue.enqueue(items(1, 2));
    expect(await queue.counts()).toEqual({ a: { ready: 2, delayed: 0, leased: 0 } });
    expect((await keysOf(prefix)).length).toBeGreaterThan(0);
  });

  it('wakes a blocked claim when another connection enqueues, well before waitMs', async () => {
    const prefix = freshPrefix();
    const waiter = await open(prefix);
    const producer = await open(prefix);
    const claim = waiter.claim({
      owner: 'w',
      types: ['x', 'a'],
      max: 5,
      leaseMs: LEASE,
      waitMs: 20_000,
    });
    await sleep(200);
    const enqueuedAt = Date.now();
    await producer.enqueue(items(1, 3));
    const got = await claim;
    expect(got.map((i) => i.attemptId).sort()).toEqual([1, 2, 3]);
    expect(Date.now() - enqueuedAt).toBeLessThan(2_000);
  });

  it('wakes a blocked claim when a delayed item falls due, not before', async () => {
    const prefix = freshPrefix();
    const waiter = await open(prefix);
    const producer = await open(prefix);
    const claim = waiter.claim({
      owner: 'w',
      types: ['a'],
      max: 5,
      leaseMs: LEASE,
      waitMs: 20_000,
    });
    await sleep(100);
    const availableAt = Date.now() + 500;
    await producer.enqueue(items(1, 1, 'a', { availableAt }));
    const got = await claim;
    const at = Date.now();
    expect(got.map((i) => i.attemptId)).toEqual([1]);
    expect(at).toBeGreaterThanOrEqual(availableAt);
    expect(at - availableAt).toBeLessThan(2_000);
  });

  it('ends a blocked claim when its signal aborts or the backend closes', async () => {
    const q = await open();
    const controller = new AbortController();
    const started = Date.now();
    const aborted = q.claim({
      owner: 'w',
      types: ['a'],
      max: 1,
      leaseMs: LEASE,
      waitMs: 30_000,
      signal: controller.signal,
    });
    const closing = q.claim({ owner: 'v', types: ['b'], max: 1, leaseMs: LEASE, waitMs: 30_000 });
    await sleep(150);
    controller.abort();
    expect(await aborted).toEqual([]);
    expect(await pendingAfter(closing, 50)).toBe(true);
    await q.close();
    expect(await closing).toEqual([]);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('keeps queues with different prefixes apart on one server', async () => {
    const one = await open();
    const two = await open();
    const waiting = two.claim({ owner: 'w', types: ['a'], max: 5, leaseMs: LEASE, waitMs: 800 });
    await one.enqueue(items(1, 3));
    expect(await waiting).toEqual([]);
    expect(await two.counts()).toEqual({});
    expect(await two.has(1)).toBe(false);
    await two.clear();
    expect(await one.counts()).toEqual({ a: { ready: 3, delayed: 0, leased: 0 } });
    expect(await two.claim({ owner: 'w', types: ['a'], max: 5, leaseMs: LEASE })).toEqual([]);
    expect(await one.claim({ owner: 'w', types: ['a'], max: 5, leaseMs: LEASE })).toHaveLength(3);
  });

  it('leaves no key behind once every item is finished, and clear removes every key', async () => {
    const prefix = freshPrefix();
    const q = await open(prefix);
    await q.enqueue([
      ...items(1, 5, 'a', { jobId: 1 }),
      ...items(10, 5, 'b', { jobId: 2, availableAt: Date.now() + 60_000 }),
    ]);
    expect((await keysOf(prefix)).length).toBeGreaterThan(5);
    const got = await q.claim({ owner: 'w', types: ['a'], max: 5, leaseMs: LEASE });
    await q.complete(
      'w',
      got.map((i) => i.attemptId),
    );
    await q.removeJob(2);
    expect(await keysOf(prefix)).toEqual([]);

    await q.enqueue([
      ...items(1, 5, 'a'),
      ...items(10, 5, 'b', { availableAt: Date.now() + 60_000 }),
    ]);
    await q.claim({ owner: 'w', types: ['a'], max: 2, leaseMs: LEASE });
    await q.clear();
    expect(await keysOf(prefix)).toEqual([]);
  });

  it('adopt leaves the keys enqueue then claim leave (no wake token), and no key once finished', async () => {
    const viaClaim = freshPrefix();
    const viaAdopt = freshPrefix();
    const claimed = await open(viaClaim);
    const adopted = await open(viaAdopt);
    const batch = [
      ...items(1, 2, 'a', { jobId: 4, priority: 3, availableAt: 1_000 }),
      ...items(10, 1, 'b', { jobId: 5, availableAt: 1_000 }),
    ];
    const before = Date.now();
    await claimed.enqueue(batch);
    expect(
      await claimed.claim({ owner: 'w', types: ['a', 'b'], max: 10, leaseMs: LEASE }),
    ).toHaveLength(3);
    expect(await adopted.adopt('w', batch, LEASE)).toEqual([1, 2, 10]);
    const after = Date.now();
    const adoptedKeys = await dumpKeys(viaAdopt);
    expect(Object.keys(adoptedKeys).filter((k) => k.startsWith('wake:'))).toEqual([]);
    expect(adoptedKeys).toEqual(await dumpKeys(viaClaim));
    for (const { score } of await leaseEnds(viaAdopt)) {
      expect(score).toBeGreaterThanOrEqual(before + LEASE);
      expect(score).toBeLessThanOrEqual(after + LEASE);
    }
    expect(await adopted.complete('w', [1, 2, 10])).toEqual([1, 2, 10]);
    expect(await keysOf(viaAdopt)).toEqual([]);
  });

  it('claims every item exactly once with 4 concurrent claimers on their own connections (2,000 items)', async () => {
    const prefix = freshPrefix();
    const producer = await open(prefix);
    const claimers = await Promise.all(Array.from({ length: 4 }, () => open(prefix)));
    const total = 2_000;
    await producer.enqueue([...items(1, total / 2, 'a'), ...items(100_001, total / 2, 'b')]);
    const reports = await Promise.all(
      claimers.map(async (backend, w) => {
        const owner = `w${w}`;
        const claimed: number[] = [];
        const completed: number[] = [];
        let empty = 0;
        while (empty < 3) {
          const got = await backend.claim({
            owner,
            types: ['a', 'b'],
            max: 5,
            leaseMs: LEASE,
            waitMs: 100,
          });
          if (got.length === 0) {
            empty++;
            continue;
          }
          empty = 0;
          const ids = got.map((i) => i.attemptId);
          claimed.push(...ids);
          completed.push(...(await backend.complete(owner, ids)));
        }
        return { claimed, completed };
      }),
    );
    const claimed = reports.flatMap((r) => r.claimed);
    const completed = reports.flatMap((r) => r.completed);
    expect(claimed).toHaveLength(total);
    expect(new Set(claimed).size).toBe(total);
    expect(completed.sort((x, y) => x - y)).toEqual(claimed.sort((x, y) => x - y));
    for (const r of reports) expect(r.claimed.length).toBeGreaterThan(0);
    expect(await producer.counts()).toEqual({});
  });
});

describe.skipIf(!redis)('Redis queue backend on a private redis-server', () => {
  it('wakes one of several idle claimers per item, and idle claimers send nothing while they wait', async () => {
    const server = await startPrivateRedis({ password: `pw-${randomBytes(4).toString('hex')}` });
    cleanups.push(() => server.destroy());
    const url = server.url;
    const opened = await Promise.all(
      Array.from({ length: 5 }, () => createRedisQueueBackend({ url })),
    );
    cleanups.push(async () => {
      for (const b of opened) await b.close();
    });
    const [producer, ...waiters] = opened as [RedisQueueBackend, ...RedisQueueBackend[]];
    const claims = waiters.map((w, i) =>
      w.claim({ owner: `w${i}`, types: ['a'], max: 1, leaseMs: LEASE, waitMs: 20_000 }),
    );
    await waitForBlockedClients(url, waiters.length);
    const idleFrom = await commandCalls(url);
    await sleep(1_000);
    const idleTo = await commandCalls(url);
    // Blocked on BLPOP: no claim script and no new BLPOP in a second (the info calls aside).
    expect(idleTo.evalsha ?? 0).toBe(idleFrom.evalsha ?? 0);
    expect(idleTo.blpop ?? 0).toBe(idleFrom.blpop ?? 0);

    const enqueuedAt = Date.now();
    await producer.enqueue(items(1, 1));
    const first = await Promise.race(claims.map((c, i) => c.then((got) => ({ i, got }))));
    expect(Date.now() - enqueuedAt).toBeLessThan(2_000);
    expect(first.got.map((x) => x.attemptId)).toEqual([1]);
    const others = claims.filter((_, i) => i !== first.i);
    for (const c of others) expect(await pendingAfter(c, 100)).toBe(true);
    const after = await commandCalls(url);
    // One enqueue script and one claim script: the other three claimers were not woken.
    const scripts = (c: Record<string, number>) => (c.evalsha ?? 0) + (c.eval ?? 0);
    expect(scripts(after) - scripts(idleTo)).toBe(2);
    await producer.enqueue(items(2, 3));
    const rest = (await Promise.all(others)).flat();
    expect(rest.map((x) => x.attemptId).sort()).toEqual([2, 3, 4]);
  });

  it('fails calls with BACKEND_UNAVAILABLE while the server is down, then works again once it is back', async () => {
    const password = `pw-${randomBytes(4).toString('hex')}`;
    const server = await startPrivateRedis({ password });
    cleanups.push(() => server.destroy());
    const port = server.port;
    const { logger, lines } = recordingLogger();
    const backend = await createRedisQueueBackend({
      url: server.url,
      commandTimeout: 500,
      logger,
    });
    cleanups.push(() => backend.close());

    await backend.enqueue(items(1, 1));
    expect(await backend.claim({ owner: 'w', types: ['a'], max: 1, leaseMs: LEASE })).toHaveLength(
      1,
    );
    const blocked = backend.claim({
      owner: 'w',
      types: ['a'],
      max: 1,
      leaseMs: LEASE,
      waitMs: 30_000,
    });
    await sleep(100);

    await server.kill();
    const started = Date.now();
    const whileDown = await rejection(backend.counts());
    expect(whileDown.code).toBe('BACKEND_UNAVAILABLE');
    expect(whileDown.message).toContain(`redis://:***@127.0.0.1:${port}`);
    expect(Date.now() - started).toBeLessThan(3_000);
    const blockedError = await rejection(blocked);
    expect(blockedError.code).toBe('BACKEND_UNAVAILABLE');

    await server.start();
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await backend.counts();
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
      }
    }
    // The restarted server kept nothing (no persistence): the controller would re-queue from
    // the task database. New work flows again, including to a blocked claim.
    const waiting = backend.claim({
      owner: 'w',
      types: ['a'],
      max: 1,
      leaseMs: LEASE,
      waitMs: 10_000,
    });
    await sleep(100);
    await backend.enqueue(items(2, 1));
    expect((await waiting).map((i) => i.attemptId)).toEqual([2]);

    const log = lines.join('');
    expect(log).toContain('redis connection lost');
    expect(log).toContain('redis connection restored');
    expect(log).not.toContain(password);
  });
});
