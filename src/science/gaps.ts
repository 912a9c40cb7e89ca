/**
 * Gap detection on a regular time raster.
 */
import { medianCadence } from './lightcurve.js';

/** One gap: the samples either side and how many raster points are missing between them. */
export interface Gap {
  /** Index of the sample before the gap. */
  index: number;
  /** Time of the last sample before the gap [s]. */
  start: number;
  /** Time of the first sample after the gap [s]. */
  end: number;
  /** round(Δt / cadence) − 1, at least 1. */
  missingSamples: number;
}

/** What {@link findGaps} reports. */
export interface GapReport {
  /** The cadence used [s] (given, or the median Δt). */
  cadence: number;
  gaps: Gap[];
  /** Total missing raster points over all gaps. */
  missingSamples: number;
  /** Steps not within `tolerance × cadence` of the cadence that are not gaps (0 < Δt ≤ 1.5 cadence). */
  irregularSteps: number;
  /** Steps with Δt ≤ 0 or NaN (unsorted or duplicate times). */
  nonIncreasingSteps: number;
  /** Samples a complete raster from first to last time would have. */
  expectedSamples: number;
}

/** Options for {@link findGaps}. */
export interface FindGapsOptions {
  /** Relative deviation from the cadence still counted as regular; default 0.01. */
  tolerance?: number;
  /** Gap threshold in cadences; default 1.5. */
  gapFactor?: number;
}

/**
 * Find gaps (Δt > 1.5 × cadence) and irregular steps in a time raster. The cadence is the
 * median Δt unless given. (The demo PLATO curve has float jitter of ~1e-9 s in its steps, well
 * inside the default tolerance.)
 */
export function findGaps(
  time: Float64Array,
  cadence?: number,
  options: FindGapsOptions = {},
): GapReport {
  const c = cadence ?? medianCadence(time);
  const tolerance = options.tolerance ?? 0.01;
  const factor = options.gapFactor ?? 1.5;
  const report: GapReport = {
    cadence: c,
    gaps: [],
    missingSamples: 0,
    irregularSteps: 0,
    nonIncreasingSteps: 0,
    expectedSamples: time.length,
  };
  if (time.length < 2) return report;
  if (!(c > 0) || !Number.isFinite(c)) {
    throw new RangeError(`cadence must be a positive number (got ${c})`);
  }
  for (let i = 1; i < time.length; i++) {
    const d = time[i]! - time[i - 1]!;
    if (!(d > 0)) {
      report.nonIncreasingSteps++;
    } else if (d > factor * c) {
      const missing = Math.max(1, Math.round(d / c) - 1);
      report.gaps.push({
        index: i - 1,
        start: time[i - 1]!,
        end: time[i]!,
        missingSamples: missing,
      });
      report.missingSamples += missing;
    } else if (Math.abs(d - c) > tolerance * c) {
      report.irregularSteps++;
    }
  }
  const span = time[time.length - 1]! - time[0]!;
  if (Number.isFinite(span) && span >= 0) report.expectedSamples = Math.round(span / c) + 1;
  return report;
}
