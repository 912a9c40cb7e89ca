import type { Knex } from 'knex';
import { dialectOfKnex, DIALECT_PROFILES } from '../../core/index.js';
import {
  FINISH_PASSED as FINISH_PASSED_OF_0002,
  START as START_OF_0002,
} from './0002-server-lifecycle.js';
import { edited } from './sql-text.js';

/**
 * A worker runs the dependents its own report releases (see `TakeRequest`), and the server-side
 * lifecycle functions keep one generic plan each.
 *
 * - `eas_mark_started(ids, now_ms, worker, host, pid)` is the start of migration 0002 without
 *   its asynchronous commit: it marks queued attempts running and returns the rows payloads are
 *   built from. `eas_start_attempts` becomes that plus the asynchronous commit, so both share
 *   one statement.
 * - `eas_finish_take(outcomes, now_ms, worker, host, pid, types, max)` is `eas_finish_passed`
 *   followed, in the same transaction, by the start of up to `max` of the attempts it released
 *   whose task type is one of `types`, under the reporting worker. It returns the finish result
 *   with those attempts moved from `ready` to `started` (their start rows). The finish keeps its
 *   synchronous commit: the starts ride on it.
 * - Each function runs with `plan_cache_mode = force_generic_plan`. Batches differ in size from
 *   call to call, and with custom plans PostgreSQL planned every statement of every call again
 *   (a batch of one spent half its time planning); their statements look rows up by id arrays,
 *   which one generic plan serves at any size (`enable_seqscan` stays off, as in 0002).
 */
const GENERIC_PLANS: [string, string] = [
  'LANGUAGE plpgsql SET enable_seqscan = off AS',
  'LANGUAGE plpgsql SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS',
];

/** 0002's start under a new name, without its asynchronous commit. */
export const MARK_STARTED = edited(START_OF_0002, [
  ['FUNCTION eas_start_attempts(', 'FUNCTION eas_mark_started('],
  ["  PERFORM set_config('synchronous_commit', 'off', true);\n", ''],
  GENERIC_PLANS,
]);

/** 0002's start, its statement now that of `eas_mark_started`. */
export const START =
  edited(START_OF_0002.slice(0, START_OF_0002.indexOf('$fn$') + '$fn$'.length), [GENERIC_PLANS]) +
  String.raw`
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  RETURN QUERY SELECT * FROM eas_mark_started(ids, now_ms, worker_id, worker_host, worker_pid);
END
$fn$;
`;

/**
 * 0002's finish, which looked for a live task of each job it touched after every batch (an
 * index probe per live state that, mid-run, wades through the entries of tasks that have just
 * left that state). A job one of whose dependents this batch counted down still has that
 * dependent live (waiting, or queued now), so only the other jobs are looked at.
 */
export const FINISH_PASSED = edited(FINISH_PASSED_OF_0002, [
  ['  ready_ids bigint[];\n', '  ready_ids bigint[];\n  live_jobs bigint[];\n'],
  [
    '      RETURNING t.id, t.unmet\n  )\n',
    '      RETURNING t.id, t.unmet, t.job_id\n  ), k AS (\n    SELECT array_agg(DISTINCT u.job_id) AS jobs FROM u\n  )\n',
  ],
  [
    "  SELECT coalesce(array_agg(u.id ORDER BY u.id), '{}') INTO ready_ids FROM u WHERE u.unmet <= 0;",
    "  SELECT coalesce(array_agg(u.id ORDER BY u.id) FILTER (WHERE u.unmet <= 0), '{}'),\n      coalesce((SELECT jobs FROM k), '{}')\n    INTO ready_ids, live_jobs FROM u;",
  ],
  [
    "        AND j.status = 'running'\n",
    "        AND j.status = 'running'\n        AND NOT j.id = ANY (live_jobs)\n",
  ],
  GENERIC_PLANS,
]);

export const FINISH_TAKE = String.raw`
CREATE OR REPLACE FUNCTION eas_finish_take(outcomes jsonb, now_ms bigint, worker_id text,
    worker_host text, worker_pid int, take_types text[], take_max int) RETURNS jsonb
LANGUAGE plpgsql SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  r jsonb;
  take_ids bigint[];
  started jsonb;
BEGIN
  r := eas_finish_passed(outcomes, now_ms);
  IF take_max <= 0 OR r->'fallback' IS NOT NULL OR jsonb_array_length(r->'ready') = 0 THEN
    RETURN r || jsonb_build_object('started', '[]'::jsonb);
  END IF;
  take_ids := ARRAY(SELECT (e->>'attemptId')::bigint FROM jsonb_array_elements(r->'ready') e
                    WHERE e->>'taskType' = ANY (take_types)
                    ORDER BY (e->>'attemptId')::bigint LIMIT take_max);
  IF cardinality(take_ids) = 0 THEN
    RETURN r || jsonb_build_object('started', '[]'::jsonb);
  END IF;
  SELECT coalesce(jsonb_agg(to_jsonb(s) ORDER BY s.attempt_id), '[]'::jsonb) INTO started
    FROM eas_mark_started(take_ids, now_ms, worker_id, worker_host, worker_pid) s;
  RETURN r || jsonb_build_object(
    'ready', (SELECT coalesce(jsonb_agg(e ORDER BY n), '[]'::jsonb)
                FROM jsonb_array_elements(r->'ready') WITH ORDINALITY AS x(e, n)
                WHERE NOT (e->>'attemptId')::bigint = ANY (take_ids)),
    'started', started);
END
$fn$;
`;

/** Creates the functions where the engine has a server-side lifecycle (PostgreSQL). */
export async function up(knex: Knex): Promise<void> {
  if (!DIALECT_PROFILES[dialectOfKnex(knex)].serverLifecycle) return;
  await knex.raw(MARK_STARTED);
  await knex.raw(START);
  await knex.raw(FINISH_PASSED);
  await knex.raw(FINISH_TAKE);
}

/** Drops what {@link up} created and gives `eas_start_attempts` back its body of 0002. */
export async function down(knex: Knex): Promise<void> {
  if (!DIALECT_PROFILES[dialectOfKnex(knex)].serverLifecycle) return;
  await knex.raw(
    'DROP FUNCTION IF EXISTS eas_finish_take(jsonb, bigint, text, text, int, text[], int)',
  );
  await knex.raw(START_OF_0002);
  await knex.raw('DROP FUNCTION IF EXISTS eas_mark_started(bigint[], bigint, text, text, int)');
  await knex.raw(FINISH_PASSED_OF_0002);
}
