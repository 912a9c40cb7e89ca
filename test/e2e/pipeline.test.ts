/**
 * End to end through the real binary (`node bin/eas.js`, child processes, SQLite, files and
 * external commands): a chain runs to `done`, a failing task blocks its consumer and its
 * traceback is reported, and `eas demo` leaves a pipeline to explore.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHAINS,
  counts,
  ensureBuilt,
  json,
  runEas,
  tempDir,
  writeE2eConfig,
  type StatusJson,
} from '../cli/harness.js';

const cleanups: (() => void)[] = [];
beforeAll(() => ensureBuilt());
afterAll(() => cleanups.forEach((c) => c()));

function pipelineDir(name: string): string {
  const { dir, remove } = tempDir(name);
  cleanups.push(remove);
  writeE2eConfig(dir);
  return dir;
}

interface TaskJson {
  id: number;
  name: string | null;
  state: string;
  inputs: { semanticType: string; filename: string; producerTaskId: number }[];
  attempts: {
    state: string;
    qc: string | null;
    exitCode: number | null;
    outputMetadata: Record<string, { type: string; value: unknown }>;
    versions: { filename: string; sha256: string; passedQc: boolean }[];
  }[];
}

interface ErrorJson {
  taskId: number;
  name: string | null;
  type: string;
  state: string;
  reason: string | null;
  error: string | null;
  traceback: string | null;
}

describe('three null tasks and a producer/consumer pair of external commands', () => {
  it('submit and run --until-idle exit 0; status --json totals: done 6 (root included), all else 0', async () => {
    const dir = pipelineDir('pair');
    const submit = await runEas(['submit', join(CHAINS, 'e2e', 'three-nulls-and-pair.json')], dir);
    expect(submit.code, submit.stderr).toBe(0);
    expect(submit.stdout).toContain('Submitted job 1');

    const run = await runEas(['run', '--until-idle'], dir);
    expect(run.code, run.stderr).toBe(0);
    // Five attempts (three null, the pair); the root is the controller's, no attempt.
    expect(run.stdout).toContain('Ran 5 attempts. Tasks of the jobs it ran: done 6.');

    const status = json<StatusJson>(await runEas(['status', '--json'], dir));
    expect(status.totals).toEqual(counts({ done: 6 }));
    expect(status.taskTypes).toEqual({
      execution_chain: counts({ done: 1 }),
      null: counts({ done: 3 }),
      produce: counts({ done: 1 }),
      consume: counts({ done: 1 }),
    });
    expect(status.jobs.map((j) => [j.id, j.status, j.tasks])).toEqual([[1, 'done', 6]]);

    // The consumer is task 6: it read the producer's file (its line count is its metadata)
    // and exited 0; the producer's version passed QC.
    const consumer = json<TaskJson>(await runEas(['task', '6', '--json'], dir));
    expect(consumer.name).toBe('consume');
    expect(consumer.inputs).toMatchObject([
      { semanticType: 'lightcurve', filename: 'star_1.txt', producerTaskId: 5 },
    ]);
    expect(consumer.attempts).toHaveLength(1);
    expect(consumer.attempts[0]).toMatchObject({ state: 'succeeded', qc: 'passed', exitCode: 0 });
    expect(consumer.attempts[0]!.outputMetadata.lines).toEqual({ type: 'int', value: 52 });
    const producer = json<TaskJson>(await runEas(['task', '5', '--json'], dir));
    expect(producer.attempts[0]!.versions).toMatchObject([
      { filename: 'star_1.txt', passedQc: true },
    ]);

    const get = await runEas(['get', 'e2e/star_1.txt', '-o', 'copy.txt'], dir);
    expect(get.code, get.stderr).toBe(0);
    expect(readFileSync(join(dir, 'copy.txt'), 'utf8')).toMatch(/^lightcurve of task_list\[3\]\n/);
    // Into a directory that does not exist: said plainly, exit 2.
    const nowhere = await runEas(['get', 'e2e/star_1.txt', '-o', 'no/such/dir/copy.txt'], dir);
    expect(nowhere.code).toBe(2);
    expect(nowhere.stderr).toContain(
      `Cannot write ${join(dir, 'no/such/dir/copy.txt')}: no such directory`,
    );
    expect(nowhere.stderr).not.toMatch(/unexpected|at .*\.js/);
  });
});

describe('an error task whose output a second task reads', () => {
  let dir: string;
  beforeAll(async () => {
    dir = pipelineDir('error');
    const submit = await runEas(['submit', join(CHAINS, 'e2e', 'error-blocks-consumer.json')], dir);
    expect(submit.code, submit.stderr).toBe(0);
  });

  it('run --until-idle exits 1; status --json: failed 1, blocked 1, done 1 (the root)', async () => {
    const run = await runEas(['run', '--until-idle'], dir);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toContain('See: eas errors');
    const status = json<StatusJson>(await runEas(['status', '--json'], dir));
    expect(status.totals).toEqual(counts({ done: 1, failed: 1, blocked: 1 }));
    expect(status.jobs.map((j) => j.status)).toEqual(['failed']);
  });

  it('eas errors prints the failure with the stack of the thrown error, and the blocked task', async () => {
    const r = await runEas(['errors'], dir);
    expect(r.stdout).toMatch(/✘ task 2 .*"broken_instrument" failed/);
    expect(r.stdout).toContain('error: DeliberateTaskError: detector readout failed');
    expect(r.stdout).toMatch(
      /traceback:\n\s+DeliberateTaskError: detector readout failed\n\s+at .+:\d+:\d+\)?\n/,
    );
    expect(r.stdout).toMatch(/⊘ task 3 .*"reads_star_2" blocked: input star_2\.txt: producer/);
  });

  it('eas errors --json has the traceback (a stack) and the blocked reason', async () => {
    const errors = json<ErrorJson[]>(await runEas(['errors', '--json'], dir));
    expect(errors.map((e) => [e.taskId, e.type, e.state])).toEqual([
      [2, 'error', 'failed'],
      [3, 'null', 'blocked'],
    ]);
    const failed = errors[0]!;
    expect(failed.error).toBe('DeliberateTaskError: detector readout failed');
    expect(failed.traceback).toMatch(/^DeliberateTaskError: detector readout failed\n\s+at /);
    expect(failed.traceback!.split('\n').filter((l) => /^\s+at /.test(l)).length).toBeGreaterThan(
      0,
    );
    expect(errors[1]!.reason).toMatch(/star_2\.txt/);
    expect(errors[1]!.traceback).toBeNull();
  });
});

describe('eas demo <dir>', () => {
  it('exits 0 and leaves a pipeline that eas status --json (cwd <dir>) reports', async () => {
    const { dir, remove } = tempDir('demo');
    cleanups.push(remove);
    const demo = await runEas(['demo', 'here'], dir);
    expect(demo.code, demo.stderr).toBe(0);
    expect(demo.stdout).toContain('Finished in');
    const status = json<StatusJson>(await runEas(['status', '--json'], join(dir, 'here')));
    // 8 tasks of the first part, then the detection grid: the size loop, its 5 iterations,
    // 5 period loops, their 15 iterations, 45 tasks.
    expect(status.totals).toEqual(counts({ done: 77, failed: 1, blocked: 1 }));
    expect(status.jobs.map((j) => [j.name, j.status, j.tasks])).toEqual([['demo', 'failed', 79]]);
    // The science, as a size × period table: the largest planet is found on every orbit, the
    // smallest on none.
    const rows = demo.stdout.split('\n').filter((l) => /R_Earth\)/.test(l));
    expect(rows).toHaveLength(5);
    const outcomes = (row: string): string[] => row.match(/PASS|FAIL/g) ?? [];
    expect(outcomes(rows[0]!)).toEqual(['FAIL', 'FAIL', 'FAIL']);
    expect(outcomes(rows[4]!)).toEqual(['PASS', 'PASS', 'PASS']);
    expect(status.taskTypes.make_lightcurve).toEqual(counts({ done: 1 }));
    expect(status.taskTypes.measure_depth).toEqual(counts({ done: 1, blocked: 1 }));
    // What the demo suggests works there too.
    const errors = await runEas(['errors'], join(dir, 'here'));
    expect(errors.stdout).toContain('detector readout failed');
    const get = await runEas(['get', 'demo/star_1.gz'], join(dir, 'here'));
    expect(get.code, get.stderr).toBe(0);
  });
});
