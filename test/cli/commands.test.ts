/**
 * The command surface of `eas` (DESIGN §7): help and usage exit codes of the real binary, the
 * exact shape of `eas status --json`, `eas submit --dry-run --json` writing nothing, and
 * NOT_FOUND / USAGE errors exiting 2.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTaskDatabase } from '../../src/taskdb/index.js';
import {
  CHAINS,
  counts,
  dbFile,
  dropEasVariables,
  ensureBuilt,
  json,
  runEas,
  runMain,
  spawnEas,
  STATES,
  tableSnapshot,
  tempDir,
  writeE2eConfig,
  type StatusJson,
} from './harness.js';

const PAIR_CHAIN = join(CHAINS, 'e2e', 'three-nulls-and-pair.json');

let dir: string;
let remove: () => void;

beforeAll(async () => {
  dropEasVariables();
  await ensureBuilt();
  ({ dir, remove } = tempDir('commands'));
  writeE2eConfig(dir);
});

afterAll(() => remove?.());

describe('the binary: help and usage', () => {
  it('eas --help exits 0 and lists the commands', async () => {
    const r = await runEas(['--help'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: eas /m);
    for (const c of ['init', 'submit', 'run', 'status', 'tree', 'task', 'errors', 'demo'])
      expect(r.stdout).toMatch(new RegExp(`^\\s+${c}\\b`, 'm'));
  });

  it('eas --version exits 0 and prints the version of package.json', async () => {
    const r = await runEas(['--version'], dir);
    expect(r.code).toBe(0);
    const { version } = (await import('../../package.json', { with: { type: 'json' } })).default;
    expect(r.stdout.trim()).toBe(version);
  });

  it('an unknown command exits 2 and says so on stderr', async () => {
    const r = await runEas(['frobnicate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
    expect(r.stdout).toBe('');
  });

  it('an unknown option exits 2', async () => {
    const r = await runEas(['status', '--no-such-option'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--no-such-option'");
  });
});

describe('the binary: a reader that stops early', () => {
  it('eas tree | head: exits 0 without an EPIPE stack trace when the pipe closes', async () => {
    const { dir: own, remove: removeOwn } = tempDir('epipe');
    try {
      writeE2eConfig(own);
      const chain = join(own, 'many.json');
      writeFileSync(
        chain,
        JSON.stringify({
          job_name: 'many',
          task_list: Array.from({ length: 3000 }, (_, i) => ({ task: 'null', name: `t${i}` })),
        }),
      );
      expect((await runEas(['submit', chain], own)).code).toBe(0);
      const child = spawnEas(['tree'], own);
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
      // The first lines arrive, then the reader goes away (as `head` does).
      await new Promise((resolve) => child.stdout!.once('data', resolve));
      child.stdout!.destroy();
      expect(await exited).toBe(0);
      expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    } finally {
      removeOwn();
    }
  });
});

describe('queries outside a pipeline', () => {
  it('refuse (exit 2) and create nothing: no eas.yaml, no task database there', async () => {
    const { dir: empty, remove: removeEmpty } = tempDir('no-pipeline');
    try {
      for (const args of [
        ['status'],
        ['tree'],
        ['logs'],
        ['--database', 'sqlite:typo.db', 'errors'],
      ]) {
        const r = await runMain(args, empty);
        expect([args.join(' '), r.code]).toEqual([args.join(' '), 2]);
        expect(r.stderr).toContain('No pipeline here: no eas.yaml and no task database at');
      }
      expect(readdirSync(empty)).toEqual([]);
    } finally {
      removeEmpty();
    }
  });
});

describe('queries of an empty pipeline', () => {
  it('eas status --json is exactly { jobs, taskTypes, totals } with the 8 state keys', async () => {
    const s = json<StatusJson>(await runMain(['status', '--json'], dir));
    expect(Object.keys(s).sort()).toEqual(['jobs', 'taskTypes', 'totals']);
    expect(s.jobs).toEqual([]);
    expect(s.taskTypes).toEqual({});
    expect(Object.keys(s.totals)).toEqual([...STATES]);
    expect(s.totals).toEqual(counts({}));
  });

  it('eas task 999 is NOT_FOUND: exit 2 naming the task', async () => {
    const r = await runMain(['task', '999'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('No task 999');
  });

  it('eas task abc is a usage error: exit 2', async () => {
    const r = await runMain(['task', 'abc'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('task id must be a positive integer, got "abc"');
  });

  it('eas status --job 42 of a job that does not exist: exit 2', async () => {
    const r = await runMain(['status', '--job', '42'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('No job 42');
  });

  it('errors, logs, products, timings and pass-fail of a job or task that does not exist: exit 2, not an empty answer', async () => {
    for (const [args, said] of [
      [['errors', '--job', '42'], 'No job 42'],
      [['logs', '--job', '42'], 'No job 42'],
      [['products', '--job', '42'], 'No job 42'],
      [['timings', '--job', '42'], 'No job 42'],
      [['pass-fail', '--job', '42'], 'No job 42'],
      [['logs', '--task', '987654'], 'No task 987654'],
      [['logs', '--attempt', '987654'], 'No attempt 987654'],
    ] as const) {
      const r = await runMain([...args], dir);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(said);
      expect(r.stdout).toBe('');
    }
  });

  it('eas run --workers 0: exit 2 naming --workers', async () => {
    const r = await runMain(['run', '--workers', '0', '--until-idle'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--workers must be an integer from 1 to 1024, got "0"');
  });
});

describe('eas submit --dry-run --json', () => {
  it('prints exactly { tasks, byType, deferred } and writes nothing (row counts, files)', async () => {
    // Make the database and its queue's tables exist first: the dry run must not add to it.
    expect((await runMain(['queue'], dir)).code).toBe(0);
    const before = tableSnapshot(dir);
    const r = await runMain(['submit', '--dry-run', '--json', PAIR_CHAIN], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      tasks: 6,
      byType: { execution_chain: 1, null: 3, produce: 1, consume: 1 },
      deferred: 0,
    });
    expect(tableSnapshot(dir)).toEqual(before);
    expect(before.eas_jobs).toBe(0);
    expect(readdirSync(join(dir, '.eas', 'files', 'objects'))).toEqual([]);
    expect(existsSync(join(dir, '.eas', 'scratch'))).toBe(false);
  });

  it('a bad chain under --dry-run still exits 2 naming the place', async () => {
    const r = await runMain(
      ['submit', '--dry-run', '--json', join(CHAINS, 'bad', 'unknown-type.json')],
      dir,
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('task_list[1].task');
  });

  it('then a real submit writes the same counts, with a job id', async () => {
    const r = json<{ jobId: number; tasks: number; byType: Record<string, number> }>(
      await runMain(['submit', '--json', PAIR_CHAIN], dir),
    );
    expect(r.jobId).toBe(1);
    expect(r.tasks).toBe(6);
    expect(tableSnapshot(dir).eas_tasks).toBe(6);
    const s = json<StatusJson>(await runMain(['status', '--json'], dir));
    expect(Object.keys(s).sort()).toEqual(['jobs', 'taskTypes', 'totals']);
    expect(s.jobs.map((j) => [j.id, j.tasks, j.status])).toEqual([[1, 6, 'running']]);
    for (const c of [s.totals, ...Object.values(s.taskTypes), ...s.jobs.map((j) => j.counts)])
      expect(Object.keys(c)).toEqual([...STATES]);
    expect(Object.keys(s.taskTypes).sort()).toEqual([
      'consume',
      'execution_chain',
      'null',
      'produce',
    ]);
    expect(s.totals.done + s.totals.queued + s.totals.waiting).toBe(6);
  });
});

describe('eas submit --dry-run in a directory without a pipeline', () => {
  it('validates, prints the counts and leaves the directory as it was (no .eas/)', async () => {
    const empty = tempDir('dry-run-empty');
    try {
      const chain = join(CHAINS, 'e2e', 'error-blocks-consumer.json');
      const r = await runMain(['submit', '--dry-run', '--json', chain], empty.dir);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({
        tasks: 3,
        byType: { execution_chain: 1, error: 1, null: 1 },
        deferred: 0,
      });
      expect(readdirSync(empty.dir)).toEqual([]);
    } finally {
      empty.remove();
    }
  });
});

describe('eas submit says who runs the job', () => {
  it("names the live worker daemons that run the job's task types, else eas run", async () => {
    const d = tempDir('run-hint');
    try {
      writeE2eConfig(d.dir);
      const first = await runMain(['submit', PAIR_CHAIN], d.dir);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toContain('Run it with: eas run --until-idle');

      const db = await createTaskDatabase({ url: `sqlite:${dbFile(d.dir)}` });
      try {
        const worker = { host: 'node-a', pid: 1, types: ['null', 'produce'], concurrency: 8 };
        await db.registerWorker({ id: 'live', ...worker });
        await db.registerWorker({ id: 'other-types', ...worker, types: ['error'] });
        await db.registerWorker({ id: 'gone', ...worker, host: 'node-b' });
        await db.sql.run("UPDATE eas_worker_hosts SET last_seen_at = 0 WHERE id = 'gone'");
        await db.registerWorker({
          id: 'controller',
          host: 'node-c',
          pid: 2,
          types: ['execution_chain', 'execution_for_loop'],
          concurrency: 1,
        });
      } finally {
        await db.close();
      }
      const second = await runMain(['submit', PAIR_CHAIN], d.dir);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).toContain('1 worker on 1 host (8 slots) will run it.');
      expect(second.stdout).not.toContain('eas run');
    } finally {
      d.remove();
    }
  });
});

describe('eas task of a failed attempt', () => {
  it('says the attempt failed, without a QC verdict (QC runs only after code that succeeded)', async () => {
    const { dir: own, remove: removeOwn } = tempDir('failed-attempt');
    try {
      writeE2eConfig(own);
      const chain = join(own, 'fails.json');
      writeFileSync(
        chain,
        JSON.stringify({ job_name: 'fails', task_list: [{ task: 'error', name: 'boom' }] }),
      );
      expect((await runMain(['submit', chain], own)).code).toBe(0);
      expect((await runMain(['run', '--until-idle'], own)).code).toBe(1);
      const tree = await runMain(['tree'], own);
      const id = /\[(\d+)\] task_list\[0\] error "boom"/.exec(tree.stdout)?.[1];
      expect(id, tree.stdout).toBeDefined();
      const r = await runMain(['task', id!], own);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^attempt 1 \[\d+\] \w+: failed {2}host/m);
      expect(r.stdout).not.toContain('QC failed');
    } finally {
      removeOwn();
    }
  });
});
