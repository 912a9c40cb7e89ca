/**
 * A run-time expansion (a conditional's branch, a do-while iteration) that fails stores the
 * problems themselves (path, expression, column) in the attempt's one-line error, which `eas
 * tree`, `eas errors` and `eas task` show; not only the headline "… invalid: 1 problem".
 * Real SQLite, real controller and worker.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/core/index.js';
import { createTestPipeline, type TestPipeline } from '../../src/testing/index.js';

const open: TestPipeline[] = [];
afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
});

async function failedExpansion(chain: unknown): Promise<{ error: string; traceback: string }> {
  const p = await createTestPipeline();
  open.push(p);
  const { jobId, status } = await p.runChain(chain as never);
  expect(status.totals.failed).toBe(1);
  const [entry] = (await p.db.errors(jobId)).filter((e) => e.state === 'failed');
  expect(entry?.type).toMatch(/^execution_/);
  return { error: entry!.error!, traceback: entry!.traceback! };
}

describe('a run-time expansion that fails', () => {
  it("stores its problem's path, expression and column in the error, not only the headline", async () => {
    const { error, traceback } = await failedExpansion({
      task_list: [
        { task: 'set_metadata', name: 'probe', values: { snr: 7 } },
        {
          task: 'execution_conditional',
          requires_metadata_from: ['probe'],
          criterion: "(requested_metadata['probe']['snr'] > 5)",
          task_list: [
            { task: 'null', name: "'hit_{}'.format(requested_metadata['probe']['snrr'])" },
          ],
        },
      ],
    });
    expect(error).not.toContain('\n');
    expect(error).toMatch(
      /^Branch of task_list\[1\] invalid: task_list\[1\]\.task_list\[0\]\.name: /,
    );
    expect(error).toContain(
      `in expression "'hit_{}'.format(requested_metadata['probe']['snrr'])" at column`,
    );
    expect(error).toContain("'snrr'");
    expect(traceback).toContain(error.slice(error.indexOf('task_list[1].task_list[0].name')));
  });

  it('names the first three of many problems and counts the rest', async () => {
    const { error } = await failedExpansion({
      // The divisor is known only at run time (a body's problems known at submission refuse it).
      task_list: [
        { task: 'set_metadata', name: 'probe', values: { zero: 0 } },
        {
          task: 'execution_do_while_loop',
          iteration_name: 'w',
          requires_metadata_from: ['probe'],
          requires_metadata_from_child: ['a'],
          repeat_criterion: false,
          task_list: [
            { task: 'null', name: 'a', sleep: "(1 / requested_metadata['probe']['zero'])" },
            { task: 'null', sleep: "(2 / requested_metadata['probe']['zero'])" },
            { task: 'null', sleep: "(3 / requested_metadata['probe']['zero'])" },
            { task: 'null', sleep: "(4 / requested_metadata['probe']['zero'])" },
            { task: 'null', sleep: "(5 / requested_metadata['probe']['zero'])" },
          ],
        },
      ],
    });
    expect(error).toMatch(
      /^Iteration 1 of task_list\[1\] invalid: 5 problems: task_list\[1\]@0\.task_list\[0\]\.sleep: .*division by zero.*; task_list\[1\]@0\.task_list\[1\]\.sleep: .*; task_list\[1\]@0\.task_list\[2\]\.sleep: .*; … and 2 more$/,
    );
  });
});

describe('an input declared only inside a body expanded at run time', () => {
  async function refusal(chain: unknown): Promise<string[]> {
    const p = await createTestPipeline();
    open.push(p);
    const before = await p.db.counts();
    try {
      await p.controller().submit({ chain: chain as never });
    } catch (e) {
      if (!(e instanceof InvalidInputError)) throw e;
      expect(await p.db.counts()).toEqual(before);
      return e.problems.map((x) => `${x.path}: ${x.message}`);
    }
    throw new Error('expected the submission to be refused');
  }

  it('read by a task outside that body: the message says where it is declared, not "no task declares"', async () => {
    const problems = await refusal({
      working_directory: 'wd',
      task_list: [
        { task: 'set_metadata', name: 'probe', values: { snr: 7 } },
        {
          task: 'execution_conditional',
          requires_metadata_from: ['probe'],
          criterion: "(requested_metadata['probe']['snr'] > 5)",
          task_list: [{ task: 'null', outputs: { data: 'hit.txt' } }],
        },
        {
          task: 'execution_do_while_loop',
          iteration_name: 'w',
          requires_metadata_from_child: ['body'],
          repeat_criterion: false,
          task_list: [
            {
              task: 'execution_chain',
              name: 'body',
              working_directory: 'inner',
              task_list: [{ task: 'null', outputs: { data: "'it_{}.txt'.format(1 + 1)" } }],
            },
          ],
        },
        { task: 'null', inputs: { data: 'hit.txt' } },
        { task: 'null', working_directory: 'inner', inputs: { data: 'it_2.txt' } },
        { task: 'null', inputs: { data: 'nobody.txt' } },
      ],
    });
    expect(problems).toEqual([
      'task_list[3].inputs.data: "hit.txt" in working directory "wd" is declared only inside task_list[1] (at task_list[1].task_list[0].outputs.data), a body expanded at run time, so tasks outside it cannot depend on it (and no earlier job has a QC-passed version of it). Move the reading task into that body, or declare the file in a task outside it.',
      'task_list[4].inputs.data: "it_2.txt" in working directory "inner" is declared only inside task_list[2] (at task_list[2].task_list[0].task_list[0].outputs.data), a body expanded at run time, so tasks outside it cannot depend on it (and no earlier job has a QC-passed version of it). Move the reading task into that body, or declare the file in a task outside it.',
      'task_list[5].inputs.data: no task declares output "nobody.txt" in working directory "wd", and no earlier job has a QC-passed version of it. Declare it in a task\'s "outputs".',
    ]);
  });
});
