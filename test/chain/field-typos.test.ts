/**
 * A misspelt structural field (`input`, `ouputs`, `else_tasklist`, `log_rnage`) is an error
 * naming its path and the field meant, for every task type: built-in, registry (which accept
 * any other parameter) and control flow (whose fields are fixed). The original's chains still
 * pass, and its name of the else branch, `task_list_else`, is an alias of `else_task_list`.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  expandChain,
  ExpressionResolver,
  parseChain,
  type ChainDocument,
} from '../../src/chain/index.js';
import { InvalidInputError } from '../../src/core/index.js';
import { registryFromObject } from '../../src/registry/index.js';
import { BUILTIN_TASK_TYPES } from '../../src/tasks/index.js';

const CHAINS = new URL('../../../shared/data/chains/', import.meta.url);

const registry = registryFromObject(
  {
    taskTypes: {
      my_tda: { command: ['python3', 'tda.py'] },
      transit_search_tls: { command: ['python3', 'tls.py'] },
    },
  },
  { builtins: BUILTIN_TASK_TYPES, baseDir: '/tmp', source: 'registry.yaml' },
);

function expand(doc: unknown) {
  return expandChain(doc as ChainDocument, {
    catalog: registry.catalog(),
    resolver: new ExpressionResolver(),
    defaultJobName: 'j',
    seed: 's',
  });
}

/** `path: message` of each problem of `fn`, which must throw InvalidInputError. */
function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof InvalidInputError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  throw new Error('expected problems');
}

const parse = (doc: unknown) => parseChain(JSON.stringify(doc), 'c.json');

describe('near misses of structural fields on registry types', () => {
  it('are rejected at expansion with the path and the field meant', () => {
    const problems = problemsOf(() =>
      expand({
        task_list: [
          { task: 'my_tda', name: 'a', input: { lightcurve: 'lc.gz' } },
          { task: 'my_tda', name: 'b', ouputs: { debugging: 'd.tar.gz' } },
          { task: 'my_tda', name: 'c', working_directroy: 'elsewhere' },
          { task: 'my_tda', name: 'd', requires_metadata_frm: ['a'] },
          { task: 'transit_search_tls', name: 'e', task_lst: [] },
        ],
      }),
    );
    expect(problems).toEqual([
      'task_list[0].input: "input" is not a field of a task descriptor, and my_tda declares no parameter of that name. Did you mean "inputs"?',
      'task_list[1].ouputs: "ouputs" is not a field of a task descriptor, and my_tda declares no parameter of that name. Did you mean "outputs"?',
      'task_list[2].working_directroy: "working_directroy" is not a field of a task descriptor, and my_tda declares no parameter of that name. Did you mean "working_directory"?',
      'task_list[3].requires_metadata_frm: "requires_metadata_frm" is not a field of a task descriptor, and my_tda declares no parameter of that name. Did you mean "requires_metadata_from"?',
      'task_list[4].task_lst: "task_lst" is not a field of a task descriptor, and transit_search_tls declares no parameter of that name. Did you mean "task_list"?',
    ]);
  });

  it("let other parameters pass, whatever they are: they are the tool's own", () => {
    const plan = expand({
      task_list: [
        {
          task: 'my_tda',
          inputs: { lightcurve: 'lc.gz' },
          lc_duration: 240,
          specs: { inputs: 1, ouput: 2 },
          search_settings: { threads: 2 },
          threshold: 7.1,
          mode: 'fast',
          flag: true,
          // One slip from `task` and `name`, which are too short to guess at.
          mask: 'quarter_1',
          names: ['a', 'b'],
        },
      ],
    });
    expect(plan.tasks[1]!.description).toMatchObject({
      threshold: 7.1,
      mode: 'fast',
      mask: 'quarter_1',
      names: ['a', 'b'],
    });
  });

  it('are rejected in a loop body, in every iteration', () => {
    const problems = problemsOf(() =>
      expand({
        task_list: [
          {
            task: 'execution_for_loop',
            parameter: 'x',
            values: [1, 2],
            task_list: [{ task: 'my_tda', outptus: { debugging: 'd.gz' } }],
          },
        ],
      }),
    );
    expect(problems).toHaveLength(2);
    expect(problems[1]).toMatch(
      /^task_list\[0\]@1\.task_list\[0\]\.outptus: .*Did you mean "outputs"\?$/,
    );
  });
});

describe('control-flow types have a fixed set of fields', () => {
  it('a misspelt field is refused at parsing with the path, a did-you-mean and the fields', () => {
    const problems = problemsOf(() =>
      parse({
        task_list: [
          {
            task: 'execution_for_loop',
            parameter: 'x',
            values: [1],
            log_rnage: [1, 10, 3],
            task_list: [],
          },
          {
            task: 'execution_conditional',
            criterion: '(1)',
            task_list: [],
            else_tasklist: [{ task: 'null' }],
          },
          { task: 'execution_chain', task_list: [], comment: 'x' },
          {
            task: 'execution_do_while_loop',
            iteration_name: 'w',
            repeat_criterion: '(0)',
            requires_metadata_from_childs: ['t'],
            requires_metadata_from_child: ['t'],
            task_list: [{ task: 'null', name: 't' }],
          },
        ],
      }),
    );
    expect(problems).toEqual([
      'task_list[0].log_rnage: execution_for_loop has no field "log_rnage". Did you mean "log_range"? Its fields: task, name, inputs, outputs, job_name, working_directory, requires_metadata_from, parameter, values, linear_range, log_range, task_list.',
      'task_list[1].else_tasklist: execution_conditional has no field "else_tasklist". Did you mean "else_task_list"? Its fields: task, name, inputs, outputs, job_name, working_directory, requires_metadata_from, criterion, task_list, else_task_list, task_list_else.',
      'task_list[2].comment: execution_chain has no field "comment". Its fields: task, name, inputs, outputs, job_name, working_directory, requires_metadata_from, task_list.',
      'task_list[3].requires_metadata_from_childs: execution_do_while_loop has no field "requires_metadata_from_childs". Did you mean "requires_metadata_from_child"? Its fields: task, name, inputs, outputs, job_name, working_directory, requires_metadata_from, iteration_name, repeat_criterion, requires_metadata_from_child, task_list.',
    ]);
  });

  it('inside a body expanded at run time, at submission', () => {
    expect(
      problemsOf(() =>
        parse({
          task_list: [
            {
              task: 'execution_conditional',
              criterion: '(1)',
              task_list: [
                {
                  task: 'execution_for_loop',
                  parameter: 'x',
                  linear_rnge: [0, 1, 2],
                  task_list: [],
                },
              ],
            },
          ],
        }),
      ),
    ).toContainEqual(
      expect.stringMatching(
        /^task_list\[0\]\.task_list\[0\]\.linear_rnge: .*Did you mean "linear_range"\?/,
      ),
    );
  });

  it('an else branch on a for-loop is an error, not ignored', () => {
    expect(
      problemsOf(() =>
        parse({
          task_list: [
            {
              task: 'execution_for_loop',
              parameter: 'x',
              values: [1],
              task_list: [],
              else_task_list: [{ task: 'null' }],
            },
          ],
        }),
      ),
    ).toEqual([
      'task_list[0].else_task_list: execution_for_loop has no else branch ("else_task_list"): only execution_conditional has one',
    ]);
  });

  it('a control-flow type chosen by an expression is checked at expansion', () => {
    expect(
      problemsOf(() =>
        expand({
          task_list: [{ task: "'execution_' + 'chain'", task_list: [], tsk_list: [] }],
        }),
      ),
    ).toEqual([
      expect.stringMatching(
        /^task_list\[0\]\.tsk_list: execution_chain has no field "tsk_list"\. Did you mean "task_list"\?/,
      ),
    ]);
  });
});

describe('task_list_else, the original prototype’s name of the else branch', () => {
  const conditional = (branches: Record<string, unknown>) => ({
    task_list: [
      { task: 'null', name: 'x' },
      {
        task: 'execution_conditional',
        requires_metadata_from: ['x'],
        criterion: '(1 == 2)',
        task_list: [{ task: 'null', name: 'yes' }],
        ...branches,
      },
    ],
  });

  it('is accepted, checked, and stored as else_task_list for the run-time expansion', () => {
    const doc = parse(conditional({ task_list_else: [{ task: 'null', name: 'no' }] }));
    const plan = expand(doc);
    expect(plan.tasks[2]!.description.else_task_list).toEqual([{ task: 'null', name: 'no' }]);
    expect(problemsOf(() => expand(conditional({ task_list_else: [{ task: 'nul' }] })))).toEqual([
      expect.stringMatching(/^task_list\[1\]\.task_list_else\[0\]\.task: Unknown task type "nul"/),
    ]);
  });

  it('together with else_task_list is an error', () => {
    expect(
      problemsOf(() =>
        parse(
          conditional({ else_task_list: [{ task: 'null' }], task_list_else: [{ task: 'null' }] }),
        ),
      ),
    ).toEqual([
      'task_list[1].task_list_else: has both "else_task_list" and "task_list_else", two names of the else branch; give one',
    ]);
  });

  it('on a task that is not control flow is an error', () => {
    expect(
      problemsOf(() => expand({ task_list: [{ task: 'my_tda', task_list_else: [] }] })),
    ).toEqual([
      'task_list[0].task_list_else: only control-flow tasks (execution_*) have a task_list_else; my_tda does not',
    ]);
  });
});

describe('the original chains', () => {
  it('all four still parse, and their control-flow fields pass', () => {
    const files = readdirSync(CHAINS).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(4);
    for (const f of files)
      expect(() => parseChain(readFileSync(new URL(f, CHAINS), 'utf8'), f)).not.toThrow();
  });
});
