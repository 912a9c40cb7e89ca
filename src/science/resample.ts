/**
 * Flux-conserving resampling. Each source sample is a constant over its own cadence bin
 * `[t - Δs/2, t + Δs/2)` (Δs = the source's median cadence unless given); each target bin
 * `[t - Δ/2, t + Δ/2)` gets the time-weighted mean of the source flux over the overlap. So
 * ∫flux dt over the covered time is preserved exactly (to rounding). Source samples with a
 * non-finite flux count as missing. Target bins with no overlap get NaN.
 */
import { medianCadence, flagsAreMeaningful, type LightCurve } from './lightcurve.js';

/** Options for {@link resampleDetailed}. */
export interface ResampleOptions {
  /** Width of each source sample's bin [s]; default the source's median cadence. */
  sourceCadence?: number;
  /** Width of each target bin [s]; default the target raster's median cadence. */
  targetCadence?: number;
}

/** Everything {@link resampleDetailed} computes for each target bin. */
export interface ResampleResult {
  /** Time-weighted mean flux over the overlap; NaN where there is none. */
  flux: Float64Array;
  /** Overlap with valid source data [s]; flux × coverage sums to the integral. */
  coverage: Float64Array;
  /** sqrt(Σ wᵢ² σᵢ²) / Σ wᵢ with wᵢ the overlaps: σ/√n for n equal, fully covered samples. */
  uncertainty: Float64Array;
  /** Largest flag overlapping the bin when the source flags are integers, else 0. */
  flag: Float64Array;
}

function requireSorted(time: Float64Array, what: string): void {
  for (let i = 1; i < time.length; i++) {
    if (!(time[i]! >= time[i - 1]!)) {
      throw new RangeError(`${what} times must be sorted (index ${i})`);
    }
  }
}

function cadenceOf(time: Float64Array, given: number | undefined, what: string): number {
  const c = given ?? medianCadence(time);
  if (!(c > 0) || !Number.isFinite(c)) {
    throw new RangeError(
      `${what} cadence must be a positive number (got ${c}); pass it explicitly`,
    );
  }
  return c;
}

/**
 * Resample `source` onto the bins centred on `targetTime` (both sorted), returning flux,
 * coverage, combined uncertainty and flags. O(N + M).
 */
export function resampleDetailed(
  source: LightCurve,
  targetTime: Float64Array,
  options: ResampleOptions = {},
): ResampleResult {
  const m = targetTime.length;
  const result: ResampleResult = {
    flux: new Float64Array(m).fill(Number.NaN),
    coverage: new Float64Array(m),
    uncertainty: new Float64Array(m).fill(Number.NaN),
    flag: new Float64Array(m),
  };
  const n = source.time.length;
  if (m === 0 || n === 0) return result;
  requireSorted(source.time, 'source');
  requireSorted(targetTime, 'target');
  const halfS = cadenceOf(source.time, options.sourceCadence, 'source') / 2;
  const halfT =
    (m === 1 && options.targetCadence === undefined
      ? cadenceOf(source.time, options.sourceCadence, 'source')
      : cadenceOf(targetTime, options.targetCadence, 'target')) / 2;
  const useFlags = flagsAreMeaningful(source);
  const { time, flux, uncertainty, flag } = source;
  let first = 0;
  for (let j = 0; j < m; j++) {
    const a = targetTime[j]! - halfT;
    const b = targetTime[j]! + halfT;
    while (first < n && time[first]! + halfS <= a) first++;
    let sumW = 0;
    let sumWF = 0;
    let sumW2S2 = 0;
    let maxFlag = 0;
    for (let i = first; i < n; i++) {
      const lo = time[i]! - halfS;
      if (lo >= b) break;
      const hi = time[i]! + halfS;
      const w = Math.min(b, hi) - Math.max(a, lo);
      const f = flux[i]!;
      if (w <= 0 || !Number.isFinite(f)) continue;
      sumW += w;
      sumWF += w * f;
      const s = uncertainty[i]!;
      sumW2S2 += w * w * s * s;
      if (useFlags && flag[i]! > maxFlag) maxFlag = flag[i]!;
    }
    if (sumW > 0) {
      result.flux[j] = sumWF / sumW;
      result.coverage[j] = sumW;
      result.uncertainty[j] = Math.sqrt(sumW2S2) / sumW;
      result.flag[j] = maxFlag;
    }
  }
  return result;
}

/** The flux of {@link resampleDetailed}: time-weighted mean over each target bin, NaN if empty. */
export function resampleFluxConserving(
  source: LightCurve,
  targetTime: Float64Array,
  options: ResampleOptions = {},
): Float64Array {
  return resampleDetailed(source, targetTime, options).flux;
}

/** Options for {@link binLightCurve}. */
export interface BinOptions {
  /** Source bin width [s]; default the median cadence. */
  sourceCadence?: number;
  /** Keep bins without data (flux NaN) instead of dropping them. Default false. */
  keepEmpty?: boolean;
}

/**
 * Rebin onto a regular raster of `cadenceSeconds`, flux-conserving. The first output bin starts
 * where the first source bin starts; bins continue until the source is covered, so 900 s → 1800 s
 * halves the sample count. Uncertainties combine as in {@link ResampleResult.uncertainty};
 * flags are the largest overlapping integer flag. Metadata is copied with `sampling_cadence`
 * set to the new cadence.
 */
export function binLightCurve(
  lc: LightCurve,
  cadenceSeconds: number,
  options: BinOptions = {},
): LightCurve {
  if (!(cadenceSeconds > 0) || !Number.isFinite(cadenceSeconds)) {
    throw new RangeError(
      `binning cadence must be a positive number of seconds (got ${cadenceSeconds})`,
    );
  }
  const metadata = { ...lc.metadata, sampling_cadence: cadenceSeconds };
  const n = lc.time.length;
  if (n === 0) {
    const empty = new Float64Array(0);
    return { time: empty, flux: empty, flag: empty, uncertainty: empty, metadata };
  }
  requireSorted(lc.time, 'source');
  const sourceCadence =
    n === 1
      ? (options.sourceCadence ?? cadenceSeconds)
      : cadenceOf(lc.time, options.sourceCadence, 'source');
  const start = lc.time[0]! - sourceCadence / 2;
  const end = lc.time[n - 1]! + sourceCadence / 2;
  const count = Math.max(1, Math.ceil((end - start) / cadenceSeconds - 1e-9));
  const target = new Float64Array(count);
  for (let k = 0; k < count; k++) target[k] = start + (k + 0.5) * cadenceSeconds;
  const r = resampleDetailed(lc, target, { sourceCadence, targetCadence: cadenceSeconds });
  if (options.keepEmpty) {
    return { time: target, flux: r.flux, flag: r.flag, uncertainty: r.uncertainty, metadata };
  }
  let kept = 0;
  for (let k = 0; k < count; k++) if (r.coverage[k]! > 0) kept++;
  const out = {
    time: new Float64Array(kept),
    flux: new Float64Array(kept),
    flag: new Float64Array(kept),
    uncertainty: new Float64Array(kept),
  };
  let o = 0;
  for (let k = 0; k < count; k++) {
    if (!(r.coverage[k]! > 0)) continue;
    out.time[o] = target[k]!;
    out.flux[o] = r.flux[k]!;
    out.flag[o] = r.flag[k]!;
    out.uncertainty[o] = r.uncertainty[k]!;
    o++;
  }
  return { ...out, metadata };
}
