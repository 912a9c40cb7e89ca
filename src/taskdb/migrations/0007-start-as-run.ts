import type { Knex } from 'knex';
import { dialectOfKnex, DIALECT_PROFILES } from '../../core/index.js';
import { RECORD_PASSED as RECORD_PASSED_OF_0005 } from './0005-take-in-one-write.js';
import { edited } from './sql-text.js';

/**
 * An attempt's start is when its worker ran it, as the worker reports it (PostgreSQL).
 *
 * A finish kept the start the database had recorded. For a dependent taken by a report
 * (`eas_release`) that was the report's clock, read when the report began: a report that
 * waited for another's locks released a dependent whose other provider, reported meanwhile,
 * had ended after that moment, and the record showed the dependent started before its
 * provider ended. The worker's own start (`AttemptOutcome.startedAt`), taken once the report
 * answered, is now kept (the recorded one remains only as a fallback for a report without
 * one). The general path's `finishAttempts` does the same.
 */
const RECORD_PASSED = edited(RECORD_PASSED_OF_0005, [
  [
    'started_at = coalesce(a.started_at, o.started_at)',
    'started_at = coalesce(o.started_at, a.started_at)',
  ],
]);

/** Replaces the function where the engine has a server-side lifecycle (PostgreSQL). */
export async function up(knex: Knex): Promise<void> {
  if (!DIALECT_PROFILES[dialectOfKnex(knex)].serverLifecycle) return;
  await knex.raw(RECORD_PASSED);
}

/** Gives `eas_record_passed` back its body of 0005. */
export async function down(knex: Knex): Promise<void> {
  if (!DIALECT_PROFILES[dialectOfKnex(knex)].serverLifecycle) return;
  await knex.raw(RECORD_PASSED_OF_0005);
}
