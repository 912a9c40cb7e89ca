/**
 * BLS on worker threads: the same numbers as in the calling thread whatever the split, the
 * calling thread left free during the search, aborts that stop the threads, and errors
 * raised before any thread starts.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  autoPeriodGrid,
  boxLeastSquares,
  type BoxLeastSquaresResult,
} from '../../src/science/bls.js';
import {
  boxLeastSquaresInThreads,
  closeBlsThreads,
  MIN_PERIODS_PER_SHARE,
} from '../../src/science/bls-threads.js';
import { EasError } from '../../src/core/index.js';
import { readLightCurveGz, SECONDS_PER_DAY } from '../../src/science/index.js';

const LIGHT_CURVE = fileURLToPath(
  new URL('../../../shared/data/test_task_configs/test_data/demo_superearth.gz', import.meta.url),
);
const DURATIONS = new Float64Array([0.05, 0.1, 0.15, 0.2]);

function demo(): { t: Float64Array; y: Float64Array } {
  const lc = readLightCurveGz(LIGHT_CURVE);
  return { t: lc.time.map((t) => t / SECONDS_PER_DAY), y: lc.flux };
}

const ARRAYS = [
  'power',
  'depth',
  'depthErr',
  'depthSnr',
  'logLikelihood',
  'duration',
  'transitTime',
] as const;

/** Every per-period value equal as Object.is sees it (NaN equals NaN, bit for bit otherwise). */
function expectIdentical(a: BoxLeastSquaresResult, b: BoxLeastSquaresResult): void {
  for (const key of ARRAYS) {
    const x = a[key];
    const y = b[key];
    expect(x.length, key).toBe(y.length);
    let differing = 0;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) differing++;
    expect(differing, `${key}: periods whose value differs`).toBe(0);
  }
  expect(a.bestIndex).toBe(b.bestIndex);
  expect(a.bestPeriod).toBe(b.bestPeriod);
}

afterAll(() => closeBlsThreads());

describe('boxLeastSquaresInThreads', () => {
  const { t, y } = demo();

  it('gives the calling thread’s numbers exactly, split in 1, 2 and 3 shares', async () => {
    const periods = autoPeriodGrid(t, DURATIONS, {
      minimumPeriod: 1,
      maximumPeriod: 120,
      frequencyFactor: 150,
    });
    expect(periods.length).toBeGreaterThanOrEqual(3 * MIN_PERIODS_PER_SHARE);
    const here = boxLeastSquares(t, y, undefined, periods, DURATIONS);
    for (const threads of [1, 2, 3]) {
      const there = await boxLeastSquaresInThreads(t, y, undefined, periods, DURATIONS, {
        threads,
      });
      expectIdentical(there, here);
    }
    // So coarse a grid peaks on the 50-day planet or its half-period alias.
    const ratio = 50 / here.bestPeriod;
    expect(Math.abs(ratio - Math.round(ratio))).toBeLessThan(0.01);
  }, 60_000);

  it('matches with weights, unsorted samples and the snr objective', async () => {
    // Shuffle the samples (a fixed permutation) and give them uneven uncertainties.
    const n = t.length;
    const order = Array.from({ length: n }, (_, i) => (i * 7919) % n);
    const ts = Float64Array.from(order, (i) => t[i]!);
    const ys = Float64Array.from(order, (i) => y[i]!);
    const dy = Float64Array.from(order, (i) => 1e-4 * (1 + (i % 5)));
    const periods = autoPeriodGrid(t, DURATIONS, {
      minimumPeriod: 20,
      maximumPeriod: 80,
      frequencyFactor: 10,
    });
    expect(periods.length).toBeGreaterThanOrEqual(2 * MIN_PERIODS_PER_SHARE);
    for (const objective of ['likelihood', 'snr'] as const) {
      const here = boxLeastSquares(ts, ys, dy, periods, DURATIONS, { objective });
      const there = await boxLeastSquaresInThreads(ts, ys, dy, periods, DURATIONS, {
        objective,
        threads: 2,
      });
      expectIdentical(there, here);
    }
  }, 60_000);

  it('leaves the calling thread free while it searches', async () => {
    const periods = autoPeriodGrid(t, DURATIONS, {
      minimumPeriod: 1,
      maximumPeriod: 120,
      frequencyFactor: 40,
    });
    // A timer on this thread every 10 ms: were the search on this thread, the longest gap
    // between ticks would be the whole search.
    let last = performance.now();
    let longestGap = 0;
    let ticks = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
      ticks++;
    }, 10);
    const started = performance.now();
    try {
      await boxLeastSquaresInThreads(t, y, undefined, periods, DURATIONS);
    } finally {
      clearInterval(timer);
    }
    const searchMs = performance.now() - started;
    console.log(
      `search of ${periods.length} periods: ${searchMs.toFixed(0)} ms, ${ticks} ticks, longest gap ${longestGap.toFixed(0)} ms`,
    );
    expect(searchMs).toBeGreaterThan(400);
    expect(ticks).toBeGreaterThan(5);
    expect(longestGap).toBeLessThan(searchMs / 2);
  }, 60_000);

  it('stops on abort with the signal’s reason, and the pool runs the next search', async () => {
    const periods = autoPeriodGrid(t, DURATIONS, {
      minimumPeriod: 1,
      maximumPeriod: 120,
      frequencyFactor: 2,
    });
    const controller = new AbortController();
    const reason = new Error('cancelled by the test');
    const search = boxLeastSquaresInThreads(t, y, undefined, periods, DURATIONS, {
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(reason), 100);
    const started = performance.now();
    await expect(search).rejects.toBe(reason);
    // A search of this grid takes tens of seconds; the abort ends it at once.
    expect(performance.now() - started).toBeLessThan(5000);
    const small = autoPeriodGrid(t, DURATIONS, {
      minimumPeriod: 40,
      maximumPeriod: 60,
      frequencyFactor: 4,
    });
    const again = await boxLeastSquaresInThreads(t, y, undefined, small, DURATIONS);
    expectIdentical(again, boxLeastSquares(t, y, undefined, small, DURATIONS));
  }, 60_000);

  it('rejects an already aborted signal without starting', async () => {
    const controller = new AbortController();
    controller.abort(new Error('before'));
    const periods = Float64Array.from([10, 20]);
    await expect(
      boxLeastSquaresInThreads(t, y, undefined, periods, DURATIONS, { signal: controller.signal }),
    ).rejects.toThrow('before');
  });

  it('raises the errors of boxLeastSquares, and a bad thread count, as USAGE', async () => {
    const bad = [
      () =>
        boxLeastSquaresInThreads(t, y.subarray(1), undefined, Float64Array.from([10]), DURATIONS),
      () => boxLeastSquaresInThreads(t, y, undefined, Float64Array.from([0.1]), DURATIONS),
      () =>
        boxLeastSquaresInThreads(t, y, undefined, Float64Array.from([10]), DURATIONS, {
          threads: 0,
        }),
      () =>
        boxLeastSquaresInThreads(t, y, undefined, Float64Array.from([10]), DURATIONS, {
          threads: 1.5,
        }),
    ];
    for (const call of bad) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EasError);
      expect((err as EasError).code).toBe('USAGE');
    }
  });
});
