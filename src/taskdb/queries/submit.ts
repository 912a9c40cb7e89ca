import { randomBytes } from 'node:crypto';
import {
  EasError,
  encodeTypedValue,
  insertMany,
  placeholders,
  serializeTypedMetadata,
  stringifyKeepingFloats,
  type SqlExecutor,
  type SqlParam,
} from '../../core/index.js';
import type { PlannedJob, PlannedTask, ReadyAttempt, SubmitResult } from '../types.js';
import { allocateIdList, allocateIds, chunks } from './ids.js';
import { blockWithReasons, insertAttempts, lockProductRows } from './lifecycle.js';
import {
  FILE_DEP_COLUMNS,
  METADATA_COLUMNS,
  METADATA_DEP_COLUMNS,
  PRODUCT_COLUMNS,
} from './columns.js';

/** Task rows written per slice during one insertion. */
const TASK_SLICE = 2000;

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
  'current_attempt_id',
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
  const jobId = await allocateIds(tx, 'job', 1);
  const priority = job.priority ?? 0;
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
      job.tasks.length,
    ],
  );
  const { ready } = await insertPlannedTasks(tx, jobId, job.tasks, {
    rootParentId: null,
    priority,
    now,
  });
  return { jobId, taskCount: job.tasks.length, ready };
}

/**
 * Writes planned tasks into a job: task rows, own metadata, products, file and metadata edges
 * with each task's unmet-dependency count, and a first attempt for every task that is ready.
 * A task whose `parentKey` is -1 hangs under `rootParentId` (an existing task, for run-time
 * expansion). An input is bound by `producerKey` (a task of this batch), `jobProductId` (an
 * existing product of the job: met when it already has a QC-passed version) or
 * `externalProductId` (an earlier job's QC-passed file: met). A task reading a product of the
 * job that will never have one (its producer failed, was blocked or cancelled, or ended
 * without writing it) is written `blocked`, and so are the new tasks downstream of it; their
 * ids come back as `blocked`.
 */
export async function insertPlannedTasks(
  tx: SqlExecutor,
  jobId: number,
  tasks: readonly PlannedTask[],
  options: { rootParentId: number | null; priority: number; now: number },
): Promise<{ firstTaskId: number; ready: ReadyAttempt[]; blocked: number[] }> {
  const { now, priority } = options;
  const firstTask = await allocateIds(tx, 'task', tasks.length);
  const idOf = (key: number): number | null =>
    key === -1 ? options.rootParentId : firstTask + key;

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
          { where: t.path },
        );
      }
      productByPath.set(k, p);
      productRows.push([
        p,
        jobId,
        o.workingDirectory,
        o.filename,
        o.semanticType,
        firstTask + t.key,
        o.optional ? 1 : 0,
      ]);
      p++;
    }
  }

  // Edges and unmet counters.
  const unmet = new Int32Array(tasks.length);
  const fileDeps: SqlParam[][] = [];
  const metaDeps: SqlParam[][] = [];
  const jobProducts = new Set<number>();
  for (const t of tasks)
    for (const i of t.inputs) if (i.jobProductId !== undefined) jobProducts.add(i.jobProductId);
  const passed = new Set<number>();
  // Locked first: a producer's finish committing now either is waited for (and its version
  // seen) or waits for this commit (and then sees these consumers).
  await lockProductRows(tx, [...jobProducts], 'FOR SHARE');
  for (const part of chunks([...jobProducts])) {
    for (const r of await tx.all<{ product_id: number }>(
      `SELECT DISTINCT product_id FROM eas_versions WHERE passed_qc = 1 AND product_id IN (${placeholders(part.length)})`,
      part,
    )) {
      passed.add(Number(r.product_id));
    }
  }
  // Products whose producer has ended without a QC-passed version: their readers never run.
  const dead = new Map<number, string>();
  const unpassed = [...jobProducts].filter((id) => !passed.has(id));
  for (const part of chunks(unpassed)) {
    for (const r of await tx.all<{ id: unknown; filename: string; path: string; state: string }>(
      `SELECT p.id, p.filename, t.path, t.state FROM eas_products p JOIN eas_tasks t ON t.id = p.producer_task_id
       WHERE p.id IN (${placeholders(part.length)}) AND t.state IN ('done', 'failed', 'blocked', 'cancelled')`,
      part,
    )) {
      const why = {
        done: `did not write ${r.filename}`,
        failed: 'failed',
        blocked: 'is blocked',
        cancelled: 'was cancelled',
      }[r.state];
      dead.set(Number(r.id), `input ${r.filename}: producer ${r.path} ${why}`);
    }
  }
  const deadReaders = new Map<number, string>();
  for (const t of tasks) {
    const id = firstTask + t.key;
    for (const input of t.inputs) {
      if (input.producerKey !== undefined) {
        const productId = productByPath.get(`${input.workingDirectory}\u0000${input.filename}`);
        if (productId === undefined)
          throw new Error(`plan inconsistent: no product for ${input.filename}`);
        fileDeps.push([id, input.semanticType, productId, 0]);
        unmet[t.key]!++;
      } else if (input.jobProductId !== undefined) {
        fileDeps.push([id, input.semanticType, input.jobProductId, 0]);
        if (!passed.has(input.jobProductId)) unmet[t.key]!++;
        const reason = dead.get(input.jobProductId);
        if (reason !== undefined && !deadReaders.has(id)) deadReaders.set(id, reason);
      } else if (input.externalProductId !== undefined) {
        fileDeps.push([id, input.semanticType, input.externalProductId, 1]);
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
      metaDeps.push([id, firstTask + m.providerKey, m.name]);
      unmet[t.key]!++;
    }
  }

  // Task rows are written in slices as they are built: a 128,000-task grid never holds all its
  // row arrays (with their JSON text) at once, which keeps a submission's peak memory down.
  let taskRows: SqlParam[][] = [];
  const metaRows: SqlParam[][] = [];
  const metadataText = new Map<object, string>(); // tasks of one iteration share their metadata
  const readyTasks: {
    taskId: number;
    jobId: number;
    taskType: string;
    attemptCount: number;
    priority: number;
  }[] = [];
  // Tasks ready at once are written `queued` with their first attempt's id: no second write of
  // each row (which, changing `state`, would add an entry to every index of the table again).
  const isReady = (t: (typeof tasks)[number]): boolean =>
    !(t.control && t.expanded) && unmet[t.key] === 0;
  const attemptIds = await allocateIdList(tx, 'attempt', tasks.filter(isReady).length);
  for (const t of tasks) {
    const id = firstTask + t.key;
    const done = t.control && t.expanded;
    const ready = isReady(t);
    const attemptId = ready ? attemptIds[readyTasks.length]! : null;
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
      done ? 'done' : ready ? 'queued' : 'waiting',
      unmet[t.key]!,
      t.control ? 1 : 0,
      stringifyKeepingFloats(t.description),
      metadataText.get(t.metadata) ??
        (metadataText.set(t.metadata, serializeTypedMetadata(t.metadata)),
        metadataText.get(t.metadata)!),
      ready ? 1 : 0,
      attemptId,
      now,
      now,
      done ? now : null,
    ]);
    if (taskRows.length >= TASK_SLICE) {
      await insertMany(tx, 'eas_tasks', TASK_COLUMNS, taskRows);
      taskRows = [];
      metadataText.clear();
    }
    if (ready) readyTasks.push({ taskId: id, jobId, taskType: t.type, attemptCount: 0, priority });
    for (const [key, value] of Object.entries(t.ownMetadata)) {
      const enc = encodeTypedValue(value);
      metaRows.push(['task', id, key, enc.type, enc.value]);
    }
  }
  await insertMany(tx, 'eas_tasks', TASK_COLUMNS, taskRows);
  await insertMany(tx, 'eas_products', PRODUCT_COLUMNS, productRows);
  await insertMany(tx, 'eas_file_deps', FILE_DEP_COLUMNS, fileDeps);
  await insertMany(tx, 'eas_metadata_deps', METADATA_DEP_COLUMNS, metaDeps);
  await insertMany(tx, 'eas_metadata', METADATA_COLUMNS, metaRows);
  const ready = await insertAttempts(tx, readyTasks, attemptIds, 'first', now, now);
  // New readers of a product that will never exist (still `waiting`: that input is unmet).
  const blocked = await blockWithReasons(
    tx,
    deadReaders,
    now,
    (path, reason) => `upstream task ${path} is blocked (${reason})`,
  );
  return { firstTaskId: firstTask, ready, blocked };
}
