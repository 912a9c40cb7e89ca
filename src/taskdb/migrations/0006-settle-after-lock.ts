import type { Knex } from 'knex';
import { dialectOfKnex, DIALECT_PROFILES } from '../../core/index.js';
import { SETTLE_JOBS as SETTLE_JOBS_OF_0005 } from './0005-take-in-one-write.js';

/**
 * The server-side finish ends a job only after locking its row (PostgreSQL).
 *
 * `eas_settle_jobs` of 0005 ended, in one update, each job of the batch with no live task. A
 * rerun reopening such a job in a transaction not yet committed holds the job's row; the update
 * waited for it and then, re-checking only the row it had waited for, ended the job the rerun
 * had just reopened. Now the jobs that look ended are listed first (one read, the common
 * answer being none), their rows are locked in id order, and the update that ends them reads
 * anew, seeing what the rerun committed. The general path's `settleJobs` does the same.
 */
const SETTLE_JOBS = String.raw`
CREATE OR REPLACE FUNCTION eas_settle_jobs(valid_ids bigint[], live_jobs bigint[], now_ms bigint)
RETURNS jsonb
LANGUAGE plpgsql SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  ending bigint[];
  finished jsonb;
BEGIN
  ending := ARRAY(
    SELECT j.id FROM eas_jobs j
      WHERE j.id IN (SELECT DISTINCT job_id FROM eas_attempts WHERE id = ANY (valid_ids))
        AND j.status = 'running'
        AND NOT j.id = ANY (live_jobs)
        AND NOT EXISTS (SELECT 1 FROM eas_tasks x WHERE x.job_id = j.id
                          AND x.state IN ('waiting', 'queued', 'running', 'stalled'))
      ORDER BY j.id);
  IF cardinality(ending) = 0 THEN
    RETURN '[]'::jsonb;
  END IF;
  PERFORM 1 FROM eas_jobs WHERE id = ANY (ending) ORDER BY id FOR UPDATE;
  WITH s AS (
    UPDATE eas_jobs j SET finished_at = now_ms,
        status = CASE WHEN EXISTS (SELECT 1 FROM eas_tasks x WHERE x.job_id = j.id AND x.state IN ('failed', 'blocked'))
                      THEN 'failed' ELSE 'done' END
      WHERE j.id = ANY (ending)
        AND j.status = 'running'
        AND NOT EXISTS (SELECT 1 FROM eas_tasks x WHERE x.job_id = j.id
                          AND x.state IN ('waiting', 'queued', 'running', 'stalled'))
      RETURNING j.id, j.status
  )
  SELECT coalesce(jsonb_agg(jsonb_build_object('jobId', s.id, 'status', s.status)), '[]'::jsonb)
    INTO finished FROM s;
  RETURN finished;
END
$fn$;
`;

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
