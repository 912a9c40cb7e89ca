/**
 * DESIGN §3 and §8: a body expanded at run time is checked at submission; a chain whose body
 * cannot run is refused whole (dry run too), every problem with its path, and nothing is
 * written. Real SQLite, real controller and worker.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/core/index.js';
import { createTestPipeline, type TestPipeline } from '../../src/testing/index.js';

const open: TestPipeline[] = [];
afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
});

async function pipeline(): Promise<TestPipeline> {
  const p = await createTestPipeline({
    registry: {
      taskTypes: {
        write: { module: `${import.meta.dirname}/../fixtures/handlers/write-text.mjs#write` },
      },
    },
  });
  open.push(p);
  return p;
}

/** The problems of a refused submission (dry run and real), checking nothing was written. */
async function refusal(p: TestPipeline, chain: unknown): Promise<string[]> {
  const before = await p.db.counts();
  const out: string[][] = [];
  for (const dryRun of [true, false]) {
    try {
      await p.controller().submit({ chain: chain as never, dryRun });
      throw new Error('expected the submission to be refused');
    } catch (e) {
      if (!(e instanceof InvalidInputError)) throw e;
      out.push(e.problems.map((x) => `${x.path}: ${x.message}`));
    }
    expect(await p.db.counts()).toEqual(before);
  }
  expect(out[1]).toEqual(out[0]);
  return out[0]!;
}

/** A do-while whose body reads `input`, after a provider. */
const reading = (input: string) => ({
  working_directory: 'wd',
  task_list: [
    {
      task: 'execution_do_while_loop',
      iteration_name: 'w',
      requires_metadata_from_child: ['fit'],
      repeat_criterion: "(requested_metadata['fit']['snr'] > 5) and (metadata['w_index'] < 2)",
      task_list: [
        { task: 'set_metadata', name: 'fit', values: { snr: 7 }, inputs: { data: input } },
      ],
    },
  ],
});

describe('submitting a chain whose run-time body', () => {
  it('reads a file no task of the job declares and no earlier job has: refused, nothing written', async () => {
    const p = await pipeline();
    expect(await refusal(p, reading('nowhere.txt'))).toEqual([
      'task_list[0].task_list[0].inputs.data: no task of the job declares output "nowhere.txt" in working directory "wd" (in the chain or in a body expanded at run time), and no earlier job has a QC-passed version of it. Declare it in a task\'s "outputs".',
    ]);
  });

  it("reads a file an earlier job wrote: accepted, and runs (the loop's two iterations)", async () => {
    const p = await pipeline();
    await p.runChain({
      working_directory: 'wd',
      task_list: [{ task: 'write', outputs: { data: 'shared.txt' } }],
    });
    const { status } = await p.runChain(reading('shared.txt'));
    expect(status.totals).toMatchObject({ failed: 0 });
    const { status: again } = await p.runChain(reading('shared.txt'));
    expect(again.totals).toMatchObject({ failed: 0 });
  });

  it('has a typo, a missing child name, a syntax error, an unnamed provider and a fixed output: each refused with its path', async () => {
    const p = await pipeline();
    expect(
      await refusal(p, {
        task_list: [
          { task: 'set_metadata', name: 'probe', values: { snr: 7 } },
          {
            task: 'execution_conditional',
            requires_metadata_from: ['probe'],
            criterion: "(requested_metadata['a']['snr'] > 5)",
            task_list: [{ task: "'nul{}'.format('l' * 2)" }],
          },
          {
            task: 'execution_do_while_loop',
            iteration_name: 'w',
            requires_metadata_from_child: ['fitt'],
            repeat_criterion: "(requested_metadata['fitt']['snr'] > 5)",
            task_list: [
              { task: 'set_metadata', name: 'fit', values: { snr: 7 }, outputs: { x: 'out.gz' } },
              { task: 'null', outputs: { y: '(1 +)' } },
            ],
          },
        ],
      }),
    ).toEqual([
      `task_list[1].criterion: reads requested_metadata['a'], but "a" is not a provider: requires_metadata_from of task_list[1] names "probe"`,
      expect.stringMatching(/^task_list\[1\]\.task_list\[0\]\.task: .*"nulll"/),
      expect.stringMatching(
        /^task_list\[2\]\.task_list\[1\]\.outputs\.y: .*"\(1 \+\)" at column \d+/,
      ),
      'task_list[2].requires_metadata_from_child[0]: no task of the body is named "fitt" (its tasks: fit)',
      expect.stringMatching(
        /^task_list\[2\]\.task_list\[0\]\.outputs\.x: output "out\.gz" is the same in every iteration/,
      ),
    ]);
  });
});
