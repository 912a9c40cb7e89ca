/**
 * A cancel on PostgreSQL while a worker's report or the controller's expansion commits: after
 * both, nothing of the job is live (no queued or running attempt, no live task), whichever
 * committed first. Before migration 0011's job locks, a report committing between the cancel's
 * statements released dependents whose new attempts the cancel never saw: they ran after it.
 * Also the cancel's counts: those of the rows it changed, not of a look taken before them.
 */
import { describe, expect, it } from 'vitest';
import type { SqlExecutor } from '../../src/core/index.js';
import { createTaskDatabase, TaskDatabase } from '../../src/taskdb/index.js';
import { expandDeferred } from '../../src/taskdb/queries/deferred.js';
import {
  finishAttempts,
  finishPassedOnServer,
  JOB_LOCK_SPACE,
} from '../../src/taskdb/queries/lifecycle.js';
import type { CancelResult } from '../../src/taskdb/queries/jobs.js';
import { job, leaf, ok, WORKER } from '../contracts/taskdb-contract.js';
import { generalPath } from '../helpers/general-path.js';
import { freshPostgresSchema, postgresAvailable } from '../helpers/services.js';

const pgOk = await postgresAvailable();
const CONTROLLER = { id: 'controller', host: 'h', pid: 2 };

/**
 * Runs `step` in a transaction held open while `cancel` starts, then commits it; resolves to
 * the cancel's result once both are done.
 */
async function cancelBeside(
  db: TaskDatabase,
  jobId: number,
  step: (tx: SqlExecutor) => Promise<unknown>,
): Promise<CancelResult> {
  let commit!: () => void;
  const held = new Promise<void>((resolve) => (commit = resolve));
  let inside!: () => void;
  const stepped = new Promise<void>((resolve) => (inside = resolve));
  const stepping = db.sql.transaction(async (tx) => {
    await step(tx);
    inside();
    await held;
  });
  await stepped;
  const cancelling = db.cancelJob(jobId);
  // Long enough for a cancel that does not wait to have run its statements.
  await new Promise((resolve) => setTimeout(resolve, 300));
  commit();
  const [, cancelled] = await Promise.all([stepping, cancelling]);
  return cancelled;
}

async function nothingLive(db: TaskDatabase, jobId: number): Promise<void> {
  const live = await db.sql.get<{ attempts: unknown; tasks: unknown; status: string }>(
    `SELECT (SELECT count(*) FROM eas_attempts WHERE job_id = ? AND state IN ('queued', 'running')) AS attempts,
            (SELECT count(*) FROM eas_tasks WHERE job_id = ? AND state IN ('waiting', 'queued', 'running', 'stalled')) AS tasks,
            (SELECT status FROM eas_jobs WHERE id = ?) AS status`,
    [jobId, jobId, jobId],
  );
  expect([Number(live!.attempts), Number(live!.tasks), live!.status]).toEqual([0, 0, 'cancelled']);
}

/** A provider running and its dependent waiting (t2 requires t1's metadata), plus a third task queued. */
async function providerAndDependent(db: TaskDatabase) {
  const r = await db.submit(
    job([leaf(1), leaf(2, { metadataFrom: [{ name: 't1', providerKey: 1 }] }), leaf(3)]),
  );
  const [a1] = r.ready;
  await db.startAttempts([a1!.attemptId], WORKER);
  return { jobId: r.jobId, provider: a1! };
}

describe.runIf(pgOk)('cancelJob on PostgreSQL, beside a commit', () => {
  async function withDb(fn: (db: TaskDatabase) => Promise<void>): Promise<void> {
    const schema = await freshPostgresSchema();
    const db = await createTaskDatabase({ url: schema.url });
    try {
      await fn(db);
    } finally {
      await db.close();
      await schema.drop();
    }
  }

  it('leaves no live attempt when a report releasing a dependent commits during the cancel (general path)', () =>
    withDb(async (db) => {
      const { jobId, provider } = await providerAndDependent(db);
      const cancelled = await cancelBeside(db, jobId, (tx) =>
        finishAttempts(generalPath(tx), [ok(provider.attemptId)], Date.now()),
      );
      await nothingLive(db, jobId);
      // The report committed first (the cancel waited for it): t1 done, its dependent released
      // and then cancelled with the queued t3; the counts are what the cancel changed.
      const states = await db.sql.all<{ state: string }>(
        'SELECT state FROM eas_tasks WHERE job_id = ? AND control = 0 ORDER BY id',
        [jobId],
      );
      expect(states.map((s) => s.state)).toEqual(['done', 'cancelled', 'cancelled']);
      expect(cancelled.tasks).toEqual({ waiting: 0, queued: 2, running: 0, stalled: 0 });
      expect([cancelled.cancelledTasks, cancelled.cancelledAttempts]).toEqual([2, 2]);
    }));

  it('leaves no live attempt when a server-side report commits during the cancel', () =>
    withDb(async (db) => {
      const { jobId, provider } = await providerAndDependent(db);
      await cancelBeside(db, jobId, (tx) =>
        finishPassedOnServer(tx, [ok(provider.attemptId)], Date.now()),
      );
      await nothingLive(db, jobId);
    }));

  it("leaves no live attempt when the controller's expansion commits during the cancel", () =>
    withDb(async (db) => {
      const r = await db.submit(
        job([leaf(1, { type: 'execution_conditional', control: true }), leaf(2)]),
      );
      const [conditional] = r.ready;
      await db.startAttempts([conditional!.attemptId], CONTROLLER);
      await cancelBeside(db, r.jobId, (tx) =>
        expandDeferred(
          tx,
          {
            attemptId: conditional!.attemptId,
            workerId: CONTROLLER.id,
            done: true,
            waitFor: [],
            children: [leaf(0, { parentKey: -1, path: 'task_list[0].task_list[0]' })],
          },
          Date.now(),
        ),
      );
      await nothingLive(db, r.jobId);
    }));

  it('refuses a report that waited for the cancel, and starts nothing after it', () =>
    withDb(async (db) => {
      const { jobId, provider } = await providerAndDependent(db);
      // The cancel holds the job; the report waits for it, then finds its attempt cancelled.
      let commit!: () => void;
      const held = new Promise<void>((resolve) => (commit = resolve));
      let inside!: () => void;
      const cancelledInside = new Promise<void>((resolve) => (inside = resolve));
      const { cancelJob } = await import('../../src/taskdb/queries/jobs.js');
      const cancelling = db.sql.transaction(async (tx) => {
        await cancelJob(tx, jobId, Date.now());
        inside();
        await held;
      });
      await cancelledInside;
      const reporting = db.finishAttempts([ok(provider.attemptId)]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      commit();
      const [, f] = await Promise.all([cancelling, reporting]);
      expect(f.stale).toEqual([provider.attemptId]);
      expect(f.ready).toEqual([]);
      await nothingLive(db, jobId);
    }));

  it('uses the lock space migration 0011 writes', () =>
    withDb(async (db) => {
      const fn = await db.sql.get<{ src: string }>(
        "SELECT prosrc AS src FROM pg_proc WHERE proname = 'eas_lock_jobs_shared'",
      );
      expect(fn!.src).toContain(`${JOB_LOCK_SPACE} + s.job_id`);
      // The start keeps what 0004 made of it (its statement in eas_mark_started, generic plans),
      // now behind the lock.
      const start = await db.sql.get<{ src: string; config: string[] }>(
        "SELECT prosrc AS src, proconfig AS config FROM pg_proc WHERE proname = 'eas_start_attempts'",
      );
      expect(start!.src).toMatch(/eas_lock_jobs_shared\(ids\);[\s\S]*eas_mark_started\(/);
      expect(start!.config).toContain('plan_cache_mode=force_generic_plan');
    }));
});
