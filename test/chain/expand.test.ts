import { describe, it, expect } from 'vitest';
import {
  expandChain,
  expandChainCollecting,
  parseChain,
  type TaskTypeCatalog,
  type ChainDocument,
} from '../../src/chain/index.js';
import { InvalidInputError, isEasError } from '../../src/core/index.js';

const TYPES = new Set([
  'null',
  'error',
  'produce',
  'consume',
  'tda',
  'execution_chain',
  'execution_for_loop',
]);
const catalog: TaskTypeCatalog = {
  has: (t) => TYPES.has(t),
  isControlFlow: (t) => t.startsWith('execution_'),
  optionalOutputs: (t) => (t === 'tda' ? ['debugging'] : []),
  maxAttempts: (t) => (t === 'produce' ? 3 : 1),
  describeUnknown: (t) => `Unknown task type "${t}"`,
};

function expand(doc: unknown) {
  return expandChain(doc as ChainDocument, { catalog, defaultJobName: 'job', seed: 's' });
}

function problemsOf(doc: unknown): string[] {
  try {
    expand(doc);
  } catch (e) {
    if (e instanceof InvalidInputError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  throw new Error('expected problems');
}

describe('expandChain', () => {
  it('makes the document the root execution_chain and infers the producer of each input', () => {
    const plan = expand({
      job_name: 'grid',
      working_directory: 'wd',
      task_list: [
        { task: 'consume', name: 'c', inputs: { lightcurve: 'a.gz' } }, // the producer comes later in list order
        { task: 'produce', name: 'p', outputs: { lightcurve: ' a.gz ' } },
        { task: 'null', requires_metadata_from: [] },
      ],
    });
    expect(plan.jobName).toBe('grid');
    expect(plan.tasks.map((t) => [t.path, t.type, t.depth])).toEqual([
      ['', 'execution_chain', 0],
      ['task_list[0]', 'consume', 1],
      ['task_list[1]', 'produce', 1],
      ['task_list[2]', 'null', 1],
    ]);
    expect(plan.tasks[1]!.inputs[0]).toMatchObject({
      filename: 'a.gz',
      workingDirectory: 'wd',
      producerKey: 2,
    });
    expect(plan.tasks[2]!.maxAttempts).toBe(3);
    expect(plan.unresolvedInputs).toEqual([]);
  });

  it('inherits working_directory and job_name through execution_chain, and binds requires_metadata_from to earlier siblings', () => {
    const plan = expand({
      working_directory: 'top',
      task_list: [
        {
          task: 'execution_chain',
          working_directory: 'inner',
          task_list: [
            { task: 'produce', name: 'first', outputs: { lightcurve: 'x' } },
            {
              task: 'tda',
              name: 'second',
              requires_metadata_from: ['first'],
              outputs: { debugging: 'd.tar.gz' },
              lc_duration: 240,
            },
          ],
        },
      ],
    });
    const second = plan.tasks.find((t) => t.name === 'second')!;
    expect(second.workingDirectory).toBe('inner');
    expect(second.metadataFrom).toEqual([{ name: 'first', providerKey: 2 }]);
    expect(second.outputs[0]!.optional).toBe(true);
    expect(second.description).toEqual({ lc_duration: 240 });
    expect(plan.tasks[1]!.expanded).toBe(true);
  });

  it('reports every problem at once, each with its chain path', () => {
    const p = problemsOf({
      task_list: [
        { task: 'nul' },
        { task: 'produce', outputs: { lightcurve: 'a' } },
        { task: 'produce', outputs: { lightcurve: 'a' } },
        {
          task: 'consume',
          inputs: { lightcurve: 'missing.gz' },
          requires_metadata_from: ['later'],
        },
        { task: 'null', name: 'later', task_list: [] },
      ],
    });
    expect(p).toContain('task_list[0].task: Unknown task type "nul"');
    expect(
      p.some(
        (x) =>
          x.startsWith('task_list[2].outputs.lightcurve: output "a"') &&
          x.includes('task_list[1].outputs.lightcurve'),
      ),
    ).toBe(true);
    expect(
      p.some((x) =>
        x.startsWith('task_list[3].requires_metadata_from[0]: no earlier sibling is named "later"'),
      ),
    ).toBe(true);
    expect(p.some((x) => x.startsWith('task_list[4].task_list'))).toBe(true);
  });

  it('returns inputs without a producer for the controller to bind to earlier jobs', () => {
    const plan = expand({ task_list: [{ task: 'consume', inputs: { lightcurve: 'old.gz' } }] });
    expect(plan.unresolvedInputs).toEqual([{ taskKey: 1, inputIndex: 0 }]);
  });

  it('rejects a dependency cycle and names it', () => {
    const p = problemsOf({
      task_list: [
        { task: 'produce', inputs: { b: 'b' }, outputs: { a: 'a' } },
        { task: 'produce', inputs: { a: 'a' }, outputs: { b: 'b' } },
      ],
    });
    expect(p.join('\n')).toMatch(
      /dependency cycle: task_list\[\d\] → task_list\[\d\] → task_list\[\d\]/,
    );
  });

  it('rejects expressions without an expression resolver, naming the place', () => {
    const p = problemsOf({ task_list: [{ task: 'null', name: "'{x}'.format(**metadata)" }] });
    expect(p.some((x) => x.startsWith('task_list[0].name: expression'))).toBe(true);
  });
});

describe('parseChain', () => {
  it('reads JSON with line and column on a syntax error', () => {
    try {
      parseChain(
        '{\n  "task_list": [\n    {"task": "null"}\n    {"task": "null"}\n  ]\n}',
        'chain.json',
      );
      throw new Error('no error');
    } catch (e) {
      expect(isEasError(e) && e.code).toBe('JSON_SYNTAX');
      expect((e as Error).message).toMatch(/^chain\.json:4:5: expected ',' or '\]'/);
    }
  });

  it('reads YAML chains', () => {
    const doc = parseChain(
      'job_name: y\ntask_list:\n  - task: "null"\n    name: a\n',
      'chain.yaml',
    );
    expect(doc.task_list[0]!.name).toBe('a');
  });

  it('reports structural problems with their paths', () => {
    try {
      parseChain('{"task_list": [{"name": "x"}, {"task": "null", "inputs": ["a"]}]}', 'c.json');
      throw new Error('no error');
    } catch (e) {
      const text = (e as Error).message;
      expect(text).toContain('task_list[0].task: is required');
      expect(text).toContain('task_list[1].inputs');
    }
  });

  it('validates every chain of the original prototype structurally', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const dir = new URL('../../../shared/data/chains/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const doc = parseChain(readFileSync(new URL(f, dir), 'utf8'), f);
      expect(doc.task_list.length).toBeGreaterThan(0);
    }
  });
});

describe('control-flow fields (zod)', () => {
  it('reports every missing or malformed control-flow field at once, each with its path', () => {
    try {
      parseChain(
        JSON.stringify({
          task_list: [
            { task: 'execution_for_loop', parameter: 'x', task_list: [] },
            {
              task: 'execution_for_loop',
              parameter: '1x',
              values: [1],
              linear_range: [0, 1, 2],
              task_list: [],
            },
            {
              task: 'execution_do_while_loop',
              task_list: [{ task: 'null' }],
              repeat_criterion: '(1)',
            },
            { task: 'execution_conditional', task_list: [] },
            { task: 'null', inputs: { a: 5 } },
          ],
        }),
        'c.json',
      );
      throw new Error('no error');
    } catch (e) {
      const text = (e as Error).message;
      for (const expected of [
        'task_list[0]: needs exactly one of "values", "linear_range" or "log_range"',
        'task_list[1].parameter: must be a name',
        'task_list[1]: needs exactly one of',
        'task_list[2].iteration_name: is required',
        'task_list[2].requires_metadata_from_child: is required',
        'task_list[3].criterion: is required',
        'task_list[4].inputs.a: must be text',
      ]) {
        expect(text).toContain(expected);
      }
    }
  });
});

describe("the bound on a chain's size", () => {
  const grid = (outer: number, inner: number) => ({
    task_list: [
      {
        task: 'execution_for_loop',
        parameter: 'a',
        values: Array.from({ length: outer }, (_, i) => i),
        task_list: [
          {
            task: 'execution_for_loop',
            parameter: 'b',
            values: Array.from({ length: inner }, (_, i) => i),
            task_list: [{ task: 'null' }, { task: 'null' }],
          },
        ],
      },
    ],
  });
  const withLimit = (doc: unknown, maxTasks: number) =>
    expandChainCollecting(doc as ChainDocument, {
      catalog,
      defaultJobName: 'job',
      seed: 's',
      maxTasks,
    });

  it('refuses a grid whose loops jump past the limit, naming the loop, once', () => {
    // 1 + 1 + 10 × (1 + 1 + 10 × 3) = 322 tasks; loops add them 3 and 31 at a time.
    for (const max of [50, 100, 321]) {
      const { problems } = withLimit(grid(10, 10), max);
      expect(problems).toEqual([
        {
          path: expect.stringMatching(/^task_list\[0\]/),
          message: `the chain expands to more than ${max} tasks`,
        },
      ]);
    }
  });

  it('accepts a chain of exactly the limit, or under it', () => {
    expect(withLimit(grid(10, 10), 322).problems).toEqual([]);
    expect(withLimit(grid(10, 10), 322).plan.tasks).toHaveLength(322);
    expect(withLimit(grid(10, 10), 1000).problems).toEqual([]);
  });
});
