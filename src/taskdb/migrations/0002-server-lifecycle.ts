import type { Knex } from 'knex';
import { dialectOfKnex, DIALECT_PROFILES } from '../../core/index.js';

/**
 * Server-side lifecycle functions, on engines whose profile has `serverLifecycle` (PostgreSQL):
 * the two hot paths of every attempt, start and finish, each in one round trip per batch.
 *
 * `eas_finish_passed(outcomes jsonb, now_ms bigint)` records a batch of attempts that
 * succeeded and passed QC, and everything that follows from them, in one round trip: the
 * attempt rows, output versions and their metadata, the attempts' output metadata and log
 * lines, the tasks `done`, the dependents' counters, new attempts for the dependents that
 * became ready, and the jobs that ended. It is the same contract as the general
 * `finishAttempts` restricted to that common case, and it refuses the cases it does not
 * handle — a declared output that was not written — by returning `{"fallback": true}` before
 * changing anything, so the caller runs the general path instead.
 *
 * Both functions run with `enable_seqscan` off. Each of their statements touches a few rows
 * through an index; plans are cached per connection and chosen once, often while a job's
 * tasks are all alike (all waiting), and a plan that scans `eas_tasks` for "a live task of
 * this job" reads the whole table at the end of a million-task job.
 *
 * Locks are taken in id order (attempts, then dependents), as the general path does, so two
 * batches that share rows wait for each other instead of deadlocking.
 */
export const FINISH_PASSED = String.raw`
CREATE OR REPLACE FUNCTION eas_finish_passed(outcomes jsonb, now_ms bigint) RETURNS jsonb
LANGUAGE plpgsql SET enable_seqscan = off AS $fn$
DECLARE
  all_ids bigint[];
  valid_ids bigint[];
  valid_tasks bigint[];
  stale_ids bigint[];
  ready_ids bigint[];
  rel_ids bigint[];
  rel_ns int[];
  n_versions int;
  version_ids bigint[];
  n_ready int;
  attempt_ids bigint[];
  ready jsonb;
  finished jsonb;
BEGIN
  -- Ids as an array first: joined to a set-returning function, the planner would scan the
  -- whole attempts table; an array is looked up through the primary key.
  all_ids := ARRAY(SELECT (e->>'id')::bigint FROM jsonb_array_elements(outcomes) e);
  PERFORM 1 FROM eas_attempts WHERE id = ANY (all_ids) ORDER BY id FOR UPDATE;

  SELECT array_agg(a.id ORDER BY a.id), array_agg(a.task_id ORDER BY a.id)
    INTO valid_ids, valid_tasks
    FROM eas_attempts a JOIN jsonb_to_recordset(outcomes) AS o(id bigint, worker text) ON o.id = a.id
    WHERE a.id = ANY (all_ids) AND a.state = 'running' AND a.worker = o.worker;
  stale_ids := ARRAY(SELECT x FROM unnest(all_ids) x
                     WHERE valid_ids IS NULL OR NOT x = ANY (valid_ids));
  IF valid_ids IS NULL THEN
    RETURN jsonb_build_object('stale', to_jsonb(stale_ids), 'done', '[]'::jsonb,
      'ready', '[]'::jsonb, 'finished', '[]'::jsonb);
  END IF;

  -- A declared output that was not written blocks dependents: the general path's business.
  IF EXISTS (
    SELECT 1 FROM jsonb_to_recordset(outcomes) AS o(id bigint, outputs jsonb)
      JOIN eas_attempts a ON a.id = o.id
      JOIN eas_products p ON p.producer_task_id = a.task_id
    WHERE a.id = ANY (valid_ids)
      AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(o.outputs) w WHERE w->>'st' = p.semantic_type)
  ) THEN
    RETURN jsonb_build_object('fallback', true);
  END IF;

  UPDATE eas_attempts a SET state = 'succeeded', qc = 'passed', ended_at = o.ended_at,
      started_at = coalesce(a.started_at, o.started_at), wall_ms = o.wall_ms, cpu_ms = o.cpu_ms,
      cpu_children_ms = o.cpu_children_ms, exit_code = o.exit_code, signal = o.signal,
      error = o.error, traceback = o.traceback
    FROM jsonb_to_recordset(outcomes) AS o(id bigint, ended_at bigint, started_at bigint,
      wall_ms float8, cpu_ms float8, cpu_children_ms float8, exit_code int, signal text,
      error text, traceback text)
    WHERE a.id = o.id AND a.id = ANY (valid_ids);

  -- Output versions (ids from the counter, one block), then their metadata.
  SELECT count(*) INTO n_versions
    FROM jsonb_to_recordset(outcomes) AS o(id bigint, outputs jsonb)
      JOIN eas_attempts a ON a.id = o.id
      CROSS JOIN LATERAL jsonb_to_recordset(o.outputs) AS x(st text)
      JOIN eas_products p ON p.producer_task_id = a.task_id AND p.semantic_type = x.st
    WHERE a.id = ANY (valid_ids);
  IF n_versions > 0 THEN
    version_ids := ARRAY(SELECT nextval('eas_versions_id_seq') FROM generate_series(1, n_versions));
    WITH w AS (
      SELECT p.id AS product_id, a.id AS attempt_id, x.sha256, x.size, x.meta,
             row_number() OVER (ORDER BY a.id, p.id) AS k
        FROM jsonb_to_recordset(outcomes) AS o(id bigint, outputs jsonb)
          JOIN eas_attempts a ON a.id = o.id
          CROSS JOIN LATERAL jsonb_to_recordset(o.outputs) AS x(st text, sha256 text, size bigint, meta jsonb)
          JOIN eas_products p ON p.producer_task_id = a.task_id AND p.semantic_type = x.st
        WHERE a.id = ANY (valid_ids)
    ), v AS (
      INSERT INTO eas_versions (id, product_id, attempt_id, sha256, size, passed_qc, created_at)
        SELECT version_ids[k], product_id, attempt_id, sha256, size, 1, now_ms FROM w
        ON CONFLICT (product_id, attempt_id) DO NOTHING
        RETURNING id
    )
    INSERT INTO eas_metadata (owner_kind, owner_id, key, type, value)
      SELECT 'version', version_ids[w.k], m->>0, m->>1, m->>2
        FROM w CROSS JOIN LATERAL jsonb_array_elements(coalesce(w.meta, '[]'::jsonb)) m
        WHERE version_ids[w.k] IN (SELECT id FROM v)
      ON CONFLICT (owner_kind, owner_id, key) DO NOTHING;
  END IF;

  INSERT INTO eas_metadata (owner_kind, owner_id, key, type, value)
    SELECT 'attempt', o.id, m->>0, m->>1, m->>2
      FROM jsonb_to_recordset(outcomes) AS o(id bigint, meta jsonb)
        CROSS JOIN LATERAL jsonb_array_elements(coalesce(o.meta, '[]'::jsonb)) m
      WHERE o.id = ANY (valid_ids)
    ON CONFLICT (owner_kind, owner_id, key) DO NOTHING;

  INSERT INTO eas_log_lines (attempt_id, task_id, job_id, ts, level, stream, message)
    SELECT a.id, a.task_id, a.job_id, (l.v->>0)::bigint, l.v->>1, l.v->>2, l.v->>3
      FROM jsonb_to_recordset(outcomes) AS o(id bigint, logs jsonb)
        JOIN eas_attempts a ON a.id = o.id
        CROSS JOIN LATERAL jsonb_array_elements(coalesce(o.logs, '[]'::jsonb)) WITH ORDINALITY AS l(v, n)
      WHERE a.id = ANY (valid_ids)
      ORDER BY a.id, l.n;

  UPDATE eas_tasks SET state = 'done', finished_at = now_ms, updated_at = now_ms, reason = NULL
    WHERE id = ANY (valid_tasks);

  -- Dependents: one less unmet dependency per edge from a task that is now done.
  SELECT coalesce(array_agg(e.id ORDER BY e.id), '{}'), coalesce(array_agg(e.n ORDER BY e.id), '{}')
    INTO rel_ids, rel_ns
    FROM (
      SELECT c.id, count(*)::int AS n FROM (
        SELECT d.consumer_task_id AS id FROM eas_file_deps d JOIN eas_products p ON p.id = d.product_id
          WHERE p.producer_task_id = ANY (valid_tasks) AND d.met = 0
        UNION ALL
        SELECT md.consumer_task_id FROM eas_metadata_deps md WHERE md.provider_task_id = ANY (valid_tasks)
      ) c GROUP BY c.id
    ) e;
  PERFORM 1 FROM eas_tasks WHERE id = ANY (rel_ids) ORDER BY id FOR UPDATE;
  WITH u AS (
    UPDATE eas_tasks t SET unmet = t.unmet - r.n, updated_at = now_ms
      FROM unnest(rel_ids, rel_ns) AS r(id, n) WHERE t.id = r.id AND t.state = 'waiting'
      RETURNING t.id, t.unmet
  )
  SELECT coalesce(array_agg(u.id ORDER BY u.id), '{}') INTO ready_ids FROM u WHERE u.unmet <= 0;

  n_ready := coalesce(array_length(ready_ids, 1), 0);
  ready := '[]'::jsonb;
  IF n_ready > 0 THEN
    attempt_ids := ARRAY(SELECT nextval('eas_attempts_id_seq') FROM generate_series(1, n_ready));
    INSERT INTO eas_attempts (id, task_id, job_id, number, kind, state, task_type, queued_at, available_at)
      SELECT attempt_ids[r.k], t.id, t.job_id, t.attempt_count + 1, 'first', 'queued', t.type, now_ms, now_ms
        FROM unnest(ready_ids) WITH ORDINALITY AS r(id, k) JOIN eas_tasks t ON t.id = r.id;
    UPDATE eas_tasks t SET state = 'queued', attempt_count = t.attempt_count + 1, updated_at = now_ms,
        reason = NULL, current_attempt_id = attempt_ids[r.k]
      FROM unnest(ready_ids) WITH ORDINALITY AS r(id, k) WHERE t.id = r.id;
    SELECT jsonb_agg(jsonb_build_object('attemptId', attempt_ids[r.k], 'taskId', t.id,
        'jobId', t.job_id, 'taskType', t.type, 'priority', j.priority, 'availableAt', now_ms) ORDER BY r.k)
      INTO ready
      FROM unnest(ready_ids) WITH ORDINALITY AS r(id, k)
        JOIN eas_tasks t ON t.id = r.id JOIN eas_jobs j ON j.id = t.job_id;
  END IF;

  WITH s AS (
    UPDATE eas_jobs j SET finished_at = now_ms,
        status = CASE WHEN EXISTS (SELECT 1 FROM eas_tasks x WHERE x.job_id = j.id AND x.state IN ('failed', 'blocked'))
                      THEN 'failed' ELSE 'done' END
      WHERE j.id IN (SELECT DISTINCT job_id FROM eas_attempts WHERE id = ANY (valid_ids))
        AND j.status = 'running'
        AND NOT EXISTS (SELECT 1 FROM eas_tasks x WHERE x.job_id = j.id
                          AND x.state IN ('waiting', 'queued', 'running', 'stalled'))
      RETURNING j.id, j.status
  )
  SELECT coalesce(jsonb_agg(jsonb_build_object('jobId', s.id, 'status', s.status)), '[]'::jsonb)
    INTO finished FROM s;

  RETURN jsonb_build_object('stale', to_jsonb(stale_ids), 'done', to_jsonb(valid_tasks),
    'ready', ready, 'finished', finished);
END
$fn$;
`;

/**
 * `eas_start_attempts(ids, now_ms, worker, host, pid)` marks queued attempts and their tasks
 * running under a worker and returns the rows their payloads are built from, with the metadata
 * each task requested from its providers: one round trip, and a plan the server keeps (a plain
 * statement is planned again at every call).
 *
 * Its commit is asynchronous (`synchronous_commit` off for that transaction only): a server
 * crash may forget the last starts of the moment before it, never half of one. Such an
 * attempt is `queued` again in the record; its worker's report is refused as stale, its
 * heartbeat tells the worker to stop it, and it runs again. What a start records (who runs
 * what since when) is worth no disk flush; a finish, which records results, keeps the flush.
 */
export const START = String.raw`
CREATE OR REPLACE FUNCTION eas_start_attempts(ids bigint[], now_ms bigint, worker_id text,
    worker_host text, worker_pid int)
RETURNS TABLE (attempt_id bigint, number int, id bigint, job_id bigint, type text, name text,
    path text, working_directory text, description text, metadata text, job_name text,
    job_seed text, has_inputs boolean, has_outputs boolean, has_requested boolean,
    requested jsonb)
LANGUAGE plpgsql SET enable_seqscan = off AS $fn$
#variable_conflict use_column
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  RETURN QUERY
  WITH s AS (
    UPDATE eas_attempts a SET state = 'running', started_at = now_ms, heartbeat_at = now_ms,
        worker = worker_id, host = worker_host, pid = worker_pid
      WHERE a.id = ANY (ids) AND a.state = 'queued'
      RETURNING a.id, a.task_id, a.number
  ), u AS (
    UPDATE eas_tasks t SET state = 'running', updated_at = now_ms FROM s WHERE t.id = s.task_id
      RETURNING t.*
  )
  SELECT s.id, s.number, t.id, t.job_id, t.type::text, t.name::text, t.path, t.working_directory,
      t.description, t.metadata, j.name::text, j.seed::text,
      EXISTS (SELECT 1 FROM eas_file_deps d WHERE d.consumer_task_id = t.id),
      EXISTS (SELECT 1 FROM eas_products p WHERE p.producer_task_id = t.id),
      EXISTS (SELECT 1 FROM eas_metadata_deps md WHERE md.consumer_task_id = t.id),
      (SELECT jsonb_agg(jsonb_build_array(md.name, m.key, m.type, m.value))
         FROM eas_metadata_deps md
           JOIN eas_tasks pt ON pt.id = md.provider_task_id
           LEFT JOIN eas_metadata m ON m.owner_kind = 'attempt' AND m.owner_id = pt.current_attempt_id
         WHERE md.consumer_task_id = t.id)
    FROM s JOIN u t ON t.id = s.task_id JOIN eas_jobs j ON j.id = t.job_id
    ORDER BY s.id;
END
$fn$;
`;

/**
 * Sequences for attempt and version ids (see `DialectProfile.sequenceIds`), starting after
 * what the counters have handed out, and owned by the id columns (so a database copy moves
 * them past the copied ids like any serial column).
 */
const SEQUENCES = ['attempt', 'version'].map((space) => {
  const table = `eas_${space}s`;
  return String.raw`
CREATE SEQUENCE ${table}_id_seq OWNED BY ${table}.id;
SELECT setval('${table}_id_seq', (SELECT value FROM eas_counters WHERE name = '${space}') + 1, false);
ALTER TABLE ${table} ALTER COLUMN id SET DEFAULT nextval('${table}_id_seq');
`;
});

/** Creates the sequences and the server-side lifecycle functions where the engine has them. */
export async function up(knex: Knex): Promise<void> {
  const profile = DIALECT_PROFILES[dialectOfKnex(knex)];
  if (profile.sequenceIds) for (const sql of SEQUENCES) await knex.raw(sql);
  if (!profile.serverLifecycle) return;
  await knex.raw(START);
  await knex.raw(FINISH_PASSED);
}

/** Drops what {@link up} created. */
export async function down(knex: Knex): Promise<void> {
  const profile = DIALECT_PROFILES[dialectOfKnex(knex)];
  if (profile.sequenceIds) {
    for (const table of ['eas_attempts', 'eas_versions']) {
      await knex.raw(`ALTER TABLE ${table} ALTER COLUMN id DROP DEFAULT`);
      await knex.raw(`DROP SEQUENCE IF EXISTS ${table}_id_seq`);
    }
  }
  if (!profile.serverLifecycle) return;
  await knex.raw('DROP FUNCTION IF EXISTS eas_finish_passed(jsonb, bigint)');
  await knex.raw('DROP FUNCTION IF EXISTS eas_start_attempts(bigint[], bigint, text, text, int)');
}
