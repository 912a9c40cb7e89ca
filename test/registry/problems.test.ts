import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidInputError, type Problem } from '../../src/core/index.js';
import { loadRegistry, registryFromObject } from '../../src/registry/index.js';
import { tempDir } from '../helpers/services.js';
import { BUILTINS } from './builtins.fixture.js';

let tmp: { dir: string; remove: () => void };
beforeEach(() => {
  tmp = tempDir('eas-registry-');
});
afterEach(() => tmp.remove());

/** The problems `registryFromObject` reports for `obj`, as a path → message map. */
function problemsOf(obj: unknown): Record<string, string> {
  try {
    registryFromObject(obj, { builtins: BUILTINS, baseDir: tmp.dir, source: 'test.yaml' });
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    const e = error as InvalidInputError;
    expect(e.code).toBe('REGISTRY_INVALID');
    expect(e.message).toMatch(/^Task-type registry test\.yaml invalid: \d+ problems?\n/);
    return Object.fromEntries(e.problems.map((p: Problem) => [p.path, p.message]));
  }
  throw new Error('expected the registry to be rejected');
}

async function loadProblems(name: string, text: string): Promise<Problem[]> {
  const file = join(tmp.dir, name);
  writeFileSync(file, text);
  const error = await loadRegistry(file, { builtins: BUILTINS }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidInputError);
  expect((error as InvalidInputError).code).toBe('REGISTRY_INVALID');
  expect((error as Error).message).toContain(`Task-type registry ${file} invalid`);
  return (error as InvalidInputError).problems;
}

describe('registry problems', () => {
  it('reports every kind of problem at once, each with its path', () => {
    const problems = problemsOf({
      containers: {
        'tda-python': {
          memory: 'lots',
          cpu: 0,
          scaling: { min: 5, max: 2, cooldown: 'soon' },
          imag: 'x',
        },
        '9bad': {},
      },
      taskTypes: {
        my_tda: { container: 'tda-pyton', command: ['python3', 'tda.py'] },
        no_way: { description: 'neither command nor module' },
        both: { command: ['x'], module: './h.mjs#h' },
        bad_timeout: { command: ['x'], timeout: '2 hours' },
        bad_module: { module: 'handlers.mjs#h' },
        bad_export: { module: './handlers.mjs#my-export' },
        shell: { command: 'python3 tda.py' },
        env_on_module: { module: './h.mjs', env: { A: 'b' }, cwd: 'x' },
        retry: { command: ['x'], retry: { maxAttempts: 0, backoff: '20m' } },
        outputs: { command: ['x'], outputs: { required: ['lc'], optional: ['lc'] } },
        misspelt: { comand: ['x'], module: './m.mjs' },
        execution_chain: { retry: { maxAttempts: 2 } },
      },
      extra: true,
    });
    expect(Object.keys(problems).sort()).toEqual([
      'containers.9bad',
      'containers.tda-python.cpu',
      'containers.tda-python.imag',
      'containers.tda-python.memory',
      'containers.tda-python.scaling',
      'containers.tda-python.scaling.cooldown',
      'extra',
      'taskTypes.bad_export.module',
      'taskTypes.bad_module.module',
      'taskTypes.bad_timeout.timeout',
      'taskTypes.both',
      'taskTypes.env_on_module.cwd',
      'taskTypes.env_on_module.env',
      'taskTypes.execution_chain',
      'taskTypes.misspelt.comand',
      'taskTypes.my_tda.container',
      'taskTypes.no_way',
      'taskTypes.outputs.outputs.optional',
      'taskTypes.retry.retry.backoff',
      'taskTypes.retry.retry.maxAttempts',
      'taskTypes.shell.command',
    ]);
    expect(problems['taskTypes.my_tda.container']).toMatch(
      /no container "tda-pyton" is declared\. Did you mean "tda-python"\?.*eas-base, tda-python/,
    );
    expect(problems['taskTypes.no_way']).toMatch(/needs a way to run: "command".*or "module"/);
    expect(problems['taskTypes.both']).toMatch(/either "command".*or "module".*not both/);
    expect(problems['taskTypes.bad_timeout.timeout']).toMatch(/"2 hours" is not a duration/);
    expect(problems['taskTypes.bad_module.module']).toMatch(/start it with "\.\/"/);
    expect(problems['taskTypes.bad_export.module']).toMatch(
      /"my-export" after "#" is not an export name/,
    );
    expect(problems['taskTypes.shell.command']).toMatch(/list of strings \(argv\)/);
    expect(problems['taskTypes.misspelt.comand']).toMatch(
      /unknown key "comand"\. Did you mean "command"\?/,
    );
    expect(problems['taskTypes.execution_chain']).toMatch(/control-flow task type/);
    expect(problems['taskTypes.retry.retry.backoff']).toMatch(/longer than maxBackoff/);
    expect(problems['taskTypes.outputs.outputs.optional']).toMatch(/both required and optional/);
    expect(problems['containers.tda-python.scaling']).toMatch(/min \(5\) is above max \(2\)/);
    expect(problems['containers.tda-python.memory']).toMatch(/"lots" is not an amount of memory/);
    expect(problems['containers.9bad']).toMatch(/bad name: Container names start with a letter/);
    expect(problems['extra']).toMatch(/unknown key "extra"\. Allowed here: containers, taskTypes/);
  });

  it('quotes names holding a dot in paths', () => {
    expect(problemsOf({ taskTypes: { 'lab.fit': { command: ['x'], timeout: 'x' } } })).toEqual({
      'taskTypes["lab.fit"].timeout': expect.stringMatching(/not a duration/),
    });
  });

  it('checks built-in settings merged with the file (backoff above the built-in maxBackoff)', () => {
    expect(problemsOf({ taskTypes: { verify: { retry: { backoff: '1h' } } } })).toEqual({
      'taskTypes.verify.retry.backoff': expect.stringMatching(
        /3600000 ms\) is longer than maxBackoff \(600000 ms/,
      ),
    });
  });

  it('rejects a zero timeout, a fractional gpu and a non-string env value', () => {
    expect(
      problemsOf({
        containers: { c: { gpu: 0.5 } },
        taskTypes: { t: { command: ['x'], timeout: 0, env: { N: 1 } } },
      }),
    ).toEqual({
      'containers.c.gpu': expect.any(String),
      'taskTypes.t.timeout': 'must be longer than 0',
      'taskTypes.t.env.N': expect.stringMatching(/quote numbers/),
    });
  });

  it('rejects a document that is not a mapping', () => {
    expect(problemsOf(['a'])).toEqual({ '(top level)': expect.stringMatching(/expected object/) });
  });
});

describe('syntax errors', () => {
  it('report line and column of a JSON file', async () => {
    const problems = await loadProblems(
      'registry.json',
      '{\n  "taskTypes": {\n    "a": { "command": ["x"] }\n    "b": {}\n  }\n}\n',
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe(`${join(tmp.dir, 'registry.json')}:4:5`);
    expect(problems[0]!.message).toMatch(/expected ',' or '}' after a property value/);
  });

  it('report line and column of a YAML file, every error at once', async () => {
    const problems = await loadProblems(
      'registry.yaml',
      'taskTypes:\n  a: { command: [x] }\n  a: { command: [y] }\n  b: { command: [x }\n',
    );
    const file = join(tmp.dir, 'registry.yaml');
    expect(problems.length).toBeGreaterThanOrEqual(2);
    expect(problems.map((p) => p.path)).toContain(`${file}:3:3`);
    expect(problems.find((p) => p.path === `${file}:3:3`)!.message).toMatch(/unique/i);
    expect(problems.every((p) => /:\d+:\d+$/.test(p.path))).toBe(true);
  });

  it('read a file without a known extension by its first character', async () => {
    const problems = await loadProblems('registry.conf', '{ "taskTypes": [ }');
    expect(problems[0]!.path).toBe(`${join(tmp.dir, 'registry.conf')}:1:18`);
  });

  it('report schema problems of a file with the file as subject', async () => {
    const problems = await loadProblems(
      'registry.yaml',
      'taskTypes:\n  t: { command: [x], timeout: 2 hours }\n',
    );
    expect(problems).toEqual([
      { path: 'taskTypes.t.timeout', message: expect.stringMatching(/not a duration/) },
    ]);
  });
});
