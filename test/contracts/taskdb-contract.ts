import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import type {
  TaskDatabase,
  PlannedTask,
  PlannedJob,
  AttemptOutcome,
  WorkerInfo,
} from '../../src/taskdb/index.js';
import { outcomeCounts, plotRows, progressCounts, timingTotals } from '../../src/taskdb/index.js';
import { JOB_TOTALS_TABLES, storeJobTotals } from '../../src/taskdb/queries/totals.js';
import { toTypedMetadata, type SqlExecutor } from '../../src/core/index.js';

/** The worker the contract cases report as. */
export const WORKER: WorkerInfo = { id: 'w1', host: 'h', pid: 1 };
/** One attempt, no retry. */
export const NO_RETRY = { maxAttempts: 1, backoffMs: 1000, maxBackoffMs: 60_000 };

/** A leaf task for a plan; fields not given take neutral defaults. */
export function leaf(key: number, over: Partial<PlannedTask> = {}): PlannedTask {
  return {
    key,
    parentKey: 0,
    position: key - 1,
    path: `task_list[${key - 1}]`,
    name: `t${key}`,
    type: 'null',
    workingDirectory: 'wd',
    depth: 1,
    control: false,
    expanded: false,
    description: {},
    metadata: {},
    ownMetadata: {},
    inputs: [],
    outputs: [],
    metadataFrom: [],
    maxAttempts: 1,
    ...over,
  };
}

/** A job: a root execution_chain (key 0) with the given children. */
export function job(children: PlannedTask[], name = 'j'): PlannedJob {
  const root: PlannedTask = {
    ...leaf(0),
    parentKey: null,
    position: 0,
    path: '',
    name: null,
    type: 'execution_chain',
    depth: 0,
    control: true,
    expanded: true,
  };
  return { name, workingDirectory: 'wd', chain: {}, tasks: [root, ...children] };
}

/** A succeeded, QC-passed outcome. */
export function ok(
  attemptId: number,
  outputs: AttemptOutcome['outputs'] = [],
  meta: Record<string, unknown> = {},
): AttemptOutcome {
  const now = Date.now();
  return {
    attemptId,
    workerId: WORKER.id,
    succeeded: true,
    qcPassed: true,
    startedAt: now,
    endedAt: now,
    wallMs: 1,
    cpuMs: 1,
    cpuChildrenMs: 1,
    outputs,
    outputMetadata: toTypedMetadata(meta),
    retry: NO_RETRY,
    logs: [{ ts: now, level: 'info', stream: 'handler', message: `attempt ${attemptId}` }],
  };
}

/** A failed outcome with a traceback. */
export function failed(attemptId: number, retry = NO_RETRY): AttemptOutcome {
  return {
    ...ok(attemptId),
    succeeded: false,
    qcPassed: false,
    error: 'boom',
    traceback: 'Traceback…\nValueError: boom',
    exitCode: 1,
    retry,
  };
}

const SHA = 'a'.repeat(64);

/** The TaskDatabase contract, run on every engine. */
export function runTaskDatabaseContract(
  name: string,
  open: () => Promise<{ db: TaskDatabase; cleanup(): Promise<void> }>,
): void {
  describe(`TaskDatabase contract on ${name}`, () => {
    let db: TaskDatabase;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ db, cleanup } = await open());
    });
    afterEach(async () => {
      await db.close();
      await cleanup();
    });

    it('submits a job whole: independent tasks ready at once, a consumer waits for its producer', async () => {
      const plan = job([
        leaf(1),
        leaf(2, {
          outputs: [
            {
              semanticType: 'lightcurve',
              workingDirectory: 'wd',
              filename: 'a.gz',
              optional: false,
            },
          ],
        }),
        leaf(3, {
          inputs: [
            {
              semanticType: 'lightcurve',
              workingDirectory: 'wd',
              filename: 'a.gz',
              producerKey: 2,
            },
          ],
        }),
      ]);
      const r = await db.submit(plan);
      expect(r.taskCount).toBe(4);
      expect(r.ready.map((a) => a.taskId - r.jobId * 0).length).toBe(2);
      const s = await db.status();
      expect(s.totals).toMatchObject({ done: 1, queued: 2, waiting: 1 });
      expect(s.taskTypes.execution_chain!.done).toBe(1);
      expect(s.jobs[0]!.status).toBe('running');
    });

    it('runs the lifecycle: start, finish with an output, release the consumer, settle the job', async () => {
      const r = await db.submit(
        job([
          leaf(1, {
            outputs: [
              {
                semanticType: 'lightcurve',
                workingDirectory: 'wd',
                filename: 'a.gz',
                optional: false,
              },
            ],
          }),
          leaf(2, {
            inputs: [
              {
                semanticType: 'lightcurve',
                workingDirectory: 'wd',
                filename: 'a.gz',
                producerKey: 1,
              },
            ],
            metadataFrom: [{ name: 't1', providerKey: 1 }],
          }),
        ]),
      );
      expect(r.ready).toHaveLength(1);
      const started = await db.startAttempts([r.ready[0]!.attemptId], WORKER);
      expect(started.payloads[0]!.outputs[0]!.filename).toBe('a.gz');
      const fin = await db.finishAttempts([
        ok(r.ready[0]!.attemptId, [{ semanticType: 'lightcurve', sha256: SHA, size: 10 }], {
          period: 50.5,
          n: 3,
        }),
      ]);
      expect(fin.done).toHaveLength(1);
      expect(fin.ready).toHaveLength(1);
      const second = await db.startAttempts([fin.ready[0]!.attemptId], WORKER);
      const p = second.payloads[0]!;
      expect(p.inputs[0]).toMatchObject({ filename: 'a.gz', sha256: SHA, size: 10 });
      expect(p.requestedMetadata.t1).toEqual({
        period: { type: 'float', value: 50.5 },
        n: { type: 'int', value: 3 },
      });
      const fin2 = await db.finishAttempts([ok(p.attemptId)]);
      expect(fin2.finishedJobs).toEqual([{ jobId: r.jobId, status: 'done' }]);
      expect((await db.status()).totals).toMatchObject({
        done: 3,
        waiting: 0,
        queued: 0,
        running: 0,
      });
    });

    it("records an attempt's start as its worker ran it: a dependent taken by a report starts after its providers ended", async () => {
      const r = await db.submit(
        job([
          leaf(1),
          leaf(2),
          leaf(3, {
            metadataFrom: [
              { name: 'a', providerKey: 1 },
              { name: 'b', providerKey: 2 },
            ],
          }),
        ]),
      );
      const ids = r.ready.map((a) => a.attemptId);
      await db.startAttempts(ids, WORKER);
      const t0 = Date.now();
      // The second provider ends after the report that takes the dependent began: reports
      // commit later than they begin, and one that waits for another's locks later still.
      const first = { ...ok(ids[0]!), startedAt: t0, endedAt: t0 + 5 };
      const second = { ...ok(ids[1]!), startedAt: t0, endedAt: t0 + 40 };
      await db.finishAttempts([first]);
      const fin = await db.finishAttempts([second], {
        worker: WORKER,
        types: ['null'],
        max: 1,
      });
      const taken = fin.started[0]!.attemptId;
      // The worker runs it once the report has answered, and says when in its own report.
      await db.finishAttempts([{ ...ok(taken), startedAt: t0 + 45, endedAt: t0 + 50 }]);
      const rows = await db.timings({ jobId: r.jobId });
      const row = rows.find((x) => x.attemptId === taken)!;
      expect(row.startedAt).toBe(t0 + 45);
      const providersEnd = Math.max(
        ...rows.filter((x) => x.attemptId !== taken).map((x) => x.endedAt!),
      );
      expect(row.startedAt!).toBeGreaterThanOrEqual(providersEnd);
      expect(row.waitMs).toBe(t0 + 45 - row.queuedAt);
    });

    it("keeps an ended job's dashboard totals: equal to its rows', renewed after a rerun, deleted with it", async () => {
      // A running job older than the one that ends, with a type that sorts after the other's.
      await db.submit(job([leaf(1, { type: 'set_metadata' })], 'early'));
      const r = await db.submit(job([leaf(1), leaf(2), leaf(3, { type: 'set_metadata' })]));
      const other = await db.submit(job([leaf(1)], 'other'));
      const ids = r.ready.map((a) => a.attemptId);
      await db.startAttempts(ids, WORKER);
      const t0 = Date.now();
      const timed = (o: AttemptOutcome, wallMs: number): AttemptOutcome => ({
        ...o,
        startedAt: t0,
        endedAt: t0 + wallMs,
        wallMs,
        // As an external code: the worker's own CPU is small, its child process's is not.
        cpuMs: wallMs / 2,
        cpuChildrenMs: wallMs * 2,
      });
      await db.finishAttempts([
        timed(ok(ids[0]!, [], { outcome: 'PASS' }), 10),
        timed(ok(ids[1]!, [], { outcome: 'FAIL' }), 30),
        timed(failed(ids[2]!), 7),
      ]);
      expect((await db.job(r.jobId))!.status).toBe('failed');
      const sorted = <T>(rows: T[]): T[] =>
        [...rows].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
      const totals = async (jobIds?: number[]) => ({
        progress: sorted(await progressCounts(db.sql, jobIds)),
        timings: sorted(await timingTotals(db.sql, jobIds)),
        outcomes: sorted(await outcomeCounts(db.sql, jobIds)),
      });
      const summed = await totals([r.jobId]);
      expect(summed.progress.map((p) => [p.type, p.state, p.tasks])).toEqual([
        ['execution_chain', 'done', 1],
        ['null', 'done', 2],
        ['set_metadata', 'failed', 1],
      ]);
      expect(
        summed.timings.map((t) => [
          t.taskType,
          t.state,
          t.attempts,
          t.wallMs,
          t.maxWallMs,
          t.cpuMs,
          t.cpuChildrenMs,
          t.cpuChildrenCount,
        ]),
      ).toEqual([
        ['null', 'succeeded', 2, 40, 30, 20, 80, 2],
        ['set_metadata', 'failed', 1, 7, 7, 3.5, 14, 1],
      ]);
      expect(summed.outcomes.map((o) => [o.taskType, o.outcome, o.attempts])).toEqual([
        ['null', 'FAIL', 1],
        ['null', 'PASS', 1],
      ]);
      const everything = await totals();
      const status = await db.status();

      // Stored once: the running job is not, and a second call finds nothing to do.
      expect((await db.storeJobTotals()).stored).toEqual([r.jobId]);
      expect(await db.storeJobTotals()).toEqual({ stored: [], failed: [] });
      expect(await totals([r.jobId])).toEqual(summed);
      expect(await totals()).toEqual(everything);
      // `eas status` reads them too, and lists task types as before: by job, then by name.
      const statusStored = await db.status();
      expect(statusStored).toEqual(status);
      expect(Object.keys(statusStored.taskTypes)).toEqual([
        'execution_chain',
        'set_metadata',
        'null',
      ]);
      expect(Object.keys(statusStored.taskTypes)).toEqual(Object.keys(status.taskTypes));
      // Read from what was stored: rows changed behind the database's back do not show for the
      // ended job, and do for the running one.
      await db.sql.run('UPDATE eas_attempts SET wall_ms = wall_ms + 1000 WHERE job_id = ?', [
        r.jobId,
      ]);
      await db.sql.run(
        `UPDATE eas_metadata SET value = 'PASS' WHERE owner_kind = 'attempt' AND key = 'outcome'`,
      );
      await db.sql.run(
        `UPDATE eas_tasks SET state = 'blocked' WHERE job_id IN (?, ?) AND control = 0`,
        [r.jobId, other.jobId],
      );
      expect(await totals([r.jobId])).toEqual(summed);
      const mixed = await totals();
      expect(mixed.timings.filter((t) => t.jobId === r.jobId)).toEqual(summed.timings);
      expect(mixed.progress.filter((p) => p.jobId === other.jobId && p.type === 'null')).toEqual([
        { jobId: other.jobId, type: 'null', state: 'blocked', tasks: 1 },
      ]);

      // A rerun: counted from the rows while it runs, stored anew once it ended again.
      await db.sql.run(`UPDATE eas_tasks SET state = 'done' WHERE job_id = ? AND type = 'null'`, [
        r.jobId,
      ]);
      await db.sql.run(
        `UPDATE eas_tasks SET state = 'failed' WHERE job_id = ? AND type = 'set_metadata'`,
        [r.jobId],
      );
      const rerun = await db.rerunJob(r.jobId);
      // A rerun forgets the stored totals' end: an end in the same millisecond stores anew.
      expect(
        (await db.sql.get<{ t: unknown }>('SELECT totals_of AS t FROM eas_jobs WHERE id = ?', [
          r.jobId,
        ]))!.t,
      ).toBeNull();
      expect(await db.storeJobTotals()).toEqual({ stored: [], failed: [] });
      const running = await totals([r.jobId]);
      expect(running.timings.find((t) => t.taskType === 'null')!.wallMs).toBe(2040);
      expect(running.outcomes.map((o) => [o.outcome, o.attempts])).toEqual([['PASS', 2]]);
      const again = rerun.ready.map((a) => a.attemptId);
      await db.startAttempts(again, WORKER);
      await db.finishAttempts(again.map((id) => timed(ok(id), 5)));
      expect((await db.job(r.jobId))!.status).toBe('done');
      expect((await db.storeJobTotals()).stored).toEqual([r.jobId]);
      const after = await totals([r.jobId]);
      expect(after.timings.map((t) => [t.taskType, t.state, t.attempts, t.wallMs])).toEqual([
        ['null', 'succeeded', 2, 2040],
        ['set_metadata', 'failed', 1, 1007],
        ['set_metadata', 'succeeded', 1, 5],
      ]);
      expect(after.progress.map((p) => [p.type, p.state, p.tasks])).toEqual([
        ['execution_chain', 'done', 1],
        ['null', 'done', 2],
        ['set_metadata', 'done', 1],
      ]);

      await db.deleteJob(r.jobId);
      for (const table of JOB_TOTALS_TABLES)
        expect(await db.sql.all(`SELECT * FROM ${table}`)).toEqual([]);
    });

    it('counts only what attempts that passed QC reported: pass/fail, outcome totals, plots', async () => {
      const r = await db.submit(job([leaf(1), leaf(2)]));
      const ids = r.ready.map((a) => a.attemptId);
      await db.startAttempts(ids, WORKER);
      await db.finishAttempts([
        ok(ids[0]!, [], { outcome: 'FAIL', sde: 4.5 }),
        // Ran and reported a detection, but failed QC (its archive was not written).
        { ...ok(ids[1]!, [], { outcome: 'PASS', sde: 12 }), qcPassed: false, error: 'QC failed' },
      ]);
      expect((await db.job(r.jobId))!.status).toBe('failed');
      const rows = await db.outcomes({ jobId: r.jobId });
      expect(rows.map((o) => [o.attemptId, o.outcome])).toEqual([[ids[0], 'FAIL']]);
      const counted = await outcomeCounts(db.sql, [r.jobId]);
      expect(counted.map((o) => [o.outcome, o.attempts])).toEqual([['FAIL', 1]]);
      expect((await db.storeJobTotals()).stored).toEqual([r.jobId]);
      expect(await outcomeCounts(db.sql, [r.jobId])).toEqual(counted);
      for (const outputKeys of [['outcome', 'sde'], undefined]) {
        const plotted = await plotRows(db.sql, { jobId: r.jobId, taskType: 'null', outputKeys });
        expect(plotted.items.map((p) => [p.state, p.output])).toEqual([
          ['done', toTypedMetadata({ outcome: 'FAIL', sde: 4.5 })],
          ['failed', {}],
        ]);
      }
    });

    it('stores the totals of an outcome of any length, and marks a job whose totals the database refuses', async () => {
      const long = `PASS ${'x'.repeat(5000)}`;
      const r = await db.submit(job([leaf(1)]));
      await db.startAttempts([r.ready[0]!.attemptId], WORKER);
      await db.finishAttempts([ok(r.ready[0]!.attemptId, [], { outcome: long })]);
      expect((await db.storeJobTotals()).stored).toEqual([r.jobId]);
      expect(await outcomeCounts(db.sql, [r.jobId])).toEqual([
        { jobId: r.jobId, taskType: 'null', outcome: long, attempts: 1 },
      ]);

      const r2 = await db.submit(job([leaf(1)], 'refused'));
      await db.startAttempts([r2.ready[0]!.attemptId], WORKER);
      await db.finishAttempts([ok(r2.ready[0]!.attemptId)]);
      await db.sql.run('DROP TABLE eas_job_progress');
      const refused = await db.storeJobTotals();
      expect(refused.stored).toEqual([]);
      expect(refused.failed.map((f) => f.jobId)).toEqual([r2.jobId]);
      expect(refused.failed[0]!.error).toMatch(/eas_job_progress/);
      // Not tried again; its views count it from its rows.
      expect(await db.storeJobTotals()).toEqual({ stored: [], failed: [] });
      expect(await timingTotals(db.sql, [r2.jobId])).toMatchObject([
        { jobId: r2.jobId, taskType: 'null', state: 'succeeded', attempts: 1 },
      ]);
    });

    it('leaves a job rerun while its totals were read for its next end, and deletes totals stored while the job was deleted', async () => {
      const r = await db.submit(job([leaf(1), leaf(2, { type: 'error' })]));
      const ids = r.ready.map((a) => a.attemptId);
      await db.startAttempts(ids, WORKER);
      await db.finishAttempts([ok(ids[0]!), failed(ids[1]!)]);
      expect((await db.job(r.jobId))!.status).toBe('failed');
      // The rerun commits between the store's reads and its write.
      const rerunFirst = Object.create(db.sql, {
        transaction: {
          value: async <T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> => {
            await db.rerunJob(r.jobId);
            return db.sql.transaction(fn);
          },
        },
      }) as typeof db.sql;
      expect(await storeJobTotals(rerunFirst)).toEqual({ stored: [], failed: [] });
      expect((await db.job(r.jobId))!.status).toBe('running');
      for (const table of JOB_TOTALS_TABLES)
        expect(await db.sql.all(`SELECT * FROM ${table}`)).toEqual([]);

      const [again] = (await db.reconcile()).queued;
      await db.startAttempts([again!.attemptId], WORKER);
      await db.finishAttempts([ok(again!.attemptId)]);
      expect((await db.job(r.jobId))!.status).toBe('done');
      // The job is deleted while the store's write is under way.
      let deleting: Promise<unknown> | undefined;
      const deleteDuring = Object.create(db.sql, {
        transaction: {
          value: <T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> =>
            db.sql.transaction(async (tx) => {
              const out = await fn(tx);
              deleting = db.deleteJob(r.jobId);
              await new Promise((res) => setTimeout(res, 150));
              return out;
            }),
        },
      }) as typeof db.sql;
      expect((await storeJobTotals(deleteDuring)).stored).toEqual([r.jobId]);
      await deleting;
      expect(await db.job(r.jobId)).toBeUndefined();
      for (const table of JOB_TOTALS_TABLES)
        expect(await db.sql.all(`SELECT * FROM ${table}`)).toEqual([]);
    });

    it('a failure blocks the dependents transitively, with a reason, and fails the job', async () => {
      const r = await db.submit(
        job([
          leaf(1, {
            type: 'error',
            outputs: [
              { semanticType: 'x', workingDirectory: 'wd', filename: 'x', optional: false },
            ],
          }),
          leaf(2, {
            inputs: [{ semanticType: 'x', workingDirectory: 'wd', filename: 'x', producerKey: 1 }],
            outputs: [
              { semanticType: 'y', workingDirectory: 'wd', filename: 'y', optional: false },
            ],
          }),
          leaf(3, {
            inputs: [{ semanticType: 'y', workingDirectory: 'wd', filename: 'y', producerKey: 2 }],
          }),
        ]),
      );
      await db.startAttempts([r.ready[0]!.attemptId], WORKER);
      const fin = await db.finishAttempts([failed(r.ready[0]!.attemptId)]);
      expect(fin.failed).toHaveLength(1);
      expect(fin.blocked).toHaveLength(2);
      expect(fin.finishedJobs[0]!.status).toBe('failed');
      const errors = await db.errors();
      expect(errors[0]!.traceback).toContain('ValueError: boom');
      expect(errors[1]!.reason).toContain('input x: producer task_list[0] failed');
      expect(errors[2]!.reason).toMatch(/upstream task task_list\[1\] is blocked/);
    });

    it('retries with exponential backoff, and a failed attempt never passes QC', async () => {
      const r = await db.submit(job([leaf(1)]));
      const retry = { maxAttempts: 3, backoffMs: 1000, maxBackoffMs: 1500 };
      await db.startAttempts([r.ready[0]!.attemptId], WORKER);
      const before = Date.now();
      const f1 = await db.finishAttempts([failed(r.ready[0]!.attemptId, retry)]);
      expect(f1.ready).toHaveLength(1);
      expect(f1.ready[0]!.availableAt).toBeGreaterThanOrEqual(before + 1000);
      await db.startAttempts([f1.ready[0]!.attemptId], WORKER);
      const f2 = await db.finishAttempts([failed(f1.ready[0]!.attemptId, retry)]);
      expect(f2.ready[0]!.availableAt - Date.now()).toBeLessThanOrEqual(1500); // capped
      const detail = await db.task(r.ready[0]!.taskId);
      expect(detail!.attempts.map((a) => [a.kind, a.state, a.qc])).toEqual([
        ['first', 'failed', 'failed'],
        ['retry', 'failed', 'failed'],
        ['retry', 'queued', null],
      ]);
    });

    it('refuses a stale report: a stalled attempt cannot overwrite its successor', async () => {
      const r = await db.submit(
        job([
          leaf(1, {
            outputs: [
              { semanticType: 'x', workingDirectory: 'wd', filename: 'x', optional: false },
            ],
          }),
        ]),
      );
      const a1 = r.ready[0]!.attemptId;
      await db.startAttempts([a1], WORKER);
      const st = await db.stallAttempts([a1]);
      expect(st.stalled).toEqual([a1]);
      const a2 = st.ready[0]!.attemptId;
      const late = await db.finishAttempts([ok(a1, [{ semanticType: 'x', sha256: SHA, size: 1 }])]);
      expect(late.stale).toEqual([a1]);
      await db.startAttempts([a2], { ...WORKER, id: 'w2' });
      const wrongWorker = await db.finishAttempts([ok(a2)]);
      expect(wrongWorker.stale).toEqual([a2]);
      const fin = await db.finishAttempts([
        { ...ok(a2, [{ semanticType: 'x', sha256: 'b'.repeat(64), size: 2 }]), workerId: 'w2' },
      ]);
      expect(fin.done).toHaveLength(1);
      const products = await db.products();
      expect(products[0]!.versions.map((v) => v.sha256)).toEqual(['b'.repeat(64)]);
      const d = await db.task(r.ready[0]!.taskId);
      expect(d!.attempts.filter((a) => a.qc === 'passed')).toHaveLength(1);
    });

    it('an optional output not written blocks its consumers with the reason', async () => {
      const r = await db.submit(
        job([
          leaf(1, {
            outputs: [
              {
                semanticType: 'debugging',
                workingDirectory: 'wd',
                filename: 'd.tar.gz',
                optional: true,
              },
            ],
          }),
          leaf(2, {
            inputs: [
              {
                semanticType: 'debugging',
                workingDirectory: 'wd',
                filename: 'd.tar.gz',
                producerKey: 1,
              },
            ],
          }),
        ]),
      );
      await db.startAttempts([r.ready[0]!.attemptId], WORKER);
      const fin = await db.finishAttempts([ok(r.ready[0]!.attemptId)]);
      expect(fin.done).toHaveLength(1);
      expect(fin.blocked).toHaveLength(1);
      expect((await db.errors())[0]!.reason).toContain('producer did not write d.tar.gz');
    });

    it('reconcile repairs a wrong counter and lists queued attempts for the queue', async () => {
      const r = await db.submit(
        job([
          leaf(1, {
            outputs: [
              { semanticType: 'x', workingDirectory: 'wd', filename: 'x', optional: false },
            ],
          }),
          leaf(2, {
            inputs: [{ semanticType: 'x', workingDirectory: 'wd', filename: 'x', producerKey: 1 }],
          }),
        ]),
      );
      const rec1 = await db.reconcile();
      expect(rec1.queued.map((q) => q.attemptId)).toEqual([r.ready[0]!.attemptId]);
      // Simulate a crash between "producer done" and "consumer released".
      await db.startAttempts([r.ready[0]!.attemptId], WORKER);
      await db.finishAttempts([
        ok(r.ready[0]!.attemptId, [{ semanticType: 'x', sha256: SHA, size: 1 }]),
      ]);
      await db.sql.run(
        "UPDATE eas_tasks SET unmet = 1, state = 'waiting' WHERE path = 'task_list[1]'",
      );
      await db.sql.run(
        "UPDATE eas_attempts SET state = 'cancelled' WHERE task_id = (SELECT id FROM eas_tasks WHERE path = 'task_list[1]')",
      );
      const rec2 = await db.reconcile();
      expect(rec2.countersFixed).toBe(1);
      expect(rec2.released).toBe(1);
      expect(rec2.queued).toHaveLength(1);
    });

    it("binds an input to an earlier job's QC-passed version and counts it met", async () => {
      const r1 = await db.submit(
        job([
          leaf(1, {
            outputs: [
              { semanticType: 'x', workingDirectory: 'wd', filename: 'x', optional: false },
            ],
          }),
        ]),
      );
      await db.startAttempts([r1.ready[0]!.attemptId], WORKER);
      await db.finishAttempts([
        ok(r1.ready[0]!.attemptId, [{ semanticType: 'x', sha256: SHA, size: 5 }]),
      ]);
      const found = await db.findPassedVersion('wd', 'x');
      expect(found).toMatchObject({ sha256: SHA, jobId: r1.jobId });
      const r2 = await db.submit(
        job([
          leaf(1, {
            inputs: [
              {
                semanticType: 'x',
                workingDirectory: 'wd',
                filename: 'x',
                externalProductId: found!.productId,
              },
            ],
          }),
        ]),
      );
      expect(r2.ready).toHaveLength(1);
      const started = await db.startAttempts([r2.ready[0]!.attemptId], WORKER);
      expect(started.payloads[0]!.inputs[0]!.sha256).toBe(SHA);
    });

    it('submits 20,000 tasks in one transaction with their edges', async () => {
      const tasks: PlannedTask[] = [];
      for (let i = 1; i <= 20_000; i += 2) {
        tasks.push(
          leaf(i, {
            outputs: [
              { semanticType: 'x', workingDirectory: 'wd', filename: `f${i}`, optional: false },
            ],
            metadata: toTypedMetadata({ i }),
          }),
        );
        tasks.push(
          leaf(i + 1, {
            inputs: [
              { semanticType: 'x', workingDirectory: 'wd', filename: `f${i}`, producerKey: i },
            ],
          }),
        );
      }
      const r = await db.submit(job(tasks));
      expect(r.taskCount).toBe(20_001);
      expect(r.ready).toHaveLength(10_000);
      expect((await db.counts()).eas_file_deps).toBe(10_000);
    });
  });
}
