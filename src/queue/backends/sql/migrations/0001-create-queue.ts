import type { Knex } from 'knex';

/**
 * Creates `eas_queue`: one row per queued attempt. A row is *ready* while `owner` is null and
 * *leased* while it is set; completing, failing or reclaiming deletes it, so the table holds
 * only live work and never grows with the run's history.
 *
 * Times are epoch milliseconds in BIGINT columns (written by the calling process's clock).
 * The statements are the SQL both engines share, so one migration serves SQLite and PostgreSQL.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE eas_queue (
    attempt_id BIGINT NOT NULL PRIMARY KEY,
    task_type TEXT NOT NULL,
    job_id BIGINT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    available_at BIGINT NOT NULL,
    owner TEXT,
    lease_expires_at BIGINT,
    enqueued_at BIGINT NOT NULL
  )`);
  // The claim index. Partial on the ready rows (DESIGN §5): a claim reads the first rows of
  // one task type in claim order, and leased rows never sit in its way. Its column order is
  // the claim's ORDER BY, so a claim is an index range scan that stops after LIMIT rows.
  await knex.raw(
    `CREATE INDEX eas_queue_ready ON eas_queue (task_type, priority DESC, available_at, attempt_id) WHERE owner IS NULL`,
  );
  // The reaper's index: leased rows by lease end, so reclaimExpired reads only expired leases.
  await knex.raw(
    `CREATE INDEX eas_queue_leased ON eas_queue (lease_expires_at) WHERE owner IS NOT NULL`,
  );
  // removeJob (a cancelled job) deletes by job without scanning the queue.
  await knex.raw(`CREATE INDEX eas_queue_job ON eas_queue (job_id)`);
}

/** Drops `eas_queue` and its indexes. */
export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS eas_queue');
}
