/**
 * Graceful stop: `eas run` (the real binary) gets SIGTERM while attempts run. It stops
 * claiming, lets the running attempts finish, records them and exits 0; the work it had not
 * started stays queued for the next run.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  ensureBuilt,
  json,
  runEas,
  spawnEas,
  tempDir,
  withDb,
  writeE2eConfig,
  type StatusJson,
} from '../cli/harness.js';

let dir: string;
let remove: () => void;

beforeAll(async () => {
  await ensureBuilt();
  ({ dir, remove } = tempDir('sigterm'));
  writeE2eConfig(dir);
  const task_list = Array.from({ length: 12 }, (_, i) => ({
    task: 'null',
    name: `n${i}`,
    sleep: 0.8,
  }));
  writeFileSync(join(dir, 'chain.json'), JSON.stringify({ job_name: 'term', task_list }));
});
afterAll(() => remove?.());

describe('SIGTERM to eas run', () => {
  it('lets the 4 running attempts finish and pass QC, leaves the other 8 tasks queued, and exits 0', async () => {
    expect((await runEas(['submit', 'chain.json'], dir)).code).toBe(0);
    const child = spawnEas(['run', '--workers', '4'], dir);
    let stderr = '';
    child.stdout!.resume();
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    // A failure before the SIGTERM below must not leave `eas run` behind.
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const deadline = Date.now() + 20_000;
    for (;;) {
      await new Promise((r) => setTimeout(r, 20));
      const running = withDb(
        dir,
        (db) =>
          db
            .prepare("SELECT count(*) FROM eas_attempts WHERE state = 'running'")
            .pluck()
            .get() as number,
      );
      if (running === 4) break;
      if (Date.now() > deadline) throw new Error(`never saw 4 running attempts\n${stderr}`);
    }
    child.kill('SIGTERM');
    expect(await exited, stderr).toBe(0);
    expect(stderr).toContain('SIGTERM: stopping gracefully');
    const s = json<StatusJson>(await runEas(['status', '--json'], dir));
    expect(s.totals).toMatchObject({ done: 1 + 4, queued: 8, running: 0, failed: 0 });
    const attempts = withDb(dir, (db) =>
      db
        .prepare(
          'SELECT state, qc, count(*) AS n FROM eas_attempts GROUP BY state, qc ORDER BY state',
        )
        .all(),
    );
    expect(attempts).toEqual([
      { state: 'queued', qc: null, n: 8 },
      { state: 'succeeded', qc: 'passed', n: 4 },
    ]);
    const rerun = await runEas(['run', '--until-idle', '--workers', '8'], dir);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(json<StatusJson>(await runEas(['status', '--json'], dir)).totals.done).toBe(13);
  });
});

describe('SIGTERM to a daemon while it starts', () => {
  it('eas worker and eas controller exit 0 whenever the signal comes, loading or connecting', async () => {
    const outcomes: string[] = [];
    for (const daemon of ['worker', 'controller'] as const) {
      // While the CLI loads, while it opens the pipeline, and once it runs (before Node has run
      // bin/eas.js at all, the signal's default action is the kernel's: not tested).
      for (const afterMs of [400, 1000, 3000]) {
        const child = spawnEas([daemon], dir);
        onTestFinished(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        });
        child.stdout!.resume();
        child.stderr!.resume();
        const exited = new Promise<string>((resolve) =>
          child.once('exit', (code, signal) => resolve(`${code ?? signal}`)),
        );
        await new Promise((r) => setTimeout(r, afterMs));
        child.kill('SIGTERM');
        outcomes.push(`${daemon} at ${afterMs} ms: ${await exited}`);
      }
    }
    expect(outcomes).toEqual(
      ['worker', 'controller'].flatMap((d) => [400, 1000, 3000].map((ms) => `${d} at ${ms} ms: 0`)),
    );
  });
});
