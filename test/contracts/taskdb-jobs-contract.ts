import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import type { AttemptOutcome, PlannedTask, TaskDatabase } from '../../src/taskdb/index.js';
import { isEasError, toTypedMetadata } from '../../src/core/index.js';
import { failed, job, leaf, ok, WORKER } from './taskdb-contract.js';

const SHA_SHARED = 'a'.repeat(64);
const SHA_OWN = 'b'.repeat(64);

const out = (filename: string, semanticType = 'lc') => ({
  semanticType,
  workingDirectory: 'wd',
  filename,
  optional: false,
});
const input = (filename: string, producerKey: number, semanticType = 'lc') => ({
  semanticType,
  workingDirectory: 'wd',
  filename,
  producerKey,
});

/** Expects `promise` to reject with an EasError of `code` whose message matches `message`. */
async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp) {
  const e: unknown = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isEasError(e), String(e)).toBe(true);
  expect((e as { code: string }).code).toBe(code);
  expect((e as Error).message).toMatch(message);
}

/** Row counts of every job-owned table, for one job. */
async function rowsOf(db: TaskDatabase, jobId: number): Promise<Record<string, number>> {
  const n = async (sql: string, params: number[]) =>
    Number((await db.sql.get<{ n: number }>(sql, params))!.n);
  return {
    jobs: await n('SELECT count(*) AS n FROM eas_jobs WHERE id = ?', [jobId]),
    tasks: await n('SELECT count(*) AS n FROM eas_tasks WHERE job_id = ?', [jobId]),
    attempts: await n('SELECT count(*) AS n FROM eas_attempts WHERE job_id = ?', [jobId]),
    products: await n('SELECT count(*) AS n FROM eas_products WHERE job_id = ?', [jobId]),
    versions: await n(
      'SELECT count(*) AS n FROM eas_versions v JOIN eas_products p ON p.id = v.product_id WHERE p.job_id = ?',
      [jobId],
    ),
    taskMetadata: await n(
      "SELECT count(*) AS n FROM eas_metadata m JOIN eas_tasks t ON t.id = m.owner_id WHERE m.owner_kind = 'task' AND t.job_id = ?",
      [jobId],
    ),
    attemptMetadata: await n(
      "SELECT count(*) AS n FROM eas_metadata m JOIN eas_attempts a ON a.id = m.owner_id WHERE m.owner_kind = 'attempt' AND a.job_id = ?",
      [jobId],
    ),
    fileDeps: await n(
      'SELECT count(*) AS n FROM eas_file_deps d JOIN eas_tasks t ON t.id = d.consumer_task_id WHERE t.job_id = ?',
      [jobId],
    ),
    metadataDeps: await n(
      'SELECT count(*) AS n FROM eas_metadata_deps d JOIN eas_tasks t ON t.id = d.consumer_task_id WHERE t.job_id = ?',
      [jobId],
    ),
    logLines: await n('SELECT count(*) AS n FROM eas_log_lines WHERE job_id = ?', [jobId]),
  };
}

/** Starts and finishes every queued attempt with `outcome` until nothing is queued. */
async function runAll(
  db: TaskDatabase,
  attemptIds: number[],
  outcome: (attemptId: number, taskId: number) => AttemptOutcome = (a) => ok(a),
): Promise<void> {
  let ids = attemptIds;
  while (ids.length > 0) {
    const started = await db.startAttempts(ids, WORKER);
    const fin = await db.finishAttempts(
      started.payloads.map((p) => outcome(p.attemptId, p.taskId)),
    );
    ids = fin.ready.map((r) => r.attemptId);
  }
}

/** Cancel, rerun and delete of jobs (DESIGN §3), run on every engine. */
export function runTaskDatabaseJobsContract(
  name: string,
  open: () => Promise<{ db: TaskDatabase; cleanup(): Promise<void> }>,
): void {
  describe(`TaskDatabase jobs contract on ${name}`, () => {
    let db: TaskDatabase;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ db, cleanup } = await open());
    });
    afterEach(async () => {
      await db.close();
      await cleanup();
    });

    /** t1 writes a.gz (starts running), t2 reads it (waiting), t3 is independent (queued). */
    async function halfRun() {
      const r = await db.submit(
        job([
          leaf(1, { outputs: [out('a.gz')] }),
          leaf(2, { inputs: [input('a.gz', 1)] }),
          leaf(3),
        ]),
      );
      const [a1, a3] = r.ready;
      await db.startAttempts([a1!.attemptId], WORKER);
      const tasks = await db.tasks({ jobId: r.jobId });
      const id = (n: string) => tasks.find((t) => t.name === n)!.id;
      return { r, a1: a1!, a3: a3!, t1: id('t1'), t2: id('t2'), t3: id('t3') };
    }

    it('cancel stops a job mid-way: live tasks and their attempts cancelled, a late report refused', async () => {
      const { r, a1, a3, t1, t2 } = await halfRun();
      const c = await db.cancelJob(r.jobId);
      expect(c).toMatchObject({
        jobId: r.jobId,
        tasks: { waiting: 1, queued: 1, running: 1, stalled: 0 },
        cancelledTasks: 3,
        cancelledAttempts: 2,
        runningAttempts: 1,
      });
      const s = await db.status(r.jobId);
      expect(s.totals).toMatchObject({ done: 1, cancelled: 3, waiting: 0, queued: 0, running: 0 });
      const j = (await db.job(r.jobId))!;
      expect(j.status).toBe('cancelled');
      expect(j.finishedAt).not.toBeNull();
      const d1 = (await db.task(t1))!;
      expect(d1.reason).toBe('job cancelled');
      expect(d1.attempts.map((a) => a.state)).toEqual(['cancelled']);
      expect((await db.task(t2))!.state).toBe('cancelled');

      // The running attempt's worker learns at its heartbeat; its report is refused.
      expect(await db.heartbeat(WORKER.id, [a1.attemptId])).toEqual([]);
      const fin = await db.finishAttempts([
        ok(a1.attemptId, [{ semanticType: 'lc', sha256: SHA_OWN, size: 3 }]),
      ]);
      expect(fin.stale).toEqual([a1.attemptId]);
      expect(fin.done).toEqual([]);
      expect((await rowsOf(db, r.jobId)).versions).toBe(0);
      // The queued one can no longer start.
      expect((await db.startAttempts([a3.attemptId], WORKER)).stale).toEqual([a3.attemptId]);
      expect((await db.job(r.jobId))!.status).toBe('cancelled');
    });

    it('cancel refuses an unknown or finished job and changes nothing', async () => {
      await rejectsWith(db.cancelJob(99), 'NOT_FOUND', /No job 99/);
      const r = await db.submit(job([leaf(1)]));
      await runAll(
        db,
        r.ready.map((a) => a.attemptId),
      );
      const before = await rowsOf(db, r.jobId);
      await rejectsWith(db.cancelJob(r.jobId), 'USAGE', /is done, not running/);
      expect(await rowsOf(db, r.jobId)).toEqual(before);
      expect((await db.job(r.jobId))!.status).toBe('done');
    });

    it('rerun runs the failed subtree only: a rerun attempt, blocked dependents unblocked, the job done', async () => {
      const r = await db.submit(
        job([
          leaf(1, { outputs: [out('ok.gz')] }),
          leaf(2, { type: 'flaky', inputs: [input('ok.gz', 1)], outputs: [out('x.gz')] }),
          leaf(3, { inputs: [input('x.gz', 2)], outputs: [out('y.gz')] }),
          leaf(4, { inputs: [input('y.gz', 3)], metadataFrom: [{ name: 't1', providerKey: 1 }] }),
        ]),
      );
      const tasks = await db.tasks({ jobId: r.jobId });
      const id = (n: string) => tasks.find((t) => t.name === n)!.id;
      const [t1, t2, t3, t4] = ['t1', 't2', 't3', 't4'].map(id) as [number, number, number, number];
      const write = (taskId: number): AttemptOutcome['outputs'] =>
        taskId === t1
          ? [{ semanticType: 'lc', sha256: SHA_SHARED, size: 1 }]
          : taskId === t4
            ? []
            : [{ semanticType: 'lc', sha256: SHA_OWN, size: 2 }];
      await runAll(
        db,
        r.ready.map((a) => a.attemptId),
        (a, t) => (t === t2 ? failed(a) : ok(a, write(t))),
      );
      expect((await db.job(r.jobId))!.status).toBe('failed');
      expect((await db.status(r.jobId)).totals).toMatchObject({ done: 2, failed: 1, blocked: 2 });
      const t1Before = (await db.task(t1))!;

      const rr = await db.rerunJob(r.jobId);
      expect(rr).toMatchObject({
        previousStatus: 'failed',
        status: 'running',
        rerunTasks: [t2],
        reopenedTasks: [t3, t4],
        stillBlocked: [],
      });
      expect(rr.ready.map((a) => a.taskId)).toEqual([t2]);
      const j = (await db.job(r.jobId))!;
      expect(j).toMatchObject({ status: 'running', finishedAt: null });
      const d2 = (await db.task(t2))!;
      expect(d2).toMatchObject({ state: 'queued', reason: null, attemptCount: 2 });
      expect(d2.attempts.map((a) => [a.number, a.kind, a.state])).toEqual([
        [1, 'first', 'failed'],
        [2, 'rerun', 'queued'],
      ]);
      // Blocked dependents wait again, their counters recounted from the edges.
      expect((await db.task(t3))!).toMatchObject({ state: 'waiting', unmet: 1, reason: null });
      expect((await db.task(t4))!).toMatchObject({ state: 'waiting', unmet: 1, reason: null });

      await runAll(db, [rr.ready[0]!.attemptId], (a, t) => ok(a, write(t)));
      expect((await db.job(r.jobId))!.status).toBe('done');
      expect((await db.status(r.jobId)).totals).toMatchObject({ done: 5, failed: 0, blocked: 0 });
      // Everything done before is untouched; the earlier failed attempt is kept.
      expect((await db.task(t1))!.attempts).toEqual(t1Before.attempts);
      const after = (await db.task(t2))!;
      expect(after.attempts.map((a) => [a.kind, a.state, a.qc])).toEqual([
        ['first', 'failed', 'failed'],
        ['rerun', 'succeeded', 'passed'],
      ]);
      expect(after.attempts[1]!.versions).toHaveLength(1);

      await rejectsWith(db.rerunJob(r.jobId), 'USAGE', /nothing to rerun/);
      await rejectsWith(db.rerunJob(99), 'NOT_FOUND', /No job 99/);
    });

    it('rerun of a cancelled job resumes what the cancel stopped', async () => {
      const { r, t1, t2, t3 } = await halfRun();
      await db.cancelJob(r.jobId);
      const rr = await db.rerunJob(r.jobId);
      expect(rr.rerunTasks).toEqual([]);
      expect(rr.reopenedTasks).toEqual([t1, t2, t3]);
      expect(rr.ready.map((a) => a.taskId).sort()).toEqual([t1, t3].sort());
      expect((await db.task(t1))!.attempts.map((a) => [a.kind, a.state])).toEqual([
        ['first', 'cancelled'],
        ['rerun', 'queued'],
      ]);
      expect((await db.task(t2))!).toMatchObject({ state: 'waiting', unmet: 1 });
      await runAll(
        db,
        rr.ready.map((a) => a.attemptId),
        (a, t) => ok(a, t === t1 ? [{ semanticType: 'lc', sha256: SHA_OWN, size: 2 }] : []),
      );
      expect((await db.job(r.jobId))!.status).toBe('done');
    });

    it('rerun leaves blocked a consumer whose done producer did not write its optional file', async () => {
      const r = await db.submit(
        job([
          leaf(1, { outputs: [{ ...out('opt.gz'), optional: true }] }),
          leaf(2, { inputs: [input('opt.gz', 1)] }),
          leaf(3, { type: 'error', outputs: [out('x.gz')] }),
          leaf(4, { inputs: [input('x.gz', 3)] }),
        ]),
      );
      await runAll(
        db,
        r.ready.map((a) => a.attemptId),
        (a, t) => (t === r.ready[1]!.taskId ? failed(a) : ok(a)),
      );
      const tasks = await db.tasks({ jobId: r.jobId });
      const id = (n: string) => tasks.find((t) => t.name === n)!.id;
      expect(tasks.map((t) => t.state)).toEqual(['done', 'done', 'blocked', 'failed', 'blocked']);
      const rr = await db.rerunJob(r.jobId);
      expect(rr.stillBlocked).toEqual([id('t2')]);
      expect((await db.task(id('t2')))!).toMatchObject({
        state: 'blocked',
        reason: 'input opt.gz: producer did not write opt.gz',
      });
      expect((await db.task(id('t4')))!.state).toBe('waiting');
    });

    it('a rerun gives each failed task a fresh retry budget', async () => {
      const retry = { maxAttempts: 2, backoffMs: 0, maxBackoffMs: 0 };
      const r = await db.submit(job([leaf(1, { type: 'error' })]));
      await runAll(db, [r.ready[0]!.attemptId], (a) => failed(a, retry));
      const t = r.ready[0]!.taskId;
      expect((await db.task(t))!.attempts).toHaveLength(2);
      const rr = await db.rerunJob(r.jobId);
      await runAll(db, [rr.ready[0]!.attemptId], (a) => failed(a, retry));
      expect((await db.task(t))!.attempts.map((a) => a.kind)).toEqual([
        'first',
        'retry',
        'rerun',
        'retry',
      ]);
    });

    it('delete removes every row of the job and reports the objects no other job refers to', async () => {
      const chain = (): PlannedTask[] => [
        leaf(1, { outputs: [out('a.gz')], ownMetadata: toTypedMetadata({ p: 1 }) }),
        leaf(2, {
          inputs: [input('a.gz', 1)],
          outputs: [out('b.gz')],
          metadataFrom: [{ name: 't1', providerKey: 1 }],
        }),
      ];
      const j1 = await db.submit(job(chain()));
      const j2 = await db.submit(job(chain()));
      for (const { jobId, ready } of [j1, j2]) {
        const producer = ready[0]!.taskId;
        await runAll(
          db,
          ready.map((a) => a.attemptId),
          (a, t) =>
            ok(
              a,
              [
                {
                  semanticType: 'lc',
                  sha256:
                    t === producer ? SHA_SHARED : jobId === j2.jobId ? SHA_OWN : 'c'.repeat(64),
                  size: 1,
                  metadata: toTypedMetadata({ n: 1 }),
                },
              ],
              { m: 2 },
            ),
        );
      }
      const keep = await rowsOf(db, j1.jobId);
      const gone = await rowsOf(db, j2.jobId);
      expect(gone).toMatchObject({ tasks: 3, attempts: 2, products: 2, versions: 2, logLines: 2 });
      const versionMeta = async () =>
        Number(
          (await db.sql.get<{ n: number }>(
            "SELECT count(*) AS n FROM eas_metadata WHERE owner_kind = 'version'",
          ))!.n,
        );
      expect(await versionMeta()).toBe(4);

      const ownAt = await db.sql.get<{ at: unknown }>(
        'SELECT max(created_at) AS at FROM eas_versions WHERE sha256 = ?',
        [SHA_OWN],
      );
      const d = await db.deleteJob(j2.jobId);
      expect(d.cancelled).toBeNull();
      expect(d.removed).toMatchObject({
        tasks: 3,
        attempts: 2,
        products: 2,
        versions: 2,
        fileDeps: 1,
        metadataDeps: 1,
        logLines: 2,
      });
      expect(d.unreferencedObjects).toEqual([SHA_OWN]);
      // When its last version of each was committed: objects stored again since are kept.
      expect(d.lastCommittedAt).toEqual({ [SHA_OWN]: Number(ownAt!.at) });
      expect(d.sharedObjects).toEqual([SHA_SHARED]);
      expect(Object.values(await rowsOf(db, j2.jobId)).every((n) => n === 0)).toBe(true);
      expect(await versionMeta()).toBe(2);
      expect(await rowsOf(db, j1.jobId)).toEqual(keep);
      expect((await db.job(j1.jobId))!.status).toBe('done');
      await rejectsWith(db.deleteJob(j2.jobId), 'NOT_FOUND', /No job/);
    });

    it('delete refuses a running job unless forced, and a job whose products another job reads', async () => {
      const { r, a1 } = await halfRun();
      const before = await rowsOf(db, r.jobId);
      await rejectsWith(db.deleteJob(r.jobId), 'USAGE', /is running.*--force/);
      expect(await rowsOf(db, r.jobId)).toEqual(before);
      const d = await db.deleteJob(r.jobId, { force: true });
      expect(d.cancelled).toMatchObject({ cancelledTasks: 3, runningAttempts: 1 });
      expect(Object.values(await rowsOf(db, r.jobId)).every((n) => n === 0)).toBe(true);
      expect((await db.finishAttempts([ok(a1.attemptId)])).stale).toEqual([a1.attemptId]);

      const first = await db.submit(job([leaf(1, { outputs: [out('a.gz')] })]));
      await runAll(db, [first.ready[0]!.attemptId], (a) =>
        ok(a, [{ semanticType: 'lc', sha256: SHA_SHARED, size: 1 }]),
      );
      const product = (await db.findPassedVersion('wd', 'a.gz'))!.productId;
      const reader = await db.submit(
        job([
          leaf(1, {
            inputs: [
              {
                semanticType: 'lc',
                workingDirectory: 'wd',
                filename: 'a.gz',
                externalProductId: product,
              },
            ],
          }),
        ]),
      );
      await rejectsWith(
        db.deleteJob(first.jobId),
        'USAGE',
        new RegExp(`job ${reader.jobId} reads its products`),
      );
      expect((await db.job(first.jobId))!.status).toBe('done');
    });
  });
}
