import type { Knex } from 'knex';

/**
 * The stored totals of ended jobs change what they count: the timing sums add each attempt's
 * CPU with its child processes (`cpu_children_ms`) beside its own (`cpu_ms`), and the outcome
 * counts count only attempts that passed QC (an attempt that failed QC, its archive missing, had
 * its reported `PASS` counted as a detection).
 *
 * An external science code runs in a child process of the worker, so its attempt's own
 * `cpu_ms` is about nothing and its work is in `cpu_children_ms` (for an in-process handler the
 * two are equal). The dashboard's timings showed the mean of `cpu_ms`, which made every external
 * code look free; `eas timings` already used `cpu_children_ms`.
 *
 * The totals stored before this migration lack the new sums and may count failed attempts: they are dropped and every ended
 * job is marked for storing again (`totals_of` cleared), which the controller does, a few jobs
 * per reap; meanwhile their views are counted from their rows, as for a running job. A job whose
 * totals were refused (`totals_of = -1`) stays refused.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('eas_job_timings', (t) => {
    t.double('cpu_children_ms');
    t.integer('cpu_children_count').notNullable().defaultTo(0);
  });
  for (const table of ['eas_job_progress', 'eas_job_timings', 'eas_job_outcomes'])
    await knex(table).delete();
  await knex('eas_jobs').whereNot('totals_of', -1).update({ totals_of: null });
}

/** Drops the columns {@link up} added (totals stored since stay valid without them). */
export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('eas_job_timings', (t) => {
    t.dropColumn('cpu_children_ms');
    t.dropColumn('cpu_children_count');
  });
}
