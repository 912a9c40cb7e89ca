import type { Knex } from 'knex';
import { dialectOfKnex, DIALECT_PROFILES } from '../../core/index.js';
import { RELEASE as RELEASE_OF_0005 } from './0005-take-in-one-write.js';
import { edited } from './sql-text.js';

/**
 * A finish and a run-time expansion that meet on a product serialise on its row (PostgreSQL).
 *
 * A do-while iteration or a conditional branch expanded at run time may read a file of its job
 * that another task produces. The expansion counted the input as unmet when it saw no QC-passed
 * version of it; the producer's finish, committing at the same moment, counted down only the
 * dependents it saw. Under read committed neither saw the other's rows, so the new consumer
 * waited for a count-down that never came, until the controller's reconcile repaired it (a
 * minute later). Now the finish locks its tasks' product rows (`FOR NO KEY UPDATE`) before it
 * looks for dependents, and the expansion locks the products it reads (`FOR SHARE`) before it
 * looks for their versions: whichever comes second waits for the first to commit and then sees
 * its rows. The general path (`releaseDependents`, `insertPlannedTasks`) does the same.
 */
export const RELEASE = edited(RELEASE_OF_0005, [
  [
    '  -- Dependents: one less unmet dependency',
    `  -- The products first: a run-time expansion reading one waits for this commit, or this
  -- waits for its commit and then sees its consumers.
  PERFORM 1 FROM eas_products WHERE producer_task_id = ANY (valid_tasks) ORDER BY id
    FOR NO KEY UPDATE;

  -- Dependents: one less unmet dependency`,
  ],
]);

/** Replaces the function where the engine has a server-side lifecycle (PostgreSQL). */
export async function up(knex: Knex): Promise<void> {
  if (!DIALECT_PROFILES[dialectOfKnex(knex)].serverLifecycle) return;
  await knex.raw(RELEASE);
}

/** Gives `eas_release` back its body of 0005. */
export async function down(knex: Knex): Promise<void> {
  if (!DIALECT_PROFILES[dialectOfKnex(knex)].serverLifecycle) return;
  await knex.raw(RELEASE_OF_0005);
}
