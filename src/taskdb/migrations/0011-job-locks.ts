import type { Knex } from 'knex';
import { dialectOfKnex, DIALECT_PROFILES } from '../../core/index.js';
import { START as START_OF_0004 } from './0004-run-what-you-release.js';
import { FINISH as FINISH_OF_0005 } from './0005-take-in-one-write.js';
import { edited } from './sql-text.js';

/**
 * Per-job advisory locks: a cancel, rerun or delete sees its job with nothing under way
 * (PostgreSQL).
 *
 * A cancel updated the job's live attempts, then its live tasks, in two statements under read
 * committed. A worker's report committing between them released dependents whose new attempts
 * the first statement had not seen: the tasks became `cancelled`, their attempts stayed live and
 * ran, finished, and set their tasks `done` after the cancel; a rerun then ran them again (a
 * conditional expanded twice). Its row locks, taken in another order than the workers', also
 * deadlocked with their reports and heartbeats.
 *
 * Now every transaction that moves a job's attempts or tasks on takes the job's shared advisory
 * lock (key `JOB_LOCK_SPACE` + job id) before its first row lock, jobs in id order: here the
 * server-side start and finish, through `eas_lock_jobs_shared`; on the general path `startAttempts`,
 * `finishAttempts`, `heartbeat`, `stallAttempts`, `expandDeferred` and `reconcile`. A cancel,
 * rerun or delete takes the exclusive one first: it waits for the transactions under way and
 * holds off new ones until it commits, after which they find their attempts cancelled.
 */
const LOCK_JOBS = String.raw`
CREATE OR REPLACE FUNCTION eas_lock_jobs_shared(ids bigint[]) RETURNS void
LANGUAGE plpgsql SET enable_seqscan = off AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(4990361439395905536 + s.job_id)
    FROM (SELECT DISTINCT job_id FROM eas_attempts WHERE id = ANY (ids) ORDER BY job_id) s;
END
$fn$;
`;

const START = edited(START_OF_0004, [
  [
    "  PERFORM set_config('synchronous_commit', 'off', true);\n",
    "  PERFORM set_config('synchronous_commit', 'off', true);\n  PERFORM eas_lock_jobs_shared(ids);\n",
  ],
]);

const FINISH = edited(FINISH_OF_0005, [
  [
    '  started jsonb;\nBEGIN\n  SELECT * INTO rec FROM eas_record_passed(outcomes, now_ms);',
    "  started jsonb;\nBEGIN\n  PERFORM eas_lock_jobs_shared(\n    ARRAY(SELECT (e->>'id')::bigint FROM jsonb_array_elements(outcomes) e));\n  SELECT * INTO rec FROM eas_record_passed(outcomes, now_ms);",
  ],
]);

/** Creates the lock function and restates the start and finish with it (PostgreSQL). */
export async function up(knex: Knex): Promise<void> {
  if (!DIALECT_PROFILES[dialectOfKnex(knex)].serverLifecycle) return;
  await knex.raw(LOCK_JOBS);
  await knex.raw(START);
  await knex.raw(FINISH);
}

/** Gives the start and finish back their bodies of 0004 and 0005, and drops the lock function. */
export async function down(knex: Knex): Promise<void> {
  if (!DIALECT_PROFILES[dialectOfKnex(knex)].serverLifecycle) return;
  await knex.raw(START_OF_0004);
  await knex.raw(FINISH_OF_0005);
  await knex.raw('DROP FUNCTION IF EXISTS eas_lock_jobs_shared(bigint[])');
}
