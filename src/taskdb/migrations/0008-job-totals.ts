import type { Knex } from 'knex';

/**
 * Totals of ended jobs, kept for the dashboard (DESIGN §7, §9: every view ≤ 200 ms at 1 M tasks).
 *
 * The dashboard's progress, timings and pass/fail views count tasks by type and state, sum
 * attempt times, and count reported outcomes, per job. Counted from the rows on every server
 * start, all jobs at once, they read every task, attempt or outcome of the database: on 1 M tasks
 * on SQLite, 716 ms for the timings and 320 ms for pass/fail on a slower machine. An ended job's
 * rows no longer change, so its totals are written once, after it ended
 * (`TaskDatabase.storeJobTotals`, run by the controller), and read from here:
 *
 * - `eas_job_progress`: tasks per job, task type and state.
 * - `eas_job_timings`: per job, task type and attempt state, the sums of `TimingTotals`.
 * - `eas_job_outcomes`: attempts per job, task type and reported `outcome` (keyed by the
 *   outcome's SHA-256).
 * - `eas_jobs.totals_of`: the job's `finished_at` when its totals were written. They count only
 *   while it equals the job's `finished_at`; a rerun clears both. `-1` marks a job whose totals
 *   could not be stored: it is counted from its rows and not tried again until its next end.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('eas_job_progress', (t) => {
    t.bigInteger('job_id').notNullable();
    t.string('type').notNullable();
    t.string('state').notNullable();
    t.integer('tasks').notNullable();
    t.primary(['job_id', 'type', 'state']);
  });
  await knex.schema.createTable('eas_job_timings', (t) => {
    t.bigInteger('job_id').notNullable();
    t.string('task_type').notNullable();
    t.string('state').notNullable();
    t.integer('attempts').notNullable();
    // Nullable like the attempts' own columns: a NaN read from PostgreSQL is NULL on SQLite.
    t.double('wall_ms');
    t.integer('wall_count').notNullable();
    t.double('min_wall_ms');
    t.double('max_wall_ms');
    t.double('cpu_ms');
    t.integer('cpu_count').notNullable();
    t.double('wait_ms');
    t.integer('wait_count').notNullable();
    t.primary(['job_id', 'task_type', 'state']);
  });
  await knex.schema.createTable('eas_job_outcomes', (t) => {
    t.bigInteger('job_id').notNullable();
    t.string('task_type').notNullable();
    // An outcome is free text of any length; its key is its SHA-256 (a PostgreSQL B-tree
    // entry holds at most about 2.7 kB).
    t.string('outcome_sha256', 64).notNullable();
    t.text('outcome').notNullable();
    t.integer('attempts').notNullable();
    t.primary(['job_id', 'task_type', 'outcome_sha256']);
  });
  await knex.schema.alterTable('eas_jobs', (t) => {
    t.bigInteger('totals_of');
  });
}

/** Drops what {@link up} created. */
export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('eas_jobs', (t) => {
    t.dropColumn('totals_of');
  });
  for (const table of ['eas_job_outcomes', 'eas_job_timings', 'eas_job_progress'])
    await knex.schema.dropTable(table);
}
