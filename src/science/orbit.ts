/**
 * Transit geometry of a planet on a Keplerian orbit: unit conversions, impact parameter ↔
 * inclination, transit durations and the sky-projected star–planet separation used by the
 * transit model ({@link transitLightCurve} in `transit-model.ts`).
 *
 * Conventions: lengths in stellar radii, angles in degrees at the API, times in days unless a
 * name says seconds (`time_s`). The observer looks along +Z; the planet transits (passes in
 * front of the star) at its inferior conjunction, true anomaly `f = 90° − ω`. With
 * `eccentricity = 0` (the default) `ω` is irrelevant and the orbit is circular.
 *
 * References: Winn (2010), "Transits and Occultations", arXiv:1001.2010, eqs. 7, 14–16;
 * Seager & Mallén-Ornelas (2003), ApJ 585, 1038.
 *
 * @module
 */
import { EasError } from '../core/index.js';

/** The astronomical unit in metres (IAU 2012, exact). */
export const AU_M = 149_597_870_700;
/** The nominal solar radius in metres (IAU 2015 Resolution B3). */
export const SOLAR_RADIUS_M = 6.957e8;
/** Seconds in a day. */
export const SECONDS_PER_DAY = 86_400;

const DEG = Math.PI / 180;
const TWO_PI = 2 * Math.PI;

function usage(message: string): EasError {
  return new EasError('USAGE', message, { where: 'science/orbit' });
}

function requirePositive(value: number, what: string): void {
  if (!(Number.isFinite(value) && value > 0)) {
    throw usage(`${what} must be a positive finite number, got ${value}`);
  }
}

function requireEccentricity(e: number): void {
  if (!(Number.isFinite(e) && e >= 0 && e < 1)) {
    throw usage(`eccentricity must be in [0, 1), got ${e}`);
  }
}

/**
 * Semi-major axis in stellar radii from the semi-major axis in AU and the stellar radius in
 * metres.
 *
 * @example aOverRsFromAu(1, SOLAR_RADIUS_M) // ≈ 215.03 (the Earth around the Sun)
 */
export function aOverRsFromAu(aAu: number, starRadiusM: number): number {
  requirePositive(aAu, 'semi-major axis [AU]');
  requirePositive(starRadiusM, 'star radius [m]');
  return (aAu * AU_M) / starRadiusM;
}

/**
 * The factor `(1 − e²)/(1 + e·sin ω)` that turns `a·cos i` into the star–planet sky
 * separation at inferior conjunction (Winn 2010, eq. 7); 1 for a circular orbit.
 */
function conjunctionDistanceFactor(eccentricity: number, omegaDeg: number): number {
  if (eccentricity === 0) return 1;
  return (1 - eccentricity * eccentricity) / (1 + eccentricity * Math.sin(omegaDeg * DEG));
}

/**
 * Impact parameter `b` (sky separation at inferior conjunction, in stellar radii) from the
 * orbital inclination: `b = (a/R⋆)·cos i·(1 − e²)/(1 + e·sin ω)`.
 */
export function impactParameterFromInclination(
  aOverRs: number,
  inclinationDeg: number,
  eccentricity = 0,
  omegaDeg = 90,
): number {
  requirePositive(aOverRs, 'aOverRs');
  requireEccentricity(eccentricity);
  if (!Number.isFinite(inclinationDeg)) {
    throw usage(`inclination must be a finite number of degrees, got ${inclinationDeg}`);
  }
  return (
    aOverRs *
    Math.abs(Math.cos(inclinationDeg * DEG)) *
    conjunctionDistanceFactor(eccentricity, omegaDeg)
  );
}

/**
 * Orbital inclination in degrees (0…90) from the impact parameter; the inverse of
 * {@link impactParameterFromInclination}.
 *
 * @throws EasError `USAGE` when `b` is negative or larger than the conjunction distance.
 */
export function inclinationFromImpactParameter(
  aOverRs: number,
  impactParameter: number,
  eccentricity = 0,
  omegaDeg = 90,
): number {
  requirePositive(aOverRs, 'aOverRs');
  requireEccentricity(eccentricity);
  const d = aOverRs * conjunctionDistanceFactor(eccentricity, omegaDeg);
  if (!(Number.isFinite(impactParameter) && impactParameter >= 0 && impactParameter <= d)) {
    throw usage(
      `impact parameter must be in [0, ${d}] (the star–planet distance at conjunction, in ` +
        `stellar radii), got ${impactParameter}`,
    );
  }
  return Math.acos(impactParameter / d) / DEG;
}

/**
 * Total transit duration T14 (first to fourth contact) of a circular orbit, in the unit of
 * `period`: `T14 = P/π · asin( √((1 + k)² − b²) / ((a/R⋆)·sin i) )` with `k = Rp/R⋆`
 * (Seager & Mallén-Ornelas 2003, eq. 3; Winn 2010, eq. 14). Returns 0 when the planet misses
 * the star (`b ≥ 1 + k`). For `a/R⋆·sin i` < the chord (a grazing planet on a tiny orbit)
 * the argument of asin is clipped at 1 (half an orbit).
 */
export function transitDurationT14(
  period: number,
  aOverRs: number,
  rpOverRs: number,
  impactParameter: number,
): number {
  return chordDuration(period, aOverRs, 1 + rpOverRs, impactParameter, 'rpOverRs', rpOverRs);
}

/**
 * Full-transit duration T23 (second to third contact) of a circular orbit, same formula as
 * {@link transitDurationT14} with `1 − k`; 0 for a grazing transit (`b ≥ 1 − k`).
 */
export function transitDurationT23(
  period: number,
  aOverRs: number,
  rpOverRs: number,
  impactParameter: number,
): number {
  return chordDuration(period, aOverRs, 1 - rpOverRs, impactParameter, 'rpOverRs', rpOverRs);
}

function chordDuration(
  period: number,
  aOverRs: number,
  reach: number,
  b: number,
  kName: string,
  k: number,
): number {
  requirePositive(period, 'period');
  requirePositive(aOverRs, 'aOverRs');
  if (!(Number.isFinite(k) && k >= 0)) throw usage(`${kName} must be ≥ 0, got ${k}`);
  if (!(Number.isFinite(b) && b >= 0)) throw usage(`impact parameter must be ≥ 0, got ${b}`);
  if (b > aOverRs) throw usage(`impact parameter ${b} exceeds aOverRs ${aOverRs}`);
  if (reach <= b) return 0;
  const chord = Math.sqrt((reach - b) * (reach + b));
  const sinI = Math.sqrt((1 - b / aOverRs) * (1 + b / aOverRs));
  const x = Math.min(1, chord / (aOverRs * sinI));
  return (period / Math.PI) * Math.asin(x);
}

/**
 * The semi-major axis in stellar radii that gives a circular-orbit transit of total duration
 * `t14` (same unit as `period`), radius ratio `k` and impact parameter `b`; the inverse of
 * {@link transitDurationT14}: `(a/R⋆)² = ((1 + k)² − b²)/sin²(π·T14/P) + b²`.
 */
export function aOverRsFromT14(
  period: number,
  t14: number,
  rpOverRs: number,
  impactParameter = 0,
): number {
  requirePositive(period, 'period');
  requirePositive(t14, 'transit duration');
  if (!(t14 < period / 2))
    throw usage(`transit duration ${t14} must be < period/2 (${period / 2})`);
  const b = impactParameter;
  const reach = 1 + rpOverRs;
  if (!(Number.isFinite(b) && b >= 0 && b < reach)) {
    throw usage(`impact parameter must be in [0, 1 + rpOverRs), got ${b}`);
  }
  const s = Math.sin((Math.PI * t14) / period);
  return Math.sqrt(((reach - b) * (reach + b)) / (s * s) + b * b);
}

/** Orbit of {@link projectedSeparation}; see {@link TransitParams} in `transit-model.ts`. */
export interface OrbitParams {
  /** Time of mid-transit (inferior conjunction) [d], on the same clock as `time_s / 86400`. */
  t0Days: number;
  /** Orbital period [d]. */
  periodDays: number;
  /** Semi-major axis in stellar radii. */
  aOverRs: number;
  /** Orbital inclination [deg] (90 = edge-on); give this or `impactParameter`. */
  inclinationDeg?: number;
  /** Impact parameter in stellar radii; give this or `inclinationDeg`. */
  impactParameter?: number;
  /** Eccentricity, default 0 (circular). */
  eccentricity?: number;
  /** Argument of periastron [deg], default 90; ignored when `eccentricity` is 0. */
  omegaDeg?: number;
}

/** Resolves `inclinationDeg` / `impactParameter` of {@link OrbitParams} to cos i. */
export function resolveCosInclination(params: OrbitParams): number {
  const { aOverRs, inclinationDeg, impactParameter } = params;
  const e = params.eccentricity ?? 0;
  const omega = params.omegaDeg ?? 90;
  requirePositive(aOverRs, 'aOverRs');
  requireEccentricity(e);
  if (inclinationDeg !== undefined && impactParameter !== undefined) {
    throw usage('give either inclinationDeg or impactParameter, not both');
  }
  if (inclinationDeg !== undefined) {
    if (!Number.isFinite(inclinationDeg)) {
      throw usage(`inclinationDeg must be a finite number, got ${inclinationDeg}`);
    }
    return Math.cos(inclinationDeg * DEG);
  }
  if (impactParameter !== undefined) {
    return Math.cos(inclinationFromImpactParameter(aOverRs, impactParameter, e, omega) * DEG);
  }
  throw usage('one of inclinationDeg or impactParameter is required');
}

/** Solves Kepler's equation `E − e·sin E = M` (Newton, starting from a bounded guess). */
export function solveKepler(meanAnomaly: number, eccentricity: number): number {
  const e = eccentricity;
  let m = meanAnomaly % TWO_PI;
  if (m > Math.PI) m -= TWO_PI;
  else if (m < -Math.PI) m += TWO_PI;
  let ea = m + e * Math.sin(m) * (1 + e * Math.cos(m));
  if (e > 0.8) ea = m < 0 ? -Math.PI : Math.PI;
  for (let i = 0; i < 50; i++) {
    const f = ea - e * Math.sin(ea) - m;
    const dea = f / (1 - e * Math.cos(ea));
    ea -= dea;
    if (Math.abs(dea) < 1e-15) break;
  }
  return ea;
}

/**
 * Sky-projected star–planet centre separation in stellar radii at each time (`time_s` in
 * seconds), written into `out` (allocated when absent). When the planet is behind the star
 * (no transit possible) the separation is `+Infinity`, so the transit model returns flux 1
 * there; secondary eclipses are not modelled.
 */
export function projectedSeparation(
  time_s: Float64Array | readonly number[],
  params: OrbitParams,
  out?: Float64Array,
): Float64Array {
  const n = time_s.length;
  const res = out ?? new Float64Array(n);
  if (res.length < n) throw usage(`out has ${res.length} elements, time has ${n}`);
  const { t0Days, periodDays, aOverRs } = params;
  if (!Number.isFinite(t0Days)) throw usage(`t0Days must be a finite number, got ${t0Days}`);
  requirePositive(periodDays, 'periodDays');
  const cosI = resolveCosInclination(params);
  const e = params.eccentricity ?? 0;
  const t0s = t0Days * SECONDS_PER_DAY;
  const nOmega = TWO_PI / (periodDays * SECONDS_PER_DAY);

  if (e === 0) {
    for (let i = 0; i < n; i++) {
      const phi = nOmega * ((time_s[i] as number) - t0s);
      const c = Math.cos(phi);
      if (c <= 0) {
        res[i] = Infinity;
        continue;
      }
      const s = Math.sin(phi);
      const y = c * cosI;
      res[i] = aOverRs * Math.sqrt(s * s + y * y);
    }
    return res;
  }

  const omega = (params.omegaDeg ?? 90) * DEG;
  const sqrtE = Math.sqrt((1 - e) / (1 + e));
  const fTransit = Math.PI / 2 - omega;
  const eTransit = 2 * Math.atan(sqrtE * Math.tan(fTransit / 2));
  const mTransit = eTransit - e * Math.sin(eTransit);
  const rootP = Math.sqrt(1 + e);
  const rootM = Math.sqrt(1 - e);
  for (let i = 0; i < n; i++) {
    const ea = solveKepler(mTransit + nOmega * ((time_s[i] as number) - t0s), e);
    const f = 2 * Math.atan2(rootP * Math.sin(ea / 2), rootM * Math.cos(ea / 2));
    const r = aOverRs * (1 - e * Math.cos(ea));
    const sw = Math.sin(omega + f);
    if (sw <= 0) {
      res[i] = Infinity;
      continue;
    }
    const x = r * Math.cos(omega + f);
    const y = r * sw * cosI;
    res[i] = Math.sqrt(x * x + y * y);
  }
  return res;
}
