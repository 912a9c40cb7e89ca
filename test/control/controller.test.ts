import { describe, it, expect, afterEach } from 'vitest';
import { InvalidInputError } from '../../src/core/index.js';
import { createTestPipeline, type TestPipeline } from '../../src/testing/index.js';

const open: TestPipeline[] = [];
afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
});
async function pipeline(): Promise<TestPipeline> {
  const p = await createTestPipeline({
    registry: { taskTypes: { produce: { command: ['/bin/true'] } } },
  });
  open.push(p);
  return p;
}

async function problems(p: TestPipeline, chain: unknown): Promise<string[]> {
  try {
    await p.controller().submit({ chain: chain as never });
  } catch (e) {
    if (e instanceof InvalidInputError) return e.problems.map((x) => `${x.path}: ${x.message}`);
    throw e;
  }
  throw new Error('expected the submission to be refused');
}

describe('Controller.submit', () => {
  it('writes nothing when a chain is refused, and reports every problem with its path', async () => {
    const p = await pipeline();
    const before = await p.db.counts();
    const list = await problems(p, {
      task_list: [
        { task: 'nope' },
        { task: 'null', inputs: { lightcurve: 'nobody.gz' } },
        { task: 'produce', outputs: { lightcurve: '../escape.gz' } },
        { task: 'produce', outputs: { lightcurve: '/etc/passwd' } },
      ],
    });
    expect(list.some((l) => l.startsWith('task_list[0].task:') && l.includes('"nope"'))).toBe(true);
    expect(
      list.some((l) => l.startsWith('task_list[1].inputs.lightcurve:') && l.includes('nobody.gz')),
    ).toBe(true);
    expect(list.some((l) => l.startsWith('task_list[2].outputs.lightcurve:'))).toBe(true);
    expect(list.some((l) => l.startsWith('task_list[3].outputs.lightcurve:'))).toBe(true);
    expect(await p.db.counts()).toEqual(before);
    expect((await p.queue.counts()).null).toBeUndefined();
  });

  it('counts a dry run exactly and writes nothing', async () => {
    const p = await pipeline();
    const s = await p.controller().submit({
      chain: {
        task_list: [{ task: 'null' }, { task: 'execution_chain', task_list: [{ task: 'null' }] }],
      },
      dryRun: true,
    });
    expect(s).toMatchObject({ tasks: 4, byType: { execution_chain: 2, null: 2 }, deferred: 0 });
    expect(s.jobId).toBeUndefined();
    expect((await p.db.counts()).eas_tasks).toBe(0);
  });

  it('binds an input to the newest QC-passed file of an earlier job, so a chain can be submitted twice', async () => {
    const p = await createTestPipeline({
      handlers: {},
      registry: {
        taskTypes: {
          write: { module: `${import.meta.dirname}/../fixtures/handlers/write-text.mjs#write` },
        },
      },
    });
    open.push(p);
    const chain = {
      working_directory: 'wd',
      task_list: [{ task: 'write', outputs: { data: 'shared.txt' } }],
    };
    const first = await p.runChain(chain);
    const second = await p.runChain(chain); // same product path, a new job: allowed
    expect(second.jobId).not.toBe(first.jobId);
    const reader = await p.runChain({
      working_directory: 'wd',
      task_list: [{ task: 'null', inputs: { data: 'shared.txt' } }],
    });
    expect(reader.status.totals).toMatchObject({ done: 2, failed: 0 });
    const [task] = await p.db.tasks({ jobId: reader.jobId, type: 'null' });
    const detail = await p.db.task(task!.id);
    expect(detail!.inputs[0]!.producerTaskId).toBeGreaterThan(0);
  });
});

describe('Controller with loops', () => {
  it('runs a nested for-loop grid to the end, each leaf with its loop metadata, int indices kept', async () => {
    const p = await pipeline();
    const { jobId, status } = await p.runChain({
      task_list: [
        {
          task: 'execution_for_loop',
          parameter: 'size',
          linear_range: [1, 2, 3],
          task_list: [
            {
              task: 'execution_for_loop',
              parameter: 'tda',
              values: ['bls', 'tls'],
              task_list: [{ task: 'null', name: 'leaf' }],
            },
          ],
        },
      ],
    });
    // root + loop + 3 iterations + 3 inner loops + 6 iterations + 6 leaves
    expect(status.totals).toMatchObject({ done: 20, failed: 0, waiting: 0 });
    const leaves = await p.db.tasks({ jobId, type: 'null' });
    const meta = (await p.db.task(leaves[5]!.id))!.metadata;
    expect(meta).toEqual({
      size: { type: 'float', value: 2 },
      size_index: { type: 'int', value: 2 },
      tda: { type: 'str', value: 'tls' },
      tda_index: { type: 'int', value: 1 },
    });
  });

  it('expands a conditional at run time into the branch its criterion picks, once its provider passed QC', async () => {
    const p = await pipeline();
    const chain = {
      task_list: [
        { task: 'set_metadata', name: 'probe', values: { outcome: 'PASS' } },
        {
          task: 'execution_conditional',
          requires_metadata_from: ['probe'],
          criterion: true,
          task_list: [{ task: 'null', name: 'yes' }],
          else_task_list: [
            { task: 'null', name: 'no_1' },
            { task: 'null', name: 'no_2' },
          ],
        },
        {
          task: 'execution_conditional',
          requires_metadata_from: ['probe'],
          criterion: 0,
          task_list: [{ task: 'null', name: 'yes' }],
          else_task_list: [
            { task: 'null', name: 'no_1' },
            { task: 'null', name: 'no_2' },
          ],
        },
      ],
    };
    expect(await p.controller().submit({ chain, dryRun: true })).toMatchObject({
      tasks: 4,
      deferred: 2,
    });
    const c = p.controller();
    const { jobId } = await c.submit({ chain });
    const w = p.worker({ claimWaitMs: 20 });
    const done = new Promise<void>((r) => {
      w.on('job:finished', () => r());
      c.on('job:finished', () => r());
    });
    const runs = [c.run(), w.run()];
    await done;
    w.stop();
    c.stop();
    await Promise.all(runs);
    const s = await p.db.status(jobId);
    expect(s.totals).toMatchObject({ done: 4 + 1 + 2, failed: 0, waiting: 0 });
    const names = (await p.db.tasks({ jobId, type: 'null' })).map((t) => `${t.path} ${t.name}`);
    expect(names).toEqual([
      'task_list[1].task_list[0] yes',
      'task_list[2].else_task_list[0] no_1',
      'task_list[2].else_task_list[1] no_2',
    ]);
  });

  it('runs a do-while loop until its criterion is false, one execution_chain per iteration with an int index', async () => {
    const p = await pipeline();
    const chain = {
      task_list: [
        {
          task: 'execution_do_while_loop',
          iteration_name: 'it',
          requires_metadata_from_child: ['body'],
          repeat_criterion: false,
          task_list: [{ task: 'set_metadata', name: 'body', values: { k: 1 } }],
        },
      ],
    };
    const c = p.controller();
    const { jobId } = await c.submit({ chain });
    const w = p.worker({ claimWaitMs: 20 });
    const done = new Promise<void>((r) => c.on('job:finished', () => r()));
    const runs = [c.run(), w.run()];
    await done;
    w.stop();
    c.stop();
    await Promise.all(runs);
    const s = await p.db.status(jobId);
    expect(s.totals).toMatchObject({ done: 4, failed: 0 }); // root, loop, iteration 1, body
    const [iteration] = await p.db.tasks({ jobId, type: 'execution_chain', afterId: 1 });
    expect(iteration!.path).toBe('task_list[0]@0');
    expect((await p.db.task(iteration!.id))!.metadata.it_index).toEqual({ type: 'int', value: 1 });
  });
});

describe('Fields that read requested_metadata', () => {
  it("are evaluated when the task starts, with its providers' output metadata, types kept", async () => {
    const p = await pipeline();
    const { jobId, status } = await p.runChain(
      JSON.stringify({
        task_list: [
          { task: 'set_metadata', name: 'p', values: { period: 50.0 } },
          {
            task: 'set_metadata',
            name: 'q',
            requires_metadata_from: ['p'],
            values: {
              doubled: "(requested_metadata['p']['period'] * 2)",
              label: "'P={:.1f}'.format(requested_metadata['p']['period'])",
            },
          },
        ],
      }).replace('"period":50', '"period":50.0'),
    );
    expect(status.totals).toMatchObject({ done: 3, failed: 0 });
    const [q] = (await p.db.tasks({ jobId, type: 'set_metadata' })).filter((t) => t.name === 'q');
    expect((await p.db.task(q!.id))!.attempts[0]!.outputMetadata).toEqual({
      doubled: { type: 'float', value: 100 },
      label: { type: 'str', value: 'P=50.0' },
    });
  });

  it('need a provider named in requires_metadata_from', async () => {
    const p = await pipeline();
    const list = await problems(p, {
      task_list: [{ task: 'set_metadata', values: { x: "(requested_metadata['p']['period'])" } }],
    });
    expect(list[0]).toMatch(
      /^task_list\[0\]\.values: reads requested_metadata, but the task names no provider/,
    );
  });
});

describe('Controller recovery', () => {
  it('re-queues an attempt whose lease expired as a new attempt', async () => {
    const p = await pipeline();
    const c = p.controller();
    const { jobId } = await c.submit({ chain: { task_list: [{ task: 'null' }] } });
    const [item] = await p.queue.claim({ owner: 'ghost', types: ['null'], max: 1, leaseMs: 1 });
    await p.db.startAttempts([item!.attemptId], { id: 'ghost', host: 'elsewhere', pid: 1 });
    await new Promise((r) => setTimeout(r, 20));
    expect(await c.reapExpired()).toBe(1);
    const [t] = await p.db.tasks({ jobId, type: 'null' });
    const d = await p.db.task(t!.id);
    expect(d!.attempts.map((a) => [a.kind, a.state])).toEqual([
      ['first', 'stalled'],
      ['stall', 'queued'],
    ]);
    expect(await p.queue.has(d!.attempts[1]!.id)).toBe(true);
  });

  it('recovers the work of a dead worker process on this host at once, without waiting for its lease', async () => {
    const p = await pipeline();
    const c = p.controller({ host: 'this-host' });
    await c.submit({ chain: { task_list: [{ task: 'null' }] } });
    const deadPid = 2 ** 22 - 7; // above Linux's default pid_max: never a live process
    await p.db.registerWorker({
      id: 'dead',
      host: 'this-host',
      pid: deadPid,
      types: ['null'],
      concurrency: 1,
    });
    const [item] = await p.queue.claim({
      owner: 'dead',
      types: ['null'],
      max: 1,
      leaseMs: 600_000,
    });
    await p.db.startAttempts([item!.attemptId], { id: 'dead', host: 'this-host', pid: deadPid });
    // Told like any stalled attempt (the metrics count them from this event).
    const stalled: number[][] = [];
    c.on('attempt:stalled', (e) => stalled.push(e.attemptIds));
    expect(await c.recoverDeadLocalWorkers()).toBe(1);
    expect(stalled).toEqual([[item!.attemptId]]);
    expect((await p.db.workers('running')).map((w) => w.id)).not.toContain('dead');
    expect((await p.queue.counts()).null).toMatchObject({ ready: 1, leased: 0 });
  });

  it('reconcile re-queues a running attempt that stopped heartbeating even though no lease says so', async () => {
    const p = await pipeline();
    const c = p.controller({ silentAfterMs: 50 });
    const { jobId } = await c.submit({ chain: { task_list: [{ task: 'null' }] } });
    const [item] = await p.queue.claim({
      owner: 'gone',
      types: ['null'],
      max: 1,
      leaseMs: 600_000,
    });
    await p.db.startAttempts([item!.attemptId], { id: 'gone', host: 'elsewhere', pid: 1 });
    await p.queue.clear(); // the queue lost the item with its worker
    await new Promise((r) => setTimeout(r, 80));
    await c.reconcile();
    const [t] = await p.db.tasks({ jobId, type: 'null' });
    const d = await p.db.task(t!.id);
    expect(d!.attempts.map((a) => [a.kind, a.state])).toEqual([
      ['first', 'stalled'],
      ['stall', 'queued'],
    ]);
    expect((await p.queue.counts()).null?.ready).toBe(1);
  });

  it('stalls a silent running attempt the queue does not hold after one lease, and leaves a leased one to its lease', async () => {
    const p = await pipeline();
    const c = p.controller({ silentAfterMs: 600_000, unleasedAfterMs: 50 });
    const { jobId } = await c.submit({
      chain: {
        task_list: [
          { task: 'null', name: 'unleased' },
          { task: 'null', name: 'leased' },
        ],
      },
    });
    const items = await p.queue.claim({ owner: 'gone', types: ['null'], max: 2, leaseMs: 600_000 });
    expect(items).toHaveLength(2);
    await p.db.startAttempts(
      items.map((i) => i.attemptId),
      { id: 'gone', host: 'elsewhere', pid: 1 },
    );
    // The worker died after the commit that started the first, before the queue leased it.
    const [unleased, leased] = items.map((i) => i.attemptId).sort((a, b) => a - b);
    await p.queue.complete('gone', [unleased!]);
    expect(await c.stallSilent()).toBe(0); // both heartbeats are fresh
    await new Promise((r) => setTimeout(r, 80));
    expect(await c.stallSilent()).toBe(1);
    const states = new Map<number, string>();
    for (const t of await p.db.tasks({ jobId, type: 'null' })) {
      for (const a of (await p.db.task(t.id))!.attempts) states.set(a.id, a.state);
    }
    expect(states.get(unleased!)).toBe('stalled');
    expect(states.get(leased!)).toBe('running');
    expect(await p.queue.has(leased!)).toBe(true);
    expect((await p.queue.counts()).null).toMatchObject({ ready: 1, leased: 1 });
  });

  it('settles a job whose tasks all ended while it still reads running, and no other', async () => {
    const p = await pipeline();
    const c = p.controller();
    const ended = (await c.submit({ chain: { task_list: [{ task: 'null' }] } })).jobId!;
    const live = (await c.submit({ chain: { task_list: [{ task: 'null' }] } })).jobId!;
    const [item] = await p.queue.claim({ owner: 'w', types: ['null'], max: 1, leaseMs: 60_000 });
    expect(item!.jobId).toBe(ended);
    const worker = { id: 'w', host: 'h', pid: 1 };
    const { payloads } = await p.db.startAttempts([item!.attemptId], worker);
    const t = Date.now();
    await p.db.finishAttempts([
      {
        attemptId: payloads[0]!.attemptId,
        workerId: 'w',
        succeeded: true,
        qcPassed: true,
        startedAt: t,
        endedAt: t,
        wallMs: 0,
        cpuMs: 0,
        cpuChildrenMs: 0,
        outputs: [],
        outputMetadata: {},
        retry: { maxAttempts: 1, backoffMs: 0, maxBackoffMs: 0 },
      },
    ]);
    // What two reports of a job's last tasks committing at once on PostgreSQL leave behind:
    // each saw the other's task running, so neither settled the job.
    await p.db.sql.run(`UPDATE eas_jobs SET status = 'running', finished_at = NULL WHERE id = ?`, [
      ended,
    ]);
    const finished: unknown[] = [];
    c.on('job:finished', (j) => finished.push(j));
    expect(await c.settleEnded()).toBe(1);
    expect(finished).toEqual([{ jobId: ended, status: 'done' }]);
    const jobs = new Map((await p.db.jobs()).map((j) => [j.id, j.status]));
    expect(jobs.get(ended)).toBe('done');
    expect(jobs.get(live)).toBe('running');
    expect(await c.settleEnded()).toBe(0);
  });

  it("stores an ended job's dashboard totals on its next reap", async () => {
    const p = await pipeline();
    const c = p.controller({ reapIntervalMs: 20 });
    const jobId = (await c.submit({ chain: { task_list: [{ task: 'null' }, { task: 'null' }] } }))
      .jobId!;
    const w = p.worker({ claimWaitMs: 20 });
    const runs = [c.run(), w.run()];
    const storedOf = async (): Promise<unknown> =>
      (await p.db.sql.get<{ t: unknown }>('SELECT totals_of AS t FROM eas_jobs WHERE id = ?', [
        jobId,
      ]))!.t;
    const deadline = Date.now() + 10_000;
    while ((await storedOf()) === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    w.stop();
    c.stop();
    await Promise.all(runs);
    const job = await p.db.job(jobId);
    expect(job!.status).toBe('done');
    expect(Number(await storedOf())).toBe(job!.finishedAt);
    const rows = await p.db.sql.all<{ task_type: string; state: string; attempts: number }>(
      'SELECT task_type, state, attempts FROM eas_job_timings WHERE job_id = ?',
      [jobId],
    );
    expect(rows.map((r) => [r.task_type, r.state, Number(r.attempts)])).toEqual([
      ['null', 'succeeded', 2],
    ]);
  });

  it('stores the totals of a job that ended since the last reap when it stops', async () => {
    const p = await pipeline();
    const c = p.controller({ reapIntervalMs: 600_000 });
    const jobId = (await c.submit({ chain: { task_list: [{ task: 'null' }] } })).jobId!;
    const w = p.worker({ claimWaitMs: 20 });
    const ended = new Promise<void>((r) => w.on('job:finished', () => r()));
    const runs = [c.run(), w.run()];
    await ended;
    const totalsOf = async (): Promise<unknown> =>
      (await p.db.sql.get<{ t: unknown }>('SELECT totals_of AS t FROM eas_jobs WHERE id = ?', [
        jobId,
      ]))!.t;
    expect(await totalsOf()).toBeNull(); // no reap has run since
    w.stop();
    c.stop();
    await Promise.all(runs);
    expect(Number(await totalsOf())).toBe((await p.db.job(jobId))!.finishedAt);
  });

  it('reconcile rebuilds an emptied queue from the database', async () => {
    const p = await pipeline();
    const c = p.controller();
    await c.submit({ chain: { task_list: [{ task: 'null' }, { task: 'null' }] } });
    await p.queue.clear();
    await c.reconcile();
    expect((await p.queue.counts()).null?.ready).toBe(2);
  });
});
