import type { Knex } from 'knex';
import { dialectOfKnex, DIALECT_PROFILES } from '../../core/index.js';
import { MARK_STARTED as MARK_STARTED_OF_0004 } from './0004-run-what-you-release.js';
import { RELEASE as RELEASE_OF_0010 } from './0010-lock-released-products.js';
import { edited } from './sql-text.js';

/**
 * A batch's rows matched without a join whose cost grows with the square of the batch
 * (PostgreSQL).
 *
 * Under the functions' generic plans the planner takes a set from `unnest` or a CTE for ten
 * rows, and joined two such sets by a nested loop that compares every row of one with every
 * row of the other. On batches of hundreds that was most of the statement: starting 500
 * attempts spent about 40 ms comparing 250,000 pairs (`Rows Removed by Join Filter`) to pair
 * each updated task with its attempt; a release of 250 dependents, 62,250 pairs to find each
 * one's place among the ready ones, and 31,125 more to read their counts. So a dispatcher's
 * commit of 300 results cost more a result than a worker's of 30.
 *
 * - `eas_mark_started`: the task update returns its attempt's id and number itself
 *   (`RETURNING` reads the row of `s` it was joined to), so nothing is joined back. A task has
 *   one queued attempt at most (a new attempt is made only when the one before has ended or
 *   stalled), so one row a task is one row an attempt; were two queued attempts of one task in
 *   one batch, the one not returned would be reported stale to its starter and, running in the
 *   record with nobody heartbeating it, be re-queued by the silent-attempt check.
 * - `eas_release`: a dependent's count and its place among the ready ones are read from the
 *   arrays by position (`array_position`, a loop in C over an array of a batch's size), from a
 *   single look-up of the tasks by id.
 */
const MARK_STARTED = edited(MARK_STARTED_OF_0004, [
  ['      RETURNING t.*\n', '      RETURNING t.*, s.id AS s_attempt_id, s.number AS s_number\n'],
  ['  SELECT s.id, s.number, t.id,', '  SELECT t.s_attempt_id, t.s_number, t.id,'],
  [
    '    FROM s JOIN u t ON t.id = s.task_id JOIN eas_jobs j ON j.id = t.job_id\n    ORDER BY s.id;',
    '    FROM u t JOIN eas_jobs j ON j.id = t.job_id\n    ORDER BY t.s_attempt_id;',
  ],
]);

const RELEASE = edited(RELEASE_OF_0010, [
  [
    `  SELECT coalesce(array_agg(t.id ORDER BY t.id) FILTER (WHERE t.unmet - r.n <= 0), '{}'),
      coalesce(array_agg(DISTINCT t.job_id), '{}')
    INTO ready_ids, live_jobs
    FROM eas_tasks t JOIN unnest(rel_ids, rel_ns) AS r(id, n) ON r.id = t.id
    WHERE t.id = ANY (rel_ids) AND t.state = 'waiting';`,
    `  SELECT coalesce(array_agg(t.id ORDER BY t.id)
                    FILTER (WHERE t.unmet - rel_ns[array_position(rel_ids, t.id)] <= 0), '{}'),
      coalesce(array_agg(DISTINCT t.job_id), '{}')
    INTO ready_ids, live_jobs
    FROM eas_tasks t
    WHERE t.id = ANY (rel_ids) AND t.state = 'waiting';`,
  ],
  [
    `    FROM unnest(rel_ids, rel_ns) AS r(id, n)
      LEFT JOIN unnest(ready_ids) WITH ORDINALITY AS q(id, k) ON q.id = r.id
    WHERE t.id = r.id AND t.state = 'waiting';`,
    `    FROM (SELECT x.id, x.n, array_position(ready_ids, x.id) AS k
            FROM unnest(rel_ids, rel_ns) AS x(id, n)) AS q
    WHERE t.id = q.id AND t.state = 'waiting';`,
  ],
  [
    '  UPDATE eas_tasks t SET unmet = t.unmet - r.n,',
    '  UPDATE eas_tasks t SET unmet = t.unmet - q.n,',
  ],
]);

/** Replaces the two functions where the engine has a server-side lifecycle (PostgreSQL). */
export async function up(knex: Knex): Promise<void> {
  if (!DIALECT_PROFILES[dialectOfKnex(knex)].serverLifecycle) return;
  await knex.raw(MARK_STARTED);
  await knex.raw(RELEASE);
}

/** Gives `eas_mark_started` its body of 0004 and `eas_release` its body of 0010. */
export async function down(knex: Knex): Promise<void> {
  if (!DIALECT_PROFILES[dialectOfKnex(knex)].serverLifecycle) return;
  await knex.raw(MARK_STARTED_OF_0004);
  await knex.raw(RELEASE_OF_0010);
}
