import type { Knex } from 'knex';
import { dialectOfKnex, DIALECT_PROFILES } from '../../core/index.js';
import {
  FINISH_PASSED as FINISH_PASSED_OF_0004,
  FINISH_TAKE as FINISH_TAKE_OF_0004,
} from './0004-run-what-you-release.js';
import { between, edited } from './sql-text.js';

/**
 * Fewer row versions per task on the server-side finish (PostgreSQL).
 *
 * Every update of a task row that changes its `state` writes a new entry into each of the
 * table's indexes, and 0004 wrote a released dependent that its reporting worker takes three
 * times in the same transaction (counter down, `queued`, `running`) and its attempt twice
 * (inserted `queued`, updated `running`). Now:
 *
 * - A dependent's counter, its new state and its new attempt's id are one update: `running`
 *   when the reporting worker takes it, `queued` otherwise, `waiting` with a lower counter
 *   when providers are still missing.
 * - A taken dependent's attempt is inserted `running`, under the worker, with its start and
 *   heartbeat times.
 * - A batch that carries no output file, output metadata or log line skips those statements.
 *
 * The finish is split into three functions that `eas_finish_passed` and `eas_finish_take`
 * share: `eas_record_passed` (attempts, outputs, tasks `done`), `eas_release` (dependents,
 * with or without taking) and `eas_settle_jobs` (jobs that ended).
 * Results, rows and ids are those of 0004: the server-lifecycle tests compare every step and
 * every table with the general path.
 */
/**
 * `eas_record_passed(outcomes, now_ms)`: 0004's finish up to its dependents (the attempts, their
 * outputs, metadata and log lines, the tasks `done`), its statements derived from 0004's text,
 * each of the three optional inserts behind a test that the batch carries such rows. Returns
 * the valid attempts and their tasks, the stale ids, and whether the batch needs the general
 * path.
 */
export const RECORD_PASSED =
  String.raw`
CREATE OR REPLACE FUNCTION eas_record_passed(outcomes jsonb, now_ms bigint,
    OUT valid_ids bigint[], OUT valid_tasks bigint[], OUT stale_ids bigint[], OUT fallback boolean)
LANGUAGE plpgsql SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  all_ids bigint[];
  n_versions int;
  version_ids bigint[];
BEGIN
  fallback := false;
` +
  edited(between(FINISH_PASSED_OF_0004, '  -- Ids as an array first', '  -- Dependents:'), [
    [
      "    RETURN jsonb_build_object('stale', to_jsonb(stale_ids), 'done', '[]'::jsonb,\n      'ready', '[]'::jsonb, 'finished', '[]'::jsonb);\n",
      "    valid_ids := '{}';\n    valid_tasks := '{}';\n    RETURN;\n",
    ],
    ["    RETURN jsonb_build_object('fallback', true);\n", '    fallback := true;\n    RETURN;\n'],
    [
      '  SELECT count(*) INTO n_versions',
      "  IF NOT jsonb_path_exists(outcomes, '$[*].outputs[*]') THEN\n    n_versions := 0;\n  ELSE\n  SELECT count(*) INTO n_versions",
    ],
    [
      '    WHERE a.id = ANY (valid_ids);\n  IF n_versions > 0 THEN',
      '    WHERE a.id = ANY (valid_ids);\n  END IF;\n  IF n_versions > 0 THEN',
    ],
    [
      "  INSERT INTO eas_metadata (owner_kind, owner_id, key, type, value)\n    SELECT 'attempt'",
      "  IF jsonb_path_exists(outcomes, '$[*].meta[*]') THEN\n  INSERT INTO eas_metadata (owner_kind, owner_id, key, type, value)\n    SELECT 'attempt'",
    ],
    [
      '    ON CONFLICT (owner_kind, owner_id, key) DO NOTHING;\n\n  INSERT INTO eas_log_lines',
      "    ON CONFLICT (owner_kind, owner_id, key) DO NOTHING;\n  END IF;\n\n  IF jsonb_path_exists(outcomes, '$[*].logs[*]') THEN\n  INSERT INTO eas_log_lines",
    ],
    ['      ORDER BY a.id, l.n;\n', '      ORDER BY a.id, l.n;\n  END IF;\n'],
  ]) +
  String.raw`END
$fn$;
`;

/**
 * `eas_release(valid_tasks, now_ms, worker…, take_types, take_max)`: one less unmet dependency
 * per edge from a task now done; a dependent at zero gets its first attempt, `running` under
 * the worker when it is one of the first `take_max` (by task id, so by attempt id) whose type
 * is in `take_types`, `queued` otherwise. Returns the queued ones as `ready` (in attempt id
 * order), the taken attempts' ids, and the jobs of every dependent counted down (still live).
 */
export const RELEASE =
  String.raw`
CREATE OR REPLACE FUNCTION eas_release(valid_tasks bigint[], now_ms bigint, worker_id text,
    worker_host text, worker_pid int, take_types text[], take_max int,
    OUT ready jsonb, OUT taken bigint[], OUT live_jobs bigint[])
LANGUAGE plpgsql SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  rel_ids bigint[];
  rel_ns int[];
  ready_ids bigint[];
  attempt_ids bigint[];
  n_ready int;
BEGIN
  ready := '[]'::jsonb;
  taken := '{}';
  live_jobs := '{}';
` +
  // 0004's dependents and their locks: every one in id order, whatever its state (one a rerun
  // is reopening is waited for).
  between(FINISH_PASSED_OF_0004, '  -- Dependents:', '  WITH u AS (') +
  String.raw`  IF cardinality(rel_ids) = 0 THEN
    RETURN;
  END IF;

  -- The counters and states read under the lock decide which dependents are ready.
  SELECT coalesce(array_agg(t.id ORDER BY t.id) FILTER (WHERE t.unmet - r.n <= 0), '{}'),
      coalesce(array_agg(DISTINCT t.job_id), '{}')
    INTO ready_ids, live_jobs
    FROM eas_tasks t JOIN unnest(rel_ids, rel_ns) AS r(id, n) ON r.id = t.id
    WHERE t.id = ANY (rel_ids) AND t.state = 'waiting';

  n_ready := cardinality(ready_ids);
  IF n_ready > 0 THEN
    attempt_ids := ARRAY(SELECT nextval('eas_attempts_id_seq') FROM generate_series(1, n_ready));
    IF take_max > 0 THEN
      taken := ARRAY(SELECT t.id FROM eas_tasks t WHERE t.id = ANY (ready_ids)
                       AND t.type = ANY (take_types) ORDER BY t.id LIMIT take_max);
    END IF;
    INSERT INTO eas_attempts (id, task_id, job_id, number, kind, state, task_type, queued_at,
        available_at, started_at, heartbeat_at, worker, host, pid)
      SELECT attempt_ids[r.k], t.id, t.job_id, t.attempt_count + 1, 'first',
          CASE WHEN x.tk THEN 'running' ELSE 'queued' END, t.type, now_ms, now_ms,
          CASE WHEN x.tk THEN now_ms END, CASE WHEN x.tk THEN now_ms END,
          CASE WHEN x.tk THEN worker_id END, CASE WHEN x.tk THEN worker_host END,
          CASE WHEN x.tk THEN worker_pid END
        FROM unnest(ready_ids) WITH ORDINALITY AS r(id, k) JOIN eas_tasks t ON t.id = r.id
          CROSS JOIN LATERAL (SELECT t.id = ANY (taken) AS tk) x;
  END IF;

  -- One write per dependent: its counter, and for a ready one its state and attempt.
  UPDATE eas_tasks t SET unmet = t.unmet - r.n, updated_at = now_ms,
      state = CASE WHEN q.k IS NULL THEN t.state
                   WHEN t.id = ANY (taken) THEN 'running' ELSE 'queued' END,
      attempt_count = CASE WHEN q.k IS NULL THEN t.attempt_count ELSE t.attempt_count + 1 END,
      reason = CASE WHEN q.k IS NULL THEN t.reason END,
      current_attempt_id = CASE WHEN q.k IS NULL THEN t.current_attempt_id ELSE attempt_ids[q.k] END
    FROM unnest(rel_ids, rel_ns) AS r(id, n)
      LEFT JOIN unnest(ready_ids) WITH ORDINALITY AS q(id, k) ON q.id = r.id
    WHERE t.id = r.id AND t.state = 'waiting';

  IF n_ready > cardinality(taken) THEN
    SELECT jsonb_agg(jsonb_build_object('attemptId', attempt_ids[r.k], 'taskId', t.id,
        'jobId', t.job_id, 'taskType', t.type, 'priority', j.priority, 'availableAt', now_ms) ORDER BY r.k)
      INTO ready
      FROM unnest(ready_ids) WITH ORDINALITY AS r(id, k)
        JOIN eas_tasks t ON t.id = r.id JOIN eas_jobs j ON j.id = t.job_id
      WHERE NOT t.id = ANY (taken);
  END IF;
  IF cardinality(taken) > 0 THEN
    taken := ARRAY(SELECT attempt_ids[r.k] FROM unnest(ready_ids) WITH ORDINALITY AS r(id, k)
                     WHERE r.id = ANY (taken) ORDER BY r.k);
  END IF;
END
$fn$;
`;

/**
 * `eas_settle_jobs(valid_ids, live_jobs, now_ms)`: ends the running jobs of the given
 * attempts that have no live task left (`failed` when one failed or is blocked, else `done`);
 * `live_jobs` are known to have one. Returns `[{jobId, status}]`.
 */
export const SETTLE_JOBS =
  String.raw`
CREATE OR REPLACE FUNCTION eas_settle_jobs(valid_ids bigint[], live_jobs bigint[], now_ms bigint)
RETURNS jsonb
LANGUAGE plpgsql SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  finished jsonb;
BEGIN
` +
  between(
    FINISH_PASSED_OF_0004,
    '  WITH s AS (\n    UPDATE eas_jobs',
    '\n  RETURN jsonb_build_object(',
  ) +
  String.raw`
  RETURN finished;
END
$fn$;
`;

/** The finish of 0004 from the parts above, and the same with taking. */
export const FINISH = String.raw`
CREATE OR REPLACE FUNCTION eas_finish_passed(outcomes jsonb, now_ms bigint) RETURNS jsonb
LANGUAGE plpgsql SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $fn$
BEGIN
  RETURN eas_finish_take(outcomes, now_ms, NULL, NULL, NULL, '{}', 0) - 'started';
END
$fn$;

CREATE OR REPLACE FUNCTION eas_finish_take(outcomes jsonb, now_ms bigint, worker_id text,
    worker_host text, worker_pid int, take_types text[], take_max int) RETURNS jsonb
LANGUAGE plpgsql SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  rec record;
  rel record;
  started jsonb;
BEGIN
  SELECT * INTO rec FROM eas_record_passed(outcomes, now_ms);
  IF rec.fallback THEN
    RETURN jsonb_build_object('fallback', true, 'started', '[]'::jsonb);
  END IF;
  IF cardinality(rec.valid_ids) = 0 THEN
    RETURN jsonb_build_object('stale', to_jsonb(rec.stale_ids), 'done', '[]'::jsonb,
      'ready', '[]'::jsonb, 'finished', '[]'::jsonb, 'started', '[]'::jsonb);
  END IF;
  SELECT * INTO rel
    FROM eas_release(rec.valid_tasks, now_ms, worker_id, worker_host, worker_pid, take_types, take_max);
  started := '[]'::jsonb;
  IF cardinality(rel.taken) > 0 THEN
    -- The columns of eas_mark_started, for attempts that already run.
    SELECT jsonb_agg(jsonb_build_object('attempt_id', a.id, 'number', a.number, 'id', t.id,
        'job_id', t.job_id, 'type', t.type, 'name', t.name, 'path', t.path,
        'working_directory', t.working_directory, 'description', t.description,
        'metadata', t.metadata, 'job_name', j.name, 'job_seed', j.seed,
        'has_inputs', EXISTS (SELECT 1 FROM eas_file_deps d WHERE d.consumer_task_id = t.id),
        'has_outputs', EXISTS (SELECT 1 FROM eas_products p WHERE p.producer_task_id = t.id),
        'has_requested', EXISTS (SELECT 1 FROM eas_metadata_deps md WHERE md.consumer_task_id = t.id),
        'requested', (SELECT jsonb_agg(jsonb_build_array(md.name, m.key, m.type, m.value))
           FROM eas_metadata_deps md
             JOIN eas_tasks pt ON pt.id = md.provider_task_id
             LEFT JOIN eas_metadata m ON m.owner_kind = 'attempt' AND m.owner_id = pt.current_attempt_id
           WHERE md.consumer_task_id = t.id)) ORDER BY a.id)
      INTO started
      FROM eas_attempts a JOIN eas_tasks t ON t.id = a.task_id JOIN eas_jobs j ON j.id = t.job_id
      WHERE a.id = ANY (rel.taken);
  END IF;
  RETURN jsonb_build_object('stale', to_jsonb(rec.stale_ids), 'done', to_jsonb(rec.valid_tasks),
    'ready', rel.ready, 'finished', eas_settle_jobs(rec.valid_ids, rel.live_jobs, now_ms),
    'started', started);
END
$fn$;
`;

/** Creates the functions where the engine has a server-side lifecycle (PostgreSQL). */
export async function up(knex: Knex): Promise<void> {
  if (!DIALECT_PROFILES[dialectOfKnex(knex)].serverLifecycle) return;
  for (const sql of [RECORD_PASSED, RELEASE, SETTLE_JOBS, FINISH]) await knex.raw(sql);
}

/** Gives the two finish functions back their bodies of 0004 and drops the parts. */
export async function down(knex: Knex): Promise<void> {
  if (!DIALECT_PROFILES[dialectOfKnex(knex)].serverLifecycle) return;
  await knex.raw(FINISH_PASSED_OF_0004);
  await knex.raw(FINISH_TAKE_OF_0004);
  for (const fn of [
    'eas_settle_jobs(bigint[], bigint[], bigint)',
    'eas_release(bigint[], bigint, text, text, int, text[], int)',
    'eas_record_passed(jsonb, bigint)',
  ])
    await knex.raw(`DROP FUNCTION IF EXISTS ${fn}`);
}
