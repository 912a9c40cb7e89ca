/**
 * A run-time expansion whose new task reads a file its job's producer will never write (the
 * producer failed, or ended without writing an optional output): the new task is `blocked` in
 * the expansion's own transaction, with its own dependents, and the job ends. It used to be
 * inserted `waiting` and left for the controller's reconcile, a minute later. Also when the
 * producer fails while the expansion commits (on PostgreSQL the two serialise on the product's
 * row). Both engines, both finish paths.
 */
import { expect } from 'vitest';
import type { TaskDatabase } from '../../src/taskdb/index.js';
import { expandDeferred, type DeferredExpansion } from '../../src/taskdb/queries/deferred.js';
import { failed, job, leaf, ok, WORKER } from '../contracts/taskdb-contract.js';
import { casesOnEachEngine } from '../helpers/engines.js';

const CONTROLLER = { id: 'controller', host: 'h', pid: 2 };
const LC = { semanticType: 'lightcurve', workingDirectory: 'wd', filename: 'lc.gz' };

/** A producer of lc.gz and a conditional (or do-while) expanded at run time, both started. */
async function producerAndControl(db: TaskDatabase, optional = false) {
  const r = await db.submit(
    job([
      leaf(1, { outputs: [{ ...LC, optional }] }),
      leaf(2, { type: 'execution_conditional', control: true }),
    ]),
  );
  const [producer, control] = r.ready;
  await db.startAttempts([producer!.attemptId], WORKER);
  await db.startAttempts([control!.attemptId], CONTROLLER);
  const product = await db.sql.get<{ id: unknown }>(
    'SELECT id FROM eas_products WHERE producer_task_id = ?',
    [producer!.taskId],
  );
  return {
    jobId: r.jobId,
    producer: producer!,
    control: control!,
    productId: Number(product!.id),
  };
}

/** The expansion: a reader of lc.gz and a task waiting for the reader's metadata. */
function expansion(controlAttemptId: number, productId: number, loop: boolean): DeferredExpansion {
  return {
    attemptId: controlAttemptId,
    workerId: CONTROLLER.id,
    done: !loop,
    waitFor: loop ? [{ name: 'reader', providerKey: 0 }] : [],
    children: [
      leaf(0, {
        parentKey: -1,
        name: 'reader',
        path: 'task_list[1].task_list[0]',
        inputs: [{ ...LC, jobProductId: productId }],
      }),
      leaf(1, {
        parentKey: -1,
        name: 'after',
        path: 'task_list[1].task_list[1]',
        metadataFrom: [{ name: 'reader', providerKey: 0 }],
      }),
    ],
  };
}

async function tasksOf(db: TaskDatabase, jobId: number) {
  const rows = await db.sql.all<{ path: string; state: string; reason: string | null }>(
    'SELECT path, state, reason FROM eas_tasks WHERE job_id = ? ORDER BY id',
    [jobId],
  );
  return Object.fromEntries(rows.map((r) => [r.path, { state: r.state, reason: r.reason }]));
}

async function jobStatus(db: TaskDatabase, jobId: number): Promise<string> {
  const j = await db.sql.get<{ status: string }>('SELECT status FROM eas_jobs WHERE id = ?', [
    jobId,
  ]);
  return j!.status;
}

async function blockedAtExpansion(db: TaskDatabase): Promise<void> {
  const { jobId, producer, control, productId } = await producerAndControl(db);
  const f = await db.finishAttempts([failed(producer.attemptId)]);
  expect(f.failed).toEqual([producer.taskId]);

  const e = await db.sql.transaction((tx) =>
    expandDeferred(tx, expansion(control.attemptId, productId, false), Date.now()),
  );
  expect(e.stale).toBe(false);
  expect(e.ready).toEqual([]);
  const tasks = await tasksOf(db, jobId);
  expect(tasks['task_list[1].task_list[0]']).toEqual({
    state: 'blocked',
    reason: 'input lc.gz: producer task_list[0] failed',
  });
  expect(tasks['task_list[1].task_list[1]']).toEqual({
    state: 'blocked',
    reason:
      'requested metadata: upstream task task_list[1].task_list[0] is blocked (input lc.gz: producer task_list[0] failed)',
  });
  // Nothing is left to run: the job ends with the expansion, not at the next reconcile.
  expect(e.finishedJobs).toEqual([{ jobId, status: 'failed' }]);
  expect(await jobStatus(db, jobId)).toBe('failed');
}

async function loopBlockedAtExpansion(db: TaskDatabase): Promise<void> {
  const { jobId, producer, control, productId } = await producerAndControl(db, true);
  // Done without its optional output: lc.gz will never exist.
  await db.finishAttempts([ok(producer.attemptId)]);

  const e = await db.sql.transaction((tx) =>
    expandDeferred(tx, expansion(control.attemptId, productId, true), Date.now()),
  );
  expect(e.ready).toEqual([]);
  const tasks = await tasksOf(db, jobId);
  expect(tasks['task_list[1].task_list[0]']).toEqual({
    state: 'blocked',
    reason: 'input lc.gz: producer task_list[0] did not write lc.gz',
  });
  // The do-while itself waited for the blocked iteration's metadata: it is blocked too.
  expect(tasks['task_list[1]']!.state).toBe('blocked');
  expect(tasks['task_list[1]']!.reason).toMatch(
    /^requested metadata: upstream task task_list\[1\]\.task_list\[0\] is blocked/,
  );
  expect(e.finishedJobs).toEqual([{ jobId, status: 'failed' }]);
}

/** The producer fails while the expansion's transaction is open, reading its product. */
async function blockedEitherWay(db: TaskDatabase): Promise<void> {
  const { jobId, producer, control, productId } = await producerAndControl(db);
  let commitExpansion!: () => void;
  const held = new Promise<void>((resolve) => (commitExpansion = resolve));
  let expanded!: () => void;
  const inside = new Promise<void>((resolve) => (expanded = resolve));
  const expanding = db.sql.transaction(async (tx) => {
    const result = await expandDeferred(
      tx,
      expansion(control.attemptId, productId, false),
      Date.now(),
    );
    expanded();
    await held;
    return result;
  });
  await inside;
  const finishing = db.finishAttempts([failed(producer.attemptId)]);
  // Long enough for a finish that does not wait to have committed.
  await new Promise((resolve) => setTimeout(resolve, 300));
  commitExpansion();
  const [e, f] = await Promise.all([expanding, finishing]);

  const tasks = await tasksOf(db, jobId);
  expect(tasks['task_list[1].task_list[0]']!.state).toBe('blocked');
  expect(tasks['task_list[1].task_list[1]']!.state).toBe('blocked');
  expect([...e.ready, ...f.ready]).toEqual([]);
  expect(await jobStatus(db, jobId)).toBe('failed');
}

casesOnEachEngine([
  ["blocks a run-time expansion's reader of a failed producer's file at once", blockedAtExpansion],
  [
    'blocks a do-while whose iteration reads an optional output never written',
    loopBlockedAtExpansion,
  ],
  ['blocks the reader when its producer fails while the expansion commits', blockedEitherWay],
]);
