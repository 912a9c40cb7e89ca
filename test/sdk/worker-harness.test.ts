import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it, expect, afterEach } from 'vitest';
import { EasError } from '../../src/core/index.js';
import { createJobQueue } from '../../src/queue/index.js';
import type { WorkerHarness } from '../../src/sdk/index.js';
import type { TaskDatabase } from '../../src/taskdb/index.js';
import { createTestPipeline, type TestPipeline } from '../../src/testing/index.js';
import { REDIS_URL, redisAvailable } from '../helpers/services.js';

const FIXTURES = resolve(import.meta.dirname, '../fixtures/harness');
const open: TestPipeline[] = [];
afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
});

async function pipeline(registry: Record<string, unknown>): Promise<TestPipeline> {
  const p = await createTestPipeline({ registry });
  open.push(p);
  return p;
}

describe('WorkerHarness with an external command', () => {
  it('gives the task in EAS_TASK_FILE, commits the output with its checksum and reads typed metadata from EAS_RESULT_FILE', async () => {
    const p = await pipeline({
      taskTypes: { write: { command: ['/usr/bin/python3', join(FIXTURES, 'writes-output.py')] } },
    });
    const { jobId, status } = await p.runChain({
      task_list: [{ task: 'write', outputs: { lightcurve: 'lc.csv' } }],
    });
    expect(status.totals.done).toBe(2);
    const [product] = await p.db.products({ jobId });
    const version = product!.versions[0]!;
    const bytes = await p.files.get(version.sha256);
    expect(bytes.toString()).toBe('time,flux\n0.0,1.0\n0.1,0.99\n');
    expect(version.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(version.passedQc).toBe(true);
    const task = await p.db.task(product!.producerTaskId);
    expect(task!.attempts[0]!.outputMetadata).toEqual({
      answer: { type: 'int', value: 42 },
      ratio: { type: 'float', value: 0.5 },
      whole_float: { type: 'float', value: 3 },
    });
    const logs = await p.db.logs({ taskId: task!.id });
    expect(logs.map((l) => `${l.stream}:${l.message}`)).toEqual(
      expect.arrayContaining([`stdout:task ${task!.id} starting`, 'stderr:done']),
    );
  });

  it('stores the traceback of a crashing code; the attempt never passes QC', async () => {
    const p = await pipeline({
      taskTypes: { write: { command: ['/usr/bin/python3', join(FIXTURES, 'writes-output.py')] } },
    });
    const { status } = await p.runChain({
      task_list: [{ task: 'write', fail: true, outputs: { lightcurve: 'lc.csv' } }],
    });
    expect(status.totals.failed).toBe(1);
    const [e] = await p.db.errors();
    expect(e!.traceback).toContain('Traceback (most recent call last)');
    expect(e!.traceback).toContain('RuntimeError: task asked to fail');
    expect(e!.exitCode).toBe(1);
    const t = await p.db.task(e!.taskId);
    expect(t!.attempts[0]).toMatchObject({ state: 'failed', qc: 'failed' });
    expect((await p.db.products())[0]!.versions).toEqual([]); // nothing committed for a failed run
  });

  it('fails QC when a required output is missing, and retries per the registry', async () => {
    const p = await pipeline({
      taskTypes: {
        lazy: {
          command: ['/bin/sh', join(FIXTURES, 'ok.sh')],
          outputs: { required: ['lightcurve'] },
          retry: { maxAttempts: 2, backoff: '10ms' },
        },
      },
    });
    const { status } = await p.runChain({
      task_list: [{ task: 'lazy', outputs: { lightcurve: 'never.gz' } }],
    });
    expect(status.totals.failed).toBe(1);
    const [e] = await p.db.errors();
    const t = await p.db.task(e!.taskId);
    expect(t!.attempts.map((a) => [a.kind, a.state, a.qc])).toEqual([
      ['first', 'succeeded', 'failed'],
      ['retry', 'succeeded', 'failed'],
    ]);
    expect(t!.attempts[0]!.error).toContain('required output lightcurve (');
  });

  it('kills a command at its timeout and records why', async () => {
    const p = await pipeline({
      taskTypes: {
        slow: { command: ['/bin/sh', join(FIXTURES, 'slow.sh'), '30'], timeout: '300ms' },
      },
    });
    const started = Date.now();
    const { status } = await p.runChain({ task_list: [{ task: 'slow' }] });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(status.totals.failed).toBe(1);
    expect((await p.db.errors())[0]!.error).toMatch(/timed out after 300 ms/);
  });
});

describe('WorkerHarness heartbeats', () => {
  it('keeps the lease of a command that runs five times longer than the lease, while the reaper runs', async () => {
    const p = await pipeline({
      taskTypes: { slow: { command: ['/bin/sh', join(FIXTURES, 'slow.sh'), '1.5'] } },
    });
    const controller = p.controller({ reapIntervalMs: 50 });
    const { jobId } = await controller.submit({ chain: { task_list: [{ task: 'slow' }] } });
    const worker = p.worker({ leaseMs: 300, heartbeatMs: 60, claimWaitMs: 20 });
    const reaping = controller.run();
    const running = worker.run();
    const lost: number[] = [];
    worker.on('lease:lost', (l) => lost.push(l.attemptId));
    await new Promise<void>((resolve) =>
      worker.on('batch:committed', (r) => r.finishedJobs.length && resolve()),
    );
    worker.stop();
    controller.stop();
    await Promise.all([running, reaping]);
    expect(lost).toEqual([]);
    const [t] = await p.db.tasks({ jobId, type: 'slow' });
    const d = await p.db.task(t!.id);
    expect(d!.attempts.map((a) => [a.state, a.qc])).toEqual([['succeeded', 'passed']]);
    expect(d!.attempts[0]!.heartbeatAt! - d!.attempts[0]!.startedAt!).toBeGreaterThan(1000);
  });
});

describe('WorkerHarness when the queue loses its items', () => {
  it('finishes a running attempt whose queue item vanished: the task database is the truth', async () => {
    const p = await pipeline({});
    const { jobId } = await p
      .controller()
      .submit({ chain: { task_list: [{ task: 'null', sleep: 0.6 }] } });
    const worker = p.worker({ leaseMs: 300, heartbeatMs: 50, claimWaitMs: 20 });
    const started = new Promise<void>((r) => worker.on('attempt:started', () => r()));
    const finished = new Promise<void>((r) => worker.on('job:finished', () => r()));
    const running = worker.run();
    await started;
    await p.queue.clear();
    await finished;
    worker.stop();
    await running;
    const [t] = await p.db.tasks({ jobId, type: 'null' });
    expect((await p.db.task(t!.id))!.attempts.map((a) => [a.state, a.qc])).toEqual([
      ['succeeded', 'passed'],
    ]);
  });
});

describe('WorkerHarness with in-process handlers', () => {
  it('runs a handler given in code under a task type name of its own', async () => {
    const p = await createTestPipeline({
      handlers: { hello: { run: (ctx) => ({ metadata: { greeting: `hello ${ctx.task.name}` } }) } },
    });
    open.push(p);
    const { jobId, status } = await p.runChain({ task_list: [{ task: 'hello', name: 'world' }] });
    expect(status.totals.done).toBe(2);
    const [t] = await p.db.tasks({ jobId, type: 'hello' });
    expect((await p.db.task(t!.id))!.attempts[0]!.outputMetadata.greeting).toEqual({
      type: 'str',
      value: 'hello world',
    });
  });

  it('runs a module handler named in the registry, with its input staged and requested metadata', async () => {
    const p0 = await createTestPipeline();
    open.push(p0);
    const mod = join(p0.dir, 'handlers.mjs');
    writeFileSync(
      mod,
      `import { readFileSync, writeFileSync } from 'node:fs';
export function make(ctx) { writeFileSync(ctx.task.outputs.data, 'abc'); return { metadata: { n: 3 } }; }
export const read = { run(ctx) { return { metadata: { text: readFileSync(ctx.task.inputs.data, 'utf8'), n: ctx.task.requested_metadata.maker.n } }; } };`,
    );
    const p = await pipeline({
      taskTypes: { make: { module: `${mod}#make` }, read: { module: `${mod}#read` } },
    });
    const { jobId, status } = await p.runChain({
      task_list: [
        { task: 'make', name: 'maker', outputs: { data: 'd.txt' } },
        {
          task: 'read',
          name: 'reader',
          inputs: { data: 'd.txt' },
          requires_metadata_from: ['maker'],
        },
      ],
    });
    expect(status.totals).toMatchObject({ done: 3, failed: 0, blocked: 0 });
    const reader = (await p.db.tasks({ jobId, type: 'read' }))[0]!;
    const d = await p.db.task(reader.id);
    expect(d!.attempts[0]!.outputMetadata).toEqual({
      text: { type: 'str', value: 'abc' },
      n: { type: 'int', value: 3 },
    });
  });

  it('hands running attempts back on a graceful stop past the grace period; they run again later', async () => {
    const p = await pipeline({});
    const c = p.controller();
    const { jobId } = await c.submit({ chain: { task_list: [{ task: 'null', sleep: 5 }] } });
    const w1 = p.worker({ graceMs: 100, claimWaitMs: 20 });
    const started = new Promise<void>((r) => w1.on('attempt:started', () => r()));
    const run1 = w1.run();
    await started;
    w1.stop('test');
    await run1;
    const t = (await p.db.tasks({ jobId, type: 'null' }))[0]!;
    const d = await p.db.task(t.id);
    expect(d!.attempts.map((a) => [a.kind, a.state])).toEqual([
      ['first', 'stalled'],
      ['stall', 'queued'],
    ]);
    expect((await p.queue.counts()).null?.ready).toBe(1);
  });
});

describe('harness fixtures', () => {
  it('are executable scripts', () => {
    expect(readFileSync(join(FIXTURES, 'ok.sh'), 'utf8')).toMatch(/^#!/);
  });
});

describe('WorkerHarness options', () => {
  it('refuses nonsense at construction, naming each option', async () => {
    const p = await pipeline({});
    expect(() => p.worker({ concurrency: 0, leaseMs: 1000, heartbeatMs: 5000 })).toThrow(
      /WorkerHarnessOptions\.concurrency[\s\S]*WorkerHarnessOptions\.heartbeatMs: must be shorter than leaseMs/,
    );
  });
});

describe('float literals reach the science code as floats', () => {
  it('writes 50.0 (not 50) into EAS_TASK_FILE for a float written 50.0 in the chain', async () => {
    const p = await pipeline({
      taskTypes: {
        echo: {
          command: [
            '/usr/bin/python3',
            '-c',
            'import json,os; t=json.load(open(os.environ["EAS_TASK_FILE"])); json.dump({"period": t["description"]["specs"]["period"], "n": t["description"]["specs"]["n"]}, open(os.environ["EAS_RESULT_FILE"], "w"))',
          ],
        },
      },
    });
    const { jobId, status } = await p.runChain(
      '{"task_list": [{"task": "echo", "specs": {"period": 50.0, "n": 3}}]}',
    );
    expect(status.totals.done).toBe(2);
    const [t] = await p.db.tasks({ jobId, type: 'echo' });
    expect((await p.db.task(t!.id))!.attempts[0]!.outputMetadata).toEqual({
      period: { type: 'float', value: 50 },
      n: { type: 'int', value: 3 },
    });
  });
});

/** Runs a worker until a job it works on finishes, then stops it gracefully. */
async function runUntilJobFinished(worker: WorkerHarness): Promise<void> {
  const finished = new Promise<void>((r) => worker.on('job:finished', () => r()));
  const running = worker.run();
  await finished;
  worker.stop();
  await running;
}

/**
 * The task database, except that the first call of `method` that handles items (`count` of its
 * result above 0) goes through and then fails as if the connection dropped before the answer.
 * `lost()` tells how many items that call handled.
 */
function losingFirstAnswer<M extends 'startAttempts' | 'finishAttempts'>(
  real: TaskDatabase,
  method: M,
  count: (result: Awaited<ReturnType<TaskDatabase[M]>>) => number,
): { db: TaskDatabase; lost: () => number } {
  let lost = 0;
  const call = real[method].bind(real) as (
    ...args: unknown[]
  ) => Promise<Awaited<ReturnType<TaskDatabase[M]>>>;
  const db = Object.create(real, {
    [method]: {
      value: async (...args: unknown[]) => {
        const r = await call(...args);
        if (lost === 0 && count(r) > 0) {
          lost = count(r);
          throw new EasError('BACKEND_UNAVAILABLE', 'connection lost before the answer');
        }
        return r;
      },
    },
  }) as TaskDatabase;
  return { db, lost: () => lost };
}

describe('WorkerHarness runs the dependents its own report releases', () => {
  const parentsWaitingForTwo = (n: number) => ({
    task_list: [
      {
        task: 'execution_for_loop',
        parameter: 'i',
        values: Array.from({ length: n }, (_, i) => i),
        task_list: [
          { task: 'null', name: 'a' },
          { task: 'null', name: 'b' },
          { task: 'set_metadata', name: 'parent', requires_metadata_from: ['a', 'b'] },
        ],
      },
    ],
  });

  it('starts them in the commit, within its concurrency', async () => {
    const p = await createTestPipeline({ concurrency: 2 });
    open.push(p);
    const { jobId } = await p.controller().submit({ chain: parentsWaitingForTwo(12) });
    const worker = p.worker({ claimWaitMs: 20 });
    let executing = 0;
    let most = 0;
    const taken: { attemptId: number; taskType: string }[] = [];
    worker.on('attempt:started', () => (most = Math.max(most, ++executing)));
    worker.on('attempt:finished', () => executing--);
    worker.on('batch:committed', (r) => {
      taken.push(...r.started.map((s) => ({ attemptId: s.attemptId, taskType: s.taskType })));
    });
    await runUntilJobFinished(worker);

    expect(most).toBeLessThanOrEqual(2);
    // Some parents started in the commit of their last child, and only parents can be released.
    expect(taken.length).toBeGreaterThan(0);
    expect(new Set(taken.map((t) => t.taskType))).toEqual(new Set(['set_metadata']));
    for (const t of taken) {
      const d = await p.db.sql.get<{ state: string; qc: string; worker: string }>(
        'SELECT state, qc, worker FROM eas_attempts WHERE id = ?',
        [t.attemptId],
      );
      expect([d!.state, d!.qc, d!.worker]).toEqual(['succeeded', 'passed', worker.workerId]);
    }
    // Every task done once; nothing left in the queue, leased or ready.
    const status = await p.db.status(jobId);
    // 36 leaves, 12 loop iterations, the loop and the job's root.
    expect(status.totals).toMatchObject({ done: 36 + 12 + 2, failed: 0, queued: 0 });
    const attempts = await p.db.sql.get<{ n: number }>(
      'SELECT count(*) AS n FROM eas_attempts WHERE job_id = ?',
      [jobId!],
    );
    expect(Number(attempts!.n)).toBe(36);
    const counts = await p.queue.counts();
    for (const c of Object.values(counts)) expect(c).toMatchObject({ ready: 0, leased: 0 });
  });

  it('leaves dependents of a type it does not run to the queue', async () => {
    const p = await createTestPipeline({ concurrency: 4 });
    open.push(p);
    await p.controller().submit({ chain: parentsWaitingForTwo(3) });
    const worker = p.worker({ types: ['null'], claimWaitMs: 20 });
    const taken: number[] = [];
    const ready: string[] = [];
    worker.on('batch:committed', (r) => {
      taken.push(...r.started.map((s) => s.attemptId));
      ready.push(...r.ready.map((a) => a.taskType));
    });
    const idle = new Promise<void>((r) => worker.on('worker:idle', () => r()));
    const running = worker.run();
    await idle;
    worker.stop();
    await running;
    expect(taken).toEqual([]);
    expect(ready).toEqual(['set_metadata', 'set_metadata', 'set_metadata']);
    expect((await p.queue.counts()).set_metadata).toMatchObject({ ready: 3, leased: 0 });
  });
  it('holds a taken attempt as its lease in the queue while it runs', async () => {
    const p = await createTestPipeline({ concurrency: 2 });
    open.push(p);
    await p.controller().submit({
      chain: {
        task_list: [
          { task: 'null', name: 'first' },
          { task: 'null', name: 'second', sleep: 0.5, requires_metadata_from: ['first'] },
        ],
      },
    });
    const worker = p.worker({ claimWaitMs: 20 });
    const seen = new Promise<{ id: number; counts: unknown; held: boolean }>((resolve) =>
      worker.on('batch:committed', (r) => {
        const second = r.started.find((s) => s.name === 'second');
        if (second)
          void Promise.all([p.queue.counts(), p.queue.has(second.attemptId)]).then(
            ([counts, held]) => resolve({ id: second.attemptId, counts, held }),
          );
      }),
    );
    const finished = new Promise<void>((r) => worker.on('job:finished', () => r()));
    const running = worker.run();
    const got = await seen;
    await finished;
    worker.stop();
    await running;
    expect(got.held).toBe(true);
    expect(got.counts).toMatchObject({ null: { ready: 0, leased: 1 } });
    expect(await p.queue.has(got.id)).toBe(false);
  });

  it.each(['sql', 'redis'] as const)(
    'never runs more attempts than its concurrency while claims and commits overlap (%s queue)',
    async (backend) => {
      if (backend === 'redis' && !(await redisAvailable())) return;
      const p = await createTestPipeline({ concurrency: 4 });
      open.push(p);
      const queue =
        backend === 'redis'
          ? await createJobQueue({
              backend: 'redis',
              url: REDIS_URL,
              prefix: `harness${randomBytes(4).toString('hex')}`,
            })
          : p.queue;
      // 120 pairs: each first step releases a second one when its report is committed, while
      // the claim loop keeps claiming the other first steps (on Redis, claims are round trips
      // that overlap the commits).
      await p.controller({ queue }).submit({
        chain: {
          task_list: [
            {
              task: 'execution_for_loop',
              parameter: 'i',
              values: Array.from({ length: 120 }, (_, i) => i),
              task_list: [
                { task: 'null', name: 'a' },
                { task: 'null', name: 'b', requires_metadata_from: ['a'] },
              ],
            },
          ],
        },
      });
      const worker = p.worker({ queue, claimWaitMs: 20 });
      let executing = 0;
      let most = 0;
      let taken = 0;
      worker.on('attempt:started', () => (most = Math.max(most, ++executing)));
      worker.on('attempt:finished', () => executing--);
      worker.on('batch:committed', (r) => (taken += r.started.length));
      await runUntilJobFinished(worker);
      if (backend === 'redis') {
        await queue.clear();
        await queue.close();
      }
      expect(taken).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(4);
    },
  );

  it('does not take a retry before its backoff is over', async () => {
    const p = await pipeline({
      taskTypes: {
        flaky: {
          command: ['/bin/sh', '-c', 'exit 1'],
          retry: { maxAttempts: 2, backoff: '30s' },
        },
      },
    });
    await p.controller().submit({ chain: { task_list: [{ task: 'flaky' }] } });
    const worker = p.worker({ claimWaitMs: 20 });
    const committed = new Promise<{ started: number; ready: number[] }>((resolve) =>
      worker.on('batch:committed', (r) =>
        resolve({ started: r.started.length, ready: r.ready.map((a) => a.availableAt) }),
      ),
    );
    const running = worker.run();
    const r = await committed;
    worker.stop();
    await running;
    expect(r.started).toBe(0);
    expect(r.ready).toHaveLength(1);
    expect(r.ready[0]!).toBeGreaterThan(Date.now() + 20_000);
  });
  it('hands back what a commit started when its answer was lost and the commit is retried', async () => {
    const p = await createTestPipeline({ concurrency: 2 });
    open.push(p);
    const { jobId } = await p.controller().submit({
      chain: {
        task_list: [
          { task: 'null', name: 'first' },
          { task: 'null', name: 'second', requires_metadata_from: ['first'] },
        ],
      },
    });
    // The commit that starts `second` goes through, but its answer never arrives.
    const { db, lost } = losingFirstAnswer(p.db, 'finishAttempts', (r) => r.started.length);
    const worker = p.worker({ db, claimWaitMs: 20 });
    await runUntilJobFinished(worker);
    expect(lost()).toBe(1);
    const second = (await p.db.tasks({ jobId, type: 'null' })).find((t) => t.name === 'second')!;
    const attempts = (await p.db.task(second.id))!.attempts;
    // The start nobody ran was handed back (not counted as a stall) and ran again.
    expect(attempts.map((a) => [a.kind, a.state, a.qc])).toEqual([
      ['first', 'stalled', null],
      ['stall', 'succeeded', 'passed'],
    ]);
    expect((await p.db.status(jobId)).totals).toMatchObject({ done: 3, failed: 0 });
  });
  it('hands back what a start began when its answer was lost and the start is retried', async () => {
    const p = await createTestPipeline({ concurrency: 2 });
    open.push(p);
    const { jobId } = await p.controller().submit({
      chain: { task_list: [{ task: 'null', name: 'only' }] },
    });
    const { db, lost } = losingFirstAnswer(p.db, 'startAttempts', (r) => r.payloads.length);
    const worker = p.worker({ db, claimWaitMs: 20 });
    await runUntilJobFinished(worker);
    expect(lost()).toBe(1);
    const [only] = await p.db.tasks({ jobId, type: 'null' });
    expect((await p.db.task(only!.id))!.attempts.map((a) => [a.kind, a.state])).toEqual([
      ['first', 'stalled'],
      ['stall', 'succeeded'],
    ]);
  });
});
