/**
 * `cancelJob`'s counts on PostgreSQL when a task's report commits while the cancel runs: the
 * counts are those of the rows the cancel changed, not of a look taken before them (which
 * counted the finishing task as cancelled while it stayed `done`).
 */
import { describe, expect, it } from 'vitest';
import { createTaskDatabase } from '../../src/taskdb/index.js';
import { job, leaf, WORKER } from '../contracts/taskdb-contract.js';
import { freshPostgresSchema, postgresAvailable } from '../helpers/services.js';

const pgOk = await postgresAvailable();

describe.runIf(pgOk)('cancelJob on PostgreSQL', () => {
  it('counts only what it cancelled when a report commits meanwhile', async () => {
    const schema = await freshPostgresSchema();
    const db = await createTaskDatabase({ url: schema.url });
    try {
      const r = await db.submit(
        job([
          leaf(1),
          leaf(2),
          leaf(3),
          leaf(4, { metadataFrom: [{ name: 't1', providerKey: 1 }] }),
        ]),
      );
      const [a, b, c] = r.ready;
      await db.startAttempts([a!.attemptId, b!.attemptId], WORKER);

      // A report of task 1 holds its attempt row while the cancel starts.
      let commitReport!: () => void;
      const held = new Promise<void>((resolve) => (commitReport = resolve));
      let locked!: () => void;
      const inside = new Promise<void>((resolve) => (locked = resolve));
      const reporting = db.sql.transaction(async (tx) => {
        await tx.run(
          `UPDATE eas_attempts SET state = 'succeeded', qc = 'passed', ended_at = ? WHERE id = ?`,
          [Date.now(), a!.attemptId],
        );
        await tx.run(`UPDATE eas_tasks SET state = 'done', finished_at = ? WHERE id = ?`, [
          Date.now(),
          a!.taskId,
        ]);
        locked();
        await held;
      });
      await inside;
      const cancelling = db.cancelJob(r.jobId);
      // Long enough for a cancel that does not wait to have read its counts.
      await new Promise((resolve) => setTimeout(resolve, 300));
      commitReport();
      const [, cancelled] = await Promise.all([reporting, cancelling]);

      const states = await db.sql.all<{ id: unknown; state: string }>(
        'SELECT id, state FROM eas_tasks WHERE job_id = ? AND control = 0 ORDER BY id',
        [r.jobId],
      );
      expect(states.map((s) => s.state)).toEqual(['done', 'cancelled', 'cancelled', 'cancelled']);
      // Task 2 running, task 3 queued, task 4 waiting; task 1 was done before the cancel's turn.
      expect(cancelled.tasks).toEqual({ waiting: 1, queued: 1, running: 1, stalled: 0 });
      expect(cancelled.cancelledTasks).toBe(3);
      expect([cancelled.cancelledAttempts, cancelled.runningAttempts]).toEqual([2, 1]);
      expect(c!.taskId).toBe(Number(states[2]!.id));
      // The report's attempt stays succeeded.
      const att = await db.sql.get<{ state: string }>(
        'SELECT state FROM eas_attempts WHERE id = ?',
        [a!.attemptId],
      );
      expect(att!.state).toBe('succeeded');
    } finally {
      await db.close();
      await schema.drop();
    }
  });
});
