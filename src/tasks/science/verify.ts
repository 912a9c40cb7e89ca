/**
 * `verify`: checks a light curve and records what it holds: sample count, time range, flux
 * statistics, cadence, gaps on the regular raster, non-finite values. Writes the same report as
 * JSON to the optional output `verification` when the chain declares it. Times out of order
 * are sorted for the gap analysis (a shuffled file has the raster of the sorted one);
 * `non_increasing_steps` counts the file's steps that do not go forward, and `time_sorted` is 0
 * when there are any.
 */
import { writeFileSync } from 'node:fs';
import type { HandlerDefinition, TaskContext } from '../../sdk/index.js';
import { findGaps, goodSampleMask, SECONDS_PER_DAY } from '../../science/index.js';
import { num, readInput } from './common.js';

const TASK = 'verify';

export const verifyTask: HandlerDefinition = {
  run: (ctx: TaskContext) => {
    const lc = readInput(ctx, TASK, 'lightcurve');
    const n = lc.time.length;
    if (n === 0)
      throw new Error(`${TASK}: light curve ${ctx.task.inputs.lightcurve} has no samples`);
    let nonFiniteTime = 0;
    let nonFiniteFlux = 0;
    let tMin = Infinity;
    let tMax = -Infinity;
    let fMin = Infinity;
    let fMax = -Infinity;
    let sum = 0;
    let count = 0;
    for (let i = 0; i < n; i++) {
      const t = lc.time[i]!;
      if (Number.isFinite(t)) {
        if (t < tMin) tMin = t;
        if (t > tMax) tMax = t;
      } else nonFiniteTime++;
      const f = lc.flux[i]!;
      if (Number.isFinite(f)) {
        if (f < fMin) fMin = f;
        if (f > fMax) fMax = f;
        sum += f;
        count++;
      } else nonFiniteFlux++;
    }
    if (count === 0) {
      throw new Error(`${TASK}: light curve ${ctx.task.inputs.lightcurve} has no finite flux`);
    }
    const mean = sum / count;
    let ss = 0;
    for (let i = 0; i < n; i++) {
      const f = lc.flux[i]!;
      if (Number.isFinite(f)) ss += (f - mean) * (f - mean);
    }
    const mask = goodSampleMask(lc);
    let good = 0;
    for (let i = 0; i < n; i++) good += mask[i]!;
    // Steps that do not go forward, in the file's order: an unsorted or repeated time.
    let nonIncreasing = 0;
    for (let i = 1; i < n; i++) {
      const [a, b] = [lc.time[i - 1]!, lc.time[i]!];
      if (Number.isFinite(a) && Number.isFinite(b) && !(b > a)) nonIncreasing++;
    }
    // The raster's gaps are those of the times in order: a shuffled file has the same ones.
    const times =
      nonIncreasing > 0
        ? Float64Array.from(lc.time.filter((t) => Number.isFinite(t))).sort()
        : lc.time;
    const gaps = times.length > 1 ? findGaps(times) : undefined;
    const metadata = {
      n_samples: n,
      n_good_samples: good,
      time_start: num(tMin / SECONDS_PER_DAY),
      time_end: num(tMax / SECONDS_PER_DAY),
      time_span: num((tMax - tMin) / SECONDS_PER_DAY),
      flux_min: fMin,
      flux_max: fMax,
      flux_mean: mean,
      flux_std: Math.sqrt(ss / count),
      cadence: gaps ? num(gaps.cadence) : null,
      n_gaps: gaps ? gaps.gaps.length : 0,
      missing_samples: gaps ? gaps.missingSamples : 0,
      expected_samples: gaps ? gaps.expectedSamples : n,
      irregular_steps: gaps ? gaps.irregularSteps : 0,
      non_increasing_steps: nonIncreasing,
      time_sorted: nonIncreasing === 0 ? 1 : 0,
      non_finite_time: nonFiniteTime,
      non_finite_flux: nonFiniteFlux,
    };
    const report = ctx.task.outputs.verification;
    if (report !== undefined) {
      const longest = gaps?.gaps
        .slice()
        .sort((a, b) => b.missingSamples - a.missingSamples)
        .slice(0, 20)
        .map((g) => ({
          start: g.start / SECONDS_PER_DAY,
          end: g.end / SECONDS_PER_DAY,
          missing_samples: g.missingSamples,
        }));
      writeFileSync(
        report,
        `${JSON.stringify({ ...metadata, gaps: longest ?? [], lightcurve_metadata: lc.metadata }, null, 2)}\n`,
      );
    }
    return { metadata };
  },
};
