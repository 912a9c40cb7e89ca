import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { chmod, copyFile, link, mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from '../core/index.js';
import { createLocalStorageDriver } from './drivers/local/local-storage-driver.js';
import { chunkBytes, writeAll } from './bytes.js';
import { closedError, FileStoreError, objectNotFound, systemErrorCode } from './errors.js';
import { assertObjectKey } from './object-key.js';
import { resolveFileRepositoryOptions, type FileRepositoryOptions } from './options.js';
import type { IdleDeleteOutcome, ObjectStat, StorageDriver } from './storage-driver.js';
import type { MaterializeMethod, StoredObject } from './types.js';

/**
 * Errors of `link(2)` after which {@link FileRepository.materialize} copies instead: another
 * filesystem (EXDEV), a filesystem without hard links or a kernel refusing to link a file the
 * process does not own (`fs.protected_hardlinks`: EPERM), too many links to one inode (EMLINK).
 */
const LINK_FALLBACK_CODES = new Set([
  'EXDEV',
  'EPERM',
  'EMLINK',
  'ENOTSUP',
  'EOPNOTSUPP',
  'EACCES',
]);

/** Staged inputs are read-only whether linked or copied, so a task sees the same either way. */
const STAGED_MODE = 0o444;

/**
 * Creates a {@link FileRepository}: with only `root`, a
 * {@link filestore!LocalStorageDriver | LocalStorageDriver} keeping objects under it; with
 * `driver`, that driver. Throws `CONFIG_INVALID` for bad options, and the filesystem's error
 * when the root cannot be created.
 *
 * @example
 * ```ts
 * await using files = await createFileRepository({ root: '.eas/files' });
 * const { key, size } = await files.putFile('out/lc_7.gz');
 * await files.materialize(key, 'work/task-12/lc_7.gz');
 * ```
 */
export async function createFileRepository(
  options: FileRepositoryOptions,
): Promise<FileRepository> {
  const resolved = resolveFileRepositoryOptions(options);
  const driver =
    resolved.driver ??
    (await createLocalStorageDriver({ root: resolved.root, logger: resolved.logger }));
  return new FileRepository(resolved.root, driver, resolved.logger);
}

/**
 * The file repository (DESIGN §5): stores every file product version as an immutable,
 * content-addressed object. An object's key is the sha256 of its content, computed while it is
 * written, so the same content is stored once however often it is put, a stored name never
 * derives from user text, and {@link FileRepository.verify} can always tell whether an object
 * is intact. Which product (job, working directory, filename) a version belongs to is recorded
 * in the task database, not here; see {@link checkLogicalPath}.
 *
 * Objects live in a {@link StorageDriver}: a
 * {@link filestore!LocalStorageDriver | LocalStorageDriver} by default. Every method rejects
 * with `CLOSED` after {@link FileRepository.close}, with `PATH_INVALID` for a key that is not a
 * sha256 hex digest, and with `NOT_FOUND` when reading a key that is not stored.
 *
 * Made by {@link createFileRepository}.
 */
export class FileRepository implements AsyncDisposable {
  /** The repository's absolute directory. */
  readonly root: string;
  /** The driver keeping the objects. */
  readonly driver: StorageDriver;
  private readonly log: Logger;
  private closed = false;
  private closing: Promise<void> | undefined;

  /** Use {@link createFileRepository}, which validates options and opens the driver. */
  constructor(root: string, driver: StorageDriver, logger: Logger) {
    this.root = root;
    this.driver = driver;
    this.log = logger.child({ component: 'filestore', driver: driver.name });
  }

  /**
   * Stores the file at `path`, hashing it while it is written: one streaming pass, never the
   * whole file in memory. Rejects with `NOT_FOUND` when the file does not exist, and with the
   * filesystem's error when it cannot be read (a directory, no permission).
   */
  async putFile(path: string): Promise<StoredObject> {
    this.assertOpen('putFile');
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (systemErrorCode(error) !== 'ENOENT') throw error;
      throw new FileStoreError(
        'NOT_FOUND',
        `FileRepository.putFile: the file ${JSON.stringify(path)} does not exist. Check the ` +
          'path (relative paths are resolved against the current directory).',
        { where: 'FileRepository.putFile', cause: error },
      );
    }
    if (this.driver.openWriter) {
      const stream = handle.createReadStream();
      try {
        return await this.putFromStream(stream, 'FileRepository.putFile');
      } finally {
        stream.destroy();
      }
    }
    // A driver without writers stores from the file itself: hash first, then let it copy.
    let stored: StoredObject;
    try {
      stored = await hashStream(
        handle.createReadStream({ autoClose: false }),
        'FileRepository.putFile',
      );
    } finally {
      await handle.close();
    }
    await this.driver.put(stored.key, path);
    this.log.debug({ key: stored.key, size: stored.size }, 'object stored');
    return stored;
  }

  /** Stores bytes held in memory. */
  async putBuffer(data: Uint8Array): Promise<StoredObject> {
    this.assertOpen('putBuffer');
    if (!(data instanceof Uint8Array)) {
      throw new FileStoreError(
        'USAGE',
        `FileRepository.putBuffer: expected a Buffer or Uint8Array, got a ${typeof data}. ` +
          'Use putFile for a path and putStream for a stream.',
        { where: 'FileRepository.putBuffer' },
      );
    }
    const buffer = chunkBytes(data, 'FileRepository.putBuffer');
    const key = createHash('sha256').update(buffer).digest('hex');
    await this.driver.put(key, buffer);
    this.log.debug({ key, size: buffer.byteLength }, 'object stored');
    return { key, sha256: key, size: buffer.byteLength };
  }

  /**
   * Stores what `stream` yields (Buffers, Uint8Arrays, or strings taken as UTF-8), hashing while
   * writing: one pass, never the whole content in memory. If the stream fails, nothing is
   * stored, no temporary file is left, and the stream's error is rethrown.
   */
  async putStream(
    stream: NodeJS.ReadableStream | AsyncIterable<Uint8Array | string>,
  ): Promise<StoredObject> {
    this.assertOpen('putStream');
    return this.putFromStream(stream, 'FileRepository.putStream');
  }

  /** The whole object in memory. For large objects prefer {@link FileRepository.createReadStream}. */
  async get(key: string): Promise<Buffer> {
    this.assertUsable(key, 'get');
    return this.driver.get(key);
  }

  /** A stream of the object's bytes; rejects with `NOT_FOUND` before any stream is made. */
  async createReadStream(key: string): Promise<Readable> {
    this.assertUsable(key, 'createReadStream');
    return this.driver.createReadStream(key);
  }

  /** The object's size, or `undefined` when it is not stored. */
  async stat(key: string): Promise<ObjectStat | undefined> {
    this.assertUsable(key, 'stat');
    return this.driver.stat(key);
  }

  /**
   * Re-reads the object and compares its sha256 with its key: true when intact, false when the
   * stored bytes changed (disk fault, someone edited a staged hard link). Rejects with
   * `NOT_FOUND` when the object is not stored.
   */
  async verify(key: string): Promise<boolean> {
    this.assertUsable(key, 'verify');
    const { sha256, size } = await hashStream(
      await this.driver.createReadStream(key),
      'FileRepository.verify',
    );
    if (sha256 === key) return true;
    this.log.warn({ key, actual: sha256, size }, 'object checksum mismatch');
    return false;
  }

  /**
   * Removes the object; resolves whether there was one. Copies and hard links made by
   * {@link FileRepository.materialize} are not affected. Callers decide when an object is no
   * longer referenced by any product version: the same content may back several versions.
   */
  async delete(key: string): Promise<boolean> {
    this.assertUsable(key, 'delete');
    const deleted = await this.driver.delete(key);
    if (deleted) this.log.debug({ key }, 'object deleted');
    return deleted;
  }

  /**
   * Removes the object unless something stored it after `since` (ms since the epoch), as a
   * worker does when it puts an output whose bytes are already stored: that object may be
   * referenced by a report not yet committed. See {@link StorageDriver.deleteIfIdle}. A driver
   * without that check gets a plain {@link FileRepository.delete}.
   */
  async deleteIfIdle(key: string, since: number): Promise<IdleDeleteOutcome> {
    this.assertUsable(key, 'deleteIfIdle');
    if (!this.driver.deleteIfIdle) return (await this.driver.delete(key)) ? 'deleted' : 'missing';
    const outcome = await this.driver.deleteIfIdle(key, since);
    if (outcome === 'deleted') this.log.debug({ key }, 'object deleted');
    return outcome;
  }

  /** Every stored key, once each (in ascending order with the local driver). */
  async *list(): AsyncGenerator<string> {
    this.assertOpen('list');
    yield* this.driver.list();
  }

  /**
   * Where the object is on the local filesystem, for reading in place. The file is shared by
   * every product version with this content: never write to it. Does not check that it exists.
   * Throws `USAGE` when the driver keeps no local files (use {@link FileRepository.materialize}
   * or {@link FileRepository.createReadStream} then).
   */
  localPath(key: string): string {
    this.assertUsable(key, 'localPath');
    if (!this.driver.localPath) {
      throw new FileStoreError(
        'USAGE',
        `FileRepository.localPath: the ${this.driver.name} storage driver keeps no local files. ` +
          'Use materialize(key, destPath) to place a copy, or createReadStream(key).',
        { where: 'FileRepository.localPath', details: { driver: this.driver.name } },
      );
    }
    return this.driver.localPath(key);
  }

  /**
   * Places the object at `destPath` (parent directories are created), to stage a task's input
   * in its working directory: a hard link to the stored file when the driver has local files on
   * the same filesystem, else a copy. The result is read-only (mode 0444) either way. An
   * existing file at `destPath` is replaced atomically. Resolves how it was placed.
   *
   * A hard link shares the stored bytes: a task that makes its input writable and changes it
   * damages the stored object, which {@link FileRepository.verify} then reports. Rejects with
   * `NOT_FOUND` when the object is not stored.
   */
  async materialize(key: string, destPath: string): Promise<MaterializeMethod> {
    this.assertUsable(key, 'materialize');
    const dest = resolve(destPath);
    await mkdir(dirname(dest), { recursive: true });
    // Written beside the destination and renamed over it, so a reader never sees a partial file.
    const tmp = join(
      dirname(dest),
      `.${basename(dest)}.${randomBytes(6).toString('hex')}.eas-part`,
    );
    try {
      const method = await this.placeAt(key, tmp);
      await rename(tmp, dest);
      this.log.debug({ key, method }, 'object materialized');
      return method;
    } finally {
      // rename() leaves both names in place when they already were links to one inode.
      await rm(tmp, { force: true });
    }
  }

  /** Closes the driver; idempotent. Later calls reject with `CLOSED`. */
  async close(): Promise<void> {
    this.closed = true;
    this.closing ??= this.driver.close();
    await this.closing;
  }

  /** Same as {@link FileRepository.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async placeAt(key: string, tmp: string): Promise<MaterializeMethod> {
    if (this.driver.localPath) {
      const source = this.driver.localPath(key);
      try {
        await link(source, tmp);
        return 'link';
      } catch (error) {
        const code = systemErrorCode(error);
        if (code === 'ENOENT') throw objectNotFound(key, 'FileRepository.materialize', error);
        if (code === undefined || !LINK_FALLBACK_CODES.has(code)) throw error;
        this.log.debug({ key, code }, 'hard link impossible; copying');
      }
      try {
        await copyFile(source, tmp, fsConstants.COPYFILE_EXCL | fsConstants.COPYFILE_FICLONE);
      } catch (error) {
        if (systemErrorCode(error) === 'ENOENT')
          throw objectNotFound(key, 'FileRepository.materialize', error);
        throw error;
      }
    } else {
      const input = await this.driver.createReadStream(key);
      const output = await open(tmp, 'wx', 0o600);
      try {
        for await (const chunk of input)
          await writeAll(output, chunkBytes(chunk, 'FileRepository.materialize'));
      } finally {
        await output.close();
      }
    }
    await chmod(tmp, STAGED_MODE);
    return 'copy';
  }

  private async putFromStream(
    source: NodeJS.ReadableStream | AsyncIterable<unknown>,
    where: string,
  ): Promise<StoredObject> {
    if (!this.driver.openWriter) return this.putStaged(source, where);
    const writer = await this.driver.openWriter();
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of source as AsyncIterable<unknown>) {
        const bytes = chunkBytes(chunk, where);
        hash.update(bytes);
        size += bytes.byteLength;
        await writer.write(bytes);
      }
      const key = hash.digest('hex');
      await writer.commit(key);
      this.log.debug({ key, size }, 'object stored');
      return { key, sha256: key, size };
    } catch (error) {
      await writer.abort();
      throw error;
    }
  }

  /**
   * For drivers without `openWriter`: writes the stream to `<root>/staging/` while hashing,
   * then hands the file to `driver.put`. The staged file is removed in every case.
   */
  private async putStaged(
    source: NodeJS.ReadableStream | AsyncIterable<unknown>,
    where: string,
  ): Promise<StoredObject> {
    const stagingDir = join(this.root, 'staging');
    await mkdir(stagingDir, { recursive: true });
    const staged = join(stagingDir, `${process.pid}-${randomBytes(8).toString('hex')}.part`);
    try {
      const output = await open(staged, 'wx', 0o600);
      const hash = createHash('sha256');
      let size = 0;
      try {
        for await (const chunk of source as AsyncIterable<unknown>) {
          const bytes = chunkBytes(chunk, where);
          hash.update(bytes);
          size += bytes.byteLength;
          await writeAll(output, bytes);
        }
      } finally {
        await output.close();
      }
      const key = hash.digest('hex');
      await this.driver.put(key, staged);
      this.log.debug({ key, size }, 'object stored');
      return { key, sha256: key, size };
    } finally {
      await rm(staged, { force: true });
    }
  }

  private assertUsable(key: string, operation: string): void {
    this.assertOpen(operation);
    assertObjectKey(key, `FileRepository.${operation}`);
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw closedError('FileRepository', operation);
  }
}

/** Hashes a stream to its end. */
async function hashStream(stream: Readable, where: string): Promise<StoredObject> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    const bytes = chunkBytes(chunk, where);
    hash.update(bytes);
    size += bytes.byteLength;
  }
  const sha256 = hash.digest('hex');
  return { key: sha256, sha256, size };
}
