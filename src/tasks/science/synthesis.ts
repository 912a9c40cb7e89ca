/**
 * `synthesis_transit` (alias `synthesis_batman`): a limb-darkened transit light curve (Mandel &
 * Agol quadratic law) with the `specs` of the original `synthesis_batman`:
 *
 * | spec | unit | default |
 * | --- | --- | --- |
 * | `duration` | days (length of the light curve) | required |
 * | `sampling_cadence` | seconds | 900 |
 * | `t0` | days (first mid-transit) | 1 (the original's) |
 * | `planet_radius` | Jupiter radii (71492 km) | 0 (no planet: a flat or noise curve) |
 * | `star_radius` | Jupiter radii, as `planet_radius` (the original's unit) | 9.728361215240866 (the Sun: 695500 / 71492) |
 * | `orbital_period` | days | required with a planet |
 * | `semi_major_axis` | AU | required with a planet |
 * | `orbital_angle` | degrees, inclination offset from 90 (edge-on) | 0 |
 * | `impact_parameter` | stellar radii (instead of `orbital_angle`) | — |
 * | `u1`, `u2` | quadratic limb darkening | 0.1, 0.3 (the original's) |
 * | `noise` | relative (σ of a white Gaussian noise, also the uncertainty column) | 0 |
 * | `supersample` | model evaluations per cadence, averaged (exposure integration) | 1 (the original's: the model at each sample's time) |
 * | `seed` | integer seed of the noise | hash of the job id and task path |
 *
 * Units and defaults are the original's: its demo curve's sidecar (`demo_superearth.gz`) records
 * `star_radius = 9.728361215240866` (the Sun in Jupiter radii) beside `planet_radius =
 * 4 · Rearth`, and these specs reproduce the `integrated_transit_power` it records (0.1222390)
 * to 4e-7 and its 95 `pixels_in_transit` only with limb darkening 0.1, 0.3 and no supersampling.
 *
 * Times run from 0 to `duration` in steps of the cadence (the demo curve's raster). Output
 * metadata: the specs plus `integrated_transit_power` (Σ 1 − flux of the noiseless model),
 * `pixels_in_transit` (samples with model flux < 1), `pixels_out_of_transit` and `mes`
 * (`integrated_transit_power / (noise · sqrt(pixels_in_transit))`, `null` without noise).
 */
import type { HandlerDefinition, TaskContext } from '../../sdk/index.js';
import {
  transitLightCurve,
  SECONDS_PER_DAY,
  createLightCurve,
  type LightCurveMetadata,
} from '../../science/index.js';
import {
  gaussianRandom,
  hashSeed,
  numberParam,
  requiredNumber,
  specsOf,
  usage,
  writeOutput,
} from './common.js';

const TASK = 'synthesis_transit';
/** Jupiter's equatorial radius [m], as the original's constants. */
export const JUPITER_RADIUS_M = 71492e3;
/** The Sun's radius [m], as the original's constants. */
export const SUN_RADIUS_M = 695500e3;
/** The astronomical unit [m]. */
export const ASTRONOMICAL_UNIT_M = 149597870700;
/** Longest light curve accepted, in samples (times the supersampling): keeps memory bounded. */
const MAX_SAMPLES = 20_000_000;

export const synthesisTransitTask: HandlerDefinition = {
  run: (ctx: TaskContext) => {
    const specs = specsOf(ctx);
    const p = (key: string, fallback?: number): number | undefined =>
      numberParam(TASK, specs, key, fallback);
    const durationDays = requiredNumber(TASK, specs, 'duration');
    const cadence = p('sampling_cadence', 900)!;
    const t0 = p('t0', 1)!;
    const planetRadius = p('planet_radius', 0)!;
    const starRadius = p('star_radius', SUN_RADIUS_M / JUPITER_RADIUS_M)!;
    const u1 = p('u1', 0.1)!;
    const u2 = p('u2', 0.3)!;
    const noise = p('noise', 0)!;
    const supersample = Math.round(p('supersample', 1)!);
    if (!(durationDays > 0)) throw usage(TASK, `duration must be > 0 days, got ${durationDays}`);
    if (!(cadence > 0)) throw usage(TASK, `sampling_cadence must be > 0 s, got ${cadence}`);
    if (!(planetRadius >= 0)) throw usage(TASK, `planet_radius must be ≥ 0, got ${planetRadius}`);
    if (!(starRadius > 0)) throw usage(TASK, `star_radius must be > 0, got ${starRadius}`);
    if (!(noise >= 0)) throw usage(TASK, `noise must be ≥ 0, got ${noise}`);
    if (!(supersample >= 1)) throw usage(TASK, `supersample must be ≥ 1, got ${supersample}`);
    const n = Math.round((durationDays * SECONDS_PER_DAY) / cadence);
    if (n < 1 || n * supersample > MAX_SAMPLES) {
      throw usage(TASK, `duration / sampling_cadence gives ${n} samples (1 … ${MAX_SAMPLES})`);
    }
    const time = new Float64Array(n);
    for (let i = 0; i < n; i++) time[i] = i * cadence;

    const metadata: LightCurveMetadata = {
      duration: durationDays,
      sampling_cadence: cadence,
      t0,
      planet_radius: planetRadius,
      star_radius: starRadius,
      u1,
      u2,
      noise,
    };
    const model = new Float64Array(n).fill(1);
    if (planetRadius > 0) {
      const period = requiredNumber(TASK, specs, 'orbital_period');
      const aAu = requiredNumber(TASK, specs, 'semi_major_axis');
      if (!(period > 0)) throw usage(TASK, `orbital_period must be > 0 days, got ${period}`);
      if (!(aAu > 0)) throw usage(TASK, `semi_major_axis must be > 0 AU, got ${aAu}`);
      const impact = p('impact_parameter');
      const angle = p('orbital_angle', 0)!;
      const aOverRs = (aAu * ASTRONOMICAL_UNIT_M) / (starRadius * JUPITER_RADIUS_M);
      const rpOverRs = planetRadius / starRadius;
      const fine = new Float64Array(n * supersample);
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < supersample; k++) {
          fine[i * supersample + k] = time[i]! + ((k + 0.5) / supersample - 0.5) * cadence;
        }
      }
      const flux = transitLightCurve(fine, {
        t0Days: t0,
        periodDays: period,
        aOverRs,
        rpOverRs,
        u1,
        u2,
        ...(impact !== undefined ? { impactParameter: impact } : { inclinationDeg: 90 - angle }),
      });
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let k = 0; k < supersample; k++) s += flux[i * supersample + k]!;
        model[i] = s / supersample;
      }
      metadata.orbital_period = period;
      metadata.semi_major_axis = aAu;
      if (impact !== undefined) metadata.impact_parameter = impact;
      else metadata.orbital_angle = angle;
    }
    let power = 0;
    let inTransit = 0;
    for (let i = 0; i < n; i++) {
      if (model[i]! < 1) {
        power += 1 - model[i]!;
        inTransit++;
      }
    }
    metadata.integrated_transit_power = power;
    metadata.pixels_in_transit = inTransit;
    metadata.pixels_out_of_transit = n - inTransit;
    const mes = noise > 0 && inTransit > 0 ? power / (noise * Math.sqrt(inTransit)) : null;
    if (mes !== null) metadata.mes = mes;

    const flux = Float64Array.from(model);
    const uncertainty = new Float64Array(n);
    if (noise > 0) {
      const seed =
        numberParam(TASK, specs, 'seed') ?? hashSeed(`${ctx.task.job_id}:${ctx.task.path}`);
      metadata.seed = seed;
      const gauss = gaussianRandom(seed);
      for (let i = 0; i < n; i++) {
        flux[i] = flux[i]! + noise * gauss();
        uncertainty[i] = noise;
      }
    }
    const lc = createLightCurve({ time, flux, uncertainty, metadata });
    return {
      metadata: { ...metadata, mes, n_samples: n },
      fileMetadata: writeOutput(ctx, TASK, 'lightcurve', lc),
    };
  },
};
