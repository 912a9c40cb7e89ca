/**
 * DESIGN §8 "nothing is lost": `eas run` (the real binary, a child process) is SIGKILLed in the
 * middle of a job; a second `eas run --until-idle` finishes it. Every task ends `done` with
 * exactly one QC-passed attempt, every file version's object is in the store and intact, and
 * every stored object belongs to a version.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileRepository } from '../../src/filestore/index.js';
import {
  counts,
  ensureBuilt,
  json,
  runEas,
  spawnEas,
  tempDir,
  withDb,
  writeE2eConfig,
  type StatusJson,
} from '../cli/harness.js';

const NULL_TASKS = 200;
const PAIRS = 20;
/** The root chain, the null tasks, and a producer and a consumer per pair. */
const TASKS = 1 + NULL_TASKS + 2 * PAIRS;
const WORK_TASKS = TASKS - 1;

let dir: string;
let remove: () => void;

beforeAll(async () => {
  await ensureBuilt();
  ({ dir, remove } = tempDir('sigkill'));
  writeE2eConfig(dir);
  // Producer/consumer pairs spread through the null tasks, so some external commands are
  // running or committing when the kill comes.
  const taskList: Record<string, unknown>[] = [];
  for (let i = 0; i < NULL_TASKS; i++) {
    taskList.push({ task: 'null', name: `null_${i}`, sleep: 0.05 });
    if (i % (NULL_TASKS / PAIRS) === 0) {
      const p = i / (NULL_TASKS / PAIRS);
      taskList.push({
        task: 'produce',
        name: `produce_${p}`,
        outputs: { lightcurve: `lc_${p}.txt` },
      });
      taskList.push({
        task: 'consume',
        name: `consume_${p}`,
        inputs: { lightcurve: `lc_${p}.txt` },
      });
    }
  }
  writeFileSync(
    join(dir, 'big.json'),
    JSON.stringify({ job_name: 'sigkill', working_directory: 'grid', task_list: taskList }),
  );
});

afterAll(() => remove?.());

function taskStates(): Record<string, number> {
  return withDb(dir, (db) =>
    Object.fromEntries(
      (
        db.prepare('SELECT state, count(*) AS n FROM eas_tasks GROUP BY state').all() as {
          state: string;
          n: number;
        }[]
      ).map((r) => [r.state, r.n]),
    ),
  );
}

describe('SIGKILL of eas run mid-job, then eas run --until-idle again', () => {
  it(`ends with all ${TASKS} tasks done, ${WORK_TASKS} with exactly one QC-passed attempt, ${PAIRS} versions all stored, intact and referenced`, async () => {
    const submit = await runEas(['submit', 'big.json'], dir);
    expect(submit.code, submit.stderr).toBe(0);

    // Start the first run and kill it once a good part of the job is done.
    const child = spawnEas(['run', '--until-idle', '--workers', '4'], dir);
    let stderr = '';
    child.stdout!.resume();
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    );
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        await new Promise((r) => setTimeout(r, 20));
        const done = taskStates().done ?? 0;
        if (done >= 60) break;
        if (child.exitCode !== null) throw new Error(`eas run ended before the kill:\n${stderr}`);
        if (Date.now() > deadline) throw new Error(`only ${done} tasks done after 30 s`);
      }
    } finally {
      child.kill('SIGKILL');
    }
    expect(await exited).toBe('SIGKILL');

    const atKill = taskStates();
    const live = withDb(
      dir,
      (db) =>
        db
          .prepare("SELECT count(*) FROM eas_attempts WHERE state IN ('running', 'queued')")
          .pluck()
          .get() as number,
    );
    expect(atKill.done ?? 0, 'killed mid-job: some tasks done').toBeGreaterThanOrEqual(60);
    expect(atKill.done ?? 0, 'killed mid-job: not all tasks done').toBeLessThan(TASKS);
    expect(live, 'attempts the killed run left queued or running').toBeGreaterThan(0);

    // The second run recovers the dead worker's attempts and finishes the job.
    const rerun = await runEas(['run', '--until-idle'], dir);
    expect(rerun.code, rerun.stderr).toBe(0);

    const status = json<StatusJson>(await runEas(['status', '--json'], dir));
    expect(status.totals).toEqual(counts({ done: TASKS }));
    expect(status.jobs.map((j) => j.status)).toEqual(['done']);

    const record = withDb(dir, (db) => ({
      passedPerTask: db
        .prepare(
          "SELECT task_id, count(*) AS n FROM eas_attempts WHERE qc = 'passed' GROUP BY task_id",
        )
        .all() as { task_id: number; n: number }[],
      workTaskIds: db
        .prepare('SELECT id FROM eas_tasks WHERE control = 0 ORDER BY id')
        .pluck()
        .all() as number[],
      attemptStates: db
        .prepare('SELECT state, qc, count(*) AS n FROM eas_attempts GROUP BY state, qc')
        .all() as { state: string; qc: string | null; n: number }[],
      versions: db
        .prepare(
          `SELECT v.sha256, v.size, v.passed_qc, v.product_id, a.qc AS attempt_qc
             FROM eas_versions v JOIN eas_attempts a ON a.id = v.attempt_id`,
        )
        .all() as {
        sha256: string;
        size: number;
        passed_qc: number;
        product_id: number;
        attempt_qc: string | null;
      }[],
      versionCount: db.prepare('SELECT count(*) FROM eas_versions').pluck().get() as number,
      products: db.prepare('SELECT count(*) FROM eas_products').pluck().get() as number,
    }));

    // Exactly once in the record: one QC-passed attempt per work task, none for the root.
    expect(record.workTaskIds).toHaveLength(WORK_TASKS);
    expect(
      record.passedPerTask.map((r) => r.task_id).sort((a, b) => a - b),
      'tasks with a QC-passed attempt',
    ).toEqual(record.workTaskIds);
    expect(
      record.passedPerTask.filter((r) => r.n !== 1),
      'tasks with more than one QC-passed attempt',
    ).toEqual([]);
    // The only other attempts are those the kill interrupted, marked stalled.
    const byState = Object.fromEntries(
      record.attemptStates.map((r) => [`${r.state}/${r.qc ?? '-'}`, r.n]),
    );
    expect(byState['succeeded/passed']).toBe(WORK_TASKS);
    expect(Object.keys(byState).sort(), `attempts by state/qc: ${JSON.stringify(byState)}`).toEqual(
      byState['stalled/-'] ? ['stalled/-', 'succeeded/passed'] : ['succeeded/passed'],
    );

    // One version per product, from the QC-passed attempt; none orphaned.
    expect(record.products).toBe(PAIRS);
    expect(record.versionCount, 'versions (every one joined to its attempt)').toBe(PAIRS);
    expect(record.versions.length).toBe(PAIRS);
    expect(new Set(record.versions.map((v) => v.product_id)).size).toBe(PAIRS);
    expect(record.versions.every((v) => v.passed_qc === 1 && v.attempt_qc === 'passed')).toBe(true);
    const files = await createFileRepository({ root: join(dir, '.eas', 'files') });
    try {
      for (const v of record.versions) {
        expect((await files.stat(v.sha256))?.size, `object ${v.sha256} stored`).toBe(v.size);
        expect(await files.verify(v.sha256), `object ${v.sha256} intact`).toBe(true);
      }
    } finally {
      await files.close();
    }
    // Every stored object belongs to a version: the producer writes the same bytes on a re-run,
    // so even an object stored just before the kill is the one its version names.
    const objectsDir = join(dir, '.eas', 'files', 'objects');
    const stored = readdirSync(objectsDir).flatMap((prefix) =>
      readdirSync(join(objectsDir, prefix)).map((rest) => prefix + rest),
    );
    expect(stored.sort(), 'objects in the store = sha256 of the versions').toEqual(
      [...new Set(record.versions.map((v) => v.sha256))].sort(),
    );
  });
});
