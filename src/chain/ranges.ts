/**
 * The values of `linear_range` and `log_range`, bit for bit those of the original prototype,
 * which called `np.linspace(a, b, n)` and `np.logspace(np.log10(a), np.log10(b), n)`.
 *
 * `linspace` is numpy's order of operations (numpy/core/function_base.py): `step = (b - a) /
 * (n - 1)`, `y[i] = i * step + a` (or `i / (n - 1) * (b - a) + a` when the step underflows
 * to 0), and the last value set to `b`. `logspace` is `10 ** linspace(log10 a, log10 b, n)`,
 * so its last value is `10 ** log10(b)`, which need not be `b`.
 *
 * numpy's portable loops call the C library's `log10` and `pow`. JavaScript's `Math.log10`
 * and `Math.pow` are other implementations and differ from glibc's in the last bit for about
 * 0.3 % and 10 % of arguments, which would change loop values, and so file names and metadata,
 * between the original and this port. So `log10` here is glibc's algorithm (fdlibm's
 * `n·log10(2) + ln(x)/ln(10)` split, which is not correctly rounded, over a correctly rounded
 * natural log), and `10 ** y` is correctly rounded, as glibc's `pow` is in all but rare cases.
 * Both are computed in double-double arithmetic (about 106 bits).
 *
 * numpy built with AVX-512 on a machine that has it uses other (SVML) loops for `log10` and
 * `power`, whose results differ from the C library's in the last bit; the original's values
 * (its sidecars say `planet_radius = 0.35645944000000007` for `Rearth * 4`) are the C
 * library's.
 */

/** A double-double: the unevaluated sum `hi + lo`, `|lo| ≤ ulp(hi) / 2`. */
type DD = readonly [hi: number, lo: number];

function twoSum(a: number, b: number): DD {
  const s = a + b;
  const bb = s - a;
  return [s, a - (s - bb) + (b - bb)];
}

function quickTwoSum(a: number, b: number): DD {
  const s = a + b;
  return [s, b - (s - a)];
}

/** 2^27 + 1: Veltkamp's constant, splitting a double into two 26-bit halves. */
const SPLITTER = 134_217_729;

function twoProd(a: number, b: number): DD {
  const p = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return [p, ah * bh - p + ah * bl + al * bh + al * bl];
}

function add(a: DD, b: DD): DD {
  const [s, e] = twoSum(a[0], b[0]);
  const [t, f] = twoSum(a[1], b[1]);
  const [s2, e2] = quickTwoSum(s, e + t);
  return quickTwoSum(s2, e2 + f);
}

function mul(a: DD, b: DD): DD {
  const [p, e] = twoProd(a[0], b[0]);
  return quickTwoSum(p, e + (a[0] * b[1] + a[1] * b[0]));
}

function div(a: DD, b: DD): DD {
  const q1 = a[0] / b[0];
  let r = add(a, mul(b, [-q1, 0]));
  const q2 = r[0] / b[0];
  r = add(r, mul(b, [-q2, 0]));
  const q3 = r[0] / b[0];
  return add(quickTwoSum(q1, q2), [q3, 0]);
}

/** ln 2 and ln 10 as double-doubles. */
const LN2: DD = [0.6931471805599453, 2.3190468138462996e-17];
const LN10: DD = [2.302585092994046, -2.1707562233822494e-16];
/** Terms of a series stop below this fraction of the first: well under one part in 2^106. */
const SERIES_EPSILON = 2 ** -110;

const view = new DataView(new ArrayBuffer(8));

/** `x = m · 2^k` with m in [1, 2), for a finite x > 0. */
function frexp(x: number): { m: number; k: number } {
  let k = 0;
  if (x < 2 ** -1022) {
    x *= 2 ** 54;
    k = -54;
  }
  view.setFloat64(0, x);
  const high = view.getUint32(0);
  k += ((high >>> 20) & 0x7ff) - 1023;
  view.setUint32(0, (high & 0x000fffff) | 0x3ff00000);
  return { m: view.getFloat64(0), k };
}

/** ln x for a finite x > 0, to about 106 bits. */
function lnDD(x: number): DD {
  let { m, k } = frexp(x);
  if (m > Math.SQRT2) {
    m /= 2; // exact
    k += 1;
  }
  // ln m = 2 atanh(s) = 2 (s + s³/3 + s⁵/5 + …), s = (m − 1) / (m + 1), |s| < 0.172.
  const s = div([m - 1, 0], twoSum(m, 1));
  const s2 = mul(s, s);
  let power = s;
  let sum: DD = [0, 0];
  for (let j = 0; Math.abs(power[0]) > SERIES_EPSILON * Math.abs(s[0]); j++) {
    sum = add(sum, div(power, [2 * j + 1, 0]));
    power = mul(power, s2);
  }
  const kLn2 = add(twoProd(k, LN2[0]), [k * LN2[1], 0]);
  return add(kLn2, [2 * sum[0], 2 * sum[1]]);
}

/** ln x correctly rounded (as glibc's `log` is in all but rare cases). */
function ln(x: number): number {
  const [hi, lo] = lnDD(x);
  return hi + lo;
}

/** The constants of glibc's (and fdlibm's) `__ieee754_log10`. */
const IVLN10 = 4.34294481903251816668e-1;
const LOG10_2HI = 3.01029995663611771306e-1;
const LOG10_2LO = 3.69423907715893078616e-13;

/**
 * log10 x as glibc computes it (`sysdeps/ieee754/dbl-64/e_log10.c`): x = 2^n · f with f in
 * [1, 2) (or [0.5, 1) when n < 0, so that log10 10^k = k exactly), then
 * `(n · log10_2lo + ivln10 · ln f) + n · log10_2hi`, each operation rounded.
 */
export function log10(x: number): number {
  if (Number.isNaN(x) || x < 0) return NaN;
  if (x === 0) return -Infinity;
  if (x === Infinity) return Infinity;
  const { m, k } = frexp(x);
  const f = k < 0 ? m / 2 : m;
  const n = k < 0 ? k + 1 : k;
  const z = n * LOG10_2LO + IVLN10 * ln(f);
  return z + n * LOG10_2HI;
}

/** 10^y, correctly rounded (as glibc's `pow(10, y)` is in all but rare cases). */
export function exp10(y: number): number {
  if (Number.isNaN(y)) return NaN;
  // Beyond these the result is 0 or Infinity (or subnormal: rounded once more, below).
  if (y > 309) return Infinity;
  if (y < -324) return 0;
  const t = add(twoProd(y, LN10[0]), [y * LN10[1], 0]);
  const k = Math.round(t[0] / LN2[0]);
  // r = t − k ln 2, |r| ≤ 0.35; exp r by its Taylor series.
  const r = add(t, add(twoProd(-k, LN2[0]), [-k * LN2[1], 0]));
  let term: DD = [1, 0];
  let sum: DD = [1, 0];
  for (let n = 1; Math.abs(term[0]) > SERIES_EPSILON; n++) {
    term = div(mul(term, r), [n, 0]);
    sum = add(sum, term);
  }
  const value = sum[0] + sum[1];
  // 2^k in two steps: one power of two may not be representable, the product is exact.
  const half = Math.trunc(k / 2);
  return value * 2 ** half * 2 ** (k - half);
}

/** `np.linspace(start, stop, num)` (endpoint included), bit for bit. `num` ≥ 1. */
export function linspace(start: number, stop: number, num: number): number[] {
  const div = num - 1;
  const delta = stop - start;
  const out: number[] = new Array<number>(num);
  if (div > 0) {
    const step = delta / div;
    for (let i = 0; i < num; i++)
      // numpy divides first when the step underflows to 0 (gh-5437).
      out[i] = (step === 0 ? (i / div) * delta : i * step) + start;
    out[num - 1] = stop;
  } else {
    for (let i = 0; i < num; i++) out[i] = i * delta + start;
  }
  return out;
}

/**
 * `np.logspace(np.log10(start), np.log10(stop), num)`, bit for bit with numpy's portable
 * loops (the C library's `log10` and `pow`). `start` and `stop` > 0, `num` ≥ 1.
 */
export function logspace(start: number, stop: number, num: number): number[] {
  return linspace(log10(start), log10(stop), num).map(exp10);
}
