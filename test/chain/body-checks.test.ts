/**
 * DESIGN §3: the body of a node expanded at run time (a conditional's branches, a do-while's
 * iterations) "is still validated at submission as far as it can be". Each of these chains
 * used to pass submission and fail only at run time, after all upstream work had run.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  expandChainCollecting,
  ExpressionResolver,
  type ChainDocument,
  type ChainPlan,
  type TaskTypeCatalog,
} from '../../src/chain/index.js';

const TYPES = new Set([
  'null',
  'set_metadata',
  'produce',
  'verify',
  'synthesis_psls',
  'transit_search_tls',
  'execution_chain',
  'execution_for_loop',
  'execution_conditional',
  'execution_do_while_loop',
]);
const catalog: TaskTypeCatalog = {
  has: (t) => TYPES.has(t),
  isControlFlow: (t) => t.startsWith('execution_'),
  optionalOutputs: (t) => (t === 'transit_search_tls' ? ['debugging'] : []),
  maxAttempts: () => 1,
  describeUnknown: (t) => `Unknown task type "${t}"`,
};

function expand(doc: unknown): { plan: ChainPlan; problems: string[] } {
  const { plan, problems } = expandChainCollecting(doc as ChainDocument, {
    catalog,
    resolver: new ExpressionResolver(),
    defaultJobName: 'job',
    seed: 's',
  });
  return { plan, problems: problems.map((p) => `${p.path}: ${p.message}`) };
}

const problemsOf = (doc: unknown): string[] => expand(doc).problems;

const CHAINS = fileURLToPath(new URL('../../../shared/data/chains/', import.meta.url));
const original = (name: string): string => readFileSync(`${CHAINS}${name}`, 'utf8');

/** A do-while at task_list[1] whose body is `body`, after a provider named `probe`. */
function doWhile(body: unknown[], extra: Record<string, unknown> = {}): unknown {
  return {
    task_list: [
      { task: 'set_metadata', name: 'probe', values: { snr: 7 } },
      {
        task: 'execution_do_while_loop',
        iteration_name: 'w',
        requires_metadata_from_child: ['fit'],
        repeat_criterion: "(requested_metadata['fit']['snr'] > 5)",
        task_list: body,
        ...extra,
      },
    ],
  };
}

describe('the body of a do-while loop, checked at submission', () => {
  it('the original while_loop.json passes; with "tlss" for "tls" its body task type is refused', () => {
    const ok = expand(JSON.parse(original('while_loop.json')));
    expect(ok.problems).toEqual([]);
    expect(ok.plan.deferred).toBe(8);
    const bad = problemsOf(JSON.parse(original('while_loop.json').replace('"tls"', '"tlss"')));
    expect(bad).toHaveLength(8); // once per iteration of the enclosing loops
    expect(bad[0]).toBe(
      'task_list[0]@0.task_list[0]@0.task_list[0]@0.task_list[1].task_list[1].task: Unknown task type "transit_search_tlss"',
    );
  });

  it('refuses requires_metadata_from_child naming no body task, listing the body names', () => {
    expect(
      problemsOf(
        doWhile([
          { task: 'null', name: 'fitt', outputs: { x: "'a_{w_index}'.format(**metadata)" } },
        ]),
      ),
    ).toEqual([
      'task_list[1].requires_metadata_from_child[0]: no task of the body is named "fit" (its tasks: fitt)',
    ]);
  });

  it('refuses a syntax error in a body expression, and an error known at submission', () => {
    expect(
      problemsOf(
        doWhile([
          { task: 'null', name: 'fit', outputs: { x: '(1 +)' } },
          { task: 'null', sleep: '(1 / 0)' },
        ]),
      ),
    ).toEqual([
      expect.stringMatching(
        /^task_list\[1\]\.task_list\[0\]\.outputs\.x: .*"\(1 \+\)" at column \d+/,
      ),
      expect.stringMatching(/^task_list\[1\]\.task_list\[1\]\.sleep: division by zero/),
    ]);
  });

  it("refuses a repeat_criterion reading a provider it does not name (the loop's own providers are not in its scope)", () => {
    expect(
      problemsOf(
        doWhile(
          [{ task: 'null', name: 'fit', outputs: { x: "'a_{w_index}'.format(**metadata)" } }],
          {
            requires_metadata_from: ['probe'],
            repeat_criterion: "(requested_metadata['probe']['snr'] > 5)",
          },
        ),
      ),
    ).toEqual([
      `task_list[1].repeat_criterion: reads requested_metadata['probe'], but "probe" is not a provider: requires_metadata_from_child of task_list[1] names "fit"`,
    ]);
  });

  it("accepts a body reading its loop's providers; refuses one reading another name", () => {
    const body = (name: string) => [
      {
        task: 'null',
        name: 'fit',
        outputs: { x: "'a_{w_index}'.format(**metadata)" },
        sleep: `(requested_metadata['${name}']['snr'])`,
      },
    ];
    expect(problemsOf(doWhile(body('probe'), { requires_metadata_from: ['probe'] }))).toEqual([]);
    expect(problemsOf(doWhile(body('fit')))).toEqual([]);
    expect(problemsOf(doWhile(body('prob'), { requires_metadata_from: ['probe'] }))).toEqual([
      `task_list[1].task_list[0].sleep: reads requested_metadata['prob'], but "prob" is not a provider: requires_metadata_from and requires_metadata_from_child of task_list[1] names "probe", "fit"`,
    ]);
  });

  it('refuses an output that is the same in every iteration', () => {
    expect(problemsOf(doWhile([{ task: 'null', name: 'fit', outputs: { x: 'out.gz' } }]))).toEqual([
      'task_list[1].task_list[0].outputs.x: output "out.gz" is the same in every iteration of the do-while loop task_list[1], so its second iteration would declare it again; make its name depend on the iteration, e.g. \'..._{w_index}.gz\'.format(**metadata)',
    ]);
  });

  it('accepts a fixed output when the criterion is known false: the loop runs once', () => {
    expect(
      problemsOf(
        doWhile([{ task: 'null', name: 'fit', outputs: { x: 'out.gz' } }], {
          repeat_criterion: '(metadata["w_index"] > 5)',
        }),
      ),
    ).toEqual([]);
  });

  it('leaves a body input with no producer in the job to the caller (an earlier job may have it)', () => {
    const { plan, problems } = expand({
      working_directory: 'wd',
      task_list: [
        { task: 'produce', outputs: { x: 'outside.gz' } },
        {
          task: 'execution_do_while_loop',
          iteration_name: 'w',
          requires_metadata_from_child: ['fit'],
          repeat_criterion: "(requested_metadata['fit']['snr'] > 5)",
          task_list: [
            {
              task: 'null',
              name: 'fit',
              inputs: { a: 'outside.gz', b: "'in_{w_index}'.format(**metadata)", c: 'nowhere.gz' },
            },
            { task: 'produce', outputs: { x: "'in_{w_index}'.format(**metadata)" } },
          ],
        },
      ],
    });
    expect(problems).toEqual([]);
    expect(plan.unresolvedBodyInputs).toEqual([
      {
        semanticType: 'c',
        workingDirectory: 'wd',
        filename: 'nowhere.gz',
        where: 'task_list[1].task_list[0].inputs.c',
      },
    ]);
  });
});

describe('the branches of a conditional, checked at submission', () => {
  const conditional = (fields: Record<string, unknown>): unknown => ({
    task_list: [
      { task: 'set_metadata', name: 'probe', values: { snr: 7 } },
      {
        task: 'execution_conditional',
        requires_metadata_from: ['probe'],
        criterion: "(requested_metadata['probe']['snr'] > 5)",
        task_list: [{ task: 'null' }],
        else_task_list: [{ task: 'null' }],
        ...fields,
      },
    ],
  });

  it('the original if_then_else.json passes', () => {
    const { problems, plan } = expand(JSON.parse(original('if_then_else.json')));
    expect(problems).toEqual([]);
    expect(plan.deferred).toBe(8);
  });

  it('refuses a criterion reading a provider the conditional does not name', () => {
    expect(problemsOf(conditional({ criterion: "(requested_metadata['a']['snr'] > 5)" }))).toEqual([
      `task_list[1].criterion: reads requested_metadata['a'], but "a" is not a provider: requires_metadata_from of task_list[1] names "probe"`,
    ]);
    expect(
      problemsOf(
        conditional({ requires_metadata_from: undefined, criterion: "(requested_metadata['a'])" }),
      ),
    ).toEqual([
      'task_list[1].criterion: reads requested_metadata, but requires_metadata_from of task_list[1] names no provider',
    ]);
  });

  it('refuses a task type chosen by an expression known now, and a syntax error, in either branch', () => {
    expect(
      problemsOf({
        task_list: [
          { task: 'set_metadata', name: 'probe', values: { snr: 7 } },
          {
            task: 'execution_for_loop',
            parameter: 'tda',
            values: ['tlss'],
            task_list: [
              {
                task: 'execution_conditional',
                requires_metadata_from: [],
                criterion: '(1 == 1)',
                task_list: [{ task: "'transit_search_{tda}'.format(**metadata)" }],
                else_task_list: [{ task: 'null', outputs: { x: '(1 +)' } }],
              },
            ],
          },
        ],
      }),
    ).toEqual([
      'task_list[1]@0.task_list[0].task_list[0].task: Unknown task type "transit_search_tlss"',
      expect.stringMatching(
        /^task_list\[1\]@0\.task_list\[0\]\.else_task_list\[0\]\.outputs\.x: .*"\(1 \+\)"/,
      ),
    ]);
  });

  it('checks a conditional nested in a do-while body, and lets a branch read its providers', () => {
    expect(
      problemsOf(
        doWhile([
          { task: 'null', name: 'fit', outputs: { x: "'a_{w_index}'.format(**metadata)" } },
          {
            task: 'execution_conditional',
            requires_metadata_from: ['fit'],
            criterion: "(requested_metadata['fit']['snr'] > 5)",
            task_list: [{ task: 'null', sleep: "(requested_metadata['fit']['snr'])" }],
            else_task_list: [{ task: "('nu' + 'l' * 1)" }],
          },
        ]),
      ),
    ).toEqual(['task_list[1].task_list[1].else_task_list[0].task: Unknown task type "nul"']);
  });
});
