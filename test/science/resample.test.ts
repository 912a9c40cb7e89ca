import { describe, expect, it } from 'vitest';
import {
  binLightCurve,
  createLightCurve,
  readLightCurveGz,
  resampleDetailed,
  resampleFluxConserving,
} from '../../src/science/index.js';

const DEMO = new URL(
  '../../../shared/data/test_task_configs/test_data/demo_superearth.gz',
  import.meta.url,
);

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function raster(n: number, start: number, step: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => start + i * step);
}

describe('resampleFluxConserving', () => {
  const random = rng(42);
  const n = 5000;
  const source = createLightCurve({
    time: raster(n, 0, 900),
    flux: Float64Array.from({ length: n }, () => 1 + (random() - 0.5) * 0.01),
    uncertainty: new Float64Array(n).fill(1e-3),
  });
  const integral = source.flux.reduce((s, f) => s + f * 900, 0);

  it('preserves the integral of flux dt on an aligned coarser grid', () => {
    // Source bins cover [-450, n*900 - 450); 2700 s target bins aligned to that start.
    const target = raster(Math.ceil(n / 3), -450 + 1350, 2700);
    const flux = resampleFluxConserving(source, target);
    const r = resampleDetailed(source, target);
    const coarse = flux.reduce((s, f, j) => s + f * r.coverage[j]!, 0);
    expect(Math.abs(coarse - integral) / integral).toBeLessThan(1e-12);
  });

  it('preserves the integral on an unaligned, non-integer-ratio grid (via coverage)', () => {
    const target = raster(2000, -3000, 2333.3);
    const r = resampleDetailed(source, target);
    const coarse = r.flux.reduce((s, f, j) => (r.coverage[j]! > 0 ? s + f * r.coverage[j]! : s), 0);
    expect(Math.abs(coarse - integral) / integral).toBeLessThan(1e-12);
    expect(r.flux[0]).toBeNaN(); // bin [-4166, -1833) has no data
  });

  it('keeps a constant curve constant, also on a finer grid', () => {
    const constant = createLightCurve({
      time: raster(100, 0, 900),
      flux: new Float64Array(100).fill(0.75),
    });
    for (const target of [raster(30, 450, 2700), raster(400, 0, 225), raster(7, 1000, 13_000)]) {
      const flux = resampleFluxConserving(constant, target);
      for (const f of flux) if (!Number.isNaN(f)) expect(f).toBeCloseTo(0.75, 14);
    }
  });

  it('gives NaN where there is no overlap and ignores NaN source flux', () => {
    const lc = createLightCurve({ time: [0, 900, 1800], flux: [1, Number.NaN, 3] });
    const flux = resampleFluxConserving(lc, Float64Array.of(-5000, 0, 900, 1800, 9000), {
      targetCadence: 900,
    });
    expect(Array.from(flux)).toEqual([Number.NaN, 1, Number.NaN, 3, Number.NaN]);
    expect(
      Array.from(resampleFluxConserving(lc, Float64Array.of(450), { targetCadence: 1800 })),
    ).toEqual([1]);
  });

  it('rejects unsorted input', () => {
    expect(() => resampleFluxConserving(source, Float64Array.of(2, 1, 3))).toThrow(/sorted/);
  });
});

describe('binLightCurve', () => {
  it('halves the demo curve from 900 s to 1800 s, conserving flux', () => {
    const lc = readLightCurveGz(DEMO);
    const binned = binLightCurve(lc, 1800);
    expect(binned.time.length).toBe(11_520);
    expect(binned.time[0]).toBe(450);
    expect(binned.flux[0]).toBeCloseTo((lc.flux[0]! + lc.flux[1]!) / 2, 15);
    expect(binned.metadata.sampling_cadence).toBe(1800);
    expect(binned.metadata.orbital_period).toBe(50);
    const sum = (a: Float64Array, w: number): number => a.reduce((s, f) => s + f * w, 0);
    expect(Math.abs(sum(binned.flux, 1800) - sum(lc.flux, 900)) / sum(lc.flux, 900)).toBeLessThan(
      1e-12,
    );
    // The legacy flag column (a flux copy) is not a flag: binned flags are 0.
    expect(binned.flag.every((f) => f === 0)).toBe(true);
  });

  it('combines uncertainties as sigma/sqrt(n), ORs integer flags and drops empty bins', () => {
    const lc = createLightCurve({
      time: [0, 100, 200, 300, 800, 900],
      flux: [1, 2, 3, 4, 5, 6],
      flag: [0, 0, 0, 4, 0, 0],
      uncertainty: [0.2, 0.2, 0.2, 0.2, 0.2, 0.2],
    });
    const binned = binLightCurve(lc, 200);
    expect(Array.from(binned.time)).toEqual([50, 250, 850]);
    expect(Array.from(binned.flux)).toEqual([1.5, 3.5, 5.5]);
    expect(Array.from(binned.flag)).toEqual([0, 4, 0]);
    for (const s of binned.uncertainty) expect(s).toBeCloseTo(0.2 / Math.SQRT2, 15);
    expect(binLightCurve(lc, 200, { keepEmpty: true }).time.length).toBe(5);
    expect(() => binLightCurve(lc, 0)).toThrow(RangeError);
  });
});
