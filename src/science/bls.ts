/**
 * Box least squares (Kovács, Zucker & Mazeh 2002) with the objective and the binned search of
 * astropy's `BoxLeastSquares` (astropy ≥ 3.1, `method='fast'`), so that powers, depths and
 * transit times can be compared with astropy's one to one.
 *
 * The algorithm, for each trial period P:
 *
 * 1. fold the samples into phase bins of width `min(durations) / oversample` (bin `k ≥ 1`
 *    holds the phases in `[(k−1)·w, k·w)`), summing `y·ivar` and `ivar` per bin;
 * 2. copy bins `1…oversample` after the first `ceil(P / w)` bins (astropy's wrap-around; the
 *    last, partial bin of the period is overwritten by bin 1, exactly as astropy does);
 * 3. take cumulative sums, then slide a window of `round(duration / w)` bins for every
 *    duration: the in-transit and out-of-transit weighted means give the depth, its error and
 *    the objective;
 * 4. keep the window with the largest objective among those with `y_out ≥ y_in` (dips only).
 *
 * Cost: O(N + bins × durations) per period, typed arrays only, the two bin buffers are
 * allocated once for the longest period and reused.
 *
 * Objectives (astropy's names): `likelihood` (default) is the log-likelihood difference between
 * the box model and a constant, `0.5 · ivar_in · depth²` (units of flux² with uniform weights);
 * `snr` is `depth / depth_err`. As in astropy the flux median is subtracted first (this changes
 * no result, it only keeps the sums well conditioned), uniform weights are `ivar = 1`, and
 * the reported duration is the duration rounded to whole bins.
 *
 * @module
 */
import { EasError } from '../core/index.js';

/** Options of {@link boxLeastSquares}. */
export interface BoxLeastSquaresOptions {
  /** Phase bins per minimum duration (astropy's `oversample`, default 10). */
  oversample?: number;
  /** What is maximised over phase and duration at each period (default `likelihood`). */
  objective?: 'likelihood' | 'snr';
}

/**
 * The periodogram: per-period arrays (index `i` belongs to `periods[i]`) and the values at the
 * highest power. Units follow the inputs: times and durations in the unit of `time`, depths in
 * the unit of `flux`.
 */
export interface BoxLeastSquaresResult {
  /** The trial periods (the array passed in). */
  periods: Float64Array;
  /** The objective maximised over durations and phases; `-Infinity` where no window fits. */
  power: Float64Array;
  /** Depth (`y_out − y_in`, positive for a dip) of the best window. */
  depth: Float64Array;
  /** One-sigma uncertainty of `depth`: `sqrt(1/ivar_in + 1/ivar_out)`. */
  depthErr: Float64Array;
  /** `depth / depthErr`. */
  depthSnr: Float64Array;
  /** `0.5 · ivar_in · depth²` of the best window. */
  logLikelihood: Float64Array;
  /** Duration of the best window (the tried duration rounded to whole phase bins). */
  duration: Float64Array;
  /** Mid-transit time of the best window, in `[min(time), min(time) + period)`. */
  transitTime: Float64Array;
  /** Index of the highest power (first one on ties). */
  bestIndex: number;
  /** `periods[bestIndex]`. */
  bestPeriod: number;
  /** `power[bestIndex]`. */
  bestPower: number;
  /** `duration[bestIndex]`. */
  bestDuration: number;
  /** `transitTime[bestIndex]`: a mid-transit time (epoch), modulo `bestPeriod`. */
  bestT0: number;
  /** `depth[bestIndex]`. */
  bestDepth: number;
  /** `depthErr[bestIndex]`. */
  bestDepthErr: number;
  /** `depthSnr[bestIndex]`. */
  bestDepthSnr: number;
}

function usage(message: string): EasError {
  return new EasError('USAGE', message, { where: 'science/bls' });
}

function minMax(values: Float64Array, what: string): [number, number] {
  if (values.length === 0) throw usage(`${what} is empty`);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) throw usage(`${what}[${i}] is not a finite number (${v})`);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** The median as numpy computes it (mean of the two middle values for an even length). */
function median(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  const h = n >> 1;
  return n % 2 === 1 ? sorted[h]! : (sorted[h - 1]! + sorted[h]!) / 2;
}

/**
 * The inputs of a periodogram, validated and laid out for the inner loops: what
 * {@link boxLeastSquares} computes once before the period loop, and what a worker thread
 * receives (every field is structured-cloneable) to compute a share of the periods.
 */
export interface PreparedBls {
  /**
   * Samples interleaved for the binning loop: `[t − min(t), (y − median)·ivar]` per sample
   * with uniform weights (stride 2), `[t − min(t), (y − median)·ivar, ivar]` otherwise
   * (stride 3).
   */
  samples: Float64Array;
  /** 2 (uniform weights) or 3. */
  stride: 2 | 3;
  /** Whether the samples are in time order (a faster fold). */
  sorted: boolean;
  /** `min(time)`, added back to transit times. */
  tMin: number;
  /** Σ (y − median)·ivar. */
  sumY: number;
  /** Σ ivar. */
  sumIvar: number;
  /** Phase-bin width, `min(durations) / oversample`. */
  binWidth: number;
  /** Each duration in whole phase bins. */
  durBins: Int32Array;
  oversample: number;
  useLikelihood: boolean;
}

/** The per-period arrays of a periodogram, before the best period is picked. */
export interface BlsSpectrum {
  power: Float64Array;
  depth: Float64Array;
  depthErr: Float64Array;
  depthSnr: Float64Array;
  logLikelihood: Float64Array;
  duration: Float64Array;
  transitTime: Float64Array;
}

/**
 * Checks the inputs of a periodogram and lays them out for {@link blsSpectrum}: the
 * validation and set-up half of {@link boxLeastSquares}, with the same parameters and errors.
 */
export function prepareBoxLeastSquares(
  time: Float64Array,
  flux: Float64Array,
  dy: Float64Array | undefined,
  periods: Float64Array,
  durations: Float64Array,
  options: BoxLeastSquaresOptions = {},
): PreparedBls {
  const n = time.length;
  if (flux.length !== n) throw usage(`flux has ${flux.length} samples, time has ${n}`);
  if (dy !== undefined && dy.length !== n)
    throw usage(`dy has ${dy.length} samples, time has ${n}`);
  const oversample = options.oversample ?? 10;
  if (!Number.isInteger(oversample) || oversample < 1)
    throw usage(`oversample must be an integer ≥ 1, got ${oversample}`);
  const objective = options.objective ?? 'likelihood';
  if (objective !== 'likelihood' && objective !== 'snr')
    throw usage(`objective must be 'likelihood' or 'snr', got ${String(objective)}`);

  const [tMin] = minMax(time, 'time');
  minMax(flux, 'flux');
  const [minPeriod] = minMax(periods, 'periods');
  const [minDuration, maxDuration] = minMax(durations, 'durations');
  if (!(minPeriod > Number.EPSILON)) throw usage(`periods must be > 0, got ${minPeriod}`);
  if (!(minDuration > Number.EPSILON)) throw usage(`durations must be > 0, got ${minDuration}`);
  if (maxDuration > minPeriod)
    throw usage(`the longest duration (${maxDuration}) exceeds the shortest period (${minPeriod})`);

  // Relative times, median-subtracted flux times the weight, the weight; Σ y·ivar and Σ ivar.
  const stride = dy === undefined ? 2 : 3;
  const samples = new Float64Array(stride * n);
  const yMed = median(flux);
  let sumY = 0;
  let sumIvar = 0;
  for (let i = 0, o = 0; i < n; i++, o += stride) {
    let w = 1;
    if (dy !== undefined) {
      const s = dy[i]!;
      if (!(s > 0) || !Number.isFinite(s))
        throw usage(`dy[${i}] must be a positive finite number, got ${s}`);
      w = 1 / (s * s);
      samples[o + 2] = w;
    }
    const yw = (flux[i]! - yMed) * w;
    samples[o] = time[i]! - tMin;
    samples[o + 1] = yw;
    sumY += yw;
    sumIvar += w;
  }
  const binWidth = minDuration / oversample;
  const durBins = new Int32Array(durations.length);
  for (let k = 0; k < durations.length; k++) durBins[k] = Math.round(durations[k]! / binWidth);
  return {
    samples,
    stride,
    sorted: isSorted(time),
    tMin,
    sumY,
    sumIvar,
    binWidth,
    durBins,
    oversample,
    useLikelihood: objective === 'likelihood',
  };
}

/**
 * The periodogram of prepared inputs over `periods` (each ≥ the longest duration; not checked
 * again here): the period loop of {@link boxLeastSquares}. Each period's values depend on that
 * period alone, so any split of a grid gives the same numbers as the whole grid.
 */
export function blsSpectrum(prep: PreparedBls, periods: Float64Array): BlsSpectrum {
  const { samples, stride, sorted, tMin, sumY, sumIvar, binWidth, durBins, oversample } = prep;
  let maxPeriod = 0;
  for (const p of periods) if (p > maxPeriod) maxPeriod = p;
  // Interleaved cumulative sums: acc[2k] = Σ y·ivar, acc[2k+1] = Σ ivar over bins ≤ k.
  const acc = new Float64Array(2 * (Math.ceil(maxPeriod / binWidth) + oversample + 1));
  const best = new Float64Array(2);
  const np = periods.length;
  const out = emptySpectrum(np);
  for (let p = 0; p < np; p++) {
    const period = periods[p]!;
    const nBins = Math.ceil(period / binWidth) + oversample;
    acc.fill(0, 0, 2 * (nBins + 1));
    if (!sorted) binUnsorted(samples, stride, period, binWidth, acc);
    else if (stride === 2) binSortedUniform(samples, period, binWidth, acc);
    else binSortedWeighted(samples, period, binWidth, acc);
    wrapAndCumulate(acc, nBins, oversample);
    const bestObjective = prep.useLikelihood
      ? scanLikelihood(acc, nBins, durBins, sumY, sumIvar, best)
      : scanSnr(acc, nBins, durBins, sumY, sumIvar, best);
    out.power[p] = bestObjective;
    const start = best[0]!;
    if (start < 0) {
      out.depth[p] = NaN;
      out.depthErr[p] = NaN;
      out.depthSnr[p] = NaN;
      out.logLikelihood[p] = NaN;
      out.duration[p] = NaN;
      out.transitTime[p] = NaN;
      continue;
    }
    const dur = best[1]!;
    const ivIn = acc[2 * (start + dur) + 1]! - acc[2 * start + 1]!;
    const ivOut = sumIvar - ivIn;
    const syIn = acc[2 * (start + dur)]! - acc[2 * start]!;
    const d = (sumY - syIn) / ivOut - syIn / ivIn;
    const err = Math.sqrt(1 / ivIn + 1 / ivOut);
    const width = dur * binWidth;
    out.depth[p] = d;
    out.depthErr[p] = err;
    out.depthSnr[p] = d / err;
    out.logLikelihood[p] = 0.5 * ivIn * d * d;
    out.duration[p] = width;
    out.transitTime[p] = ((start * binWidth + 0.5 * width) % period) + tMin;
  }
  return out;
}

/** A spectrum of `n` periods, every value 0. */
export function emptySpectrum(n: number): BlsSpectrum {
  return {
    power: new Float64Array(n),
    depth: new Float64Array(n),
    depthErr: new Float64Array(n),
    depthSnr: new Float64Array(n),
    logLikelihood: new Float64Array(n),
    duration: new Float64Array(n),
    transitTime: new Float64Array(n),
  };
}

/** The result of a whole grid from its spectrum: the arrays plus the values at the highest power. */
export function blsResult(periods: Float64Array, s: BlsSpectrum): BoxLeastSquaresResult {
  const np = periods.length;
  let bestIndex = 0;
  for (let p = 1; p < np; p++) if (s.power[p]! > s.power[bestIndex]!) bestIndex = p;
  return {
    periods,
    ...s,
    bestIndex,
    bestPeriod: periods[bestIndex]!,
    bestPower: s.power[bestIndex]!,
    bestDuration: s.duration[bestIndex]!,
    bestT0: s.transitTime[bestIndex]!,
    bestDepth: s.depth[bestIndex]!,
    bestDepthErr: s.depthErr[bestIndex]!,
    bestDepthSnr: s.depthSnr[bestIndex]!,
  };
}

/**
 * Box least squares periodogram of `flux(time)` over the given trial periods and durations,
 * in the calling thread. {@link boxLeastSquaresInThreads} computes the same numbers on worker
 * threads.
 *
 * @param time - sample times, any unit (days in the pipeline), any order
 * @param flux - fluxes (any normalisation; the median is removed internally)
 * @param dy - flux uncertainties (> 0), or `undefined` for uniform weights
 * @param periods - trial periods, same unit as `time`, each ≥ max(durations)
 * @param durations - trial transit durations, same unit as `time`, each > 0
 * @throws EasError `USAGE` on empty or mismatched arrays, non-finite values, non-positive
 *   uncertainties or durations, a duration longer than the shortest period, or a bad
 *   `oversample`.
 *
 * @example
 * ```ts
 * const periods = autoPeriodGrid(t, durations, { minimumPeriod: 1, maximumPeriod: 100 });
 * const r = boxLeastSquares(t, flux, undefined, periods, durations);
 * console.log(r.bestPeriod, r.bestT0, r.bestDepth, signalDetectionEfficiency(r.power));
 * ```
 */
export function boxLeastSquares(
  time: Float64Array,
  flux: Float64Array,
  dy: Float64Array | undefined,
  periods: Float64Array,
  durations: Float64Array,
  options: BoxLeastSquaresOptions = {},
): BoxLeastSquaresResult {
  const prep = prepareBoxLeastSquares(time, flux, dy, periods, durations, options);
  return blsResult(periods, blsSpectrum(prep, periods));
}

function isSorted(values: Float64Array): boolean {
  for (let i = 1; i < values.length; i++) if (values[i]! < values[i - 1]!) return false;
  return true;
}

/*
 * Folding: each sample goes to phase bin `floor(phase / binWidth) + 1` (astropy's indexing),
 * with the phase `t − P·floor(t / P)`. For time-sorted samples the cycle number is updated
 * only when a sample passes the next cycle start, saving a division per sample; the result is
 * the same except for samples within rounding error of a cycle or bin boundary. The loops are
 * specialised by hand (uniform or weighted, sorted or not): V8 keeps a loop over one
 * interleaved array with a constant stride markedly faster than one over three arrays.
 */

function binSortedUniform(
  samples: Float64Array,
  period: number,
  binWidth: number,
  acc: Float64Array,
): void {
  const invBin = 1 / binWidth;
  const end = samples.length;
  let cycle = 0;
  let nextStart = period;
  for (let i = 0; i < end; i += 2) {
    const x = samples[i]!;
    if (x >= nextStart) {
      cycle = Math.floor(x / period);
      nextStart = period * (cycle + 1);
    }
    const ind = 2 * (((x - period * cycle) * invBin) | 0) + 2;
    acc[ind]! += samples[i + 1]!;
    acc[ind + 1]! += 1;
  }
}

function binSortedWeighted(
  samples: Float64Array,
  period: number,
  binWidth: number,
  acc: Float64Array,
): void {
  const invBin = 1 / binWidth;
  const end = samples.length;
  let cycle = 0;
  let nextStart = period;
  for (let i = 0; i < end; i += 3) {
    const x = samples[i]!;
    if (x >= nextStart) {
      cycle = Math.floor(x / period);
      nextStart = period * (cycle + 1);
    }
    const ind = 2 * (((x - period * cycle) * invBin) | 0) + 2;
    acc[ind]! += samples[i + 1]!;
    acc[ind + 1]! += samples[i + 2]!;
  }
}

function binUnsorted(
  samples: Float64Array,
  stride: number,
  period: number,
  binWidth: number,
  acc: Float64Array,
): void {
  const end = samples.length;
  for (let i = 0; i < end; i += stride) {
    const x = samples[i]!;
    const ind = 2 * (((x - period * Math.floor(x / period)) / binWidth) | 0) + 2;
    acc[ind]! += samples[i + 1]!;
    acc[ind + 1]! += stride === 3 ? samples[i + 2]! : 1;
  }
}

/** Copies bins 1…oversample to nBins − oversample… (astropy's wrap), then cumulates. */
function wrapAndCumulate(acc: Float64Array, nBins: number, oversample: number): void {
  for (let j = 1, k = nBins - oversample; j <= oversample; j++, k++) {
    acc[2 * k] = acc[2 * j]!;
    acc[2 * k + 1] = acc[2 * j + 1]!;
  }
  let runY = 0;
  let runIv = 0;
  for (let j = 2, end = 2 * nBins; j <= end; j += 2) {
    runY += acc[j]!;
    runIv += acc[j + 1]!;
    acc[j] = runY;
    acc[j + 1] = runIv;
  }
}

/**
 * Best window by log-likelihood `0.5·ivar_in·depth²`; writes its first bin and width (in bins)
 * to `best` (first bin −1 when no window fits) and returns the objective. Candidates are
 * screened without divisions (`depth = (S_y·iv_in − sy_in·S_iv) / (iv_in·iv_out)`); the kept
 * value is computed as astropy does.
 */
function scanLikelihood(
  acc: Float64Array,
  nBins: number,
  durBins: Int32Array,
  sumY: number,
  sumIvar: number,
  best: Float64Array,
): number {
  // Screening against 0 first skips every window of negative depth with one comparison
  // (num·|num| < 0); windows of depth exactly 0 are found by the second pass if nothing better is.
  for (let floor = 0; ; floor = -Infinity) {
    const found = scanLikelihoodAbove(floor, acc, nBins, durBins, sumY, sumIvar, best);
    if (best[0]! >= 0 || floor === -Infinity) return found;
  }
}

function scanLikelihoodAbove(
  floor: number,
  acc: Float64Array,
  nBins: number,
  durBins: Int32Array,
  sumY: number,
  sumIvar: number,
  best: Float64Array,
): number {
  let bestObj = floor;
  let bestStart = -1;
  let bestDur = 0;
  const eps = Number.EPSILON;
  for (let k = 0; k < durBins.length; k++) {
    const dur = durBins[k]!;
    const off = 2 * dur;
    const last = 2 * (nBins - dur);
    for (let j = 0; j <= last; j += 2) {
      const ivIn = acc[j + off + 1]! - acc[j + 1]!;
      const ivOut = sumIvar - ivIn;
      const syIn = acc[j + off]! - acc[j]!;
      const num = sumY * ivIn - syIn * sumIvar;
      if (!(0.5 * num * Math.abs(num) >= bestObj * ivIn * ivOut * ivOut)) continue;
      if (ivIn < eps || ivOut < eps || num < 0) continue;
      const d = (sumY - syIn) / ivOut - syIn / ivIn;
      const obj = 0.5 * ivIn * d * d;
      if (d >= 0 && obj > bestObj) {
        bestObj = obj;
        bestStart = j >> 1;
        bestDur = dur;
      }
    }
  }
  best[0] = bestStart;
  best[1] = bestDur;
  return bestObj;
}

/** As {@link scanLikelihood} for the objective `depth / depth_err`. */
function scanSnr(
  acc: Float64Array,
  nBins: number,
  durBins: Int32Array,
  sumY: number,
  sumIvar: number,
  best: Float64Array,
): number {
  let bestObj = -Infinity;
  let bestStart = -1;
  let bestDur = 0;
  const eps = Number.EPSILON;
  for (let k = 0; k < durBins.length; k++) {
    const dur = durBins[k]!;
    const off = 2 * dur;
    const last = 2 * (nBins - dur);
    for (let j = 0; j <= last; j += 2) {
      const ivIn = acc[j + off + 1]! - acc[j + 1]!;
      const ivOut = sumIvar - ivIn;
      if (ivIn < eps || ivOut < eps) continue;
      const syIn = acc[j + off]! - acc[j]!;
      const yIn = syIn / ivIn;
      const yOut = (sumY - syIn) / ivOut;
      if (!(yOut >= yIn)) continue;
      const obj = (yOut - yIn) / Math.sqrt(1 / ivIn + 1 / ivOut);
      if (obj > bestObj) {
        bestObj = obj;
        bestStart = j >> 1;
        bestDur = dur;
      }
    }
  }
  best[0] = bestStart;
  best[1] = bestDur;
  return bestObj;
}

/** Options of {@link autoPeriodGrid} (astropy's `autoperiod` arguments). */
export interface AutoPeriodGridOptions {
  /** Shortest period (default: twice the longest duration). */
  minimumPeriod?: number;
  /** Longest period (default: baseline / (minimumNTransit − 1)). */
  maximumPeriod?: number;
  /** Used for the default `maximumPeriod` only (default 3, must be > 1). */
  minimumNTransit?: number;
  /** Frequency step in units of min(duration) / baseline² (default 1). */
  frequencyFactor?: number;
}

/**
 * The period grid of astropy's `BoxLeastSquares.autoperiod`: uniform in frequency with step
 * `df = frequencyFactor · min(durations) / baseline²` (baseline = max(time) − min(time)),
 * `1 + round((fMax − fMin) / df)` frequencies counted down from `fMax = 1/minimumPeriod`;
 * periods are therefore increasing and the last one may slightly pass `maximumPeriod`.
 * Swapped bounds are swapped back, as astropy does.
 *
 * @throws EasError `USAGE` on an empty `time`/`durations`, a zero baseline, a non-positive
 *   minimum period or `minimumNTransit ≤ 1`.
 */
export function autoPeriodGrid(
  time: Float64Array,
  durations: Float64Array,
  options: AutoPeriodGridOptions = {},
): Float64Array {
  const [tLo, tHi] = minMax(time, 'time');
  const [minDuration, maxDuration] = minMax(durations, 'durations');
  const baseline = tHi - tLo;
  if (!(baseline > 0)) throw usage('time spans no interval (baseline is 0)');
  const frequencyFactor = options.frequencyFactor ?? 1;
  if (!(frequencyFactor > 0) || !Number.isFinite(frequencyFactor))
    throw usage(`frequencyFactor must be > 0, got ${frequencyFactor}`);
  const df = (frequencyFactor * minDuration) / (baseline * baseline);
  if (!(df > 0)) throw usage(`durations must be > 0, got ${minDuration}`);
  let minimumPeriod = options.minimumPeriod ?? 2 * maxDuration;
  let maximumPeriod = options.maximumPeriod;
  if (maximumPeriod === undefined) {
    const nTransit = options.minimumNTransit ?? 3;
    if (!(nTransit > 1)) throw usage(`minimumNTransit must be > 1, got ${nTransit}`);
    maximumPeriod = baseline / (nTransit - 1);
  }
  if (maximumPeriod < minimumPeriod)
    [minimumPeriod, maximumPeriod] = [maximumPeriod, minimumPeriod];
  if (!(minimumPeriod > 0)) throw usage(`minimumPeriod must be > 0, got ${minimumPeriod}`);
  const fMin = 1 / maximumPeriod;
  const fMax = 1 / minimumPeriod;
  // numpy's round is round-half-to-even; the difference can only matter on an exact .5.
  const steps = roundHalfEven((fMax - fMin) / df);
  const out = new Float64Array(1 + steps);
  for (let i = 0; i <= steps; i++) out[i] = 1 / (fMax - df * i);
  return out;
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Signal detection efficiency of a periodogram: `(max(power) − mean(power)) / std(power)`,
 * with the population standard deviation (numpy's default `ddof = 0`) over all finite powers
 * (Alcock et al. 2000; Kovács et al. 2002 use the same normalisation of the BLS spectrum).
 * Returns `NaN` for fewer than two finite powers or a flat spectrum.
 */
export function signalDetectionEfficiency(power: Float64Array): number {
  let count = 0;
  let sum = 0;
  let max = -Infinity;
  for (let i = 0; i < power.length; i++) {
    const v = power[i]!;
    if (!Number.isFinite(v)) continue;
    count++;
    sum += v;
    if (v > max) max = v;
  }
  if (count < 2) return NaN;
  const mean = sum / count;
  let ss = 0;
  for (let i = 0; i < power.length; i++) {
    const v = power[i]!;
    if (Number.isFinite(v)) ss += (v - mean) * (v - mean);
  }
  const std = Math.sqrt(ss / count);
  // A flat spectrum has no peak: its spread is rounding (a relative 1e-12 of its level, say),
  // which would otherwise turn into an SDE of -1 or of millions.
  return std > 1e-9 * Math.max(Math.abs(mean), Math.abs(max)) ? (max - mean) / std : NaN;
}

/** One peak of a periodogram, from {@link topPeaks}. */
export interface PeriodogramPeak {
  /** Index into the period/power arrays. */
  index: number;
  period: number;
  power: number;
}

/** Options of {@link topPeaks}. */
export interface TopPeaksOptions {
  /**
   * Two peaks are distinct when their periods differ by more than this fraction of the
   * higher-ranked one (default 0.01, i.e. 1 %).
   */
  excludeFraction?: number;
}

/**
 * The `k` highest distinct peaks of a periodogram, highest first. Only local maxima count
 * (a point not lower than its neighbours); a maximum within `excludeFraction · period` of an
 * already chosen, higher peak is skipped, so the list shows different periods (the signal and
 * its aliases) rather than the shoulders of the main peak.
 */
export function topPeaks(
  periods: Float64Array,
  power: Float64Array,
  k: number,
  options: TopPeaksOptions = {},
): PeriodogramPeak[] {
  const n = periods.length;
  if (power.length !== n) throw usage(`power has ${power.length} values, periods has ${n}`);
  const fraction = options.excludeFraction ?? 0.01;
  if (!(fraction >= 0)) throw usage(`excludeFraction must be ≥ 0, got ${fraction}`);
  const candidates: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = power[i]!;
    if (!Number.isFinite(v)) continue;
    if (i > 0 && power[i - 1]! > v) continue;
    if (i < n - 1 && power[i + 1]! > v) continue;
    candidates.push(i);
  }
  candidates.sort((a, b) => power[b]! - power[a]! || a - b);
  const chosen: PeriodogramPeak[] = [];
  for (const i of candidates) {
    if (chosen.length >= k) break;
    const period = periods[i]!;
    if (chosen.some((c) => Math.abs(c.period - period) <= fraction * c.period)) continue;
    chosen.push({ index: i, period, power: power[i]! });
  }
  return chosen;
}
