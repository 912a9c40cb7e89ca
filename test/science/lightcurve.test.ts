import { describe, expect, it } from 'vitest';
import {
  createLightCurve,
  flagsAreMeaningful,
  goodSampleMask,
  isTimeSorted,
  lightCurveLength,
  medianCadence,
  sliceLightCurveByTime,
} from '../../src/science/index.js';

describe('LightCurve helpers', () => {
  const lc = createLightCurve({
    time: [0, 900, 1800, 2700, 5400],
    flux: [1, 2, 3, 4, 5],
    metadata: { star: 'x' },
  });

  it('defaults flag and uncertainty to zeros and checks column lengths', () => {
    expect(lightCurveLength(lc)).toBe(5);
    expect(Array.from(lc.flag)).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(lc.uncertainty)).toEqual([0, 0, 0, 0, 0]);
    expect(() => createLightCurve({ time: [0, 1], flux: [1] })).toThrow(/flux.*1 samples/);
  });

  it('checks sorting and computes the median cadence', () => {
    expect(isTimeSorted(lc.time)).toBe(true);
    expect(isTimeSorted(Float64Array.of(0, 1, 1), true)).toBe(false);
    expect(isTimeSorted(Float64Array.of(0, 2, 1))).toBe(false);
    expect(medianCadence(lc.time)).toBe(900);
    expect(medianCadence(Float64Array.of(3))).toBeNaN();
  });

  it('slices by time, half-open', () => {
    const s = sliceLightCurveByTime(lc, 900, 2700);
    expect(Array.from(s.time)).toEqual([900, 1800]);
    expect(Array.from(s.flux)).toEqual([2, 3]);
    expect(s.metadata).toEqual({ star: 'x' });
    const unsorted = createLightCurve({ time: [1800, 0, 900], flux: [3, 1, 2] });
    expect(Array.from(sliceLightCurveByTime(unsorted, 0, 1000).flux)).toEqual([1, 2]);
  });

  it('uses flags only when they are integers', () => {
    const flagged = createLightCurve({
      time: [0, 1, 2],
      flux: [1, Number.NaN, 1],
      flag: [0, 0, 1],
    });
    expect(flagsAreMeaningful(flagged)).toBe(true);
    expect(Array.from(goodSampleMask(flagged))).toEqual([1, 0, 0]);
    const legacy = createLightCurve({
      time: [0, 1],
      flux: [1.0001, 0.9999],
      flag: [1.0001, 0.9999],
    });
    expect(flagsAreMeaningful(legacy)).toBe(false);
    expect(Array.from(goodSampleMask(legacy))).toEqual([1, 1]);
  });
});
