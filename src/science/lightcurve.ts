/**
 * The light-curve type: parallel typed arrays (no per-sample objects) plus a metadata record.
 *
 * Times are in seconds. `flag` is kept as a `Float64Array` so that files written by the original
 * PLATO pipeline round-trip exactly: its writer put the flux into the flag column (its
 * `get_flags()` returned the fluxes), so the third column of e.g. `demo_superearth.gz` is not an
 * integer flag. Use {@link flagsAreMeaningful} / {@link goodSampleMask} rather than testing
 * `flag[i] !== 0` directly.
 */

/** Metadata values: numeric when they parse as numbers, otherwise strings. */
export type LightCurveMetadata = Record<string, number | string>;

/** A light curve: one sample per index across the four arrays. */
export interface LightCurve {
  /** Sample times [s]. */
  readonly time: Float64Array;
  /** Flux (arbitrary units, usually normalised to 1). */
  readonly flux: Float64Array;
  /** Flags: 0 = good, non-zero = bad (when integer-valued; see {@link flagsAreMeaningful}). */
  readonly flag: Float64Array;
  /** One-sigma flux uncertainty; 0 means "not given" (the PLATO file convention). */
  readonly uncertainty: Float64Array;
  /** Light-curve metadata (e.g. the `.metadata.cfg` sidecar). */
  readonly metadata: LightCurveMetadata;
}

/** The parts accepted by {@link createLightCurve}; `flag` and `uncertainty` default to zeros. */
export interface LightCurveParts {
  time: ArrayLike<number>;
  flux: ArrayLike<number>;
  flag?: ArrayLike<number>;
  uncertainty?: ArrayLike<number>;
  metadata?: LightCurveMetadata;
}

function toFloat64(values: ArrayLike<number>): Float64Array {
  return values instanceof Float64Array ? values : Float64Array.from(values);
}

/**
 * Build a light curve, checking that all columns have the same length. Typed arrays passed in are
 * used as they are (not copied); plain arrays are converted.
 */
export function createLightCurve(parts: LightCurveParts): LightCurve {
  const n = parts.time.length;
  const check = (name: string, values: ArrayLike<number> | undefined): void => {
    if (values !== undefined && values.length !== n) {
      throw new RangeError(
        `light curve column '${name}' has ${values.length} samples, time has ${n}`,
      );
    }
  };
  check('flux', parts.flux);
  check('flag', parts.flag);
  check('uncertainty', parts.uncertainty);
  return {
    time: toFloat64(parts.time),
    flux: toFloat64(parts.flux),
    flag: parts.flag === undefined ? new Float64Array(n) : toFloat64(parts.flag),
    uncertainty:
      parts.uncertainty === undefined ? new Float64Array(n) : toFloat64(parts.uncertainty),
    metadata: { ...(parts.metadata ?? {}) },
  };
}

/** Number of samples. */
export function lightCurveLength(lc: LightCurve): number {
  return lc.time.length;
}

/** True when `time` is non-decreasing (or strictly increasing when `strict`). NaN fails. */
export function isTimeSorted(time: Float64Array, strict = false): boolean {
  for (let i = 1; i < time.length; i++) {
    const d = time[i]! - time[i - 1]!;
    if (!(strict ? d > 0 : d >= 0)) return false;
  }
  return true;
}

/** Median of the positive time steps [s]; NaN with fewer than two samples or no positive step. */
export function medianCadence(time: Float64Array): number {
  const steps = new Float64Array(Math.max(0, time.length - 1));
  let m = 0;
  for (let i = 1; i < time.length; i++) {
    const d = time[i]! - time[i - 1]!;
    if (d > 0) steps[m++] = d;
  }
  if (m === 0) return Number.NaN;
  const sorted = steps.subarray(0, m).sort();
  const mid = m >> 1;
  return m % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function lowerBound(time: Float64Array, value: number): number {
  let lo = 0;
  let hi = time.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (time[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The samples with `start <= time < end` (half-open), as a new light curve (copies; metadata
 * shallow-copied). Sorted curves use binary search; unsorted ones are filtered.
 */
export function sliceLightCurveByTime(lc: LightCurve, start: number, end: number): LightCurve {
  if (isTimeSorted(lc.time)) {
    const a = lowerBound(lc.time, start);
    const b = Math.max(a, lowerBound(lc.time, end));
    return {
      time: lc.time.slice(a, b),
      flux: lc.flux.slice(a, b),
      flag: lc.flag.slice(a, b),
      uncertainty: lc.uncertainty.slice(a, b),
      metadata: { ...lc.metadata },
    };
  }
  const keep: number[] = [];
  for (let i = 0; i < lc.time.length; i++) {
    const t = lc.time[i]!;
    if (t >= start && t < end) keep.push(i);
  }
  const pick = (src: Float64Array): Float64Array => Float64Array.from(keep, (i) => src[i]!);
  return {
    time: pick(lc.time),
    flux: pick(lc.flux),
    flag: pick(lc.flag),
    uncertainty: pick(lc.uncertainty),
    metadata: { ...lc.metadata },
  };
}

/**
 * True when every flag is a finite integer, i.e. the flag column carries flags. False for files
 * from the original pipeline, whose flag column is a copy of the flux.
 */
export function flagsAreMeaningful(lc: LightCurve): boolean {
  for (let i = 0; i < lc.flag.length; i++) {
    if (!Number.isInteger(lc.flag[i]!)) return false;
  }
  return true;
}

/**
 * 1 for each usable sample, 0 otherwise: time and flux finite and, when
 * {@link flagsAreMeaningful}, flag equal to 0.
 */
export function goodSampleMask(lc: LightCurve): Uint8Array {
  const useFlags = flagsAreMeaningful(lc);
  const mask = new Uint8Array(lc.time.length);
  for (let i = 0; i < mask.length; i++) {
    const ok =
      Number.isFinite(lc.time[i]!) &&
      Number.isFinite(lc.flux[i]!) &&
      (!useFlags || lc.flag[i] === 0);
    mask[i] = ok ? 1 : 0;
  }
  return mask;
}
