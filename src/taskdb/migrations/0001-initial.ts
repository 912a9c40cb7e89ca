import type { Knex } from 'knex';

/**
 * The task database's first schema: jobs, the task tree, attempts, products and their
 * versions, typed metadata per owner, file and metadata dependency edges, per-task
 * unmet-dependency counters, log lines, worker hosts and id counters.
 *
 * Times are epoch milliseconds in bigint columns; JSON is stored as text so both engines read
 * it the same way. Ids are allocated by the application from `eas_counters` in blocks, so a
 * whole chain's rows and edges can be written in a few multi-row statements.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('eas_counters', (t) => {
    t.string('name').primary();
    t.bigInteger('value').notNullable();
  });
  await knex('eas_counters').insert(
    ['job', 'task', 'attempt', 'product', 'version'].map((name) => ({ name, value: 0 })),
  );

  await knex.schema.createTable('eas_jobs', (t) => {
    t.bigInteger('id').primary();
    t.string('name').notNullable();
    t.string('status').notNullable(); // running | done | failed | cancelled
    t.integer('priority').notNullable().defaultTo(0);
    t.text('working_directory').notNullable();
    t.text('chain').notNullable(); // the submitted chain, as JSON
    t.string('source'); // file the chain came from, if any
    t.string('seed').notNullable();
    t.bigInteger('submitted_at').notNullable();
    t.bigInteger('finished_at');
    t.integer('task_count').notNullable();
  });

  await knex.schema.createTable('eas_tasks', (t) => {
    t.bigInteger('id').primary();
    t.bigInteger('job_id').notNullable();
    t.bigInteger('parent_id');
    t.integer('position').notNullable(); // index among its siblings
    t.text('path').notNullable(); // chain path: task_list[0].task_list[3]
    t.string('name');
    t.string('type').notNullable();
    t.text('working_directory').notNullable();
    t.integer('depth').notNullable();
    t.string('state').notNullable();
    t.integer('unmet').notNullable(); // dependencies without a QC-passed provider yet
    t.integer('control').notNullable(); // 1 for execution_* nodes (expanded by the controller)
    t.text('description').notNullable(); // evaluated descriptor fields, JSON
    t.text('metadata').notNullable(); // effective typed task metadata, JSON
    t.integer('attempt_count').notNullable().defaultTo(0);
    t.integer('stall_count').notNullable().defaultTo(0);
    t.bigInteger('current_attempt_id');
    t.text('reason'); // why blocked / failed / cancelled
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.bigInteger('finished_at');
  });
  await knex.schema.alterTable('eas_tasks', (t) => {
    t.index(['job_id', 'state'], 'eas_tasks_job_state');
    t.index(['parent_id', 'position'], 'eas_tasks_parent');
    t.index(['type', 'state'], 'eas_tasks_type_state');
  });

  await knex.schema.createTable('eas_attempts', (t) => {
    t.bigInteger('id').primary();
    t.bigInteger('task_id').notNullable();
    t.bigInteger('job_id').notNullable();
    t.integer('number').notNullable(); // 1, 2, … per task
    t.string('kind').notNullable(); // first | retry | stall | rerun
    t.string('state').notNullable(); // queued | running | succeeded | failed | stalled | cancelled
    t.string('qc'); // passed | failed, set after the run
    t.string('task_type').notNullable();
    t.string('worker');
    t.string('host');
    t.integer('pid');
    t.bigInteger('queued_at').notNullable();
    t.bigInteger('available_at').notNullable();
    t.bigInteger('started_at');
    t.bigInteger('ended_at');
    t.bigInteger('heartbeat_at');
    t.double('wall_ms');
    t.double('cpu_ms');
    t.double('cpu_children_ms');
    t.integer('exit_code');
    t.string('signal');
    t.text('error');
    t.text('traceback');
  });
  await knex.schema.alterTable('eas_attempts', (t) => {
    t.index(['task_id', 'number'], 'eas_attempts_task');
    t.index(['job_id'], 'eas_attempts_job');
  });
  // Reconcile and reaping look only at live attempts; a partial index keeps that independent
  // of how many finished attempts exist.
  await knex.raw(
    "CREATE INDEX eas_attempts_live ON eas_attempts (state, task_type) WHERE state IN ('queued', 'running')",
  );

  await knex.schema.createTable('eas_products', (t) => {
    t.bigInteger('id').primary();
    t.bigInteger('job_id').notNullable();
    t.text('working_directory').notNullable();
    t.text('filename').notNullable();
    t.string('semantic_type').notNullable();
    t.bigInteger('producer_task_id').notNullable();
    t.integer('optional').notNullable();
    t.unique(['job_id', 'working_directory', 'filename'], { indexName: 'eas_products_unique' });
  });
  await knex.schema.alterTable('eas_products', (t) => {
    t.index(['working_directory', 'filename'], 'eas_products_path');
    t.index(['producer_task_id'], 'eas_products_producer');
  });

  await knex.schema.createTable('eas_versions', (t) => {
    t.bigInteger('id').primary();
    t.bigInteger('product_id').notNullable();
    t.bigInteger('attempt_id').notNullable();
    t.string('sha256', 64).notNullable();
    t.bigInteger('size').notNullable();
    t.integer('passed_qc').notNullable();
    t.bigInteger('created_at').notNullable();
    t.unique(['product_id', 'attempt_id'], { indexName: 'eas_versions_unique' });
  });
  await knex.schema.alterTable('eas_versions', (t) => {
    t.index(['attempt_id'], 'eas_versions_attempt');
    t.index(['sha256'], 'eas_versions_sha');
  });

  await knex.schema.createTable('eas_metadata', (t) => {
    t.string('owner_kind').notNullable(); // task | attempt | version
    t.bigInteger('owner_id').notNullable();
    t.string('key').notNullable();
    t.string('type').notNullable(); // int | float | str | bool | null | json
    t.text('value');
    t.primary(['owner_kind', 'owner_id', 'key']);
  });
  await knex.schema.alterTable('eas_metadata', (t) => {
    t.index(['owner_kind', 'key'], 'eas_metadata_key');
  });

  await knex.schema.createTable('eas_file_deps', (t) => {
    t.bigInteger('consumer_task_id').notNullable();
    t.string('semantic_type').notNullable();
    t.bigInteger('product_id').notNullable();
    t.integer('met').notNullable(); // 1 when bound to an earlier job's QC-passed version at submission
    t.primary(['consumer_task_id', 'semantic_type']);
  });
  await knex.schema.alterTable('eas_file_deps', (t) =>
    t.index(['product_id'], 'eas_file_deps_product'),
  );

  await knex.schema.createTable('eas_metadata_deps', (t) => {
    t.bigInteger('consumer_task_id').notNullable();
    t.bigInteger('provider_task_id').notNullable();
    t.string('name').notNullable();
    t.primary(['consumer_task_id', 'provider_task_id']);
  });
  await knex.schema.alterTable('eas_metadata_deps', (t) =>
    t.index(['provider_task_id'], 'eas_metadata_deps_provider'),
  );

  await knex.schema.createTable('eas_log_lines', (t) => {
    t.increments('id').primary();
    t.bigInteger('attempt_id').notNullable();
    t.bigInteger('task_id').notNullable();
    t.bigInteger('job_id').notNullable();
    t.bigInteger('ts').notNullable();
    t.string('level').notNullable(); // debug | info | warn | error
    t.string('stream').notNullable(); // stdout | stderr | harness | handler
    t.text('message').notNullable();
  });
  await knex.schema.alterTable('eas_log_lines', (t) => {
    t.index(['attempt_id', 'id'], 'eas_log_lines_attempt');
    t.index(['job_id', 'level'], 'eas_log_lines_job_level');
  });

  await knex.schema.createTable('eas_worker_hosts', (t) => {
    t.string('id').primary(); // worker id (host:pid:random)
    t.string('host').notNullable();
    t.integer('pid').notNullable();
    t.text('types').notNullable(); // JSON list of task types it runs
    t.integer('concurrency').notNullable();
    t.string('state').notNullable(); // running | stopped
    t.bigInteger('started_at').notNullable();
    t.bigInteger('last_seen_at').notNullable();
  });
}

/** Drops everything {@link up} created. */
export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'eas_worker_hosts',
    'eas_log_lines',
    'eas_metadata_deps',
    'eas_file_deps',
    'eas_metadata',
    'eas_versions',
    'eas_products',
    'eas_attempts',
    'eas_tasks',
    'eas_jobs',
    'eas_counters',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
