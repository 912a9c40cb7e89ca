import type { Knex } from 'knex';

/**
 * Indexes for the dashboard's per-job views (DESIGN §7, §9: ≤ 200 ms each at 1 M tasks).
 *
 * - `(job_id, type, state, id)` covers one job's counts by type and state (no table row read;
 *   without it a 128,000-task job's counts read every row of the job: 430 ms on SQLite), and
 *   serves one job's tasks of a type (result plots, the task list's type filter).
 * - `(job_id, state, id)` replaces `(job_id, state)`: the same lookups, and a job's tasks in
 *   one state come out in id order, so a keyset page (`id > ? ORDER BY id LIMIT 100`) of a
 *   job's 100,000 done tasks reads 100 entries instead of sorting 100,000. It is no extra index
 *   for the lifecycle to update, only a wider one.
 * - `(job_id, depth, id)`: the task list's depth filter in id order; `depth` never changes, so
 *   it costs only at submission.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('eas_tasks', (t) => {
    t.index(['job_id', 'type', 'state', 'id'], 'eas_tasks_job_type_state');
    t.index(['job_id', 'state', 'id'], 'eas_tasks_job_state_id');
    t.index(['job_id', 'depth', 'id'], 'eas_tasks_job_depth');
  });
  await knex.schema.alterTable('eas_tasks', (t) => {
    t.dropIndex(['job_id', 'state'], 'eas_tasks_job_state');
  });
}

/** Restores the indexes of 0001 and drops those {@link up} created. */
export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('eas_tasks', (t) => {
    t.index(['job_id', 'state'], 'eas_tasks_job_state');
  });
  await knex.schema.alterTable('eas_tasks', (t) => {
    t.dropIndex(['job_id', 'type', 'state', 'id'], 'eas_tasks_job_type_state');
    t.dropIndex(['job_id', 'state', 'id'], 'eas_tasks_job_state_id');
    t.dropIndex(['job_id', 'depth', 'id'], 'eas_tasks_job_depth');
  });
}
