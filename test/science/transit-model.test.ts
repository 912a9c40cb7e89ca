import { describe, expect, it } from 'vitest';
import {
  cel,
  ellipticE,
  ellipticK,
  ellipticPi,
  occultQuadratic,
  transitDepth,
  transitLightCurve,
} from '../../src/science/transit-model.js';
import {
  aOverRsFromAu,
  aOverRsFromT14,
  impactParameterFromInclination,
  inclinationFromImpactParameter,
  projectedSeparation,
  SOLAR_RADIUS_M,
  transitDurationT14,
  transitDurationT23,
} from '../../src/science/orbit.js';

// ---------------------------------------------------------------------------------------------
// Independent reference: brute-force integration of the limb-darkened disk.
//
// Blocked flux = ∫₀¹ I(ρ)·θ(ρ)·ρ dρ, where θ(ρ) is the angle of the circle of radius ρ (about
// the star's centre) that lies inside the occultor of radius p at distance z:
//   θ = 2π                               if ρ ≤ p − z (circle entirely covered),
//   θ = 0                                if ρ ≥ z + p or ρ ≤ z − p,
//   θ = 2·acos((ρ² + z² − p²)/(2ρz))     otherwise (law of cosines).
// The unocculted flux is ∫₀¹ I(ρ)·2π·ρ dρ. The integrand has square-root kinks at ρ = |z − p|,
// z + p (θ) and ρ = 1 (μ = √(1 − ρ²)); we split [0, 1] at those points and integrate each
// piece with tanh-sinh (double-exponential) quadrature, which is insensitive to algebraic
// endpoint singularities and reaches ~1e-14 here. No elliptic integrals, no shared code with
// the model.
// ---------------------------------------------------------------------------------------------

function intensity(rho: number, u1: number, u2: number): number {
  const om = 1 - Math.sqrt(Math.max(0, (1 - rho) * (1 + rho)));
  return 1 - u1 * om - u2 * om * om;
}

function coveredAngle(rho: number, z: number, p: number): number {
  if (rho <= p - z) return 2 * Math.PI;
  if (rho >= z + p || rho <= z - p) return 0;
  const c = (rho * rho + z * z - p * p) / (2 * rho * z);
  return 2 * Math.acos(Math.min(1, Math.max(-1, c)));
}

/** Tanh-sinh quadrature of f over [a, b], step h, nodes until the weights underflow. */
function tanhSinh(f: (x: number) => number, a: number, b: number, h = 1 / 64): number {
  if (!(b > a)) return 0;
  const half = 0.5 * (b - a);
  let sum = 0;
  const kMax = Math.ceil(4 / h); // |t| ≤ 4: the node nearest an end is ~1e-37 from it
  for (let k = -kMax; k <= kMax; k++) {
    const t = k * h;
    const u = 0.5 * Math.PI * Math.sinh(t);
    // Distance of the node from the nearer end, computed without cancellation.
    const ex = Math.exp(-2 * Math.abs(u));
    const dist = (b - a) * (ex / (1 + ex));
    if (dist === 0) continue;
    const x = t < 0 ? a + dist : b - dist;
    if (!(x > a && x < b)) continue;
    const cu = Math.cosh(u);
    const w = (half * 0.5 * Math.PI * Math.cosh(t)) / (cu * cu);
    if (w < 1e-300) continue;
    sum += w * f(x);
  }
  return sum * h;
}

function integrateSplit(f: (x: number) => number, breaks: number[], h?: number): number {
  const pts = [0, 1, ...breaks.filter((x) => x > 0 && x < 1)].sort((x, y) => x - y);
  let total = 0;
  for (let i = 0; i + 1 < pts.length; i++) {
    total += tanhSinh(f, pts[i] as number, pts[i + 1] as number, h);
  }
  return total;
}

function bruteForceFlux(z: number, p: number, u1: number, u2: number, h?: number): number {
  const total = integrateSplit((r) => intensity(r, u1, u2) * 2 * Math.PI * r, [], h);
  const blocked = integrateSplit(
    (r) => intensity(r, u1, u2) * coveredAngle(r, z, p) * r,
    [Math.abs(z - p), z + p],
    h,
  );
  return 1 - blocked / total;
}

/**
 * Textbook overlap area of two circles (radii 1 and p, centres z apart). The acos form is
 * ill-conditioned at the contacts (an error ~1e-9 at 1 ulp from z = |1 − p|), so points within
 * 1e-14 of a contact are snapped to it.
 */
function overlapArea(z: number, p: number): number {
  if (z >= 1 + p - 1e-14) return 0;
  if (z <= Math.abs(1 - p) + 1e-14) return Math.PI * Math.min(1, p) ** 2;
  const k0 = Math.acos((p * p + z * z - 1) / (2 * p * z));
  const k1 = Math.acos((1 - p * p + z * z) / (2 * z));
  return p * p * k0 + k1 - 0.5 * Math.sqrt(4 * z * z - (1 + z * z - p * p) ** 2);
}

const RADII = [0.01, 0.05, 0.1, 0.3, 0.5, 0.9];
const LIMB_DARKENING: [number, number][] = [
  [0, 0],
  [0.4, 0.26],
  [0.1, 0.5],
];
const NEAR = 1e-6;

function separations(p: number): number[] {
  const special = [0, p, Math.abs(1 - p), 1 + p];
  const zs = new Set<number>();
  for (const s of special) {
    for (const d of [-NEAR, 0, NEAR]) if (s + d >= 0) zs.add(s + d);
  }
  const zMax = 1 + p + 0.1;
  for (let i = 0; i <= 60; i++) zs.add((zMax * i) / 60);
  return [...zs].sort((a, b) => a - b);
}

describe('brute-force reference (self-checks)', () => {
  it('integrates the unocculted disk to the analytic π(1 − u1/3 − u2/6)', () => {
    for (const [u1, u2] of LIMB_DARKENING) {
      const total = integrateSplit((r) => intensity(r, u1, u2) * 2 * Math.PI * r, []);
      expect(Math.abs(total - Math.PI * (1 - u1 / 3 - u2 / 6))).toBeLessThan(1e-13);
    }
  });

  it('is converged: halving the step changes the flux by < 1e-10', () => {
    for (const p of [0.1, 0.5, 0.9]) {
      for (const z of [p, 1 - p + NEAR, 1 + p - NEAR, 0.5 * p]) {
        const a = bruteForceFlux(z, p, 0.4, 0.26, 1 / 32);
        const b = bruteForceFlux(z, p, 0.4, 0.26, 1 / 64);
        expect(Math.abs(a - b)).toBeLessThan(1e-10);
      }
    }
  });

  it('matches the analytic overlap area for a uniform disk', () => {
    for (const p of [0.1, 0.5, 0.9]) {
      for (const z of [0.05, 0.5, 0.95, 1.05]) {
        expect(
          Math.abs(bruteForceFlux(z, p, 0, 0) - (1 - overlapArea(z, p) / Math.PI)),
        ).toBeLessThan(1e-11);
      }
    }
  });
});

describe('complete elliptic integrals (Bulirsch cel)', () => {
  /** Gauss–Legendre-free check: tanh-sinh of the defining integrals over [0, π/2]. */
  const quad = (f: (phi: number) => number): number => tanhSinh(f, 0, Math.PI / 2);

  it('agrees with direct quadrature of the defining integrals', () => {
    for (const m of [0, 0.1, 0.5, 0.9, 0.999]) {
      const K = quad((t) => 1 / Math.sqrt(1 - m * Math.sin(t) ** 2));
      const E = quad((t) => Math.sqrt(1 - m * Math.sin(t) ** 2));
      expect(ellipticK(m)).toBeCloseTo(K, 13);
      expect(ellipticE(m)).toBeCloseTo(E, 13);
      for (const n of [-2, -0.3, 0.2, 0.8]) {
        const P = quad(
          (t) => 1 / ((1 - n * Math.sin(t) ** 2) * Math.sqrt(1 - m * Math.sin(t) ** 2)),
        );
        expect(ellipticPi(n, m)).toBeCloseTo(P, 12);
      }
    }
  });

  it('reproduces published values', () => {
    // Abramowitz & Stegun Table 17.1 (m = 0.5): K = 1.85407 46773 01372, E = 1.35064 38810 47676.
    expect(ellipticK(0.5)).toBeCloseTo(1.8540746773013719, 14);
    expect(ellipticE(0.5)).toBeCloseTo(1.3506438810476755, 14);
    expect(ellipticK(0)).toBeCloseTo(Math.PI / 2, 15);
    expect(ellipticE(1)).toBe(1);
    expect(ellipticK(1)).toBe(Infinity);
    // Π(n|0) = π / (2√(1 − n)).
    expect(ellipticPi(0.75, 0)).toBeCloseTo(Math.PI, 14);
    // Legendre relation E K' + E' K − K K' = π/2 at m = 0.3.
    const m = 0.3;
    const lhs =
      ellipticE(m) * ellipticK(1 - m) +
      ellipticE(1 - m) * ellipticK(m) -
      ellipticK(m) * ellipticK(1 - m);
    expect(lhs).toBeCloseTo(Math.PI / 2, 14);
    expect(cel(1, 1, 1, 1)).toBeCloseTo(Math.PI / 2, 15);
  });
});

describe('occultQuadratic against brute-force integration', () => {
  it('agrees to ≤ 1e-6 over the grid of radius ratios, separations and contact points', () => {
    let worst = 0;
    let worstAt = '';
    let count = 0;
    for (const p of RADII) {
      const zs = separations(p);
      for (const [u1, u2] of LIMB_DARKENING) {
        const model = occultQuadratic(Float64Array.from(zs), p, u1, u2);
        zs.forEach((z, i) => {
          const err = Math.abs((model[i] as number) - bruteForceFlux(z, p, u1, u2));
          count++;
          if (err > worst) {
            worst = err;
            worstAt = `p=${p} z=${z} u=(${u1},${u2})`;
          }
          expect(err, `p=${p} z=${z} u1=${u1} u2=${u2}`).toBeLessThanOrEqual(1e-6);
        });
      }
    }
    console.log(
      `transit model vs brute force: ${count} points, worst |Δflux| = ${worst.toExponential(2)} at ${worstAt}`,
    );
  });

  it('handles an occultor larger than the star (p > 1), including total occultation', () => {
    for (const p of [1.5, 3]) {
      const zs = [0, p - 1 - NEAR, p - 1, p - 1 + NEAR, p - 0.5, p, p + 0.2, p + 1 - NEAR, p + 1];
      for (const [u1, u2] of LIMB_DARKENING) {
        const model = occultQuadratic(zs, p, u1, u2);
        zs.forEach((z, i) => {
          expect(Math.abs((model[i] as number) - bruteForceFlux(z, p, u1, u2))).toBeLessThanOrEqual(
            1e-6,
          );
        });
        expect(model[0]).toBe(0);
      }
    }
  });

  it('is continuous across the exact-case switches (z = 0, z = p, z = 1 − p, p = 1/2)', () => {
    for (const p of [0.1, 0.5, 0.7]) {
      for (const z0 of [0, p, 1 - p]) {
        const zs = [
          z0,
          z0 + 1e-13,
          z0 + 1e-11,
          z0 + 1e-9,
          z0 - 1e-13,
          z0 - 1e-11,
          z0 - 1e-9,
        ].filter((z) => z >= 0);
        const f = occultQuadratic(zs, p, 0.4, 0.26);
        for (const v of f) expect(Math.abs(v - (f[0] as number))).toBeLessThan(1e-8);
      }
    }
  });
});

describe('uniform disk', () => {
  it('equals 1 − overlap area / π', () => {
    for (const p of [0.01, 0.1, 0.3, 0.5, 0.9, 1.2]) {
      const zs = separations(p).filter((z) => z > 0);
      const f = occultQuadratic(zs, p, 0, 0);
      zs.forEach((z, i) => {
        const err = Math.abs((f[i] as number) - (1 - overlapArea(z, p) / Math.PI));
        expect(err).toBeLessThan(1e-9);
      });
    }
  });

  it('has depth p² for small planets fully on the disk', () => {
    for (const p of [0.001, 0.01, 0.05]) {
      expect(transitDepth(p)).toBeCloseTo(p * p, 15);
      expect(transitDepth(p, 0, 0, 0.5)).toBeCloseTo(p * p, 15);
    }
  });
});

describe('transitLightCurve', () => {
  const params = {
    t0Days: 13.5,
    periodDays: 50,
    rpOverRs: 0.035,
    aOverRs: aOverRsFromAu(0.25, SOLAR_RADIUS_M),
    impactParameter: 0.3,
    u1: 0.4,
    u2: 0.26,
  };

  it('is symmetric about t0 and exactly 1 out of transit', () => {
    const t0s = params.t0Days * 86400;
    const n = 2001;
    const before = new Float64Array(n);
    const after = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      before[i] = t0s - i * 60;
      after[i] = t0s + i * 60;
    }
    const fb = transitLightCurve(before, params);
    const fa = transitLightCurve(after, params);
    for (let i = 0; i < n; i++)
      expect(Math.abs((fb[i] as number) - (fa[i] as number))).toBeLessThan(1e-12);

    const t14 = transitDurationT14(
      params.periodDays,
      params.aOverRs,
      params.rpOverRs,
      params.impactParameter,
    );
    const t = new Float64Array(5000);
    for (let i = 0; i < t.length; i++) t[i] = (i / t.length) * 240 * 86400;
    const f = transitLightCurve(t, params);
    let inTransit = 0;
    for (let i = 0; i < t.length; i++) {
      const phase = (((((t[i] as number) / 86400 - params.t0Days) % 50) + 75) % 50) - 25;
      if (Math.abs(phase) > t14 / 2 + 1e-9) expect(f[i]).toBe(1);
      else if (Math.abs(phase) < t14 / 2 - 1e-6) {
        inTransit++;
        expect(f[i]).toBeLessThan(1);
      }
    }
    expect(inTransit).toBeGreaterThan(0);
    // The minimum sits at t0 and equals the depth at the impact parameter.
    expect(1 - (fa[0] as number)).toBeCloseTo(transitDepth(0.035, 0.4, 0.26, 0.3), 12);
  });

  it('gives the same curve from the inclination as from the impact parameter', () => {
    const inc = inclinationFromImpactParameter(params.aOverRs, params.impactParameter);
    const t = Float64Array.from({ length: 200 }, (_, i) => params.t0Days * 86400 + (i - 100) * 300);
    const a = transitLightCurve(t, params);
    const { impactParameter: _b, ...rest } = params;
    const b = transitLightCurve(t, { ...rest, inclinationDeg: inc });
    for (let i = 0; i < t.length; i++)
      expect(Math.abs((a[i] as number) - (b[i] as number))).toBeLessThan(1e-12);
  });

  it('eccentric orbit with e → 0 matches the circular one; e > 0 keeps the minimum at t0', () => {
    const t = Float64Array.from({ length: 101 }, (_, i) => params.t0Days * 86400 + (i - 50) * 600);
    const circ = transitLightCurve(t, params);
    const tiny = transitLightCurve(t, { ...params, eccentricity: 1e-12, omegaDeg: 30 });
    for (let i = 0; i < t.length; i++)
      expect(Math.abs((circ[i] as number) - (tiny[i] as number))).toBeLessThan(1e-9);
    const z = projectedSeparation(t, { ...params, eccentricity: 0.3, omegaDeg: 40 });
    let iMin = 0;
    for (let i = 1; i < z.length; i++) if ((z[i] as number) < (z[iMin] as number)) iMin = i;
    expect(iMin).toBe(50);
    expect(z[50]).toBeCloseTo(0.3, 9); // the impact parameter is the separation at conjunction
  });

  it('rejects bad parameters with a clear error', () => {
    const t = new Float64Array(3);
    expect(() => transitLightCurve(t, { ...params, periodDays: 0 })).toThrow(/periodDays/);
    expect(() => transitLightCurve(t, { ...params, inclinationDeg: 89 })).toThrow(/not both/);
    const { impactParameter: _b, ...noAngle } = params;
    expect(() => transitLightCurve(t, noAngle)).toThrow(/inclinationDeg or impactParameter/);
    expect(() => occultQuadratic([0.1], -0.1, 0, 0)).toThrow(/radius ratio/);
    const special = occultQuadratic([NaN, Infinity, -0.2], 0.1, 0.4, 0.26);
    expect(special[0]).toBeNaN();
    expect(special[1]).toBe(1);
    expect(special[2]).toBe(occultQuadratic([0.2], 0.1, 0.4, 0.26)[0]);
    expect(() => transitLightCurve(t, { ...params, impactParameter: 1e6 })).toThrow(
      /impact parameter/,
    );
  });

  it('computes 1e5 samples quickly (timing printed, not asserted)', () => {
    const n = 100_000;
    const t = new Float64Array(n);
    const t14 = transitDurationT14(
      params.periodDays,
      params.aOverRs,
      params.rpOverRs,
      params.impactParameter,
    );
    // All samples within the transit window: the expensive path.
    for (let i = 0; i < n; i++) t[i] = (params.t0Days + (i / n - 0.5) * t14) * 86400;
    const out = new Float64Array(n);
    transitLightCurve(t, params, out); // warm-up
    const start = performance.now();
    transitLightCurve(t, params, out);
    const ms = performance.now() - start;
    console.log(`transitLightCurve: ${n} in-transit samples in ${ms.toFixed(1)} ms`);
    expect(out.every((v) => v > 0 && v <= 1)).toBe(true);
  });
});

describe('orbit helpers', () => {
  it('converts AU to stellar radii', () => {
    expect(aOverRsFromAu(1, SOLAR_RADIUS_M)).toBeCloseTo(215.032, 3);
  });

  it('inverts impact parameter ↔ inclination', () => {
    const inc = inclinationFromImpactParameter(20, 0.5);
    expect(impactParameterFromInclination(20, inc)).toBeCloseTo(0.5, 13);
    expect(inclinationFromImpactParameter(20, 0)).toBe(90);
  });

  it('gives T14/T23 consistent with the model contact points and inverts T14', () => {
    const P = 10;
    const aRs = 15;
    const k = 0.1;
    const b = 0.4;
    const t14 = transitDurationT14(P, aRs, k, b);
    const t23 = transitDurationT23(P, aRs, k, b);
    expect(t23).toBeLessThan(t14);
    // At ±T14/2 the separation is 1 + k, at ±T23/2 it is 1 − k.
    const base = { t0Days: 0, periodDays: P, aOverRs: aRs, impactParameter: b };
    const z = projectedSeparation([(t14 / 2) * 86400, (t23 / 2) * 86400], base);
    expect(z[0]).toBeCloseTo(1 + k, 12);
    expect(z[1]).toBeCloseTo(1 - k, 12);
    expect(aOverRsFromT14(P, t14, k, b)).toBeCloseTo(aRs, 10);
    expect(transitDurationT14(P, aRs, k, 1.2)).toBe(0);
  });
});
