import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { EasError, isEasError } from '../../src/core/index.js';
import {
  DEFAULT_CONTAINER,
  registryFileSchema,
  registryFromObject,
  TaskTypeRegistry,
  type RegistryFile,
} from '../../src/registry/index.js';
import { BUILTINS } from './builtins.fixture.js';

const registry = registryFromObject(
  {
    containers: { 'tda-python': { image: 'my-lab/tda:3' } },
    taskTypes: {
      my_tda: {
        container: 'tda-python',
        command: ['python3', 'tda.py'],
        env: { API_TOKEN: 's3cret' },
      },
      other_tda: { container: 'tda-python', module: './h.mjs#other' },
    },
  },
  { builtins: BUILTINS, baseDir: '/work/lab', source: '/work/lab/registry.yaml' },
);

function caught(fn: () => unknown): EasError {
  try {
    fn();
  } catch (error) {
    if (isEasError(error)) return error;
    throw error;
  }
  throw new Error('expected an EasError');
}

describe('TaskTypeRegistry', () => {
  it('get() of an unknown type suggests close names, lists known types and says where to add it', () => {
    const error = caught(() => registry.get('nul'));
    expect(error.code).toBe('UNKNOWN_TASK_TYPE');
    expect(error.message).toMatch(
      /^Unknown task type "nul"\. Did you mean "null"\? Known types: .*\bmy_tda\b.*\bverify\b/,
    );
    expect(error.message).toContain('declare it under "taskTypes" in /work/lab/registry.yaml');
    expect(error.details).toMatchObject({ name: 'nul', suggestions: ['null'] });
  });

  it('suggests by case and by containment, and nothing when nothing is close', () => {
    expect(caught(() => registry.get('VERIFY')).message).toContain('Did you mean "verify"?');
    expect(caught(() => registry.get('synthesis')).message).toContain(
      'Did you mean "synthesis_transit"?',
    );
    expect(caught(() => registry.get('_tda')).message).toContain(
      'Did you mean "my_tda" or "other_tda"?',
    );
    expect(caught(() => registry.get('zzzzzz')).message).not.toContain('Did you mean');
  });

  it('has() and types() cover built-in, control-flow and file types, in name order', () => {
    expect(registry.has('my_tda')).toBe(true);
    expect(registry.has('execution_for_loop')).toBe(true);
    expect(registry.has('nul')).toBe(false);
    const names = registry.types().map((t) => t.name);
    expect(names).toEqual([...names].sort());
    expect(names).toHaveLength(4 + Object.keys(BUILTINS).length + 2);
  });

  it('containers() and container() give eas-base and the declared containers', () => {
    expect(registry.containers().map((c) => c.name)).toEqual(['eas-base', 'tda-python']);
    expect(registry.container('eas-base')).toEqual(DEFAULT_CONTAINER);
    const error = caught(() => registry.container('tda_python'));
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toContain('Did you mean "tda-python"?');
  });

  it('typesOfContainer() lists what a worker of that container runs, without control-flow types', () => {
    expect(registry.typesOfContainer('tda-python').map((t) => t.name)).toEqual([
      'my_tda',
      'other_tda',
    ]);
    expect(registry.typesOfContainer('eas-base').map((t) => t.name)).toEqual(
      Object.keys(BUILTINS).sort(),
    );
    expect(caught(() => registry.typesOfContainer('nope')).code).toBe('NOT_FOUND');
  });

  it('isControlFlow() is true for the four execution_* types only', () => {
    expect(registry.isControlFlow('execution_chain')).toBe(true);
    expect(registry.isControlFlow('execution_do_while_loop')).toBe(true);
    expect(registry.isControlFlow('my_tda')).toBe(false);
    expect(registry.isControlFlow('execution_unknown')).toBe(false);
  });

  it('toJSON() is plain data with environment values redacted; get() keeps them', () => {
    const json = JSON.parse(JSON.stringify(registry)) as ReturnType<TaskTypeRegistry['toJSON']>;
    expect(json.source).toBe('/work/lab/registry.yaml');
    expect(json.containers['tda-python']!.image).toBe('my-lab/tda:3');
    expect(json.taskTypes.my_tda!.runner).toEqual({
      kind: 'command',
      argv: ['python3', 'tda.py'],
      cwd: '/work/lab',
      env: { API_TOKEN: '<redacted>' },
    });
    expect(JSON.stringify(registry)).not.toContain('s3cret');
    expect(registry.get('my_tda').runner).toMatchObject({ env: { API_TOKEN: 's3cret' } });
  });

  it('hands out frozen objects, so one consumer cannot change another one’s view', () => {
    const type = registry.get('verify');
    expect(Object.isFrozen(type)).toBe(true);
    expect(Object.isFrozen(type.outputs.required)).toBe(true);
    expect(Object.isFrozen(registry.container('tda-python').scaling)).toBe(true);
  });

  it('refuses a task type whose container is not given', () => {
    const [verify] = registry.types().filter((t) => t.name === 'my_tda');
    expect(
      () =>
        new TaskTypeRegistry({
          taskTypes: [verify!],
          containers: [DEFAULT_CONTAINER],
          source: 'x',
        }),
    ).toThrow(/names container "tda-python", which is not given/);
  });
});

describe('RegistryFile', () => {
  it('is the input type of registryFileSchema (the hand-written interface and the schema agree)', () => {
    expectTypeOf<z.input<typeof registryFileSchema>>().toEqualTypeOf<RegistryFile>();
  });
});
