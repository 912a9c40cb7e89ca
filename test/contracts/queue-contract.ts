import { afterEach, describe, expect, it } from 'vitest';
import { isEasError } from '../../src/core/index.js';
import type { LeasedItem, QueueBackend, QueueItem } from '../../src/queue/index.js';

/** A backend under test and how to dispose of it (close it, drop its schema, remove its file). */
export interface QueueBackendFixture {
  backend: QueueBackend;
  cleanup(): Promise<void>;
}

const LEASE = 30_000;

function items(
  from: number,
  count: number,
  taskType = 'a',
  extra: Partial<QueueItem> = {},
): QueueItem[] {
  return Array.from({ length: count }, (_, i) => ({
    attemptId: from + i,
    taskType,
    jobId: 1,
    ...extra,
  }));
}

function ids(leased: readonly LeasedItem[]): number[] {
  return leased.map((i) => i.attemptId);
}

function sorted(values: readonly number[]): number[] {
  return [...values].sort((x, y) => x - y);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function expectClosed(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isEasError(error), `expected an EasError, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe('CLOSED');
}

/**
 * The semantics every {@link QueueBackend} must show (the contract in queue-backend.ts), run
 * against each backend by test/contracts/queue.contract.test.ts. `makeBackend` returns a fresh,
 * empty backend per test.
 */
export function runQueueContract(
  name: string,
  makeBackend: () => Promise<QueueBackendFixture>,
): void {
  describe(`QueueBackend contract: ${name}`, () => {
    const fixtures: QueueBackendFixture[] = [];
    const open = async (): Promise<QueueBackend> => {
      const fixture = await makeBackend();
      fixtures.push(fixture);
      return fixture.backend;
    };
    afterEach(async () => {
      for (const f of fixtures.splice(0)) await f.cleanup();
    });

    describe('enqueue', () => {
      it('makes items claimable with the defaults priority 0 and availableAt now', async () => {
        const q = await open();
        const before = Date.now();
        await q.enqueue([{ attemptId: 7, taskType: 'a', jobId: 3 }]);
        expect(await q.has(7)).toBe(true);
        const [item, ...rest] = await q.claim({
          owner: 'w1',
          types: ['a'],
          max: 10,
          leaseMs: LEASE,
        });
        const after = Date.now();
        expect(rest).toEqual([]);
        expect(item).toMatchObject({
          attemptId: 7,
          taskType: 'a',
          jobId: 3,
          priority: 0,
          owner: 'w1',
        });
        expect(item!.availableAt).toBeGreaterThanOrEqual(before);
        expect(item!.availableAt).toBeLessThanOrEqual(after);
        expect(item!.leaseExpiresAt).toBeGreaterThanOrEqual(before + LEASE);
        expect(item!.leaseExpiresAt).toBeLessThanOrEqual(after + LEASE);
      });

      it('is idempotent: an attempt id already queued keeps its first type, job and priority', async () => {
        const q = await open();
        await q.enqueue([{ attemptId: 1, taskType: 'a', jobId: 1, priority: 3 }]);
        await q.enqueue([{ attemptId: 1, taskType: 'b', jobId: 2, priority: 9 }]);
        await q.enqueue([
          { attemptId: 2, taskType: 'a', jobId: 1 },
          { attemptId: 2, taskType: 'a', jobId: 1 },
        ]);
        expect(await q.counts()).toEqual({ a: { ready: 2, delayed: 0, leased: 0 } });
        const claimed = await q.claim({ owner: 'w', types: ['a', 'b'], max: 10, leaseMs: LEASE });
        expect(claimed.map((i) => [i.attemptId, i.taskType, i.jobId, i.priority])).toEqual([
          [1, 'a', 1, 3],
          [2, 'a', 1, 0],
        ]);
      });

      it('does not make a leased item ready again when it is enqueued again', async () => {
        const q = await open();
        await q.enqueue(items(1, 1));
        expect(ids(await q.claim({ owner: 'w1', types: ['a'], max: 1, leaseMs: LEASE }))).toEqual([
          1,
        ]);
        await q.enqueue(items(1, 1));
        expect(await q.claim({ owner: 'w2', types: ['a'], max: 1, leaseMs: LEASE })).toEqual([]);
        expect(await q.counts()).toEqual({ a: { ready: 0, delayed: 0, leased: 1 } });
      });

      it('accepts an empty list', async () => {
        const q = await open();
        await q.enqueue([]);
        expect(await q.counts()).toEqual({});
      });

      it('handles batches larger than one statement (6,000 items enqueued, claimed, completed)', async () => {
        const q = await open();
        await q.enqueue(items(1, 6_000));
        expect((await q.counts()).a).toEqual({ ready: 6_000, delayed: 0, leased: 0 });
        const claimed = await q.claim({ owner: 'w', types: ['a'], max: 6_000, leaseMs: LEASE });
        expect(new Set(ids(claimed)).size).toBe(6_000);
        expect((await q.extend('w', ids(claimed), LEASE)).length).toBe(6_000);
        const done = await q.complete('w', ids(claimed));
        expect(sorted(done)).toEqual(sorted(ids(claimed)));
        expect(await q.counts()).toEqual({});
      });
    });

    describe('adopt', () => {
      it('adds items leased by the owner: counted as leased, present, claimable by nobody', async () => {
        const q = await open();
        expect(await q.adopt('w1', items(1, 3), LEASE)).toEqual([1, 2, 3]);
        expect(await q.counts()).toEqual({ a: { ready: 0, delayed: 0, leased: 3 } });
        for (const id of [1, 2, 3]) expect(await q.has(id)).toBe(true);
        expect(await q.claim({ owner: 'w2', types: ['a'], max: 10, leaseMs: LEASE })).toEqual([]);
        expect(
          await q.claim({ owner: 'w2', types: ['a'], max: 10, leaseMs: LEASE, waitMs: 0 }),
        ).toEqual([]);
        expect(await q.claim({ owner: 'w1', types: ['a'], max: 10, leaseMs: LEASE })).toEqual([]);
        expect(await q.counts()).toEqual({ a: { ready: 0, delayed: 0, leased: 3 } });
      });

      it('stores the item as claimed by the owner, lease ending at now + leaseMs, reclaimed after it', async () => {
        const q = await open();
        const availableAt = Date.now() - 5_000;
        const before = Date.now();
        expect(
          await q.adopt(
            'w1',
            [{ attemptId: 7, taskType: 'a', jobId: 3, priority: 4, availableAt }],
            1_000,
          ),
        ).toEqual([7]);
        const after = Date.now();
        expect(await q.reclaimExpired(before + 500)).toEqual([]);
        const [item, ...rest] = await q.reclaimExpired(after + 1_001);
        expect(rest).toEqual([]);
        expect(item).toMatchObject({
          attemptId: 7,
          taskType: 'a',
          jobId: 3,
          priority: 4,
          availableAt,
          owner: 'w1',
        });
        expect(item!.leaseExpiresAt).toBeGreaterThanOrEqual(before + 1_000);
        expect(item!.leaseExpiresAt).toBeLessThanOrEqual(after + 1_000);
        expect(await q.has(7)).toBe(false);
        expect(await q.counts()).toEqual({});
        expect(await q.complete('w1', [7])).toEqual([]);
      });

      it('defaults priority to 0 and availableAt to now', async () => {
        const q = await open();
        const before = Date.now();
        await q.adopt('w1', items(1, 1), LEASE);
        const after = Date.now();
        const [item] = await q.releaseOwner('w1');
        expect(item).toMatchObject({ attemptId: 1, priority: 0, owner: 'w1' });
        expect(item!.availableAt).toBeGreaterThanOrEqual(before);
        expect(item!.availableAt).toBeLessThanOrEqual(after);
      });

      it('reclaimExpired returns adopted items once their lease ran out', async () => {
        const q = await open();
        await q.adopt('short', items(1, 2), 20);
        await q.adopt('long', items(10, 1), LEASE);
        await sleep(60);
        const reclaimed = await q.reclaimExpired();
        expect(sorted(ids(reclaimed))).toEqual([1, 2]);
        expect(reclaimed.every((i) => i.owner === 'short')).toBe(true);
        expect(await q.counts()).toEqual({ a: { ready: 0, delayed: 0, leased: 1 } });
      });

      it('lets the owner extend, complete and fail adopted items, and no other owner', async () => {
        const q = await open();
        await q.adopt('w1', items(1, 3), 1_000);
        expect(await q.extend('w2', [1, 2, 3], 60_000)).toEqual([]);
        expect(await q.complete('w2', [1, 2, 3])).toEqual([]);
        expect(await q.fail('w2', [1, 2, 3])).toEqual([]);
        expect((await q.counts()).a).toEqual({ ready: 0, delayed: 0, leased: 3 });
        const before = Date.now();
        expect(sorted(await q.extend('w1', [1, 2, 3], 60_000))).toEqual([1, 2, 3]);
        expect(await q.reclaimExpired(before + 5_000)).toEqual([]);
        expect(await q.complete('w1', [1])).toEqual([1]);
        expect(await q.fail('w1', [2])).toEqual([2]);
        expect(await q.has(1)).toBe(false);
        expect(await q.has(2)).toBe(false);
        expect((await q.counts()).a).toEqual({ ready: 0, delayed: 0, leased: 1 });
        const reclaimed = await q.reclaimExpired(before + 120_000);
        expect(ids(reclaimed)).toEqual([3]);
        expect(reclaimed[0]!.leaseExpiresAt).toBeGreaterThanOrEqual(before + 60_000);
      });

      it('releaseOwner returns adopted items along with the owner’s claimed ones', async () => {
        const q = await open();
        await q.enqueue(items(1, 2));
        const claimed = ids(await q.claim({ owner: 'w1', types: ['a'], max: 1, leaseMs: LEASE }));
        await q.adopt('w1', items(10, 2, 'b'), LEASE);
        await q.adopt('w2', items(20, 1, 'b'), LEASE);
        const released = await q.releaseOwner('w1');
        expect(sorted(ids(released))).toEqual(sorted([...claimed, 10, 11]));
        expect(released.every((i) => i.owner === 'w1')).toBe(true);
        expect(await q.counts()).toEqual({
          a: { ready: 1, delayed: 0, leased: 0 },
          b: { ready: 0, delayed: 0, leased: 1 },
        });
        expect(await q.releaseOwner('w1')).toEqual([]);
      });

      it('leaves an id already queued (ready, delayed or leased) as it is and does not return it', async () => {
        const q = await open();
        await q.enqueue([
          { attemptId: 1, taskType: 'a', jobId: 1, priority: 2 },
          { attemptId: 2, taskType: 'a', jobId: 1, availableAt: Date.now() + 60_000 },
          { attemptId: 3, taskType: 'a', jobId: 1 },
        ]);
        const [held] = await q.claim({ owner: 'w2', types: ['a'], max: 1, leaseMs: LEASE });
        expect(held!.attemptId).toBe(1);
        await q.enqueue([{ attemptId: 4, taskType: 'a', jobId: 1 }]);
        expect(await q.adopt('w1', items(1, 5, 'b', { jobId: 5, priority: 9 }), LEASE)).toEqual([
          5,
        ]);
        expect(await q.counts()).toEqual({
          a: { ready: 3, delayed: 1, leased: 1 },
          b: { ready: 0, delayed: 0, leased: 1 },
        });
        expect(await q.complete('w1', [1, 2, 3, 4])).toEqual([]);
        const claimed = await q.claim({ owner: 'w3', types: ['a', 'b'], max: 10, leaseMs: LEASE });
        expect(claimed.map((i) => [i.attemptId, i.taskType, i.jobId, i.priority])).toEqual([
          [3, 'a', 1, 0],
          [4, 'a', 1, 0],
        ]);
        expect(await q.complete('w2', [1])).toEqual([1]);
        // Adopting again, even by the holder itself, changes nothing and returns nothing.
        expect(await q.adopt('w1', items(5, 1, 'b', { jobId: 5 }), LEASE)).toEqual([]);
        expect(await q.adopt('w3', items(3, 1), LEASE)).toEqual([]);
      });

      it('adds an id repeated in one call once', async () => {
        const q = await open();
        expect(await q.adopt('w1', [...items(1, 2), ...items(1, 2)], LEASE)).toEqual([1, 2]);
        expect(await q.counts()).toEqual({ a: { ready: 0, delayed: 0, leased: 2 } });
      });

      it('wakes no blocked claimer: a claim waiting on that type returns nothing', async () => {
        const q = await open();
        const claim = q.claim({ owner: 'w2', types: ['a'], max: 5, leaseMs: LEASE, waitMs: 300 });
        await sleep(50);
        expect(await q.adopt('w1', items(1, 3), LEASE)).toEqual([1, 2, 3]);
        expect(await claim).toEqual([]);
        expect(await q.counts()).toEqual({ a: { ready: 0, delayed: 0, leased: 3 } });
      });

      it('leaves a waiting claim waiting for real work, which it then receives', async () => {
        const q = await open();
        const claim = q.claim({
          owner: 'w2',
          types: ['a'],
          max: 5,
          leaseMs: LEASE,
          waitMs: 10_000,
        });
        await sleep(50);
        await q.adopt('w1', items(1, 3), LEASE);
        await sleep(50);
        await q.enqueue(items(10, 1));
        expect(ids(await claim)).toEqual([10]);
        expect(await q.complete('w1', [1, 2, 3])).toEqual([1, 2, 3]);
      });

      it('remove and removeJob remove adopted items', async () => {
        const q = await open();
        await q.adopt(
          'w1',
          [...items(1, 2, 'a', { jobId: 1 }), ...items(10, 2, 'a', { jobId: 2 })],
          LEASE,
        );
        await q.removeJob(1);
        expect(await q.has(1)).toBe(false);
        expect(await q.has(2)).toBe(false);
        expect(await q.has(10)).toBe(true);
        expect(await q.complete('w1', [1, 2])).toEqual([]);
        expect(await q.counts()).toEqual({ a: { ready: 0, delayed: 0, leased: 2 } });
        await q.remove([10]);
        expect(await q.has(10)).toBe(false);
        expect(await q.extend('w1', [10], LEASE)).toEqual([]);
        expect(sorted(ids(await q.releaseOwner('w1')))).toEqual([11]);
        expect(await q.counts()).toEqual({});
      });

      it('accepts an empty list', async () => {
        const q = await open();
        expect(await q.adopt('w1', [], LEASE)).toEqual([]);
        expect(await q.counts()).toEqual({});
      });

      it('handles batches larger than one statement, skipping the ids already queued', async () => {
        const q = await open();
        const queued = Array.from({ length: 25 }, (_, i) => 1 + i * 100);
        await q.enqueue(queued.map((attemptId) => ({ attemptId, taskType: 'a', jobId: 1 })));
        const adopted = await q.adopt('w', items(1, 2_500), LEASE);
        const expected = items(1, 2_500)
          .map((i) => i.attemptId)
          .filter((id) => !queued.includes(id));
        expect(adopted).toEqual(expected);
        expect((await q.counts()).a).toEqual({ ready: 25, delayed: 0, leased: 2_475 });
        expect(sorted(await q.complete('w', adopted))).toEqual(expected);
        expect((await q.counts()).a).toEqual({ ready: 25, delayed: 0, leased: 0 });
      });
    });

    describe('claim', () => {
      it('leases items so a second claimer does not receive them', async () => {
        const q = await open();
        await q.enqueue(items(1, 3));
        const first = await q.claim({ owner: 'w1', types: ['a'], max: 2, leaseMs: LEASE });
        const second = await q.claim({ owner: 'w2', types: ['a'], max: 5, leaseMs: LEASE });
        expect(first).toHaveLength(2);
        expect(second).toHaveLength(1);
        expect(new Set([...ids(first), ...ids(second)])).toEqual(new Set([1, 2, 3]));
        expect(second[0]!.owner).toBe('w2');
        expect(await q.claim({ owner: 'w3', types: ['a'], max: 5, leaseMs: LEASE })).toEqual([]);
      });

      it('never delivers one item twice to concurrent claimers', async () => {
        const q = await open();
        await q.enqueue(items(1, 200));
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, w) =>
            q.claim({ owner: `w${w}`, types: ['a'], max: 7, leaseMs: LEASE }),
          ),
        );
        const all = results.flatMap(ids);
        expect(all).toHaveLength(new Set(all).size);
        expect(all).toHaveLength(84);
        const rest = await q.claim({ owner: 'x', types: ['a'], max: 500, leaseMs: LEASE });
        expect(new Set([...all, ...ids(rest)]).size).toBe(200);
      });

      it('honours max', async () => {
        const q = await open();
        await q.enqueue(items(1, 20));
        expect(await q.claim({ owner: 'w', types: ['a'], max: 3, leaseMs: LEASE })).toHaveLength(3);
        expect(await q.claim({ owner: 'w', types: ['a'], max: 1, leaseMs: LEASE })).toHaveLength(1);
        expect(await q.claim({ owner: 'w', types: ['a'], max: 100, leaseMs: LEASE })).toHaveLength(
          16,
        );
      });

      it('returns only items of the requested task types', async () => {
        const q = await open();
        await q.enqueue([...items(1, 3, 'a'), ...items(10, 3, 'b'), ...items(20, 3, 'c')]);
        const got = await q.claim({ owner: 'w', types: ['a', 'c'], max: 10, leaseMs: LEASE });
        expect(new Set(got.map((i) => i.taskType))).toEqual(new Set(['a', 'c']));
        expect(got).toHaveLength(6);
        expect(await q.claim({ owner: 'w', types: ['nope'], max: 10, leaseMs: LEASE })).toEqual([]);
        expect((await q.counts()).b).toEqual({ ready: 3, delayed: 0, leased: 0 });
      });

      it('claims the highest priority first within a task type', async () => {
        const q = await open();
        await q.enqueue([
          { attemptId: 1, taskType: 'a', jobId: 1, priority: 0 },
          { attemptId: 2, taskType: 'a', jobId: 1, priority: 5 },
          { attemptId: 3, taskType: 'a', jobId: 1, priority: -1 },
          { attemptId: 4, taskType: 'a', jobId: 2, priority: 10 },
          { attemptId: 5, taskType: 'a', jobId: 2 },
        ]);
        const order: number[] = [];
        for (let i = 0; i < 5; i++) {
          const [item] = await q.claim({ owner: 'w', types: ['a'], max: 1, leaseMs: LEASE });
          order.push(item!.priority);
        }
        expect(order).toEqual([10, 5, 0, 0, -1]);
      });

      it('returns a multi-item claim in priority order', async () => {
        const q = await open();
        await q.enqueue([
          { attemptId: 1, taskType: 'a', jobId: 1, priority: 1 },
          { attemptId: 2, taskType: 'a', jobId: 1, priority: 3 },
          { attemptId: 3, taskType: 'a', jobId: 1, priority: 2 },
        ]);
        const got = await q.claim({ owner: 'w', types: ['a'], max: 3, leaseMs: LEASE });
        expect(got.map((i) => i.priority)).toEqual([3, 2, 1]);
      });

      it('does not claim an item before its availableAt, then does', async () => {
        const q = await open();
        const availableAt = Date.now() + 400;
        await q.enqueue([{ attemptId: 1, taskType: 'a', jobId: 1, availableAt }, ...items(2, 1)]);
        expect((await q.counts()).a).toEqual({ ready: 2, delayed: 1, leased: 0 });
        expect(ids(await q.claim({ owner: 'w', types: ['a'], max: 5, leaseMs: LEASE }))).toEqual([
          2,
        ]);
        expect(await q.claim({ owner: 'w', types: ['a'], max: 5, leaseMs: LEASE })).toEqual([]);
        await sleep(availableAt - Date.now() + 20);
        const later = await q.claim({ owner: 'w', types: ['a'], max: 5, leaseMs: LEASE });
        expect(ids(later)).toEqual([1]);
        expect(later[0]!.availableAt).toBe(availableAt);
      });

      it('is fair across task types: with max 1 both busy types progress', async () => {
        const q = await open();
        await q.enqueue([...items(1, 100, 'a'), ...items(1_001, 100, 'b')]);
        const seen = { a: 0, b: 0 };
        for (let i = 0; i < 20; i++) {
          for (const item of await q.claim({
            owner: 'w',
            types: ['a', 'b'],
            max: 1,
            leaseMs: LEASE,
          })) {
            seen[item.taskType as 'a' | 'b']++;
          }
        }
        expect(seen.a + seen.b).toBe(20);
        expect(seen.a).toBeGreaterThanOrEqual(5);
        expect(seen.b).toBeGreaterThanOrEqual(5);
      });

      it('is fair across task types whatever their priorities: a low-priority type is not starved', async () => {
        const q = await open();
        await q.enqueue([
          ...items(1, 100, 'hi', { priority: 100 }),
          ...items(1_001, 100, 'lo', { priority: -100 }),
        ]);
        const seen = { hi: 0, lo: 0 };
        for (let i = 0; i < 10; i++) {
          for (const item of await q.claim({
            owner: 'w',
            types: ['hi', 'lo'],
            max: 2,
            leaseMs: LEASE,
          })) {
            seen[item.taskType as 'hi' | 'lo']++;
          }
        }
        expect(seen.hi).toBeGreaterThanOrEqual(5);
        expect(seen.lo).toBeGreaterThanOrEqual(5);
      });

      it('fills max from the other types when one type has less work than its share', async () => {
        const q = await open();
        await q.enqueue([...items(1, 10, 'a'), ...items(100, 1, 'b')]);
        const got = await q.claim({ owner: 'w', types: ['a', 'b', 'c'], max: 6, leaseMs: LEASE });
        expect(got).toHaveLength(6);
        expect(got.filter((i) => i.taskType === 'b')).toHaveLength(1);
      });

      it('ignores duplicate task types in the request', async () => {
        const q = await open();
        await q.enqueue(items(1, 4));
        expect(
          await q.claim({ owner: 'w', types: ['a', 'a'], max: 4, leaseMs: LEASE }),
        ).toHaveLength(4);
      });
    });

    describe('extend', () => {
      it('pushes the lease of the owner’s items and returns the ids still held', async () => {
        const q = await open();
        await q.enqueue(items(1, 3));
        const got = await q.claim({ owner: 'w1', types: ['a'], max: 2, leaseMs: 1_000 });
        const held = ids(got);
        const before = Date.now();
        expect(sorted(await q.extend('w1', [...held, 3, 999], 60_000))).toEqual(sorted(held));
        // Past the first lease's end but before the extended one's: nothing expired.
        expect(await q.reclaimExpired(before + 5_000)).toEqual([]);
        const reclaimed = await q.reclaimExpired(before + 120_000);
        expect(sorted(ids(reclaimed))).toEqual(sorted(held));
        expect(reclaimed[0]!.leaseExpiresAt).toBeGreaterThanOrEqual(before + 60_000);
      });

      it('returns nothing for another owner and leaves the lease as it was', async () => {
        const q = await open();
        await q.enqueue(items(1, 1));
        const [item] = await q.claim({ owner: 'w1', types: ['a'], max: 1, leaseMs: 1_000 });
        expect(await q.extend('w2', [1], 60_000)).toEqual([]);
        const reclaimed = await q.reclaimExpired(item!.leaseExpiresAt + 1);
        expect(ids(reclaimed)).toEqual([1]);
        expect(reclaimed[0]!.owner).toBe('w1');
      });

      it('lets the owner keep a lease that ran out but was not reclaimed yet', async () => {
        const q = await open();
        await q.enqueue(items(1, 1));
        await q.claim({ owner: 'w1', types: ['a'], max: 1, leaseMs: 20 });
        await sleep(60);
        expect(await q.extend('w1', [1], 60_000)).toEqual([1]);
        expect(await q.reclaimExpired()).toEqual([]);
      });

      it('accepts an empty id list', async () => {
        const q = await open();
        expect(await q.extend('w1', [], 1_000)).toEqual([]);
      });
    });

    describe('complete and fail', () => {
      for (const op of ['complete', 'fail'] as const) {
        it(`${op} removes the owner’s items and returns the ids the owner held`, async () => {
          const q = await open();
          await q.enqueue(items(1, 4));
          const got = await q.claim({ owner: 'w1', types: ['a'], max: 3, leaseMs: LEASE });
          const ready = [1, 2, 3, 4].find((id) => !ids(got).includes(id))!;
          const done = await q[op]('w1', [...ids(got), ready, 999]);
          expect(sorted(done)).toEqual(sorted(ids(got)));
          for (const id of ids(got)) expect(await q.has(id)).toBe(false);
          expect(await q.has(ready)).toBe(true);
          expect(await q[op]('w1', ids(got))).toEqual([]);
        });

        it(`${op} by another owner returns nothing and keeps the lease`, async () => {
          const q = await open();
          await q.enqueue(items(1, 1));
          await q.claim({ owner: 'w1', types: ['a'], max: 1, leaseMs: LEASE });
          expect(await q[op]('w2', [1])).toEqual([]);
          expect(await q.has(1)).toBe(true);
          expect((await q.counts()).a).toEqual({ ready: 0, delayed: 0, leased: 1 });
          expect(await q[op]('w1', [1])).toEqual([1]);
        });
      }

      it('complete after the item was reclaimed returns nothing', async () => {
        const q = await open();
        await q.enqueue(items(1, 1));
        const [item] = await q.claim({ owner: 'w1', types: ['a'], max: 1, leaseMs: 10 });
        expect(ids(await q.reclaimExpired(item!.leaseExpiresAt + 1))).toEqual([1]);
        expect(await q.complete('w1', [1])).toEqual([]);
      });
    });

    describe('reclaimExpired', () => {
      it('returns and removes leased items whose lease ended, leaving the others', async () => {
        const q = await open();
        await q.enqueue(items(1, 4));
        await q.claim({ owner: 'short', types: ['a'], max: 2, leaseMs: 30 });
        await q.claim({ owner: 'long', types: ['a'], max: 1, leaseMs: LEASE });
        expect(await q.reclaimExpired(Date.now() - 1_000)).toEqual([]);
        await sleep(80);
        const reclaimed = await q.reclaimExpired();
        expect(reclaimed).toHaveLength(2);
        for (const item of reclaimed) {
          expect(item.owner).toBe('short');
          expect(item.leaseExpiresAt).toBeLessThan(Date.now());
          expect(await q.has(item.attemptId)).toBe(false);
        }
        expect(await q.reclaimExpired()).toEqual([]);
        expect((await q.counts()).a).toEqual({ ready: 1, delayed: 0, leased: 1 });
      });

      it('never reclaims ready items', async () => {
        const q = await open();
        await q.enqueue(items(1, 3));
        expect(await q.reclaimExpired(Date.now() + 10 * LEASE)).toEqual([]);
        expect((await q.counts()).a!.ready).toBe(3);
      });

      it('honours max', async () => {
        const q = await open();
        await q.enqueue(items(1, 5));
        await q.claim({ owner: 'w', types: ['a'], max: 5, leaseMs: 10 });
        const later = Date.now() + 1_000;
        expect(await q.reclaimExpired(later, 2)).toHaveLength(2);
        expect(await q.reclaimExpired(later)).toHaveLength(3);
      });

      it('hands an expired item to only one of two concurrent reapers', async () => {
        const q = await open();
        await q.enqueue(items(1, 50));
        await q.claim({ owner: 'w', types: ['a'], max: 50, leaseMs: 10 });
        const later = Date.now() + 1_000;
        const [r1, r2] = await Promise.all([q.reclaimExpired(later), q.reclaimExpired(later)]);
        const all = [...ids(r1!), ...ids(r2!)];
        expect(all).toHaveLength(50);
        expect(new Set(all).size).toBe(50);
      });
    });

    describe('releaseOwner, remove, removeJob, clear', () => {
      it('releaseOwner removes and returns only that owner’s leased items', async () => {
        const q = await open();
        await q.enqueue(items(1, 6));
        const dead = await q.claim({ owner: 'dead', types: ['a'], max: 2, leaseMs: LEASE });
        await q.claim({ owner: 'alive', types: ['a'], max: 2, leaseMs: LEASE });
        const released = await q.releaseOwner('dead');
        expect(sorted(ids(released))).toEqual(sorted(ids(dead)));
        expect(released.every((i) => i.owner === 'dead')).toBe(true);
        expect((await q.counts()).a).toEqual({ ready: 2, delayed: 0, leased: 2 });
        expect(await q.releaseOwner('dead')).toEqual([]);
      });

      it('remove deletes ready and leased items by id and ignores unknown ids', async () => {
        const q = await open();
        await q.enqueue(items(1, 4));
        const [leased] = ids(await q.claim({ owner: 'w', types: ['a'], max: 1, leaseMs: LEASE }));
        const ready = [1, 2, 3, 4].filter((id) => id !== leased);
        await q.remove([leased!, ready[0]!, 12_345]);
        expect(await q.has(leased!)).toBe(false);
        expect(await q.has(ready[0]!)).toBe(false);
        expect(await q.complete('w', [leased!])).toEqual([]);
        expect((await q.counts()).a).toEqual({ ready: 2, delayed: 0, leased: 0 });
        await q.remove([]);
        expect((await q.counts()).a).toEqual({ ready: 2, delayed: 0, leased: 0 });
      });

      it('removeJob deletes every item of one job, ready or leased', async () => {
        const q = await open();
        await q.enqueue([...items(1, 3, 'a', { jobId: 1 }), ...items(10, 3, 'b', { jobId: 2 })]);
        await q.claim({ owner: 'w', types: ['a', 'b'], max: 2, leaseMs: LEASE });
        await q.removeJob(1);
        for (const id of [1, 2, 3]) expect(await q.has(id)).toBe(false);
        for (const id of [10, 11, 12]) expect(await q.has(id)).toBe(true);
        expect(Object.keys(await q.counts())).toEqual(['b']);
      });

      it('clear removes everything', async () => {
        const q = await open();
        await q.enqueue([...items(1, 3, 'a'), ...items(10, 3, 'b')]);
        await q.claim({ owner: 'w', types: ['a'], max: 2, leaseMs: LEASE });
        await q.clear();
        expect(await q.counts()).toEqual({});
        expect(await q.has(1)).toBe(false);
        expect(await q.claim({ owner: 'w', types: ['a', 'b'], max: 10, leaseMs: LEASE })).toEqual(
          [],
        );
      });
    });

    describe('counts and has', () => {
      it('counts ready, delayed and leased items per task type', async () => {
        const q = await open();
        await q.enqueue([
          ...items(1, 4, 'a'),
          ...items(10, 2, 'a', { availableAt: Date.now() + 60_000 }),
          ...items(20, 1, 'b'),
        ]);
        await q.claim({ owner: 'w', types: ['a'], max: 3, leaseMs: LEASE });
        expect(await q.counts()).toEqual({
          a: { ready: 3, delayed: 2, leased: 3 },
          b: { ready: 1, delayed: 0, leased: 0 },
        });
      });

      it('has is true for ready and leased items and false otherwise', async () => {
        const q = await open();
        await q.enqueue(items(1, 2));
        await q.claim({ owner: 'w', types: ['a'], max: 1, leaseMs: LEASE });
        expect(await q.has(1)).toBe(true);
        expect(await q.has(2)).toBe(true);
        expect(await q.has(3)).toBe(false);
      });
    });

    describe('waiting claims', () => {
      it('wake up soon after an enqueue from the same process', async () => {
        const q = await open();
        const started = Date.now();
        const claim = q.claim({ owner: 'w', types: ['a'], max: 5, leaseMs: LEASE, waitMs: 10_000 });
        await sleep(100);
        const enqueuedAt = Date.now();
        await q.enqueue(items(1, 2));
        const got = await claim;
        expect(sorted(ids(got))).toEqual([1, 2]);
        expect(Date.now() - enqueuedAt).toBeLessThan(1_000);
        expect(Date.now() - started).toBeLessThan(5_000);
      });

      it('return nothing after waitMs when no work comes', async () => {
        const q = await open();
        await q.enqueue(items(1, 1, 'other'));
        const started = Date.now();
        expect(
          await q.claim({ owner: 'w', types: ['a'], max: 5, leaseMs: LEASE, waitMs: 300 }),
        ).toEqual([]);
        const elapsed = Date.now() - started;
        expect(elapsed).toBeGreaterThanOrEqual(280);
        expect(elapsed).toBeLessThan(3_000);
      });

      it('return at once when work is ready, whatever waitMs', async () => {
        const q = await open();
        await q.enqueue(items(1, 1));
        const started = Date.now();
        expect(
          await q.claim({ owner: 'w', types: ['a'], max: 5, leaseMs: LEASE, waitMs: 30_000 }),
        ).toHaveLength(1);
        expect(Date.now() - started).toBeLessThan(5_000);
      });

      it('end when their signal aborts, returning nothing', async () => {
        const q = await open();
        const controller = new AbortController();
        const started = Date.now();
        const claim = q.claim({
          owner: 'w',
          types: ['a'],
          max: 5,
          leaseMs: LEASE,
          waitMs: 30_000,
          signal: controller.signal,
        });
        setTimeout(() => controller.abort(), 100);
        expect(await claim).toEqual([]);
        expect(Date.now() - started).toBeLessThan(5_000);
      });

      it('return nothing at once for a signal already aborted', async () => {
        const q = await open();
        await q.enqueue(items(1, 1));
        const signal = AbortSignal.abort();
        expect(
          await q.claim({
            owner: 'w',
            types: ['a'],
            max: 5,
            leaseMs: LEASE,
            waitMs: 30_000,
            signal,
          }),
        ).toEqual([]);
        expect((await q.counts()).a!.ready).toBe(1);
      });

      it('end when the backend closes', async () => {
        const q = await open();
        const started = Date.now();
        const claim = q.claim({ owner: 'w', types: ['a'], max: 5, leaseMs: LEASE, waitMs: 30_000 });
        await sleep(100);
        await q.close();
        expect(await claim).toEqual([]);
        expect(Date.now() - started).toBeLessThan(5_000);
      });
    });

    describe('close', () => {
      it('makes every later call reject with CLOSED, and is idempotent', async () => {
        const q = await open();
        await q.enqueue(items(1, 1));
        await q.close();
        await q.close();
        await expectClosed(q.enqueue(items(2, 1)));
        await expectClosed(q.adopt('w', items(2, 1), LEASE));
        await expectClosed(q.adopt('w', [], LEASE));
        await expectClosed(q.claim({ owner: 'w', types: ['a'], max: 1, leaseMs: LEASE }));
        await expectClosed(q.extend('w', [1], LEASE));
        await expectClosed(q.complete('w', [1]));
        await expectClosed(q.fail('w', [1]));
        await expectClosed(q.reclaimExpired());
        await expectClosed(q.releaseOwner('w'));
        await expectClosed(q.remove([1]));
        await expectClosed(q.removeJob(1));
        await expectClosed(q.counts());
        await expectClosed(q.has(1));
        await expectClosed(q.clear());
      });
    });
  });
}
