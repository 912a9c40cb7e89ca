/**
 * Quadratic limb-darkened transit model (Mandel & Agol 2002), the science core of the
 * `synthesis_transit` task (alias `synthesis_batman`).
 *
 * The stellar intensity is `I(μ) = 1 − u1·(1 − μ) − u2·(1 − μ)²`, `μ = √(1 − ρ²)`. Written as
 * `I = c0 + c1·μ + c2·μ²` with `c0 = 1 − u1 − u2`, `c1 = u1 + 2·u2`, `c2 = −u2`, the visible
 * flux is `c0·S0 + c1·S1 + c2·S2` where `S0`, `S1`, `S2` are the integrals of `1`, `μ` and
 * `μ²` over the visible part of the stellar disk, normalised by the unocculted
 * `π·(1 − u1/3 − u2/6)`:
 *
 * - `S0 = π − A_lens` (the uniform disk, M&A eq. 1, the lens area in the robust `atan2` form);
 * - `S2 = S0 + π·η` with M&A's `η` terms (closed form, no elliptic integrals);
 * - `S1` needs complete elliptic integrals. It is evaluated with the formulation of Agol,
 *   Luger & Foreman-Mackey (2020, AJ 159, 123, §2–3, same case numbering as M&A), which
 *   regroups M&A's `λ_d` so that each case needs only Bulirsch's general complete elliptic
 *   integral `cel(kc, p, a, b)` (which combines `K`, `E` and `Π`) with no cancelling divergent
 *   terms. It stays accurate to ~1e-15 up to and across the contact points, where M&A's
 *   separate `K`, `E`, `Π` forms lose digits (test: brute-force disk integration).
 *
 * Cases, numbered as in Mandel & Agol (2002) Table 1 (`z` = separation, `p` = radius ratio,
 * both in stellar radii):
 *
 * | case | condition | here |
 * |---|---|---|
 * | 1 | `z ≥ 1 + p` (no overlap, incl. first/last contact) | flux 1 exactly |
 * | 2 | `½ + abs(p − ½) < z < 1 + p`: crossing the limb, centre uncovered | `k² < 1` branch |
 * | 3 | `p < ½`, `p < z < 1 − p`: inside the disk, centre uncovered | `k² > 1` branch |
 * | 4 | `z = 1 − p` (second/third contact) | closed form (no elliptic integral) |
 * | 5 | `z = p < ½` | `E(4p²)`, `K(4p²)` |
 * | 6 | `z = p = ½` | closed form |
 * | 7 | `z = p > ½` | `E(1/(4p²))`, `K(1/(4p²))` |
 * | 8 | `p > ½`, `abs(1 − p) < z < p`: crossing the limb, centre covered | `k² < 1` branch |
 * | 9 | `p < 1`, `0 < z < ½ − abs(p − ½)`: inside, centre covered | `k² > 1` branch |
 * | 10 | `z = 0`, `p < 1` | closed form |
 * | 11 | `z ≤ p − 1` (`p ≥ 1`, star fully hidden) | flux 0 |
 *
 * (`k² = (1 − (z − p)²)/(4·z·p)`.) Exact-equality cases are taken within `CASE_TOLERANCE`
 * (1e-12) of their condition; the general formulas are continuous there, so the switch costs
 * less than ~1e-12 in flux. `p > 1` (an occultor bigger than the star) is supported.
 *
 * Everything runs on typed arrays with no per-sample allocation; one in-transit sample costs
 * about three `cel` evaluations (a dozen AGM steps each).
 *
 * @module
 */
import { EasError } from '../core/index.js';
import { projectedSeparation, type OrbitParams } from './orbit.js';

const PI = Math.PI;
const TWO_PI = 2 * Math.PI;
const HALF_PI = 0.5 * Math.PI;
const EPS = Number.EPSILON;
/** Relative stopping tolerance of the AGM in `cel`; quadratic convergence ⇒ ~EPS at the end. */
const CEL_TOLERANCE = Math.sqrt(EPS);
/** Distance within which `z = 0`, `z = p`, `p = 1/2` are taken as exact (M&A cases 5–7, 10). */
const CASE_TOLERANCE = 1e-12;

function usage(message: string): EasError {
  return new EasError('USAGE', message, { where: 'science/transit-model' });
}

/**
 * Bulirsch's general complete elliptic integral with `k² = 1 − kc²` given separately (to keep
 * digits when `kc → 1`):
 * `cel(kc, p, a, b) = ∫₀^{π/2} (a·cos²φ + b·sin²φ) / ((cos²φ + p·sin²φ)·√(cos²φ + kc²·sin²φ)) dφ`.
 * For `p < 0` it returns the Cauchy principal value. Algorithm of Bulirsch (1969, Numer. Math.
 * 13, 305), AGM-based, quadratic convergence.
 */
function celK2(k2: number, kc: number, p: number, a: number, b: number): number {
  let qc = Math.abs(kc);
  if (qc === 0) {
    // K diverges logarithmically at kc = 0; callers only reach it in combinations that stay
    // finite, so a tiny positive kc gives the limit to double precision.
    qc = EPS * EPS;
  }
  let e = qc;
  let em = 1;
  let f: number;
  let g: number;
  if (p > 0) {
    p = Math.sqrt(p);
    b /= p;
  } else {
    // Principal value for p ≤ 0: transform to an equivalent positive p (Bulirsch 1969).
    let q = k2;
    g = 1 - p;
    f = g - k2;
    q *= b - a * p;
    p = Math.sqrt(f / g);
    a = (a - b) / g;
    b = -q / (g * g * p) + a * p;
  }
  for (let iter = 0; iter < 100; iter++) {
    f = a;
    a += b / p;
    g = e / p;
    b += f * g;
    b += b;
    p += g;
    g = em;
    em += qc;
    if (Math.abs(g - qc) <= g * CEL_TOLERANCE) break;
    qc = Math.sqrt(e);
    qc += qc;
    e = qc * em;
  }
  return (HALF_PI * (b + a * em)) / (em * (em + p));
}

/**
 * Bulirsch's general complete elliptic integral
 * `cel(kc, p, a, b) = ∫₀^{π/2} (a·cos²φ + b·sin²φ) / ((cos²φ + p·sin²φ)·√(cos²φ + kc²·sin²φ)) dφ`
 * (Cauchy principal value for `p < 0`). `K(m) = cel(√(1−m), 1, 1, 1)`,
 * `E(m) = cel(√(1−m), 1, 1, 1−m)`, `Π(n|m) = cel(√(1−m), 1−n, 1, 1)`.
 */
export function cel(kc: number, p: number, a: number, b: number): number {
  return celK2((1 - kc) * (1 + kc), kc, p, a, b);
}

function complementaryModulus(m: number, what: string): number {
  if (!(m <= 1)) throw usage(`${what}: parameter m = k² must be ≤ 1, got ${m}`);
  return Math.sqrt(1 - m);
}

/** Complete elliptic integral of the first kind `K(m) = ∫₀^{π/2} dφ/√(1 − m·sin²φ)`, `m = k²`. */
export function ellipticK(m: number): number {
  const kc = complementaryModulus(m, 'ellipticK');
  if (kc === 0) return Infinity;
  return celK2(m, kc, 1, 1, 1);
}

/** Complete elliptic integral of the second kind `E(m) = ∫₀^{π/2} √(1 − m·sin²φ) dφ`, `m = k²`. */
export function ellipticE(m: number): number {
  const kc = complementaryModulus(m, 'ellipticE');
  if (kc === 0) return 1;
  return celK2(m, kc, 1, 1, kc * kc);
}

/**
 * Complete elliptic integral of the third kind
 * `Π(n|m) = ∫₀^{π/2} dφ / ((1 − n·sin²φ)·√(1 − m·sin²φ))` (Cauchy principal value for
 * `n > 1`), `m = k²`. Note Mandel & Agol write `Π(−n, k)` in places with the opposite sign
 * convention for `n`.
 */
export function ellipticPi(n: number, m: number): number {
  const kc = complementaryModulus(m, 'ellipticPi');
  if (n === 1 || kc === 0) return Infinity;
  return celK2(m, kc, 1 - n, 1, 1);
}

/**
 * Relative flux of a quadratically limb-darkened star (coefficients `u1`, `u2`) occulted by
 * an opaque disk of radius `p` (stellar radii) at each centre separation in `z` (stellar radii;
 * the sign is ignored, `+Infinity` gives 1). Written into `out` (allocated when absent);
 * returns `out`. `NaN` in `z` gives `NaN`.
 *
 * @throws EasError `USAGE` when `p` is negative or not finite, `u1`/`u2` are not finite, or
 *   `1 − u1/3 − u2/6 ≤ 0` (no positive total flux).
 */
export function occultQuadratic(
  z: Float64Array | readonly number[],
  p: number,
  u1: number,
  u2: number,
  out?: Float64Array,
): Float64Array {
  const n = z.length;
  const res = out ?? new Float64Array(n);
  if (res.length < n) throw usage(`out has ${res.length} elements, z has ${n}`);
  if (!(Number.isFinite(p) && p >= 0)) {
    throw usage(`radius ratio p must be a finite number ≥ 0, got ${p}`);
  }
  if (!Number.isFinite(u1) || !Number.isFinite(u2)) {
    throw usage(`limb-darkening coefficients must be finite, got u1 = ${u1}, u2 = ${u2}`);
  }
  const norm = PI * (1 - u1 / 3 - u2 / 6);
  if (!(norm > 0)) {
    throw usage(`limb darkening u1 = ${u1}, u2 = ${u2} gives no positive total flux`);
  }
  const c0 = (1 - u1 - u2) / norm;
  const c1 = (u1 + 2 * u2) / norm;
  const c2 = -u2 / norm;
  for (let i = 0; i < n; i++) {
    const zi = Math.abs(z[i] as number);
    if (Number.isNaN(zi)) res[i] = NaN;
    else if (p === 0 || zi >= 1 + p) res[i] = 1;
    else res[i] = occultedFlux(zi, p, c0, c1, c2);
  }
  return res;
}

/**
 * Visible flux `c0·S0 + c1·S1 + c2·S2` for one separation `b` (`0 ≤ b < 1 + r`, `r > 0`),
 * with the `c`'s already divided by the unocculted flux.
 */
function occultedFlux(b: number, r: number, c0: number, c1: number, c2: number): number {
  // Case 11: the star is entirely behind the occultor.
  if (b <= r - 1) return 0;

  const r2 = r * r;
  const b2 = b * b;
  const atCentre = b <= CASE_TOLERANCE; // case 10 (r < 1 here)
  const onLimbOfCentre = !atCentre && Math.abs(b - r) <= CASE_TOLERANCE; // cases 5–7
  const bmr = b - r;
  const onembmr2 = (1 - bmr) * (1 + bmr); // 1 − (b − r)²
  const onembpr2 = (1 - b - r) * (1 + b + r); // 1 − (b + r)²
  const fourbr = 4 * b * r;
  // k² = (1 − (b − r)²)/(4br): > 1 when the occultor is inside the disk, < 1 when it crosses
  // the limb, = 1 at the inner contact z = 1 − p.
  const ksq = atCentre ? Infinity : onembmr2 / fourbr;
  const inside = ksq > 1;
  // Case 4 (z = 1 − p): taken within CASE_TOLERANCE, also so that rounding never hands the
  // elliptic branches a k² ≠ 1 with kc = 0.
  const innerContact = !atCentre && !onLimbOfCentre && Math.abs(1 - b - r) <= CASE_TOLERANCE;

  // ---- S0 (uniform disk) and the lens angles.
  let s0: number;
  let kap0 = 0;
  let kap1 = 0;
  let kite = 0; // √((1 − (b−r)²)((b+r)² − 1)) = 4 × area of the triangle (1, b, r)
  if (atCentre || inside) {
    s0 = PI * (1 - r2);
  } else {
    // Heron with sorted sides (Kahan), robust when the triangle degenerates at contacts.
    let x0 = 1;
    let x1 = b;
    let x2 = r;
    let t: number;
    if (x0 < x1) {
      t = x0;
      x0 = x1;
      x1 = t;
    }
    if (x1 < x2) {
      t = x1;
      x1 = x2;
      x2 = t;
    }
    if (x0 < x1) {
      t = x0;
      x0 = x1;
      x1 = t;
    }
    const sq = (x0 + (x1 + x2)) * (x2 - (x0 - x1)) * (x2 + (x0 - x1)) * (x0 + (x1 - x2));
    kite = Math.sqrt(Math.max(0, sq));
    kap0 = Math.atan2(kite, (r - 1) * (r + 1) + b2); // half-angle of the arc on the occultor
    kap1 = Math.atan2(kite, (1 - r) * (1 + r) + b2); // half-angle of the arc on the star
    s0 = PI - (kap1 + r2 * kap0 - 0.5 * kite);
  }

  // ---- S1 = (2π·(1 − H) − Λ)/3, H = 1 when the occultor covers the disk centre.
  let lambda: number;
  let coversCentre = r > b;
  if (atCentre) {
    // Case 10.
    const q = 1 - r2;
    lambda = -TWO_PI * q * Math.sqrt(q);
    coversCentre = true;
  } else if (onLimbOfCentre) {
    coversCentre = false;
    if (Math.abs(r - 0.5) <= CASE_TOLERANCE) {
      // Case 6.
      lambda = PI - 4 / 3;
    } else if (r < 0.5) {
      // Case 5: modulus m = 4r².
      const m = 4 * r2;
      const kc = Math.sqrt((1 - 2 * r) * (1 + 2 * r));
      const eK = celK2(m, kc, 1, 1, kc * kc); // E(m)
      const dK = celK2(m, kc, 1, 1, 0); // (E − (1 − m)K)/m
      lambda = PI + (2 / 3) * ((2 * m - 3) * eK - m * dK);
    } else {
      // Case 7: modulus 1/(4r²).
      const m = 4 * r2;
      const minv = 1 / m;
      const kc = Math.sqrt(Math.max(0, 1 - minv));
      const eK = celK2(minv, kc, 1, 1, kc * kc);
      const dK = celK2(minv, kc, 1, 1, 0);
      lambda = PI + (-m * eK + (2 * m - 3) * dK) / (3 * r);
    }
  } else if (innerContact) {
    // Case 4: z = 1 − p.
    lambda =
      2 * Math.acos(1 - 2 * r) -
      (4 / 3) * (3 + 2 * r - 8 * r2) * Math.sqrt(r * (1 - r)) -
      (r > 0.5 ? TWO_PI : 0);
  } else if (ksq < 1) {
    // Cases 2 and 8: the occultor crosses the limb. Modulus k² < 1.
    const kcsq = -onembpr2 / fourbr; // 1 − k² = ((b + r)² − 1)/(4br)
    const kc = Math.sqrt(Math.max(0, kcsq));
    const piTerm = celK2(ksq, kc, bmr * bmr * kcsq, 0, 3 * kcsq * bmr * (b + r));
    const eK = celK2(ksq, kc, 1, 1, kcsq);
    const dK = celK2(ksq, kc, 1, 1, 0);
    lambda =
      (onembmr2 * (piTerm + (-3 + 6 * r2 + 2 * b * r) * dK - fourbr * eK)) / (3 * Math.sqrt(b * r));
  } else if (ksq > 1) {
    // Cases 3 and 9: the occultor is inside the disk. Modulus 1/k² < 1.
    const kcsq = onembpr2 / onembmr2; // 1 − 1/k²
    const kc = Math.sqrt(Math.max(0, kcsq));
    const k2 = fourbr / onembmr2;
    const ratio = bmr / (b + r);
    const mu = (3 * ratio) / onembmr2;
    const pp = ratio * ratio * kcsq;
    const piTerm = celK2(k2, kc, pp, 1 + mu, pp + mu);
    const eK = celK2(k2, kc, 1, 1, kcsq);
    lambda = (2 * Math.sqrt(onembmr2) * (onembpr2 * piTerm - (4 - 7 * r2 - b2) * eK)) / 3;
  } else {
    // k² = 1 exactly but |1 − b − r| > CASE_TOLERANCE: impossible in exact arithmetic.
    throw new EasError(
      'INTERNAL',
      `transit model: k² = 1 off the inner contact (z = ${b}, p = ${r})`,
    );
  }
  const s1 = ((coversCentre ? 0 : TWO_PI) - lambda) / 3;

  // ---- S2 = ∫ μ² = S0 + π·η (M&A's η, shifted by 1/2).
  let s2: number;
  if (atCentre) {
    const q = 1 - r2;
    s2 = 0.5 * PI * q * q;
  } else {
    const eta2 = 0.5 * r2 * (r2 + 2 * b2);
    if (inside) s2 = s0 + PI * (eta2 - 0.5);
    else s2 = s0 + 0.5 * (kap1 - PI + 2 * eta2 * kap0 - 0.25 * kite * (1 + 5 * r2 + b2));
  }

  return c0 * s0 + c1 * s1 + c2 * s2;
}

/**
 * Parameters of {@link transitLightCurve}: the orbit ({@link OrbitParams}: `t0Days`,
 * `periodDays`, `aOverRs`, `inclinationDeg` or `impactParameter`, `eccentricity` = 0,
 * `omegaDeg` = 90) plus the radius ratio and quadratic limb darkening.
 */
export interface TransitParams extends OrbitParams {
  /** Planet radius / star radius. */
  rpOverRs: number;
  /** Linear limb-darkening coefficient. */
  u1: number;
  /** Quadratic limb-darkening coefficient. */
  u2: number;
}

/**
 * Relative flux of a transiting planet at each time `time_s` (seconds; `t0Days` and
 * `periodDays` are in days on the same clock). The orbit is Keplerian (circular by default;
 * an eccentric orbit needs `eccentricity` and `omegaDeg`); the flux is instantaneous (no
 * integration over the exposure — supersample the time grid and bin for long cadences).
 * Out of transit, and whenever the planet is behind the star, the flux is exactly 1.
 *
 * @example
 * ```ts
 * const flux = transitLightCurve(time, {
 *   t0Days: 13.5, periodDays: 50, rpOverRs: 0.03, aOverRs: 50, impactParameter: 0.3,
 *   u1: 0.4, u2: 0.26,
 * });
 * ```
 */
export function transitLightCurve(
  time_s: Float64Array | readonly number[],
  params: TransitParams,
  out?: Float64Array,
): Float64Array {
  const z = projectedSeparation(time_s, params, out);
  return occultQuadratic(z, params.rpOverRs, params.u1, params.u2, z);
}

/**
 * Transit depth `1 − F` at the smallest separation `b` (the impact parameter for a circular
 * orbit). With `u1 = u2 = 0` and `b ≤ 1 − p` this is exactly `p²`.
 */
export function transitDepth(rpOverRs: number, u1 = 0, u2 = 0, impactParameter = 0): number {
  const f = occultQuadratic([impactParameter], rpOverRs, u1, u2);
  return 1 - (f[0] as number);
}
