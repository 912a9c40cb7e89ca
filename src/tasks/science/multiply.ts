/**
 * `multiply`: `lightcurve_1 × lightcurve_2`, the second resampled flux-conservingly onto the
 * first's time raster (used to inject a transit model into a noise curve). Uncertainties
 * combine in quadrature of the relative errors: `σ = sqrt((σ₁·f₂)² + (σ₂·f₁)²)`.
 *
 * Metadata rule: the output carries lightcurve_2's metadata overlaid by lightcurve_1's, i.e.
 * the union of both with **lightcurve_1 winning on conflicts** (lightcurve_1 is the raster,
 * the "base" curve). Samples of lightcurve_1 that lightcurve_2 does not cover get NaN flux.
 */
import type { HandlerDefinition, TaskContext } from '../../sdk/index.js';
import {
  flagsAreMeaningful,
  medianCadence,
  resampleDetailed,
  type LightCurve,
} from '../../science/index.js';
import { readInput, usage, writeOutput } from './common.js';

const TASK = 'multiply';

/** The product of two light curves on the first's raster (see the module comment). */
export function multiplyLightCurves(a: LightCurve, b: LightCurve): LightCurve {
  const n = a.time.length;
  if (n === 0 || b.time.length === 0) throw usage(TASK, 'both light curves must have samples');
  const r = resampleDetailed(b, a.time, n === 1 ? { targetCadence: medianCadence(b.time) } : {});
  const aFlags = flagsAreMeaningful(a);
  const flux = new Float64Array(n);
  const flag = new Float64Array(n);
  const uncertainty = new Float64Array(n);
  let covered = 0;
  for (let i = 0; i < n; i++) {
    const f1 = a.flux[i]!;
    const f2 = r.flux[i]!;
    flux[i] = f1 * f2;
    if (Number.isFinite(f2)) covered++;
    const s1 = a.uncertainty[i]!;
    const s2 = r.uncertainty[i]!;
    uncertainty[i] = s1 === 0 && s2 === 0 ? 0 : Math.hypot(s1 * f2, s2 * f1);
    flag[i] = Math.max(aFlags ? a.flag[i]! : 0, r.flag[i]!);
  }
  if (covered === 0) {
    throw usage(TASK, 'lightcurve_2 does not overlap lightcurve_1 in time');
  }
  return { time: a.time, flux, flag, uncertainty, metadata: { ...b.metadata, ...a.metadata } };
}

export const multiplyTask: HandlerDefinition = {
  run: (ctx: TaskContext) => {
    const a = readInput(ctx, TASK, 'lightcurve_1');
    const b = readInput(ctx, TASK, 'lightcurve_2');
    const product = multiplyLightCurves(a, b);
    let uncovered = 0;
    for (const f of product.flux) if (!Number.isFinite(f)) uncovered++;
    return {
      metadata: { n_samples: product.time.length, uncovered_samples: uncovered },
      fileMetadata: writeOutput(ctx, TASK, 'lightcurve', product),
    };
  },
};
