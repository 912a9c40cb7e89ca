/**
 * The queue façade's quick argument checks (src/queue/options.ts) accept nothing their schemas
 * refuse: a value a quick check takes skips the schema, so a looser check would let bad input
 * through to a backend.
 */
import { describe, expect, it } from 'vitest';
import {
  attemptIdsSchema,
  leaseMsSchema,
  ownerSchema,
  quickCheck,
  queueItemSchema,
} from '../../src/queue/options.js';
import { z } from 'zod';

const item = { attemptId: 1, taskType: 'null', jobId: 2 };
const samples: unknown[] = [
  undefined,
  null,
  '',
  'w1',
  0,
  1,
  -1,
  1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  2 ** 53,
  '7',
  [],
  [1, 2, 3],
  [1, -2],
  [1, 2.5],
  [1, '2'],
  [Number.MAX_SAFE_INTEGER + 2],
  {},
  [item],
  [{ ...item, priority: -5, availableAt: 10 }],
  [{ ...item, priority: 0.5 }],
  [{ ...item, availableAt: -1 }],
  [{ ...item, taskType: '' }],
  [{ ...item, taskType: 3 }],
  [{ ...item, attemptId: -1 }],
  [{ ...item, jobId: undefined }],
  [[1, 'null', 2]],
  [null],
  [item, { ...item, attemptId: 'x' }],
  // Holes: `every` would skip them, a schema reads them as undefined.
  new Array(3),
  // eslint-disable-next-line no-sparse-arrays
  [1, , 2],
  // eslint-disable-next-line no-sparse-arrays
  [item, , item],
];

const pairs: [string, (v: unknown) => boolean, z.ZodType][] = [
  ['owner', quickCheck.owner, ownerSchema],
  ['leaseMs', quickCheck.leaseMs, leaseMsSchema],
  ['attemptIds', quickCheck.attemptIds, attemptIdsSchema],
  ['queueItems', quickCheck.queueItems, z.array(queueItemSchema)],
];

describe('quick argument checks', () => {
  it.each(pairs)(
    '%s accepts only what its schema accepts, and the ordinary valid cases',
    (_n, quick, schema) => {
      const accepted = samples.filter((v) => quick(v));
      expect(accepted.length).toBeGreaterThan(0);
      for (const v of accepted) expect(schema.safeParse(v).success).toBe(true);
    },
  );

  it('takes the hot path’s usual arguments without the schema', () => {
    expect(quickCheck.attemptIds([1, 2, 3])).toBe(true);
    expect(quickCheck.queueItems([item, { ...item, attemptId: 9, priority: 3 }])).toBe(true);
    expect(quickCheck.owner('host:1:abc')).toBe(true);
    expect(quickCheck.leaseMs(30_000)).toBe(true);
    expect(quickCheck.attemptIds([1, -2])).toBe(false);
    expect(quickCheck.queueItems([{ ...item, taskType: '' }])).toBe(false);
    expect(quickCheck.attemptIds(new Array(2))).toBe(false);
  });
});
