import type { Knex } from 'knex';
import { dialectOfKnex, DIALECT_PROFILES } from '../../core/index.js';
import { SETTLE_JOBS as SETTLE_JOBS_OF_0005 } from './0005-take-in-one-write.js';
import { between, edited } from './sql-text.js';

/** 0005's condition for a job to end: among the batch's, running, not known live, no live task. */
const ENDED = between(SETTLE_JOBS_OF_0005, '      WHERE j.id IN', '      RETURNING');

/**
 * The server-side finish ends a job only after locking its row (PostgreSQL).
 *
 * `eas_settle_jobs` of 0005 ended, in one update, each job of the batch with no live task. A
 * rerun reopening such a job in a transaction not yet committed holds the job's row; the update
 * waited for it and then, re-checking only the row it had waited for, ended the job the rerun
 * had just reopened. Now the jobs that look ended are listed first (one read, the common
 * answer being none), their rows are locked in id order, and the update that ends them reads
 * anew, seeing what the rerun committed. The general path's `settleJobs` does the same.
 *
 * Derived from 0005's text: its update's condition is edited first, then the list, taken from
 * 0005's condition, goes in.
 */
const SETTLE_JOBS = edited(SETTLE_JOBS_OF_0005, [
  [
    "      WHERE j.id IN (SELECT DISTINCT job_id FROM eas_attempts WHERE id = ANY (valid_ids))\n        AND j.status = 'running'\n        AND NOT j.id = ANY (live_jobs)\n",
    "      WHERE j.id = ANY (ending)\n        AND j.status = 'running'\n",
  ],
  [
    'DECLARE\n  finished jsonb;\nBEGIN\n',
    `DECLARE
  ending bigint[];
  finished jsonb;
BEGIN
  ending := ARRAY(
    SELECT j.id FROM eas_jobs j
${ENDED}      ORDER BY j.id);
  IF cardinality(ending) = 0 THEN
    RETURN '[]'::jsonb;
  END IF;
  PERFORM 1 FROM eas_jobs WHERE id = ANY (ending) ORDER BY id FOR UPDATE;
`,
  ],
]);

/** Replaces the function where the engine has a server-side lifecycle (PostgreSQL). */
export async function up(knex: Knex): Promise<void> {
  if (!DIALECT_PROFILES[dialectOfKnex(knex)].serverLifecycle) return;
  await knex.raw(SETTLE_JOBS);
}

/** Gives `eas_settle_jobs` back its body of 0005. */
export async function down(knex: Knex): Promise<void> {
  if (!DIALECT_PROFILES[dialectOfKnex(knex)].serverLifecycle) return;
  await knex.raw(SETTLE_JOBS_OF_0005);
}
