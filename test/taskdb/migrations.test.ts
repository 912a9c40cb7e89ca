/**
 * Migrations that change what is already stored, applied to a database that holds such data:
 * 0009 drops the job totals stored without the CPU of child processes and marks those jobs for
 * storing again, on SQLite and PostgreSQL.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqlDatabase } from '../../src/core/index.js';
import { TaskDatabase, timingTotals } from '../../src/taskdb/index.js';
import * as m0009 from '../../src/taskdb/migrations/0009-timing-cpu-children.js';
import { job, leaf, ok, WORKER } from '../contracts/taskdb-contract.js';
import { freshPostgresSchema, postgresAvailable, tempDir } from '../helpers/services.js';

const pgOk = await postgresAvailable();

async function storedAgainAfter0009(url: string): Promise<void> {
  const sql = await openSqlDatabase(url);
  try {
    const db = new TaskDatabase(sql);
    await db.migrate();
    // Two ended jobs with stored totals, and one whose totals the database refused.
    const ids: number[] = [];
    for (const name of ['a', 'b', 'refused']) {
      const r = await db.submit(job([leaf(1)], name));
      ids.push(r.jobId);
      const attemptId = r.ready[0]!.attemptId;
      await db.startAttempts([attemptId], WORKER);
      // As an external code: little CPU of its own, 40 ms in its child process.
      await db.finishAttempts([{ ...ok(attemptId), cpuMs: 0.5, cpuChildrenMs: 40 }]);
    }
    expect((await db.storeJobTotals(10)).stored).toEqual(ids);
    await sql.run('UPDATE eas_jobs SET totals_of = -1 WHERE id = ?', [ids[2]!]);

    // As a database migrated up to 0008 held them: no CPU-with-children sums.
    await m0009.down(sql.knex);
    await sql.run("DELETE FROM eas_migrations WHERE name = '0009-timing-cpu-children'");
    await db.migrate();

    for (const table of ['eas_job_progress', 'eas_job_timings', 'eas_job_outcomes'])
      expect(await sql.all(`SELECT * FROM ${table}`)).toEqual([]);
    const marks = await sql.all<{ id: unknown; totals_of: unknown }>(
      'SELECT id, totals_of FROM eas_jobs ORDER BY id',
    );
    expect(
      marks.map((m) => [Number(m.id), m.totals_of === null ? null : Number(m.totals_of)]),
    ).toEqual([
      [ids[0], null],
      [ids[1], null],
      [ids[2], -1],
    ]);
    // Meanwhile counted from the rows; then stored again, with the new sums.
    const counted = await timingTotals(sql, ids);
    expect(counted.map((t) => t.cpuChildrenMs)).toEqual([40, 40, 40]);
    expect((await db.storeJobTotals(10)).stored).toEqual(ids.slice(0, 2));
    expect(
      (await sql.all<{ c: unknown }>('SELECT cpu_children_ms AS c FROM eas_job_timings')).map((r) =>
        Number(r.c),
      ),
    ).toEqual([40, 40]);
    expect(await timingTotals(sql, ids)).toEqual(counted);
  } finally {
    await sql.close();
  }
}

describe('migration 0009 on a database with stored job totals', () => {
  it('on SQLite: drops them, marks the jobs for storing again, keeps a refused job refused', async () => {
    const { dir, remove } = tempDir('eas-migration-');
    try {
      await storedAgainAfter0009(`sqlite:${join(dir, 'eas.db')}`);
    } finally {
      remove();
    }
  });

  it.runIf(pgOk)('on PostgreSQL: the same', async () => {
    const schema = await freshPostgresSchema();
    try {
      await storedAgainAfter0009(schema.url);
    } finally {
      await schema.drop();
    }
  });
});
