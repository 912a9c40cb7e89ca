import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isEasError } from '../../src/core/index.js';
import {
  CONTROL_FLOW_TASK_TYPES,
  DEFAULT_CONTAINER,
  loadRegistry,
  registryFromObject,
} from '../../src/registry/index.js';
import { tempDir } from '../helpers/services.js';
import { BUILTINS } from './builtins.fixture.js';

const DESIGN_EXAMPLE = `
containers:
  eas-base:   { image: plato/eas-base:1, cpu: 1, memory: 2Gi, concurrency: 4, scaling: { min: 0, max: 20 } }
  tda-python: { image: my-lab/tda:3, cpu: 2, memory: 8Gi, gpu: 0, concurrency: 1, scaling: { min: 0, max: 50 } }
taskTypes:
  my_tda:
    container: tda-python
    command: ["python3", "tda_wrapper.py"]      # external command; or  module: "./handlers.mjs#myTda"
    outputs: { required: [], optional: [debugging] }
    retry: { maxAttempts: 3, backoff: 30s }
    timeout: 2h
`;

const GI = 1024 ** 3;

let tmp: { dir: string; remove: () => void };
beforeEach(() => {
  tmp = tempDir('eas-registry-');
});
afterEach(() => tmp.remove());

function write(name: string, text: string): string {
  const file = join(tmp.dir, name);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
  return file;
}

describe('loadRegistry from a file', () => {
  it('loads the DESIGN §5 example (YAML) with every value resolved', async () => {
    const file = write('registry.yaml', DESIGN_EXAMPLE);
    const registry = await loadRegistry(file, { builtins: BUILTINS });

    expect(registry.source).toBe(file);
    expect(registry.container('tda-python')).toEqual({
      name: 'tda-python',
      image: 'my-lab/tda:3',
      cpu: 2,
      memoryBytes: 8 * GI,
      gpu: 0,
      concurrency: 1,
      scaling: { min: 0, max: 50, cooldownMs: 300_000 },
    });
    expect(registry.container('eas-base')).toMatchObject({
      image: 'plato/eas-base:1',
      memoryBytes: 2 * GI,
    });
    expect(registry.get('my_tda')).toEqual({
      name: 'my_tda',
      container: 'tda-python',
      runner: { kind: 'command', argv: ['python3', 'tda_wrapper.py'], cwd: tmp.dir, env: {} },
      outputs: { required: [], optional: ['debugging'] },
      retry: { maxAttempts: 3, backoffMs: 30_000, maxBackoffMs: 600_000 },
      timeoutMs: 7_200_000,
      qc: 'default',
      description: '',
      source: file,
    });
  });

  it('reads a JSON file the same way as YAML', async () => {
    const file = write(
      'registry.json',
      JSON.stringify({
        containers: { gpu: { memory: '512Mi', gpu: 1, cpu: '500m' } },
        taskTypes: { fit: { container: 'gpu', module: './fit.mjs#fit', timeout: 90_000 } },
      }),
    );
    const registry = await loadRegistry(file, { builtins: BUILTINS });
    expect(registry.container('gpu')).toEqual({
      name: 'gpu',
      image: undefined,
      cpu: 0.5,
      memoryBytes: 512 * 1024 ** 2,
      gpu: 1,
      concurrency: 1,
      scaling: { min: 0, max: 10, cooldownMs: 300_000 },
    });
    expect(registry.get('fit').runner).toEqual({
      kind: 'module',
      modulePath: join(tmp.dir, 'fit.mjs'),
      exportName: 'fit',
    });
    expect(registry.get('fit').timeoutMs).toBe(90_000);
  });

  it('resolves a relative file path against baseDir, and module and cwd paths against the file', async () => {
    write(
      'conf/reg/registry.yml',
      [
        'taskTypes:',
        '  a: { module: "../handlers/a.mjs" }',
        '  b: { command: ["./run.sh"], cwd: scripts, env: { MODE: fast } }',
        '  c: { module: "/opt/h.mjs#c" }',
      ].join('\n'),
    );
    const registry = await loadRegistry('reg/registry.yml', {
      builtins: BUILTINS,
      baseDir: join(tmp.dir, 'conf'),
    });
    expect(registry.get('a').runner).toEqual({
      kind: 'module',
      modulePath: join(tmp.dir, 'conf/handlers/a.mjs'),
      exportName: 'default',
    });
    expect(registry.get('b').runner).toEqual({
      kind: 'command',
      argv: ['./run.sh'],
      cwd: join(tmp.dir, 'conf/reg/scripts'),
      env: { MODE: 'fast' },
    });
    expect(registry.get('c').runner).toMatchObject({ modulePath: '/opt/h.mjs', exportName: 'c' });
  });

  it('parses every duration form: numbers as ms, ms/s/m/h/d suffixes', async () => {
    const file = write(
      'registry.yaml',
      [
        'containers:',
        '  c: { scaling: { cooldown: 90s } }',
        'taskTypes:',
        '  t1: { command: [x], timeout: 250, retry: { backoff: 1.5s, maxBackoff: 1h } }',
        '  t2: { command: [x], timeout: 1d, retry: { backoff: 250ms, maxBackoff: 2m } }',
      ].join('\n'),
    );
    const registry = await loadRegistry(file, { builtins: BUILTINS });
    expect(registry.container('c').scaling.cooldownMs).toBe(90_000);
    expect(registry.get('t1')).toMatchObject({
      timeoutMs: 250,
      retry: { backoffMs: 1500, maxBackoffMs: 3_600_000 },
    });
    expect(registry.get('t2')).toMatchObject({
      timeoutMs: 86_400_000,
      retry: { backoffMs: 250, maxBackoffMs: 120_000 },
    });
  });

  it('accepts an empty file as built-ins only', async () => {
    const file = write('empty.yaml', '# nothing here yet\n');
    const registry = await loadRegistry(file, { builtins: BUILTINS });
    expect(registry.types().map((t) => t.name)).toEqual(
      [...CONTROL_FLOW_TASK_TYPES, ...Object.keys(BUILTINS)].sort(),
    );
  });

  it('fails with NOT_FOUND naming the file when it does not exist', async () => {
    const error = await loadRegistry('missing.yaml', {
      builtins: BUILTINS,
      baseDir: tmp.dir,
    }).catch((e: unknown) => e);
    expect(isEasError(error) && error.code).toBe('NOT_FOUND');
    expect((error as Error).message).toContain(join(tmp.dir, 'missing.yaml'));
  });
});

describe('built-in and control-flow task types', () => {
  it('are present without a file, built-ins in eas-base, control-flow in no container', async () => {
    const registry = await loadRegistry(undefined, { builtins: BUILTINS });
    expect(registry.source).toBe('built-in');
    expect(registry.get('verify')).toEqual({
      name: 'verify',
      container: 'eas-base',
      runner: { kind: 'builtin' },
      outputs: { required: ['verification'], optional: [] },
      retry: { maxAttempts: 2, backoffMs: 1000, maxBackoffMs: 600_000 },
      timeoutMs: undefined,
      qc: 'default',
      description: 'Checks a light curve.',
      source: 'built-in',
    });
    expect(registry.get('synthesis_transit').timeoutMs).toBe(600_000);
    for (const name of CONTROL_FLOW_TASK_TYPES) {
      expect(registry.get(name)).toMatchObject({
        container: undefined,
        runner: { kind: 'controller' },
      });
      expect(registry.isControlFlow(name)).toBe(true);
    }
    expect(registry.isControlFlow('null')).toBe(false);
    expect(registry.containers()).toEqual([DEFAULT_CONTAINER]);
  });

  it('are present next to a file that declares other types', async () => {
    const registry = registryFromObject(
      { taskTypes: { mine: { command: ['true'] } } },
      { builtins: BUILTINS, baseDir: tmp.dir },
    );
    for (const name of [...Object.keys(BUILTINS), ...CONTROL_FLOW_TASK_TYPES, 'mine']) {
      expect(registry.has(name)).toBe(true);
    }
  });

  it('take settings from a file entry field by field and keep their handler', () => {
    const registry = registryFromObject(
      {
        containers: { big: { memory: '16Gi' } },
        taskTypes: {
          verify: { container: 'big', retry: { maxAttempts: 5 }, timeout: '30s', qc: 'none' },
        },
      },
      { builtins: BUILTINS, baseDir: tmp.dir, source: 'eas.yaml' },
    );
    expect(registry.get('verify')).toMatchObject({
      container: 'big',
      runner: { kind: 'builtin' },
      outputs: { required: ['verification'] },
      retry: { maxAttempts: 5, backoffMs: 1000 },
      timeoutMs: 30_000,
      qc: 'none',
      description: 'Checks a light curve.',
      source: 'eas.yaml',
    });
  });

  it('can have their handler replaced by a command or a module', () => {
    const registry = registryFromObject(
      {
        taskTypes: {
          verify: { command: ['python3', 'verify.py'] },
          null: { module: './null.mjs#run' },
        },
      },
      { builtins: BUILTINS, baseDir: tmp.dir },
    );
    expect(registry.get('verify').runner).toMatchObject({
      kind: 'command',
      argv: ['python3', 'verify.py'],
    });
    expect(registry.get('verify').outputs.required).toEqual(['verification']);
    expect(registry.get('null').runner).toEqual({
      kind: 'module',
      modulePath: join(tmp.dir, 'null.mjs'),
      exportName: 'run',
    });
  });

  it('gives eas-base its defaults, and a file entry for eas-base changes only the fields it gives', () => {
    const registry = registryFromObject(
      { containers: { 'eas-base': { image: 'plato/eas-base:2', scaling: { max: 3 } } } },
      { builtins: BUILTINS, baseDir: tmp.dir },
    );
    expect(registry.container('eas-base')).toEqual({
      ...DEFAULT_CONTAINER,
      image: 'plato/eas-base:2',
      scaling: { ...DEFAULT_CONTAINER.scaling, max: 3 },
    });
    expect(DEFAULT_CONTAINER).toMatchObject({
      image: 'plato/eas-base:latest',
      cpu: 1,
      memoryBytes: 2 * GI,
      concurrency: 4,
      scaling: { min: 0, max: 20, cooldownMs: 300_000 },
    });
  });

  it('takes an inline object (the registry: key of eas.yaml) with paths relative to baseDir', async () => {
    const registry = await loadRegistry(
      { taskTypes: { h: { module: './h.mjs' } } },
      { builtins: BUILTINS, baseDir: tmp.dir },
    );
    expect(registry.source).toBe('inline');
    expect(registry.get('h')).toMatchObject({
      source: 'inline',
      runner: { modulePath: join(tmp.dir, 'h.mjs'), exportName: 'default' },
    });
  });

  it('refuses built-ins that reuse a control-flow name (a programming error)', () => {
    expect(() =>
      registryFromObject(
        {},
        {
          builtins: { execution_chain: { description: '', runner: 'in-process' } },
          baseDir: tmp.dir,
        },
      ),
    ).toThrow(/clashes with a control-flow task type/);
  });
});
