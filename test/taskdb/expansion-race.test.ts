/**
 * A run-time expansion whose new task reads a file of its job, committing while that file's
 * producer reports: the new task must be released by whichever commits second (on PostgreSQL
 * the two serialise on the product's row, migration 0010). It used to wait, on PostgreSQL, for
 * the controller's reconcile a minute later. Both engines, both finish paths.
 */
import { expect } from 'vitest';
import type { TaskDatabase } from '../../src/taskdb/index.js';
import { expandDeferred } from '../../src/taskdb/queries/deferred.js';
import { job, leaf, ok, WORKER } from '../contracts/taskdb-contract.js';
import { casesOnEachEngine } from '../helpers/engines.js';

const CONTROLLER = { id: 'controller', host: 'h', pid: 2 };
const SHA = 'b'.repeat(64);

async function consumerReleasedEitherWay(db: TaskDatabase) {
  const lc = { semanticType: 'lightcurve', workingDirectory: 'wd', filename: 'lc.gz' };
  // A producer, and a conditional (expanded at run time) whose branch will read its file.
  const r = await db.submit(
    job([
      leaf(1, { outputs: [{ ...lc, optional: false }] }),
      leaf(2, { type: 'execution_conditional', control: true }),
    ]),
  );
  const [producer, conditional] = r.ready;
  await db.startAttempts([producer!.attemptId], WORKER);
  await db.startAttempts([conditional!.attemptId], CONTROLLER);
  const product = await db.sql.get<{ id: unknown }>(
    'SELECT id FROM eas_products WHERE producer_task_id = ?',
    [producer!.taskId],
  );

  // The expansion's transaction stays open while the producer reports.
  let commitExpansion!: () => void;
  const held = new Promise<void>((resolve) => (commitExpansion = resolve));
  let expanded!: () => void;
  const inside = new Promise<void>((resolve) => (expanded = resolve));
  const expansion = db.sql.transaction(async (tx) => {
    const result = await expandDeferred(
      tx,
      {
        attemptId: conditional!.attemptId,
        workerId: CONTROLLER.id,
        done: true,
        waitFor: [],
        children: [
          leaf(0, {
            parentKey: -1,
            path: 'task_list[1].task_list[0]',
            inputs: [{ ...lc, jobProductId: Number(product!.id) }],
          }),
        ],
      },
      Date.now(),
    );
    expanded();
    await held;
    return result;
  });
  await inside;
  const finishing = db.finishAttempts([
    ok(producer!.attemptId, [{ semanticType: 'lightcurve', sha256: SHA, size: 3 }]),
  ]);
  // Long enough for a finish that does not wait to have committed.
  await new Promise((resolve) => setTimeout(resolve, 300));
  commitExpansion();
  const [e, f] = await Promise.all([expansion, finishing]);

  const consumer = await db.sql.get<{ id: unknown; state: string; unmet: unknown }>(
    "SELECT id, state, unmet FROM eas_tasks WHERE job_id = ? AND path = 'task_list[1].task_list[0]'",
    [r.jobId],
  );
  expect([consumer!.state, Number(consumer!.unmet)]).toEqual(['queued', 0]);
  const ready = [...e.ready, ...f.ready].map((a) => a.taskId);
  expect(ready).toEqual([Number(consumer!.id)]);
}

casesOnEachEngine([
  [
    "releases a run-time expansion's consumer whose producer reports while it commits",
    consumerReleasedEitherWay,
  ],
]);
