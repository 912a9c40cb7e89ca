/**
 * The science built-ins through `eas standalone`, with the original's configs run unchanged
 * from ../shared/data (the Done-when of the task library), and the BLS search on the demo curve.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLightCurveGz, writeLightCurveGz } from '../../src/science/index.js';
import { dropEasVariables, runMain, tempDir } from '../cli/harness.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const DEMO = join(DATA, 'test_task_configs/test_data/demo_superearth.gz');
let out: string;
let remove: () => void;
beforeAll(() => {
  dropEasVariables();
  ({ dir: out, remove } = tempDir('science-standalone'));
});
afterAll(() => remove?.());

async function standalone(config: string): Promise<{
  state: string;
  outputMetadata: Record<string, unknown>;
  outputs: Record<string, string>;
}> {
  const r = await runMain(['standalone', config, '--out', out, '--json'], DATA);
  expect(r.code, r.stderr + r.stdout).toBe(0);
  return JSON.parse(r.stdout) as {
    state: string;
    outputMetadata: Record<string, unknown>;
    outputs: Record<string, string>;
  };
}

describe('original standalone configs', () => {
  it('test_verify.cfg exits 0 and prints the metadata', async () => {
    const r = await runMain(
      ['standalone', 'test_task_configs/test_verify.cfg', '--out', out],
      DATA,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('n_samples');
    const j = await standalone('test_task_configs/test_verify.cfg');
    expect(j.outputMetadata).toMatchObject({
      n_samples: 23040,
      n_gaps: 0,
      missing_samples: 0,
      cadence: 900,
      time_start: 0,
      non_finite_flux: 0,
    });
    expect(j.outputMetadata.time_end).toBeCloseTo(20735100 / 86400, 9);
  });

  it('verify finds the raster of a shuffled light curve and says it is unsorted', async () => {
    const demo = readLightCurveGz(DEMO);
    // A fixed shuffle: every 7th sample moved to the end.
    const order = [...demo.time.keys()].sort(
      (a, b) => (a % 7 === 0 ? 1 : 0) - (b % 7 === 0 ? 1 : 0) || a - b,
    );
    const pick = (a: Float64Array) => Float64Array.from(order, (i) => a[i]!);
    const shuffled = join(out, 'shuffled.gz');
    writeFileSync(
      shuffled,
      writeLightCurveGz({
        ...demo,
        time: pick(demo.time),
        flux: pick(demo.flux),
        flag: pick(demo.flag),
        uncertainty: pick(demo.uncertainty),
      }),
    );
    writeFileSync(
      join(out, 'verify-shuffled.json'),
      JSON.stringify({ task: 'verify', inputs: { lightcurve: shuffled } }),
    );
    const md = (await standalone(join(out, 'verify-shuffled.json'))).outputMetadata;
    expect(md).toMatchObject({
      n_samples: 23040,
      cadence: 900,
      n_gaps: 0,
      missing_samples: 0,
      expected_samples: 23040,
      time_sorted: 0,
    });
    expect(md.non_increasing_steps as number).toBeGreaterThan(0);
  });

  it('test_null.cfg exits 0', async () => {
    const r = await runMain(['standalone', 'test_task_configs/test_null.cfg', '--out', out], DATA);
    expect(r.code, r.stderr).toBe(0);
  });

  it('test_multiply.cfg exits 0: demo × demo = flux², metadata carried', async () => {
    const r = await runMain(
      ['standalone', 'test_task_configs/test_multiply.cfg', '--out', out],
      DATA,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('n_samples');
    const lc = readLightCurveGz(join(out, 'lc_result.gz'), { sidecar: false });
    const demo = readLightCurveGz(DEMO);
    expect(lc.time.length).toBe(23040);
    for (const i of [0, 1000, 23039]) {
      expect(lc.flux[i]).toBeCloseTo(demo.flux[i]! * demo.flux[i]!, 12);
    }
  });

  it('test_batman.cfg exits 0 and records the specs, transit power and pixels in transit', async () => {
    const r = await runMain(
      ['standalone', 'test_task_configs/test_batman.cfg', '--out', out],
      DATA,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('integrated_transit_power');
    const j = await standalone('test_task_configs/test_batman.cfg');
    const md = j.outputMetadata;
    expect(md).toMatchObject({
      orbital_period: 50,
      planet_radius: 1,
      semi_major_axis: 0.4,
      t0: 1,
      duration: 240,
      sampling_cadence: 900,
      // The Sun in Jupiter radii, the unit of planet_radius (the original's default).
      star_radius: 695500 / 71492,
      mes: null,
    });
    const lc = readLightCurveGz(join(out, 'output.lc'), { sidecar: false });
    expect(lc.time.length).toBe(23040);
    // Jupiter around the Sun: depth ≈ (0.1028)² ≈ 1.1 %, ~0.2 d transits at 1 + 50k d.
    let min = Infinity;
    for (const f of lc.flux) min = Math.min(min, f);
    expect(1 - min).toBeGreaterThan(0.009);
    expect(1 - min).toBeLessThan(0.015);
    expect(lc.flux[Math.round(86400 / 900)]).toBeLessThan(0.995); // t = 1 d: mid-transit
    expect(md.pixels_in_transit as number).toBeGreaterThan(5 * 15);
    expect(md.pixels_in_transit as number).toBeLessThan(5 * 30);
  });
});

describe("synthesis_batman against the original's own output", () => {
  it("reproduces the demo curve's recorded transit power and pixels from the specs its sidecar records", async () => {
    // The original synthesised demo_superearth.gz and wrote its specs and results into the
    // sidecar: the reference here is that file, not this code.
    const sidecar = Object.fromEntries(
      readFileSync(`${DEMO}.metadata.cfg`, 'utf8')
        .split('\n')
        .map((l) => /^(\w+) = (.*)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1]!, Number(m[2])]),
    );
    const specs = [
      'duration',
      'planet_radius',
      'star_radius',
      'orbital_period',
      'semi_major_axis',
      'orbital_angle',
      'sampling_cadence',
      't0',
    ];
    writeFileSync(
      join(out, 'demo-synthesis.json'),
      JSON.stringify({
        task: 'synthesis_batman',
        specs: Object.fromEntries(specs.map((k) => [k, sidecar[k]])),
        outputs: { lightcurve: 'demo-model.gz' },
      }),
    );
    const md = (await standalone(join(out, 'demo-synthesis.json'))).outputMetadata;
    expect(md.pixels_in_transit).toBe(sidecar.pixels_in_transit); // 95
    expect(md.pixels_out_of_transit).toBe(sidecar.pixels_out_of_transit); // 22945
    // 0.122238995 against the recorded 0.122238950: batman's own integration tolerance.
    const power = md.integrated_transit_power as number;
    expect(Math.abs(power / sidecar.integrated_transit_power! - 1)).toBeLessThan(1e-5);
    // The depth the data show (about 1.2e-3): Rp/R* = 4 Earth radii / 1 Sun.
    const lc = readLightCurveGz(join(out, 'demo-model.gz'), { sidecar: false });
    let min = Infinity;
    for (const f of lc.flux) min = Math.min(min, f);
    expect(1 - min).toBeGreaterThan(1.2e-3);
    expect(1 - min).toBeLessThan(1.6e-3);
  });
});

describe('standalone outputs carry their metadata', () => {
  it('writes a sidecar beside each output, so a search on it knows the injected period', async () => {
    writeFileSync(
      join(out, 'inject.json'),
      JSON.stringify({
        task: 'synthesis_batman',
        specs: {
          duration: 120,
          planet_radius: 0.5,
          orbital_period: 17,
          semi_major_axis: 0.12,
          noise: 0.0005,
          t0: 3,
        },
        outputs: { lightcurve: 'injected.gz' },
      }),
    );
    await standalone(join(out, 'inject.json'));
    const sidecar = readFileSync(join(out, 'injected.gz.metadata.cfg'), 'utf8');
    expect(sidecar).toMatch(/^\[metadata\]$/m);
    expect(sidecar).toMatch(/^orbital_period = 17(\.0)?$/m);
    writeFileSync(
      join(out, 'search.json'),
      JSON.stringify({
        task: 'transit_search_bls',
        inputs: { lightcurve: join(out, 'injected.gz') },
        search_settings: { minimum_period: 5, maximum_period: 40 },
      }),
    );
    const md = (await standalone(join(out, 'search.json'))).outputMetadata;
    expect(md.injected_period).toBe(17);
    expect(md.outcome).toBe('PASS');
  }, 30_000);
});

describe('transit_search_bls refuses a search it cannot do (exit 2)', () => {
  it('a period range beyond the data, and a grid of billions of periods', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { minimum_period: 300, maximum_period: 500 },
        /minimum_period 300 d is not shorter than the light curve's span \(239\.99 d\)/,
      ],
      [
        { frequency_factor: 0.0001 },
        /the period grid would have [\d,]+ periods \(at most 10,000,000\)/,
      ],
    ];
    for (const [settings, message] of cases) {
      writeFileSync(
        join(out, 'bad-search.json'),
        JSON.stringify({
          task: 'transit_search_bls',
          inputs: { lightcurve: DEMO },
          search_settings: settings,
        }),
      );
      const r = await runMain(['standalone', join(out, 'bad-search.json'), '--out', out], DATA);
      expect(r.code, r.stdout).toBe(1);
      expect(r.stdout).toMatch(message);
    }
  });
});

describe('transit_search_bls on the demo curve', () => {
  it('finds 50 d within 0.1 %, transit time 13.5 d, outcome PASS', async () => {
    writeFileSync(
      join(out, 'bls.json'),
      JSON.stringify({
        task: 'transit_search_bls',
        inputs: { lightcurve: DEMO },
        lc_duration: 240,
      }),
    );
    const j = await standalone(join(out, 'bls.json'));
    const md = j.outputMetadata;
    expect(Math.abs((md.period as number) / 50 - 1)).toBeLessThan(1e-3);
    expect(md.outcome).toBe('PASS');
    expect(md.injected_period).toBe(50);
    expect(md.transit_time as number).toBeCloseTo(13.5, 1);
    expect(md.duration).toBeCloseTo(0.2, 6);
    expect(md.depth as number).toBeGreaterThan(1e-3);
    expect(md.sde as number).toBeGreaterThan(20);
    console.log(`BLS on the demo curve: ${JSON.stringify(md)}`);
  }, 30_000);
});
