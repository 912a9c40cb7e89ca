/**
 * Cancel, rerun and delete of jobs, end to end through the real binary (`node bin/eas.js`,
 * SQLite, the file repository and external commands): a failed subtree is run again after its
 * cause is fixed, one chain is submitted twice, a job is deleted with its unshared files, and a
 * job is cancelled from another process while `eas run` runs it.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHAINS,
  counts,
  ensureBuilt,
  json,
  runEas,
  spawnEas,
  tableSnapshot,
  tempDir,
  withDb,
  type CliResult,
  type StatusJson,
} from '../cli/harness.js';

const cleanups: (() => void)[] = [];
beforeAll(() => ensureBuilt());
afterAll(() => cleanups.forEach((c) => c()));

/**
 * A pipeline whose registry has `flaky` (fails while `fail-marker` exists in the pipeline
 * directory, else writes a light curve that names its job: an object of its own per job),
 * `produce` (a light curve that depends only on the task path: the same object in every job)
 * and `consume` (reads a light curve).
 */
function pipelineDir(name: string, extraConfig: string[] = []): string {
  const { dir, remove } = tempDir(name);
  cleanups.push(remove);
  const node = JSON.stringify(process.execPath);
  writeFileSync(
    join(dir, 'flaky.sh'),
    [
      '#!/bin/sh',
      'if [ -e "$MARKER" ]; then echo "fail-marker present: failing on purpose" >&2; exit 3; fi',
      '"$NODE" -e \'',
      'const fs = require("node:fs");',
      'const task = JSON.parse(fs.readFileSync(process.env.EAS_TASK_FILE, "utf8"));',
      'fs.writeFileSync(task.outputs.lightcurve, "lightcurve of job " + task.job_id + " " + task.path + "\\n1 1\\n");',
      "'",
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'registry.yaml'),
    [
      'taskTypes:',
      '  flaky:',
      `    command: ["/bin/sh", ${JSON.stringify(join(dir, 'flaky.sh'))}]`,
      `    env: { NODE: ${node}, MARKER: ${JSON.stringify(join(dir, 'fail-marker'))} }`,
      '    outputs: { required: [lightcurve] }',
      '  produce:',
      `    command: ["/bin/sh", ${JSON.stringify(join(CHAINS, 'e2e', 'produce.sh'))}]`,
      `    env: { NODE: ${node} }`,
      '    outputs: { required: [lightcurve] }',
      '  consume:',
      `    command: ["/bin/sh", ${JSON.stringify(join(CHAINS, 'e2e', 'consume.sh'))}]`,
      `    env: { NODE: ${node} }`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'eas.yaml'),
    [
      'database:',
      '  url: sqlite:.eas/eas.db',
      'filestore:',
      '  root: .eas/files',
      'registry: registry.yaml',
      'logLevel: warn',
      ...extraConfig,
      '',
    ].join('\n'),
  );
  return dir;
}

function expectUsage(r: CliResult, message: RegExp): void {
  expect(r.code, r.stdout + r.stderr).toBe(2);
  expect(r.stderr).toMatch(message);
}

interface TaskJson {
  state: string;
  attempts: { kind: string; state: string; versions: { sha256: string }[] }[];
}

const objectPath = (dir: string, sha: string) =>
  join(dir, '.eas', 'files', 'objects', sha.slice(0, 2), sha.slice(2));

describe('rerun of a failed subtree, double submission, delete', () => {
  let dir: string;
  beforeAll(() => {
    dir = pipelineDir('rerun');
    writeFileSync(
      join(dir, 'chain.json'),
      JSON.stringify({
        job_name: 'flaky-chain',
        working_directory: 'e2e',
        task_list: [
          { task: 'flaky', name: 'flaky', outputs: { lightcurve: 'star_1.txt' } },
          { task: 'consume', name: 'consume', inputs: { lightcurve: 'star_1.txt' } },
          { task: 'produce', name: 'produce', outputs: { lightcurve: 'star_2.txt' } },
        ],
      }),
    );
  });

  it('a failing task blocks its dependent: run --until-idle exits 1', async () => {
    writeFileSync(join(dir, 'fail-marker'), '');
    expect((await runEas(['submit', 'chain.json'], dir)).code).toBe(0);
    const run = await runEas(['run', '--until-idle'], dir);
    expect(run.code, run.stderr).toBe(1);
    const status = json<StatusJson>(await runEas(['status', '--json'], dir));
    expect(status.totals).toEqual(counts({ done: 2, failed: 1, blocked: 1 }));
    expect(status.jobs.map((j) => j.status)).toEqual(['failed']);
  });

  it('rejects bad input with exit 2 and changes nothing', async () => {
    const before = tableSnapshot(dir);
    expectUsage(await runEas(['rerun', 'abc'], dir), /job id must be a positive integer/);
    expectUsage(await runEas(['rerun', '9'], dir), /No job 9/);
    expectUsage(await runEas(['cancel', '1'], dir), /Job 1 "flaky-chain" is failed, not running/);
    expectUsage(await runEas(['delete', '9', '--json'], dir), /No job 9/);
    expect(tableSnapshot(dir)).toEqual(before);
  });

  it('after the cause is fixed, eas rerun 1 then run --until-idle exits 0 with everything done', async () => {
    rmSync(join(dir, 'fail-marker'));
    const rerun = json<{
      status: string;
      rerunTasks: number[];
      reopenedTasks: number[];
      queued: { taskId: number }[];
    }>(await runEas(['rerun', '1', '--json'], dir));
    expect(rerun).toMatchObject({
      status: 'running',
      rerunTasks: [2],
      reopenedTasks: [3],
      queued: [{ taskId: 2 }],
    });
    expect(json<TaskJson>(await runEas(['task', '3', '--json'], dir)).state).toBe('waiting');

    const run = await runEas(['run', '--until-idle'], dir);
    expect(run.code, run.stderr).toBe(0);
    const status = json<StatusJson>(await runEas(['status', '--json'], dir));
    expect(status.totals).toEqual(counts({ done: 4 }));
    expect(status.jobs.map((j) => j.status)).toEqual(['done']);
    const flaky = json<TaskJson>(await runEas(['task', '2', '--json'], dir));
    expect(flaky.attempts.map((a) => [a.kind, a.state])).toEqual([
      ['first', 'failed'],
      ['rerun', 'succeeded'],
    ]);
    const again = await runEas(['rerun', '1'], dir);
    expectUsage(again, /nothing to rerun/);
  });

  it('the same chain submitted again is a second job; both end done', async () => {
    const submit = await runEas(['submit', 'chain.json'], dir);
    expect(submit.code, submit.stderr).toBe(0);
    expect(submit.stdout).toContain('Submitted job 2');
    const run = await runEas(['run', '--until-idle'], dir);
    expect(run.code, run.stderr).toBe(0);
    // What this run ran: job 2's three attempts and tasks, not job 1's too.
    expect(run.stdout).toContain('Ran 3 attempts. Tasks of the jobs it ran: done 4.');
    const status = json<StatusJson>(await runEas(['status', '--json'], dir));
    expect(status.jobs.map((j) => [j.id, j.status])).toEqual([
      [2, 'done'],
      [1, 'done'],
    ]);
    expect(status.totals).toEqual(counts({ done: 8 }));
  });

  it('eas delete 2 removes its rows and the objects only it had; job 1 is intact', async () => {
    const sha = async (taskId: number) =>
      json<TaskJson>(await runEas(['task', String(taskId), '--json'], dir)).attempts.at(-1)!
        .versions[0]!.sha256;
    // Job 1: flaky 2, produce 4; job 2: flaky 6, produce 8.
    const [own1, shared1, own2, shared2] = await Promise.all([2, 4, 6, 8].map(sha));
    expect(own2).not.toBe(own1);
    expect(shared2).toBe(shared1);
    for (const s of [own1, shared1, own2]) expect(existsSync(objectPath(dir, s!))).toBe(true);
    const rowsOfJob1 = () =>
      withDb(dir, (db) => ({
        tasks: db.prepare('SELECT count(*) FROM eas_tasks WHERE job_id = 1').pluck().get(),
        attempts: db.prepare('SELECT count(*) FROM eas_attempts WHERE job_id = 1').pluck().get(),
        products: db.prepare('SELECT count(*) FROM eas_products WHERE job_id = 1').pluck().get(),
        logs: db.prepare('SELECT count(*) FROM eas_log_lines WHERE job_id = 1').pluck().get(),
      }));
    const job1Before = rowsOfJob1();

    const del = await runEas(['delete', '2'], dir);
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout).toMatch(
      /Deleted job 2 "flaky-chain": 4 tasks, 3 attempts, 2 products, 2 versions/,
    );
    expect(del.stdout).toContain('1 stored file removed, 1 stored file kept');

    expect(existsSync(objectPath(dir, own2!))).toBe(false);
    expect(existsSync(objectPath(dir, shared1!))).toBe(true);
    expect(existsSync(objectPath(dir, own1!))).toBe(true);
    withDb(dir, (db) => {
      for (const table of ['eas_tasks', 'eas_attempts', 'eas_products', 'eas_log_lines'])
        expect(db.prepare(`SELECT count(*) FROM ${table} WHERE job_id = 2`).pluck().get()).toBe(0);
      expect(db.prepare('SELECT count(*) FROM eas_jobs WHERE id = 2').pluck().get()).toBe(0);
      expect(
        db
          .prepare(
            'SELECT count(*) FROM eas_versions WHERE attempt_id NOT IN (SELECT id FROM eas_attempts)',
          )
          .pluck()
          .get(),
      ).toBe(0);
      expect(
        db
          .prepare(
            "SELECT count(*) FROM eas_metadata WHERE owner_kind = 'attempt' AND owner_id NOT IN (SELECT id FROM eas_attempts)",
          )
          .pluck()
          .get(),
      ).toBe(0);
    });
    expect(rowsOfJob1()).toEqual(job1Before);
    const status = json<StatusJson>(await runEas(['status', '--json'], dir));
    expect(status.jobs.map((j) => [j.id, j.status])).toEqual([[1, 'done']]);
    const get = await runEas(['get', 'e2e/star_1.txt', '-o', 'copy.txt'], dir);
    expect(get.code, get.stderr).toBe(0);
  });
});

describe('cancel of a running job from another process', () => {
  it('eas run ends with the job cancelled; delete needs --force on a running job', async () => {
    const dir = pipelineDir('cancel', ['worker:', '  heartbeatMs: 200']);
    const task_list = Array.from({ length: 12 }, (_, i) => ({
      task: 'null',
      name: `slow_${i}`,
      sleep: 1,
    }));
    writeFileSync(join(dir, 'slow.json'), JSON.stringify({ job_name: 'slow', task_list }));
    expect((await runEas(['submit', 'slow.json'], dir)).code).toBe(0);

    const run = spawnEas(['run', '--until-idle', '--workers', '2'], dir);
    let runOut = '';
    run.stdout!.setEncoding('utf8').on('data', (d: string) => (runOut += d));
    run.stderr!.setEncoding('utf8').on('data', (d: string) => (runOut += d));
    const exited = new Promise<number>((resolve) =>
      run.once('close', (code) => resolve(code ?? -1)),
    );
    // Wait until a slow task has finished, so the job is under way.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const s = json<StatusJson>(await runEas(['status', '--json'], dir));
      if (s.totals.done >= 2) break;
      if (Date.now() > deadline) throw new Error(`job never got under way:\n${runOut}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    const cancel = await runEas(['cancel', '1', '--json'], dir);
    const c = json<{
      cancelledTasks: number;
      cancelledAttempts: number;
      tasks: { queued: number };
    }>(cancel);
    expect(c.cancelledTasks).toBeGreaterThan(0);
    expect(c.tasks.queued).toBeGreaterThan(0);

    const code = await exited;
    expect(code, runOut).toBe(0);
    const status = json<StatusJson>(await runEas(['status', '--json'], dir));
    expect(status.jobs.map((j) => j.status)).toEqual(['cancelled']);
    expect(status.totals.cancelled).toBe(c.cancelledTasks);
    expect(status.totals.queued + status.totals.running + status.totals.waiting).toBe(0);
    const queue = json<{ types: Record<string, unknown> }>(await runEas(['queue', '--json'], dir));
    expect(queue.types).toEqual({});
    expectUsage(await runEas(['cancel', '1'], dir), /is cancelled, not running/);

    // A running job is deleted only with --force, which cancels it first.
    expect((await runEas(['submit', 'slow.json'], dir)).code).toBe(0);
    const before = tableSnapshot(dir);
    expectUsage(await runEas(['delete', '2'], dir), /is running.*--force/);
    expect(tableSnapshot(dir)).toEqual(before);
    const forced = json<{ cancelled: { cancelledTasks: number } | null }>(
      await runEas(['delete', '2', '--force', '--json'], dir),
    );
    expect(forced.cancelled?.cancelledTasks).toBe(12);
    const del = await runEas(['delete', '1'], dir);
    expect(del.code, del.stderr).toBe(0);
    expect(json<StatusJson>(await runEas(['status', '--json'], dir)).jobs).toEqual([]);
    const q = json<{ types: Record<string, unknown> }>(await runEas(['queue', '--json'], dir));
    expect(q.types).toEqual({});
  });
});
