/** Summary of a sample of durations (ms). */
export interface Distribution {
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending-sorted sample (`q` in 0…1). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Count, extremes, mean and the usual percentiles of `values`. */
export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((s, v) => s + v, 0);
  return {
    count: sorted.length,
    min: round(sorted[0] ?? Number.NaN),
    p50: round(percentile(sorted, 0.5)),
    p90: round(percentile(sorted, 0.9)),
    p99: round(percentile(sorted, 0.99)),
    max: round(sorted[sorted.length - 1] ?? Number.NaN),
    mean: round(sorted.length ? sum / sorted.length : Number.NaN),
  };
}

/** Rounds to `digits` decimals (3 by default): enough for milliseconds measured in microseconds. */
export function round(v: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Values of `values` above `limit`, with their index, largest first (for outlier reports). */
export function outliers(
  values: readonly number[],
  limit: number,
  top = 10,
): { index: number; ms: number }[] {
  return values
    .map((ms, index) => ({ index, ms: round(ms) }))
    .filter((o) => o.ms > limit)
    .sort((a, b) => b.ms - a.ms)
    .slice(0, top);
}
