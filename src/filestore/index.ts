/**
 * The file repository: stores every file product version as an immutable object named by the
 * sha256 of its content, in a storage driver — a directory on a laptop or a shared volume
 * ({@link LocalStorageDriver}), with room for an object store. Which product (job, working
 * directory, filename) a version belongs to is recorded in the task database;
 * {@link checkLogicalPath} keeps those paths inside the job.
 *
 * @example
 * ```ts
 * import { createFileRepository, checkLogicalPath } from 'plato-eas/filestore';
 *
 * await using files = await createFileRepository({ root: '.eas/files' });
 * const { key, sha256, size } = await files.putFile('out/lc_7.gz');
 * const { workingDirectory, filename } = checkLogicalPath('grid', 'lc_7.gz', 'outputs[0]');
 * // …record (job, workingDirectory, filename) → { key, sha256, size } in the task database…
 * await files.materialize(key, `work/task-12/${filename}`); // hard link when possible
 * console.log(await files.verify(key)); // true while the stored bytes are intact
 * ```
 * @module
 */
export { FileRepository, createFileRepository } from './file-repository.js';
export type { FileRepositoryOptions } from './options.js';
export type { StoredObject, MaterializeMethod } from './types.js';
export type {
  StorageDriver,
  ObjectWriter,
  ObjectSource,
  ObjectStat,
  IdleDeleteOutcome,
} from './storage-driver.js';
export {
  LocalStorageDriver,
  createLocalStorageDriver,
  DEFAULT_STALE_TEMP_MS,
  type LocalStorageDriverOptions,
} from './drivers/local/local-storage-driver.js';
export { checkLogicalPath, logicalKey, type LogicalPath } from './logical-path.js';
export { isObjectKey } from './object-key.js';
export { FileStoreError } from './errors.js';
