/**
 * `linear_range` and `log_range` take the values the original prototype's numpy gave:
 * `np.linspace(a, b, n)` and `np.logspace(np.log10(a), np.log10(b), n)`, bit for bit. Checked
 * against values taken from numpy (and a sidecar the original wrote), and against numpy itself
 * when /usr/bin/python3 has it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ExpressionResolver, expandChain, type ChainDocument } from '../../src/chain/index.js';
import { linspace, logspace } from '../../src/chain/ranges.js';

const PYTHON = '/usr/bin/python3';
const REQUIRED = process.env.EAS_REQUIRE_SERVICES === '1';
/** Earth's radius in Jupiter radii, as the original's chains use it (`constants.Rearth`). */
const R = 0.08911486;
const SIDECAR = new URL(
  '../../../shared/data/test_task_configs/test_data/demo_superearth.gz.metadata.cfg',
  import.meta.url,
);

/** The loop values a chain's `execution_for_loop` takes, by expansion. */
function loopValues(range: Record<string, unknown>): number[] {
  const doc = {
    task_list: [
      { task: 'execution_for_loop', parameter: 'x', ...range, task_list: [{ task: 'null' }] },
    ],
  } as ChainDocument;
  const plan = expandChain(doc, {
    catalog: {
      has: () => true,
      isControlFlow: (t) => t.startsWith('execution_'),
      optionalOutputs: () => [],
      maxAttempts: () => 1,
      describeUnknown: (t) => `unknown ${t}`,
    },
    defaultJobName: 'j',
    seed: 's',
    resolver: new ExpressionResolver(),
  });
  return plan.tasks.filter((t) => t.type === 'null').map((t) => t.metadata.x!.value as number);
}

describe('loop ranges are numpy values', () => {
  it('log_range gives np.logspace values: [1, 1000, 4] is 1, 10, 100, 1000 exactly', () => {
    expect(loopValues({ log_range: [1, 1000, 4] })).toEqual([1, 10, 100, 1000]);
    expect(loopValues({ log_range: [0.5, 50, 5] })).toEqual([
      0.5, 1.5811388300841898, 4.999999999999999, 15.811388300841895, 49.99999999999999,
    ]);
    expect(loopValues({ log_range: [0.1, 1.0, 10] })).toEqual([
      0.1, 0.1291549665014884, 0.16681005372000587, 0.21544346900318834, 0.2782559402207124,
      0.35938136638046275, 0.46415888336127786, 0.5994842503189409, 0.774263682681127, 1.0,
    ]);
  });

  it("log_range over Rearth / 4 … Rearth * 4 (qats_test.json) ends at the original's sidecar value", () => {
    expect(loopValues({ values: ['(constants.Rearth)'] })).toEqual([R]);
    const values = loopValues({
      log_range: ['(constants.Rearth / 4)', '(constants.Rearth * 4)', 10],
    });
    expect(values).toEqual([
      0.022278715, 0.030316652588734897, 0.04125459768151108, 0.056138843986217345,
      0.07639317751779402, 0.1039550720477601, 0.14146102250999887, 0.1924987448460489,
      0.2619503670326222, 0.35645944000000007,
    ]);
    // The original wrote the last of them into the sidecar of its demo light curve.
    const sidecar = readFileSync(SIDECAR, 'utf8');
    expect(sidecar).toMatch(/^planet_radius = 0\.35645944000000007$/m);
    expect(values[9]).toBe(0.35645944000000007);
    expect(
      loopValues({ log_range: ['(constants.Rearth / 8)', '(constants.Rearth * 8)', 8] }),
    ).toEqual([
      0.0111393575, 0.020178359384891265, 0.0365520352018354, 0.06621208651861935,
      0.11993970724040548, 0.21726446226504056, 0.3935631297540395, 0.71291888,
    ]);
  });

  it('linear_range gives np.linspace values, the step multiplied, not divided', () => {
    expect(loopValues({ linear_range: [0.1, 1.0, 10] })).toEqual([
      0.1, 0.2, 0.30000000000000004, 0.4, 0.5, 0.6, 0.7000000000000001, 0.8, 0.9, 1.0,
    ]);
    expect(loopValues({ linear_range: [-1, 2, 7] })).toEqual([-1, -0.5, 0, 0.5, 1, 1.5, 2]);
    expect(loopValues({ linear_range: [3, 9, 1] })).toEqual([3]);
    expect(loopValues({ log_range: [3, 9, 1] })).toEqual([3]);
  });
});

/**
 * numpy's portable loops call the C library's log10 and pow, as the original's numpy did.
 * Built with AVX-512, numpy uses other loops (SVML) on a machine that has it, whose results
 * differ in the last bit, so the probe turns them off.
 */
const NUMPY_ENV = {
  ...process.env,
  NPY_DISABLE_CPU_FEATURES:
    'SSSE3 SSE41 POPCNT SSE42 AVX F16C FMA3 AVX2 AVX512F AVX512CD AVX512_KNL AVX512_KNM ' +
    'AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR',
  PYTHONWARNINGS: 'ignore',
};
const NUMPY_SCRIPT = `
import json, sys, numpy as np
out = []
for kind, a, b, n in json.load(sys.stdin):
    v = np.linspace(a, b, n) if kind == 'linear' else np.logspace(np.log10(a), np.log10(b), n)
    out.append([repr(float(x)) for x in v])
print(json.dumps(out))
`;

function probeNumpy(): { ok: true } | { ok: false; reason: string } {
  try {
    execFileSync(PYTHON, ['-c', 'import numpy'], { env: NUMPY_ENV, stdio: 'pipe' });
    return { ok: true };
  } catch (e) {
    const err = e as { stderr?: Buffer; message?: string };
    return {
      ok: false,
      reason: `${PYTHON} cannot import numpy: ${err.stderr?.toString() || err.message}`,
    };
  }
}

const numpy = probeNumpy();
if (!numpy.ok && !REQUIRED) console.warn(`skipping the numpy comparison: ${numpy.reason}`);
const itNumpy = numpy.ok || REQUIRED ? it : it.skip;

describe('loop ranges against numpy itself', () => {
  itNumpy(
    'linspace is numpy bit for bit, logspace too but for a last-bit slip of glibc pow',
    () => {
      if (!numpy.ok) throw new Error(`EAS_REQUIRE_SERVICES=1 but ${numpy.reason}`);
      const cases: ['linear' | 'log', number, number, number][] = [];
      const fixed: [number, number, number][] = [
        [1, 1000, 4],
        [0.5, 50, 5],
        [0.1, 1.0, 10],
        [R / 4, R * 4, 10],
        [R / 8, R * 8, 8],
        [10, 30, 3],
        [1e-3, 1e3, 7],
        [7, 7, 3],
        [2, 1, 6],
      ];
      for (const [a, b, n] of fixed) cases.push(['linear', a, b, n], ['log', a, b, n]);
      let seed = 7;
      const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
      for (let i = 0; i < 300; i++) {
        const a = 10 ** (random() * 8 - 4);
        const b = 10 ** (random() * 8 - 4);
        const n = 1 + Math.floor(random() * 40);
        cases.push(['log', a, b, n], ['linear', random() < 0.3 ? -a : a, b, n]);
      }
      const expected = (
        JSON.parse(
          execFileSync(PYTHON, ['-c', NUMPY_SCRIPT], {
            input: JSON.stringify(cases),
            env: NUMPY_ENV,
            encoding: 'utf8',
          }),
        ) as string[][]
      ).map((list) => list.map(Number));

      let logValues = 0;
      const slips: string[] = [];
      cases.forEach(([kind, a, b, n], i) => {
        const ours = kind === 'linear' ? linspace(a, b, n) : logspace(a, b, n);
        if (kind === 'linear' || i < fixed.length * 2) {
          expect(ours, `${kind} ${a} ${b} ${n}`).toEqual(expected[i]);
          return;
        }
        logValues += n;
        ours.forEach((v, j) => {
          if (v === expected[i]![j]) return;
          slips.push(`${kind} ${a} ${b} ${n} [${j}]: ${v} vs ${expected[i]![j]}`);
          // One ulp at most: glibc's pow is not correctly rounded for about 1 argument in 1000.
          expect(Math.abs(v - expected[i]![j]!), slips.at(-1)).toBeLessThanOrEqual(
            Math.abs(v) * Number.EPSILON,
          );
        });
      });
      expect(slips.length, slips.join('\n')).toBeLessThanOrEqual(Math.ceil(logValues / 200));
    },
  );
});
