import { randomBytes } from 'node:crypto';
import { constants as fsConstants, type Stats } from 'node:fs';
import {
  copyFile,
  mkdir,
  open,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  unlink,
  utimes,
  type FileHandle,
} from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import {
  InvalidInputError,
  parseDuration,
  silentLogger,
  type Duration,
  type Logger,
  makeDirectory,
} from '../../../core/index.js';
import { closedError, FileStoreError, objectNotFound, systemErrorCode } from '../../errors.js';
import { chunkBytes, writeAll } from '../../bytes.js';
import { assertObjectKey } from '../../object-key.js';
import type {
  IdleDeleteOutcome,
  ObjectSource,
  ObjectStat,
  ObjectWriter,
  StorageDriver,
} from '../../storage-driver.js';

/**
 * How old a file in `<root>/tmp/` must be before {@link createLocalStorageDriver} removes it.
 * Temporary files are left behind only by a process killed mid-write; a live writer touches
 * its file with every chunk. Several processes share one root (workers on a shared volume), so
 * a short threshold could delete a file another process is still writing through a slow
 * stream; a day is far longer than any write, and short enough that leftovers do not pile up.
 */
export const DEFAULT_STALE_TEMP_MS = 24 * 60 * 60 * 1000;

/** Stored objects are read-only, so a staged hard link cannot be edited by a science code. */
const OBJECT_MODE = 0o444;

/** Temporary files are private to the writer until they become objects. */
const TEMP_MODE = 0o600;

/** Options of {@link createLocalStorageDriver}. */
export interface LocalStorageDriverOptions {
  /** The directory holding `objects/` and `tmp/`; created if missing. Relative to the cwd. */
  root: string;
  /** Logger; the driver binds `{ component: 'filestore', driver: 'local' }`. @defaultValue a silent logger */
  logger?: Logger;
  /**
   * Files in `<root>/tmp/` older than this are removed when the driver is created.
   * @defaultValue `'1d'` ({@link DEFAULT_STALE_TEMP_MS})
   */
  staleTempAfter?: Duration;
}

const optionsSchema = z
  .object({
    root: z.string().trim().min(1),
    logger: z
      .custom<Logger>((v) => typeof (v as Logger | undefined)?.child === 'function')
      .optional(),
    staleTempAfter: z.union([z.number(), z.string()]).optional(),
  })
  .strict();

/**
 * Creates a {@link LocalStorageDriver} under `options.root`: makes `objects/` and `tmp/` if
 * missing, and removes temporary files older than `staleTempAfter` left by killed writers.
 * Throws `CONFIG_INVALID` for bad options, and the filesystem's error when the root cannot be
 * created.
 *
 * @example
 * ```ts
 * const driver = await createLocalStorageDriver({ root: '.eas/files' });
 * const repo = await createFileRepository({ root: '.eas/files', driver });
 * ```
 */
export async function createLocalStorageDriver(
  options: LocalStorageDriverOptions,
): Promise<LocalStorageDriver> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new InvalidInputError(
      'CONFIG_INVALID',
      'LocalStorageDriver options',
      parsed.error.issues.map((i) => ({
        path: i.path.join('.') || '(options)',
        message: i.message,
      })),
    );
  }
  const root = resolve(parsed.data.root);
  const staleTempMs = parseDuration(
    parsed.data.staleTempAfter ?? DEFAULT_STALE_TEMP_MS,
    'staleTempAfter',
  );
  const log = (parsed.data.logger ?? silentLogger()).child({
    component: 'filestore',
    driver: 'local',
  });
  await makeDirectory(join(root, 'objects'), 'file repository directory');
  await makeDirectory(join(root, 'tmp'), 'file repository directory');
  await removeStaleTemp(join(root, 'tmp'), staleTempMs, log);
  return new LocalStorageDriver(root, log);
}

async function removeStaleTemp(tmpDir: string, staleTempMs: number, log: Logger): Promise<void> {
  const cutoff = Date.now() - staleTempMs;
  let removed = 0;
  for (const name of await readdir(tmpDir)) {
    const path = join(tmpDir, name);
    const info = await stat(path).catch(() => undefined);
    if (info && info.mtimeMs < cutoff) {
      await rm(path, { force: true, recursive: true });
      removed += 1;
    }
  }
  if (removed > 0) log.info({ removed, tmpDir }, 'stale temporary files removed');
}

/** Flushes a directory's entries (a rename or new file in it) to disk. */
async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // Some filesystems (and platforms) cannot fsync a directory; the rename is still atomic.
    const code = systemErrorCode(error);
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'ENOTSUP')
      throw error;
  } finally {
    await handle.close();
  }
}

/**
 * A {@link StorageDriver} keeping objects as files under a root directory, for a laptop or a
 * volume every worker mounts. Pick it whenever workers share a filesystem; it is what
 * `createFileRepository({ root })` uses.
 *
 * Layout: the object with key `abcdef…` (a sha256 hex digest; any other key is rejected with
 * `PATH_INVALID`) is the file `<root>/objects/ab/cdef…`, read-only (mode 0444). Writes go to a
 * private temporary file in `<root>/tmp/`, which is fsynced and renamed into place (then the
 * directory is fsynced), so an object is never seen half-written, even across a crash. A put of
 * a key already stored with the same size keeps the stored file; one with a different size (a
 * truncated file) is replaced atomically. Empty fan-out directories are left after deletes.
 *
 * Made by {@link createLocalStorageDriver}.
 */
export class LocalStorageDriver implements StorageDriver {
  /** Always `'local'`. */
  readonly name = 'local';
  /** The absolute root directory. */
  readonly root: string;
  private readonly objectsDir: string;
  private readonly tmpDir: string;
  private readonly log: Logger;
  private closed = false;

  /**
   * Use {@link createLocalStorageDriver}, which also creates the directories this expects.
   * @param root - An absolute directory holding `objects/` and `tmp/`.
   */
  constructor(root: string, logger: Logger = silentLogger()) {
    this.root = root;
    this.objectsDir = join(root, 'objects');
    this.tmpDir = join(root, 'tmp');
    this.log = logger;
  }

  /** `<root>/objects/ab/cdef…` for key `abcdef…`, whether or not it is stored. Throws `PATH_INVALID` for a malformed key. */
  localPath(key: string): string {
    this.assertOpen('localPath');
    assertObjectKey(key, 'LocalStorageDriver.localPath');
    return join(this.objectsDir, key.slice(0, 2), key.slice(2));
  }

  /** Stores `source` under `key` by temporary file, fsync and rename. See {@link StorageDriver.put}. */
  async put(key: string, source: ObjectSource): Promise<void> {
    this.assertOpen('put');
    const dest = this.pathOf(key, 'put');
    if (typeof source === 'string') {
      await this.putFromPath(key, dest, source);
      return;
    }
    if (Buffer.isBuffer(source) && (await this.holds(dest, source.byteLength))) return;
    const writer = await this.openWriter();
    try {
      if (Buffer.isBuffer(source)) {
        await writer.write(source);
      } else {
        for await (const chunk of source)
          await writer.write(chunkBytes(chunk, 'LocalStorageDriver.put'));
      }
      await writer.commit(key);
    } catch (error) {
      await writer.abort();
      throw error;
    }
  }

  /** Opens a temporary file in `<root>/tmp/`; `commit(key)` fsyncs it and renames it into place. */
  async openWriter(): Promise<ObjectWriter> {
    this.assertOpen('openWriter');
    const tmp = await this.createTemp();
    const handle = await open(tmp, 'wx', TEMP_MODE);
    return new LocalObjectWriter(tmp, handle, (key, size) => this.install(tmp, key, size));
  }

  /** Reads the whole object. Rejects with `NOT_FOUND` when it is not stored. */
  async get(key: string): Promise<Buffer> {
    this.assertOpen('get');
    const path = this.pathOf(key, 'get');
    try {
      return await readFile(path);
    } catch (error) {
      if (systemErrorCode(error) === 'ENOENT')
        throw objectNotFound(key, 'LocalStorageDriver.get', error);
      throw error;
    }
  }

  /** Opens the object's file and streams it; rejects with `NOT_FOUND` when it is not stored. */
  async createReadStream(key: string): Promise<Readable> {
    this.assertOpen('createReadStream');
    const path = this.pathOf(key, 'createReadStream');
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (systemErrorCode(error) === 'ENOENT') {
        throw objectNotFound(key, 'LocalStorageDriver.createReadStream', error);
      }
      throw error;
    }
    return handle.createReadStream();
  }

  /** The object's size and when it was last stored, or `undefined` when it is not stored. */
  async stat(key: string): Promise<ObjectStat | undefined> {
    this.assertOpen('stat');
    const info = await statOrUndefined(this.pathOf(key, 'stat'));
    return info && { size: info.size, storedAt: info.mtimeMs };
  }

  /**
   * Removes the object unless it was stored after `since` (its modification time, which a put
   * of a stored key refreshes). The object is first renamed aside into `tmp/`, so a put from
   * then on writes a new copy; what was moved is then checked and removed, or put back when it
   * was stored after `since`. See {@link StorageDriver.deleteIfIdle}.
   */
  async deleteIfIdle(key: string, since: number): Promise<IdleDeleteOutcome> {
    this.assertOpen('deleteIfIdle');
    const path = this.pathOf(key, 'deleteIfIdle');
    const before = await statOrUndefined(path);
    if (before === undefined) return 'missing';
    if (before.mtimeMs > since) return 'kept';
    const aside = await this.createTemp();
    try {
      await rename(path, aside);
    } catch (error) {
      if (systemErrorCode(error) === 'ENOENT') return 'missing';
      throw error;
    }
    // Stored again between the look above and the rename: back into place (a copy written
    // since is the same bytes; either one may stay).
    if ((await stat(aside)).mtimeMs > since) {
      await rename(aside, path);
      return 'kept';
    }
    await rm(aside, { force: true });
    this.log.debug({ key }, 'idle object deleted');
    return 'deleted';
  }

  /** Unlinks the object's file; resolves whether there was one. Hard links made from it live on. */
  async delete(key: string): Promise<boolean> {
    this.assertOpen('delete');
    try {
      await unlink(this.pathOf(key, 'delete'));
      return true;
    } catch (error) {
      if (systemErrorCode(error) === 'ENOENT') return false;
      throw error;
    }
  }

  /** Walks `objects/`, yielding keys in ascending order; files that are not objects are skipped. */
  async *list(): AsyncGenerator<string> {
    this.assertOpen('list');
    const prefixes = (await readdir(this.objectsDir)).filter((p) => /^[0-9a-f]{2}$/.test(p)).sort();
    for (const prefix of prefixes) {
      let names: string[];
      try {
        names = await readdir(join(this.objectsDir, prefix));
      } catch (error) {
        if (systemErrorCode(error) === 'ENOENT' || systemErrorCode(error) === 'ENOTDIR') continue;
        throw error;
      }
      for (const name of names.filter((n) => /^[0-9a-f]{62}$/.test(n)).sort()) yield prefix + name;
    }
  }

  /** Marks the driver closed; it holds no open resources between calls. */
  async close(): Promise<void> {
    this.closed = true;
  }

  /**
   * Moves a complete, fsynced, read-only temporary file of `size` bytes into place as `key`,
   * unless an object of that size is already there. Removes the temporary file in every case.
   */
  private async install(tmp: string, key: string, size: number): Promise<void> {
    try {
      const dest = this.pathOf(key, 'commit');
      if (await this.holds(dest, size)) return;
      const dir = dirname(dest);
      const created = await mkdir(dir, { recursive: true });
      await rename(tmp, dest);
      if (created !== undefined) await fsyncDirectory(this.objectsDir);
      await fsyncDirectory(dir);
      this.log.debug({ key, size }, 'object stored');
    } finally {
      await rm(tmp, { force: true });
    }
  }

  private async putFromPath(key: string, dest: string, sourcePath: string): Promise<void> {
    let sourceSize: number;
    try {
      sourceSize = (await stat(sourcePath)).size;
    } catch (error) {
      if (systemErrorCode(error) !== 'ENOENT') throw error;
      throw new FileStoreError(
        'NOT_FOUND',
        `LocalStorageDriver.put: the source file ${JSON.stringify(sourcePath)} does not exist. ` +
          'Pass the path of an existing file, or a Buffer or stream.',
        { where: 'LocalStorageDriver.put', cause: error },
      );
    }
    if (await this.holds(dest, sourceSize)) return;
    const tmp = await this.createTemp();
    try {
      // FICLONE makes a copy-on-write clone where the filesystem can (btrfs, XFS), else copies.
      await copyFile(sourcePath, tmp, fsConstants.COPYFILE_EXCL | fsConstants.COPYFILE_FICLONE);
      const handle = await open(tmp, 'r+');
      let size: number;
      try {
        await handle.chmod(OBJECT_MODE);
        await handle.sync();
        size = (await handle.stat()).size;
      } finally {
        await handle.close();
      }
      await this.install(tmp, key, size);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }

  /**
   * True when `dest` is stored with `size` bytes, which then counts as stored now (its
   * modification time is set, see {@link deleteIfIdle}; a file this process may not mark is
   * kept unmarked); false when it is not stored or vanished meanwhile. A stored file of another
   * size is logged as damaged.
   */
  private async holds(dest: string, size: number): Promise<boolean> {
    const info = await statOrUndefined(dest);
    if (info === undefined) return false;
    if (info.size === size) {
      const now = new Date();
      try {
        await utimes(dest, now, now);
        return true;
      } catch (error) {
        const code = systemErrorCode(error);
        // Gone (removed meanwhile): write it again.
        if (code === 'ENOENT') return false;
        // Not ours to mark (another user's file, a read-only mount): kept as it is, unmarked,
        // as before marking existed; rewriting it would change its owner or fail.
        if (code === 'EPERM' || code === 'EACCES' || code === 'EROFS') return true;
        throw error;
      }
    }
    this.log.warn(
      { path: dest, storedSize: info.size, size },
      'stored object has the wrong size; replacing it',
    );
    return false;
  }

  private async createTemp(): Promise<string> {
    // Recreated if an operator emptied the root; costs one syscall when it exists.
    await mkdir(this.tmpDir, { recursive: true });
    return join(this.tmpDir, `${process.pid}-${randomBytes(8).toString('hex')}.part`);
  }

  private pathOf(key: string, operation: string): string {
    assertObjectKey(key, `LocalStorageDriver.${operation}`);
    return join(this.objectsDir, key.slice(0, 2), key.slice(2));
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw closedError('LocalStorageDriver', operation);
  }
}

class LocalObjectWriter implements ObjectWriter {
  private size = 0;
  private handleOpen = true;
  private done = false;

  constructor(
    private readonly tmp: string,
    private readonly handle: FileHandle,
    private readonly install: (key: string, size: number) => Promise<void>,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (this.done) {
      throw new FileStoreError(
        'USAGE',
        'ObjectWriter.write was called after commit() or abort().',
        {
          where: 'LocalStorageDriver.openWriter',
        },
      );
    }
    await writeAll(this.handle, chunk);
    this.size += chunk.byteLength;
  }

  async commit(key: string): Promise<void> {
    if (this.done) {
      throw new FileStoreError(
        'USAGE',
        'ObjectWriter.commit was called after commit() or abort().',
        {
          where: 'LocalStorageDriver.openWriter',
        },
      );
    }
    this.done = true;
    try {
      await this.handle.chmod(OBJECT_MODE);
      await this.handle.sync();
      this.handleOpen = false;
      await this.handle.close();
      await this.install(key, this.size);
    } catch (error) {
      await this.discard();
      throw error;
    }
  }

  async abort(): Promise<void> {
    this.done = true;
    await this.discard();
  }

  private async discard(): Promise<void> {
    if (this.handleOpen) {
      this.handleOpen = false;
      await this.handle.close().catch(() => undefined);
    }
    await rm(this.tmp, { force: true });
  }
}

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (error) {
    if (systemErrorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}
