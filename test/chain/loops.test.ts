import { describe, it, expect } from 'vitest';
import {
  expandChain,
  parseChain,
  type ChainDocument,
  type TaskTypeCatalog,
} from '../../src/chain/index.js';
import { InvalidInputError, formatTyped, stringifyKeepingFloats } from '../../src/core/index.js';

const catalog: TaskTypeCatalog = {
  has: () => true,
  isControlFlow: (t) => t.startsWith('execution_'),
  optionalOutputs: () => [],
  maxAttempts: () => 1,
  describeUnknown: (t) => `unknown ${t}`,
};
const expand = (doc: unknown) =>
  expandChain(doc as ChainDocument, { catalog, defaultJobName: 'j', seed: 's' });
function problems(doc: unknown): string[] {
  try {
    expand(doc);
  } catch (e) {
    if (e instanceof InvalidInputError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  throw new Error('expected problems');
}
const countByType = (doc: unknown) => {
  const out: Record<string, number> = {};
  for (const t of expand(doc).tasks) out[t.type] = (out[t.type] ?? 0) + 1;
  return out;
};

describe('execution_for_loop', () => {
  it('keeps a float literal a float (1.0 formats as 1.0) and an int an int, from JSON text', () => {
    const doc = parseChain(
      '{"task_list": [{"task": "execution_for_loop", "parameter": "x", "values": [1, 1.0, 2.5e0], "task_list": [{"task": "null", "specs": {"d": 2.0}}]}]}',
      'c.json',
    );
    const leaves = expand(doc).tasks.filter((t) => t.type === 'null');
    expect(leaves.map((t) => formatTyped(t.metadata.x!))).toEqual(['1', '1.0', '2.5']);
    expect(stringifyKeepingFloats(leaves[0]!.description)).toBe('{"specs":{"d":2.0}}');
  });

  it('makes one execution_chain per value, with the value and an int index as metadata', () => {
    const plan = expand({
      task_list: [
        {
          task: 'execution_for_loop',
          parameter: 'cadence',
          values: [900, 1800.5, 'x'],
          task_list: [{ task: 'null', name: 'leaf' }],
        },
      ],
    });
    const iterations = plan.tasks.filter((t) => t.path.match(/^task_list\[0\]@\d$/));
    expect(iterations.map((t) => [t.path, t.type, t.position])).toEqual([
      ['task_list[0]@0', 'execution_chain', 0],
      ['task_list[0]@1', 'execution_chain', 1],
      ['task_list[0]@2', 'execution_chain', 2],
    ]);
    expect(iterations[1]!.ownMetadata).toEqual({
      cadence: { type: 'float', value: 1800.5 },
      cadence_index: { type: 'int', value: 1 },
    });
    const leaves = plan.tasks.filter((t) => t.name === 'leaf');
    expect(leaves.map((t) => t.path)).toEqual([
      'task_list[0]@0.task_list[0]',
      'task_list[0]@1.task_list[0]',
      'task_list[0]@2.task_list[0]',
    ]);
    expect(leaves[0]!.metadata.cadence).toEqual({ type: 'int', value: 900 });
    expect(formatTyped(leaves[2]!.metadata.cadence_index!)).toBe('2');
  });

  it('spaces linear_range and log_range points with both ends included, as floats', () => {
    const values = (doc: unknown) =>
      expand(doc)
        .tasks.filter((t) => t.type === 'null')
        .map((t) => t.metadata.x!);
    const lin = values({
      task_list: [
        {
          task: 'execution_for_loop',
          parameter: 'x',
          linear_range: [0, 1, 5],
          task_list: [{ task: 'null' }],
        },
      ],
    });
    expect(lin.map((v) => v.value)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(lin.every((v) => v.type === 'float')).toBe(true);
    const log = values({
      task_list: [
        {
          task: 'execution_for_loop',
          parameter: 'x',
          log_range: [1, 1000, 4],
          task_list: [{ task: 'null' }],
        },
      ],
    });
    log.forEach((v, i) => expect(v.value).toBeCloseTo([1, 10, 100, 1000][i]!, 9));
    expect(log[3]!.value).toBe(1000);
  });

  it('nests loops into a grid whose counts match the original prototype (qats_test shape: 46 tasks)', () => {
    const doc = {
      task_list: [
        {
          task: 'execution_for_loop',
          parameter: 'tda',
          values: ['qats'],
          task_list: [
            {
              task: 'execution_for_loop',
              parameter: 'cadence',
              values: [900],
              task_list: [
                {
                  task: 'execution_for_loop',
                  parameter: 'size',
                  log_range: [0.02, 0.35, 10],
                  task_list: [
                    { task: 'synthesis_psls', name: 's' },
                    { task: 'verify', name: 'v' },
                    { task: 'transit_search_qats', name: 't' },
                  ],
                },
              ],
            },
          ],
        },
      ],
    };
    expect(countByType(doc)).toEqual({
      execution_chain: 13,
      execution_for_loop: 3,
      synthesis_psls: 10,
      verify: 10,
      transit_search_qats: 10,
    });
  });

  it('keeps sibling names and requires_metadata_from within one iteration', () => {
    const plan = expand({
      task_list: [
        {
          task: 'execution_for_loop',
          parameter: 'i',
          values: [1, 2],
          task_list: [
            { task: 'null', name: 'a' },
            { task: 'null', name: 'b', requires_metadata_from: ['a'] },
          ],
        },
      ],
    });
    const bs = plan.tasks.filter((t) => t.name === 'b');
    const providers = bs.map((b) => plan.tasks[b.metadataFrom[0]!.providerKey]!.path);
    expect(providers).toEqual(['task_list[0]@0.task_list[0]', 'task_list[0]@1.task_list[0]']);
  });

  it('reports a missing or doubled range, a bad n and a log_range through zero, each with its path', () => {
    const p = problems({
      task_list: [
        { task: 'execution_for_loop', parameter: 'a', task_list: [] },
        {
          task: 'execution_for_loop',
          parameter: 'b',
          values: [1],
          linear_range: [0, 1, 2],
          task_list: [],
        },
        { task: 'execution_for_loop', parameter: 'c', linear_range: [0, 1, 0], task_list: [] },
        { task: 'execution_for_loop', parameter: 'd', log_range: [0, 1, 3], task_list: [] },
        { task: 'execution_for_loop', values: [1], task_list: [] },
        { task: 'execution_for_loop', parameter: 'e', linear_range: [0, 1, 1e9], task_list: [] },
      ],
    });
    expect(p).toEqual(
      expect.arrayContaining([
        'task_list[0]: needs one of "values", "linear_range" or "log_range"',
        'task_list[1]: has both "values" and "linear_range"; give exactly one',
        expect.stringMatching(/^task_list\[2\]\.linear_range\[2\]: n must be an integer/),
        'task_list[3].log_range: a log_range needs start and end above 0',
        'task_list[4].parameter: is required: the name of the loop variable',
        expect.stringMatching(
          /^task_list\[5\]\.linear_range\[2\]: n must be an integer from 1 to 100000/,
        ),
      ]),
    );
  });

  it('checks the literal task types inside a deferred body at submission', () => {
    const strict: TaskTypeCatalog = { ...catalog, has: (t) => t !== 'nul' };
    expect(() =>
      expandChain(
        {
          task_list: [
            {
              task: 'execution_conditional',
              criterion: '(1)',
              task_list: [{ task: 'null' }],
              else_task_list: [{ task: 'nul' }],
            },
          ],
        } as ChainDocument,
        { catalog: strict, defaultJobName: 'j', seed: 's' },
      ),
    ).toThrow(/task_list\[0\]\.else_task_list\[0\]\.task: unknown nul/);
  });

  it('counts conditionals and do-while loops as deferred, with their task', () => {
    const plan = expand({
      task_list: [
        { task: 'null', name: 'x' },
        {
          task: 'execution_conditional',
          requires_metadata_from: ['x'],
          criterion: '(1)',
          task_list: [{ task: 'null' }],
        },
        {
          task: 'execution_do_while_loop',
          iteration_name: 'w',
          repeat_criterion: '(0)',
          task_list: [{ task: 'null' }],
        },
      ],
    });
    expect(plan.deferred).toBe(2);
    expect(plan.tasks.map((t) => t.type)).toEqual([
      'execution_chain',
      'null',
      'execution_conditional',
      'execution_do_while_loop',
    ]);
  });
});
