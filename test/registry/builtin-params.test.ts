/**
 * The parameters of the built-in task types are checked when a chain is expanded (submission,
 * dry run, standalone): a wrong type or range, a missing required one, an unknown key of a
 * settings section, or a misspelt field is an error naming its path, before anything runs.
 * Fields another tool may read (the original's chains share `specs` between synthesis tools)
 * are left alone.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandChain, ExpressionResolver } from '../../src/chain/index.js';
import { isEasError } from '../../src/core/index.js';
import { checkBuiltinDescription } from '../../src/registry/builtin-params.js';
import { loadRegistry } from '../../src/registry/index.js';
import { BUILTIN_TASK_TYPES } from '../../src/tasks/index.js';
import { STRUCTURAL_FIELDS } from '../../src/chain/schema.js';
import { dropEasVariables, runMain, tempDir } from '../cli/harness.js';

const STRUCTURAL = [...STRUCTURAL_FIELDS];
const check = (type: string, description: Record<string, unknown>) =>
  checkBuiltinDescription(type, description, 'task_list[0]', STRUCTURAL);

describe('checkBuiltinDescription', () => {
  it("accepts the specs of the original chains, other tools' keys included", () => {
    expect(
      check('synthesis_batman', {
        specs: {
          duration: 240,
          planet_radius: 0.35,
          orbital_period: 50,
          semi_major_axis: 0.4,
          orbital_angle: 0,
          sampling_cadence: 900,
          // synthesis_psls's, in the same shared specs; batman's own short names
          nsr: 73,
          mode: 'main_sequence',
          u: [0.1, 0.3],
          q1: 0.3,
          t1: 2,
          // an empty INI value is absent, as the handler reads it
          noise: '',
        },
      }),
    ).toEqual([]);
    expect(check('transit_search_bls', { lc_duration: 240 })).toEqual([]);
    expect(check('verify', {})).toEqual([]);
    expect(check('error', { message: 42 })).toEqual([]);
    expect(check('some_external_type', { anything: 'goes' })).toEqual([]);
  });

  it('names a wrong value with its path, the range, and what it got', () => {
    expect(
      check('synthesis_transit', {
        specs: { duration: 'abc', sampling_cadence: -900, supersample: 2.5, planet_radius: -1 },
      }),
    ).toEqual([
      { path: 'task_list[0].specs.duration', message: 'must be a number > 0, got "abc"' },
      { path: 'task_list[0].specs.sampling_cadence', message: 'must be a number > 0, got -900' },
      { path: 'task_list[0].specs.supersample', message: 'must be an integer ≥ 1, got 2.5' },
      { path: 'task_list[0].specs.planet_radius', message: 'must be a number ≥ 0, got -1' },
    ]);
    expect(check('null', { sleep: 'x' })).toEqual([
      { path: 'task_list[0].sleep', message: 'must be a number ≥ 0 and ≤ 86400, got "x"' },
    ]);
    expect(check('transit_search_bls', { search_settings: { durations: [0.1, -1] } })).toEqual([
      {
        path: 'task_list[0].search_settings.durations',
        message: 'must be a non-empty list of numbers > 0, got [0.1,-1]',
      },
    ]);
  });

  it('finds misspelt keys, and every unknown key of search_settings', () => {
    const [nosie] = check('synthesis_batman', { specs: { duration: 10, nosie: 0.001 } });
    expect(nosie!.path).toBe('task_list[0].specs.nosie');
    expect(nosie!.message).toMatch(/reads no specs key "nosie"\. Did you mean "noise"\?/);
    const bls = check('transit_search_bls', {
      search_settings: { maximun_period: 60, max_period: 60 },
    });
    expect(bls.map((p) => p.path)).toEqual([
      'task_list[0].search_settings.maximun_period',
      'task_list[0].search_settings.max_period',
    ]);
    expect(bls[0]!.message).toMatch(/Did you mean "maximum_period"/);
    expect(bls[1]!.message).toMatch(/It reads: durations, minimum_period, maximum_period/);
    expect(check('verify', { input: { lightcurve: 'a.gz' } })).toEqual([
      {
        path: 'task_list[0].input',
        message: 'verify reads no field "input". Did you mean "inputs"?',
      },
    ]);
    // A field that is no slip of a known one is someone else's: left alone.
    expect(check('transit_search_bls', { comment: 'first pass', lc_duration: 240 })).toEqual([]);
  });

  it('reads synthesis specs at the top level when there is no specs section', () => {
    expect(check('synthesis_batman', { duration: 240, planet_radius: 1 })).toEqual([]);
    expect(check('synthesis_batman', { planet_radius: 1 })).toEqual([
      { path: 'task_list[0].duration', message: 'is required by synthesis_batman' },
    ]);
  });
});

describe('in a chain', () => {
  it('reports every problem at once, in loop iterations too; expressions are checked evaluated', async () => {
    const registry = await loadRegistry(undefined, { builtins: BUILTIN_TASK_TYPES });
    let error: unknown;
    try {
      expandChain(
        {
          task_list: [
            {
              task: 'execution_for_loop',
              parameter: 'p',
              values: [10, -5],
              task_list: [
                {
                  task: 'synthesis_batman',
                  specs: {
                    duration: 100,
                    orbital_period: "(metadata['p'])",
                    planet_radius: 1,
                    semi_major_axis: 0.1,
                  },
                  outputs: { lightcurve: "'lc_{}.gz'.format(metadata['p'])" },
                },
              ],
            },
          ],
        },
        {
          catalog: registry.catalog(),
          resolver: new ExpressionResolver(),
          defaultJobName: 'j',
          seed: 's',
        },
      );
    } catch (e) {
      error = e;
    }
    expect(isEasError(error) && error.code).toBe('CHAIN_INVALID');
    expect((error as Error).message).toContain(
      'task_list[0]@1.task_list[0].specs.orbital_period: must be a number > 0, got -5',
    );
    expect((error as Error).message).not.toContain('task_list[0]@0.');
  });
});

describe('fields evaluated at start', () => {
  it('are not checked, and a section evaluated at start is not taken for top-level specs', async () => {
    const registry = await loadRegistry(undefined, { builtins: BUILTIN_TASK_TYPES });
    const plan = expandChain(
      {
        task_list: [
          { task: 'set_metadata', name: 'finder', values: { period: 12.5 } },
          {
            task: 'synthesis_transit',
            requires_metadata_from: ['finder'],
            specs: {
              duration: 60,
              planet_radius: 0.3,
              semi_major_axis: 0.1,
              orbital_period: "(requested_metadata['finder']['period'])",
            },
            outputs: { lightcurve: 'a.gz' },
          },
        ],
      },
      {
        catalog: registry.catalog(),
        resolver: new ExpressionResolver(),
        defaultJobName: 'j',
        seed: 's',
      },
    );
    expect(plan.tasks.map((t) => t.type)).toContain('synthesis_transit');
  });
});

describe('through the CLI', () => {
  const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
  let dir: string;
  let remove: () => void;
  beforeAll(() => {
    dropEasVariables();
    ({ dir, remove } = tempDir('eas-builtin-params-'));
  });
  afterAll(() => remove());

  it('standalone: a typo in a .cfg is exit 2 naming the field, before anything runs or is written', async () => {
    writeFileSync(
      join(dir, 'typo.cfg'),
      '[task]\ntask = synthesis_batman\n[specs]\nduration = 240\nnosie = 0.001\n[outputs]\nlightcurve = o.gz\n',
    );
    const out = join(dir, 'out');
    mkdirSync(out);
    const r = await runMain(['standalone', 'typo.cfg', '--out', out], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('typo.cfg invalid: 1 problem');
    expect(r.stderr).toContain(
      'specs.nosie: synthesis_batman reads no specs key "nosie". Did you mean "noise"?',
    );
    expect(readdirSync(out)).toEqual([]);
  });

  it('standalone: --out to a missing directory is exit 2 before the task runs', async () => {
    const r = await runMain(
      ['standalone', 'test_task_configs/test_null.cfg', '--out', join(dir, 'nowhere')],
      DATA,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--out .*nowhere: no such directory/);
    expect(existsSync(join(dir, 'nowhere'))).toBe(false);
  });

  it('the original XML registry given as a registry says what to do', async () => {
    const r = await runMain(
      ['--registry', 'task_type_registry.xml', 'standalone', 'test_task_configs/test_null.cfg'],
      DATA,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is XML.*eas registry import/);
  });

  it('submit --dry-run: exit 2 and nothing written', async () => {
    writeFileSync(
      join(dir, 'bad.json'),
      JSON.stringify({
        task_list: [
          { task: 'transit_search_bls', search_settings: { maximun_period: 60 }, lc_duration: 240 },
        ],
      }),
    );
    const r = await runMain(['submit', '--dry-run', 'bad.json'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('task_list[0].search_settings.maximun_period');
    expect(existsSync(join(dir, '.eas'))).toBe(false);
  });
});
