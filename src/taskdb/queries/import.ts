import { randomBytes } from 'node:crypto';
import {
  encodeTypedValue,
  insertMany,
  type SqlExecutor,
  type SqlParam,
  type TypedMetadata,
} from '../../core/index.js';
import { allocateIdList, allocateIds } from './ids.js';
import { METADATA_COLUMNS, PRODUCT_COLUMNS, VERSION_COLUMNS } from './columns.js';

/** A file stored outside any task, to be recorded as a QC-passed product. */
export interface ImportedFile {
  workingDirectory: string;
  filename: string;
  semanticType: string;
  sha256: string;
  size: number;
  /** Metadata of the version (e.g. a light curve's sidecar). */
  metadata?: TypedMetadata;
}

/**
 * Records files that come from outside the pipeline (a standalone run's inputs, an ingest) as
 * a finished job whose root task produced them: one product and one QC-passed version each, so
 * any later chain can read them by path like any earlier job's output. One transaction.
 */
export async function importFiles(
  tx: SqlExecutor,
  jobName: string,
  files: readonly ImportedFile[],
  now: number,
): Promise<{ jobId: number; taskId: number }> {
  const jobId = await allocateIds(tx, 'job', 1);
  const taskId = await allocateIds(tx, 'task', 1);
  const attemptId = (await allocateIdList(tx, 'attempt', 1))[0]!;
  await tx.run(
    `INSERT INTO eas_jobs (id, name, status, priority, working_directory, chain, source, seed, submitted_at, finished_at, task_count)
     VALUES (?, ?, 'done', 0, '', '{}', 'imported files', ?, ?, ?, 1)`,
    [jobId, jobName, randomBytes(8).toString('hex'), now, now],
  );
  await tx.run(
    `INSERT INTO eas_tasks (id, job_id, parent_id, position, path, name, type, working_directory, depth, state, unmet, control,
       description, metadata, attempt_count, created_at, updated_at, finished_at, current_attempt_id)
     VALUES (?, ?, NULL, 0, '', ?, 'execution_chain', '', 0, 'done', 0, 1, '{}', '{}', 1, ?, ?, ?, ?)`,
    [taskId, jobId, jobName, now, now, now, attemptId],
  );
  await tx.run(
    `INSERT INTO eas_attempts (id, task_id, job_id, number, kind, state, qc, task_type, queued_at, available_at, started_at, ended_at)
     VALUES (?, ?, ?, 1, 'first', 'succeeded', 'passed', 'execution_chain', ?, ?, ?, ?)`,
    [attemptId, taskId, jobId, now, now, now, now],
  );
  const firstProduct = await allocateIds(tx, 'product', files.length);
  const versionIds = await allocateIdList(tx, 'version', files.length);
  const products: SqlParam[][] = [];
  const versions: SqlParam[][] = [];
  const metadata: SqlParam[][] = [];
  files.forEach((f, i) => {
    products.push([
      firstProduct + i,
      jobId,
      f.workingDirectory,
      f.filename,
      f.semanticType,
      taskId,
      0,
    ]);
    versions.push([versionIds[i]!, firstProduct + i, attemptId, f.sha256, f.size, 1, now]);
    for (const [k, v] of Object.entries(f.metadata ?? {})) {
      const enc = encodeTypedValue(v);
      metadata.push(['version', versionIds[i]!, k, enc.type, enc.value]);
    }
  });
  await insertMany(tx, 'eas_products', PRODUCT_COLUMNS, products);
  await insertMany(tx, 'eas_versions', VERSION_COLUMNS, versions);
  await insertMany(tx, 'eas_metadata', METADATA_COLUMNS, metadata);
  return { jobId, taskId };
}
