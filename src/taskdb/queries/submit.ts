import { randomBytes } from 'node:crypto';
import {
  EasError,
  encodeTypedValue,
  insertMany,
  serializeTypedMetadata,
  type SqlExecutor,
  type SqlParam,
} from '../../core/index.js';
import type { PlannedJob, ReadyAttempt, SubmitResult } from '../types.js';
import { allocateIds } from './ids.js';
import { createAttempts } from './lifecycle.js';

const TASK_COLUMNS = [
  'id',
  'job_id',
  'parent_id',
  'position',
  'path',
  'name',
  'type',
  'working_directory',
  'depth',
  'state',
  'unmet',
  'control',
  'description',
  'metadata',
  'attempt_count',
  'created_at',
  'updated_at',
  'finished_at',
] as const;

/**
 * Writes a planned job, its tasks, products, dependency edges and own metadata, and queues the
 * tasks that are ready at once — all in one transaction, so a chain either exists whole with
 * its dependency graph or not at all.
 */
export async function submitJob(
  tx: SqlExecutor,
  job: PlannedJob,
  now: number,
): Promise<SubmitResult> {
  const tasks = job.tasks;
  const jobId = await allocateIds(tx, 'job', 1);
  const firstTask = await allocateIds(tx, 'task', tasks.length);
  const idOf = (key: number): number => firstTask + key;
  const priority = job.priority ?? 0;

  // Products: one per declared output.
  let productCount = 0;
  for (const t of tasks) productCount += t.outputs.length;
  const firstProduct = await allocateIds(tx, 'product', productCount);
  const productRows: SqlParam[][] = [];
  const productByPath = new Map<string, number>();
  let p = firstProduct;
  for (const t of tasks) {
    for (const o of t.outputs) {
      const k = `${o.workingDirectory}\u0000${o.filename}`;
      if (productByPath.has(k)) {
        throw new EasError(
          'CHAIN_INVALID',
          `Two tasks declare output "${o.filename}" in "${o.workingDirectory}" (at ${t.path}).`,
          {
            where: t.path,
          },
        );
      }
      productByPath.set(k, p);
      productRows.push([
        p,
        jobId,
        o.workingDirectory,
        o.filename,
        o.semanticType,
        idOf(t.key),
        o.optional ? 1 : 0,
      ]);
      p++;
    }
  }

  // Edges and unmet counters.
  const unmet = new Int32Array(tasks.length);
  const fileDeps: SqlParam[][] = [];
  const metaDeps: SqlParam[][] = [];
  for (const t of tasks) {
    for (const input of t.inputs) {
      if (input.producerKey !== undefined) {
        const productId = productByPath.get(`${input.workingDirectory}\u0000${input.filename}`);
        if (productId === undefined)
          throw new Error(`plan inconsistent: no product for ${input.filename}`);
        fileDeps.push([idOf(t.key), input.semanticType, productId, 0]);
        unmet[t.key]!++;
      } else if (input.externalProductId !== undefined) {
        fileDeps.push([idOf(t.key), input.semanticType, input.externalProductId, 1]);
      } else {
        throw new EasError(
          'CHAIN_INVALID',
          `No producer for input "${input.filename}" at ${t.path}.`,
          { where: t.path },
        );
      }
    }
    const seen = new Set<number>();
    for (const m of t.metadataFrom) {
      if (seen.has(m.providerKey)) continue;
      seen.add(m.providerKey);
      metaDeps.push([idOf(t.key), idOf(m.providerKey), m.name]);
      unmet[t.key]!++;
    }
  }

  await tx.run(
    `INSERT INTO eas_jobs (id, name, status, priority, working_directory, chain, source, seed, submitted_at, task_count)
     VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)`,
    [
      jobId,
      job.name,
      priority,
      job.workingDirectory,
      JSON.stringify(job.chain),
      job.source ?? null,
      job.seed ?? randomBytes(8).toString('hex'),
      now,
      tasks.length,
    ],
  );

  const taskRows: SqlParam[][] = [];
  const metaRows: SqlParam[][] = [];
  const readyLeaves: {
    taskId: number;
    jobId: number;
    taskType: string;
    attemptCount: number;
    priority: number;
  }[] = [];
  for (const t of tasks) {
    const id = idOf(t.key);
    const done = t.control && t.expanded;
    const ready = !done && unmet[t.key] === 0;
    taskRows.push([
      id,
      jobId,
      t.parentKey === null ? null : idOf(t.parentKey),
      t.position,
      t.path,
      t.name,
      t.type,
      t.workingDirectory,
      t.depth,
      done ? 'done' : 'waiting',
      unmet[t.key]!,
      t.control ? 1 : 0,
      JSON.stringify(t.description),
      serializeTypedMetadata(t.metadata),
      0,
      now,
      now,
      done ? now : null,
    ]);
    if (ready) readyLeaves.push({ taskId: id, jobId, taskType: t.type, attemptCount: 0, priority });
    for (const [key, value] of Object.entries(t.ownMetadata)) {
      const enc = encodeTypedValue(value);
      metaRows.push(['task', id, key, enc.type, enc.value]);
    }
  }
  await insertMany(tx, 'eas_tasks', TASK_COLUMNS, taskRows);
  await insertMany(
    tx,
    'eas_products',
    [
      'id',
      'job_id',
      'working_directory',
      'filename',
      'semantic_type',
      'producer_task_id',
      'optional',
    ],
    productRows,
  );
  await insertMany(
    tx,
    'eas_file_deps',
    ['consumer_task_id', 'semantic_type', 'product_id', 'met'],
    fileDeps,
  );
  await insertMany(
    tx,
    'eas_metadata_deps',
    ['consumer_task_id', 'provider_task_id', 'name'],
    metaDeps,
  );
  await insertMany(
    tx,
    'eas_metadata',
    ['owner_kind', 'owner_id', 'key', 'type', 'value'],
    metaRows,
  );

  const ready: ReadyAttempt[] = await createAttempts(tx, readyLeaves, 'first', now, now);
  return { jobId, taskCount: tasks.length, ready };
}
