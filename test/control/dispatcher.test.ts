/**
 * The dispatcher (src/control/dispatcher.ts) and the workers it serves (`dispatch: true`), on a
 * real Redis queue and a real task database: the lifecycle recorded in shared transactions,
 * values that plain JSON would change carried intact, a stopping worker handing back what it
 * held, and what a worker on the SQL queue is told.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { float, fromWire, toWire, FloatValue } from '../../src/core/index.js';
import { createJobQueue, type JobQueue } from '../../src/queue/index.js';
import type { ChainDocument } from '../../src/chain/index.js';
import { Registry } from 'prom-client';
import { registerControllerMetrics, type Controller } from '../../src/control/index.js';
import type { WorkerHarness } from '../../src/sdk/index.js';
import { createTestPipeline, type TestPipeline } from '../../src/testing/index.js';
import { REDIS_URL, redisAvailable } from '../helpers/services.js';

const redisOk = await redisAvailable();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setUp(options: { concurrency?: number; handlers?: TestPipelineHandlers } = {}) {
  const p = await createTestPipeline({
    concurrency: options.concurrency ?? 4,
    handlers: options.handlers,
  });
  const queue = await createJobQueue({
    backend: 'redis',
    url: REDIS_URL,
    prefix: `dispatch${randomBytes(4).toString('hex')}`,
  });
  cleanups.push(async () => {
    await p.close();
  });
  cleanups.push(async () => {
    await queue.clear();
    await queue.close();
  });
  const controller = p.controller({ queue, reapIntervalMs: 100 });
  const running = controller.run();
  cleanups.push(async () => {
    controller.stop();
    await running;
  });
  return { p, queue, controller };
}
type TestPipelineHandlers = Parameters<typeof createTestPipeline>[0] extends infer O
  ? O extends { handlers?: infer H }
    ? H
    : never
  : never;

/** Runs dispatched workers until the job has no live task, then stops them gracefully. */
async function runWorkers(p: TestPipeline, workers: WorkerHarness[], jobId: number): Promise<void> {
  const runs = workers.map((w) => w.run());
  const deadline = Date.now() + 60_000;
  for (;;) {
    const job = await p.db.job(jobId);
    if (job && job.status !== 'running') break;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job?.status} after 60 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const w of workers) w.stop();
  await Promise.all(runs);
}

/** Waits (30 s at most) until the job has ended, with workers the caller keeps running. */
async function untilEnded(p: TestPipeline, jobId: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await p.db.job(jobId))?.status === 'running') {
    if (Date.now() > deadline) throw new Error(`job ${jobId} still running`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function dag(parents: number): ChainDocument {
  return {
    task_list: [
      {
        task: 'execution_for_loop',
        parameter: 'i',
        values: Array.from({ length: parents }, (_, i) => i),
        task_list: [
          { task: 'null', name: 'a' },
          { task: 'null', name: 'b' },
          { task: 'set_metadata', name: 'parent', requires_metadata_from: ['a', 'b'] },
        ],
      },
    ],
  };
}

async function onePassedAttemptEach(p: TestPipeline, jobId: number): Promise<number> {
  const rows = await p.db.sql.all<{ id: number; n: number }>(
    `SELECT t.id, (SELECT count(*) FROM eas_attempts a WHERE a.task_id = t.id AND a.qc = 'passed') AS n
       FROM eas_tasks t WHERE t.job_id = ? AND t.control = 0`,
    [jobId],
  );
  expect(rows.filter((r) => Number(r.n) !== 1)).toEqual([]);
  return rows.length;
}

describe('wire JSON', () => {
  it('keeps integral floats, NaN and infinities, and leaves everything else as JSON has it', () => {
    const value = {
      period: float(3),
      depth: 0.5,
      n: 3,
      sde: Number.NaN,
      up: Number.POSITIVE_INFINITY,
      down: Number.NEGATIVE_INFINITY,
      list: [float(1), 'x', null, { deep: float(2.5) }],
    };
    const back = fromWire(toWire(value)) as typeof value;
    expect(back.period).toBeInstanceOf(FloatValue);
    expect((back.period as unknown as FloatValue).value).toBe(3);
    expect(back.n).toBe(3);
    expect(back.depth).toBe(0.5);
    expect(back.sde).toBeNaN();
    expect(back.up).toBe(Number.POSITIVE_INFINITY);
    expect(back.down).toBe(Number.NEGATIVE_INFINITY);
    expect(back.list[0]).toBeInstanceOf(FloatValue);
    expect(back.list.slice(1, 3)).toEqual(['x', null]);
    expect((back.list[3] as { deep: FloatValue }).deep).toBeInstanceOf(FloatValue);
    // Plain JSON goes through unchanged.
    const plain = { a: [1, 2, { b: 'c' }], d: true, e: null };
    expect(fromWire(toWire(plain))).toEqual(plain);
    expect(toWire(plain)).toBe(JSON.stringify(plain));
  });

  it('finds one special value deep in an otherwise plain message, and reads marker-like text as text', () => {
    const deep = { outcomes: [{ a: 1 }, { meta: { values: [1, 2, { sde: Number.NaN }] } }] };
    const back = fromWire(toWire(deep)) as typeof deep;
    expect(
      (back.outcomes[1] as { meta: { values: [number, number, { sde: number }] } }).meta.values[2]
        .sde,
    ).toBeNaN();
    // Strings that hold a NUL, or the text of an escaped NUL, come back as they went.
    const texts = {
      nul: '\u0000float',
      escaped: '\\u0000number',
      both: { '\u0000float': 'x', y: 1 },
    };
    expect(fromWire(toWire(texts))).toEqual(texts);
    // Objects with their own toJSON (a Date) are written as plain JSON writes them.
    const when = { at: new Date(0), f: float(2) };
    expect((fromWire(toWire(when)) as { at: string }).at).toBe('1970-01-01T00:00:00.000Z');
    // A cycle still throws, as JSON.stringify does.
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => toWire(cyclic)).toThrow(TypeError);
  });
});

describe.runIf(redisOk)('mailboxes of the Redis queue', () => {
  it('deliver messages in order, wake a waiting reader at once, and are removed whole', async () => {
    const queue: JobQueue = await createJobQueue({
      backend: 'redis',
      url: REDIS_URL,
      prefix: `boxes${randomBytes(4).toString('hex')}`,
    });
    try {
      const boxes = queue.mailboxes!;
      await boxes.post('a', ['1', '2', '3']);
      expect(await boxes.take('a', 2, 0)).toEqual(['1', '2']);
      expect(await boxes.take('a', 10, 0)).toEqual(['3']);
      expect(await boxes.take('a', 10, 0)).toEqual([]);
      // A reader waiting on an empty mailbox gets a message posted meanwhile, well before its wait ends.
      const t0 = Date.now();
      const waiting = boxes.take('a', 10, 3000);
      await new Promise((r) => setTimeout(r, 100));
      await boxes.post('a', ['late']);
      expect(await waiting).toEqual(['late']);
      expect(Date.now() - t0).toBeLessThan(2500);
      // Woken by a post of several, it may return the first alone; the rest follow in order.
      const woken = boxes.take('a', 10, 3000);
      await new Promise((r) => setTimeout(r, 50));
      await boxes.post('a', ['w1', 'w2', 'w3']);
      const got = [...(await woken), ...(await boxes.take('a', 10, 0))];
      expect(got).toEqual(['w1', 'w2', 'w3']);
      // An aborted wait returns nothing, and the message posted after it stays for the next reader.
      const abort = new AbortController();
      const aborted = boxes.take('a', 10, 3000, abort.signal);
      abort.abort();
      expect(await aborted).toEqual([]);
      await boxes.post('a', ['kept']);
      expect(await boxes.take('a', 10, 0)).toEqual(['kept']);
      // A capped mailbox keeps its newest messages.
      await boxes.post('c', ['1', '2', '3'], 4);
      await boxes.post('c', ['4', '5'], 4);
      expect(await boxes.take('c', 10, 0)).toEqual(['2', '3', '4', '5']);
      await boxes.post('b', ['x']);
      await boxes.remove(['b']);
      expect(await boxes.take('b', 10, 0)).toEqual([]);
    } finally {
      await queue.clear();
      await queue.close();
    }
  });

  it('are absent on the SQL queue, and a dispatched worker there is told why', async () => {
    const p = await createTestPipeline();
    try {
      expect(p.queue.mailboxes).toBeUndefined();
      expect(() => p.worker({ dispatch: true })).toThrow(/needs the Redis queue.*sql/);
    } finally {
      await p.close();
    }
  });
});

describe.runIf(redisOk)('Dispatcher', () => {
  it('runs a DAG for two dispatched workers, recording many outcomes per transaction', async () => {
    const { p, queue, controller } = await setUp({ concurrency: 8 });
    const { jobId } = await controller.submit({ chain: dag(150) });
    const workers = [1, 2].map(() => p.worker({ queue, dispatch: true, claimWaitMs: 50 }));
    const ran = new Map<number, number>();
    for (const w of workers)
      w.on('attempt:started', (a) => ran.set(a.attemptId, (ran.get(a.attemptId) ?? 0) + 1));
    await runWorkers(p, workers, jobId!);
    expect((await p.db.job(jobId!))!.status).toBe('done');
    expect(await onePassedAttemptEach(p, jobId!)).toBe(450);
    expect([...ran.values()].every((n) => n === 1)).toBe(true);
    expect(ran.size).toBe(450);
    // No-op attempts: each worker holds deep, up to 16 attempts a slot (at least 8 here even
    // on a loaded machine, where a no-op may take a few ms), against 2 for long attempts.
    for (const w of workers) expect(w.holdLimit).toBeGreaterThanOrEqual(64);
    const stats = (controller as Controller).dispatcher!.stats;
    expect(stats.outcomes).toBe(450);
    // Shared transactions: far fewer commits than outcomes, and parents started by the commit
    // that recorded their last child.
    expect(stats.commits).toBeLessThan(stats.outcomes / 4);
    expect(stats.taken).toBeGreaterThan(0);
    expect(stats.started + stats.taken).toBe(450);
    // Both workers ran attempts, and each attempt is recorded under the worker that ran it.
    const byWorker = await p.db.sql.all<{ worker: string; n: number }>(
      "SELECT worker, count(*) AS n FROM eas_attempts WHERE qc = 'passed' GROUP BY worker",
    );
    expect(byWorker.map((r) => r.worker).sort()).toEqual(workers.map((w) => w.workerId).sort());
    expect(await queue.counts()).toEqual({});
    const metrics = new Registry();
    registerControllerMetrics(metrics, { db: p.db, queue, controller });
    const text = await metrics.metrics();
    expect(text).toMatch(/^eas_dispatcher_outcomes_total 450$/m);
    expect(text).toMatch(new RegExp(`^eas_dispatcher_commits_total ${stats.commits}$`, 'm'));
  });

  it('carries integral floats and NaN metadata through the mailboxes intact', async () => {
    const { p, queue, controller } = await setUp({
      handlers: {
        score: {
          run: (ctx) => ({
            metadata: {
              sde: Number.NaN,
              threshold: ctx.typedDescription.threshold,
              got_float: ctx.typedDescription.threshold instanceof FloatValue,
              period: ctx.task.requested_metadata['params']!.period,
            },
          }),
        },
      },
    });
    // Chain text, as from a file: `3.0` is a float there (a JS object cannot say so).
    const { jobId } = await controller.submit({
      chain: `{"task_list": [
        {"task": "set_metadata", "name": "params", "values": {"period": 3.0}},
        {"task": "score", "name": "s", "threshold": 3.0, "requires_metadata_from": ["params"]}]}`,
    });
    await runWorkers(p, [p.worker({ queue, dispatch: true, claimWaitMs: 50 })], jobId!);
    expect((await p.db.job(jobId!))!.status).toBe('done');
    const [params] = await p.db.tasks({ jobId: jobId!, type: 'set_metadata' });
    expect((await p.db.task(params!.id))!.attempts[0]!.outputMetadata.period).toEqual({
      type: 'float',
      value: 3,
    });
    const [task] = await p.db.tasks({ jobId: jobId!, type: 'score' });
    const meta = (await p.db.task(task!.id))!.attempts[0]!.outputMetadata;
    expect(meta.threshold).toEqual({ type: 'float', value: 3 });
    expect(meta.got_float).toEqual({ type: 'bool', value: true });
    expect(meta.period!.value).toBe(3);
    expect(meta.sde!.type).toBe('float');
    expect(meta.sde!.value).toBeNaN();
  });

  it('shrinks a worker’s hold as soon as a long attempt runs after short ones', async () => {
    const { p, queue, controller } = await setUp({ concurrency: 2 });
    const worker = p.worker({ queue, dispatch: true, claimWaitMs: 50 });
    const run = worker.run();
    try {
      const quick = await controller.submit({
        chain: {
          task_list: [
            {
              task: 'execution_for_loop',
              parameter: 'i',
              values: Array.from({ length: 60 }, (_, i) => i),
              task_list: [{ task: 'null', name: 'quick' }],
            },
          ],
        },
      });
      await untilEnded(p, quick.jobId!);
      expect(worker.holdLimit).toBeGreaterThanOrEqual(16); // no-ops: 8–16 a slot
      const slow = await controller.submit({
        chain: { task_list: [{ task: 'null', name: 'slow', sleep: 0.4 }] },
      });
      await new Promise<void>((resolve) => worker.once('attempt:started', () => resolve()));
      await new Promise((r) => setTimeout(r, 150));
      // The mean still says "no-op", the running attempt says 150 ms: 2 a slot.
      expect(worker.holdLimit).toBe(4);
      await untilEnded(p, slow.jobId!);
    } finally {
      worker.stop();
      await run;
    }
  });

  it('hands back what it holds beyond a hold that long attempts have shrunk', async () => {
    const { p, queue, controller } = await setUp({ concurrency: 2 });
    const loop = (
      n: number,
      task: { task: string; name: string; sleep?: number },
    ): ChainDocument => ({
      task_list: [
        {
          task: 'execution_for_loop',
          parameter: 'i',
          values: Array.from({ length: n }, (_, i) => i),
          task_list: [task],
        },
      ],
    });
    const worker = p.worker({ queue, dispatch: true, claimWaitMs: 50 });
    const run = worker.run();
    try {
      const quick = await controller.submit({ chain: loop(60, { task: 'null', name: 'quick' }) });
      await untilEnded(p, quick.jobId!);
      const deep = worker.holdLimit;
      expect(deep).toBeGreaterThanOrEqual(16);
      // Twelve attempts of 0.3 s reach a worker that holds deep: it takes them all, then, once
      // its running attempts show how long they take, keeps two a slot and hands back the rest.
      const slow = await controller.submit({
        chain: loop(12, { task: 'null', name: 'slow', sleep: 0.3 }),
      });
      await untilEnded(p, slow.jobId!);
      expect((await p.db.job(slow.jobId!))!.status).toBe('done');
      expect(await onePassedAttemptEach(p, slow.jobId!)).toBe(12);
      const handedBack = await p.db.sql.all<{ n: number }>(
        "SELECT count(*) AS n FROM eas_attempts WHERE job_id = ? AND state = 'stalled'",
        [slow.jobId!],
      );
      expect(Number(handedBack[0]!.n)).toBeGreaterThanOrEqual(1);
    } finally {
      worker.stop();
      await run;
    }
  });

  it('a stopping worker hands back what it held, and another runs it', async () => {
    const { p, queue, controller } = await setUp({ concurrency: 1 });
    const { jobId } = await controller.submit({
      chain: {
        task_list: [
          {
            task: 'execution_for_loop',
            parameter: 'i',
            values: Array.from({ length: 6 }, (_, i) => i),
            task_list: [{ task: 'null', name: 'nap', sleep: 0.3 }],
          },
        ],
      },
    });
    const first = p.worker({ queue, dispatch: true, claimWaitMs: 50 });
    const firstRun = first.run();
    // It holds two (one running, one waiting for its slot); stop it while the first runs.
    await new Promise<void>((resolve) => first.once('attempt:started', () => resolve()));
    first.stop();
    await firstRun;
    const handedBack = await p.db.sql.all<{ n: number }>(
      "SELECT count(*) AS n FROM eas_attempts WHERE state = 'stalled'",
    );
    expect(Number(handedBack[0]!.n)).toBeGreaterThanOrEqual(1);
    const second = p.worker({ queue, dispatch: true, claimWaitMs: 50 });
    await runWorkers(p, [second], jobId!);
    expect((await p.db.job(jobId!))!.status).toBe('done');
    expect(await onePassedAttemptEach(p, jobId!)).toBe(6);
    // Attempts of 0.3 s: the hold stays at its least, the running attempt and one more.
    expect(second.holdLimit).toBe(2);
    // A hand-back does not count towards the stall limit.
    const tasks = await p.db.tasks({ jobId: jobId! });
    expect(tasks.filter((t) => t.state !== 'done')).toEqual([]);
  });
});
