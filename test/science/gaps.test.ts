import { describe, expect, it } from 'vitest';
import { findGaps } from '../../src/science/index.js';

describe('findGaps', () => {
  const full = Float64Array.from({ length: 1000 }, (_, i) => i * 900);

  it('finds no gaps on a regular raster', () => {
    const report = findGaps(full);
    expect(report.cadence).toBe(900);
    expect(report.gaps).toEqual([]);
    expect(report.expectedSamples).toBe(1000);
  });

  it('finds gaps where samples were removed', () => {
    const removed = new Set([10, 11, 12, 500, 700, 701]);
    const time = full.filter((_, i) => !removed.has(i));
    const report = findGaps(time);
    expect(report.cadence).toBe(900);
    expect(report.gaps).toEqual([
      { index: 9, start: 8100, end: 11_700, missingSamples: 3 },
      { index: 496, start: 449_100, end: 450_900, missingSamples: 1 },
      { index: 695, start: 629_100, end: 631_800, missingSamples: 2 },
    ]);
    expect(report.missingSamples).toBe(6);
    expect(report.expectedSamples).toBe(1000);
    expect(time.length + report.missingSamples).toBe(1000);
  });

  it('counts irregular and non-increasing steps, honours a given cadence', () => {
    const time = Float64Array.of(0, 900, 1900, 2800, 2800, 2700, 3600);
    const report = findGaps(time, 900);
    expect(report.irregularSteps).toBe(1); // 1000 s step
    expect(report.nonIncreasingSteps).toBe(2);
    expect(report.gaps).toEqual([]);
    expect(findGaps(full, 450).gaps).toHaveLength(999);
    expect(findGaps(Float64Array.of(5)).gaps).toEqual([]);
  });
});
