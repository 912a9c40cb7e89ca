import type { Readable } from 'node:stream';

/**
 * What {@link StorageDriver.put} stores: bytes in memory (`Buffer`), the path of a local file to
 * copy from (`string`), or a stream of bytes. A stream is read to its end; if it fails, it is
 * destroyed and nothing is stored.
 */
export type ObjectSource = Buffer | string | NodeJS.ReadableStream;

/** What a driver knows about a stored object. */
export interface ObjectStat {
  /** Size in bytes. */
  size: number;
  /**
   * When the object was last stored (ms since the epoch): written, or put again while stored.
   * Drivers that cannot tell leave it out.
   */
  storedAt?: number;
}

/** What {@link StorageDriver.deleteIfIdle} did. */
export type IdleDeleteOutcome = 'deleted' | 'kept' | 'missing';

/**
 * An object being written whose key is decided only once all of its bytes are written: the
 * key of a content-addressed object is the checksum of those bytes. Lets the file repository
 * hash and store in one pass over the data.
 *
 * Nothing written is visible under any key until {@link ObjectWriter.commit} resolves. Exactly
 * one of `commit` or `abort` must be called; `abort` is idempotent and safe after a `commit`
 * that rejected.
 */
export interface ObjectWriter {
  /** Appends bytes. Resolves when the driver has taken them (backpressure: await each call). */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Stores what was written under `key`, with the same semantics as {@link StorageDriver.put}:
   * atomic, durable once resolved, an existing key kept or replaced whole. On rejection nothing
   * is stored and temporary data is removed.
   */
  commit(key: string): Promise<void>;
  /** Discards what was written, removing temporary data. */
  abort(): Promise<void>;
}

/**
 * The contract every storage driver of the file repository fulfils: a flat store of immutable
 * objects named by keys. {@link filestore!LocalStorageDriver | LocalStorageDriver} keeps them
 * in a directory; an S3 driver would keep them in a bucket.
 *
 * Semantics:
 * - `put` is atomic: a reader sees no object, or the whole object, never a part of it. When it
 *   resolves the object is durable (on disk, or acknowledged by the object store); when it
 *   rejects nothing was stored and no temporary data is left behind.
 * - Keys name content: putting a key that is already stored may keep the stored object (drivers
 *   may skip the write) or replace it atomically; either way the object counts as stored at that
 *   moment (see {@link StorageDriver.deleteIfIdle}). Callers must never reuse a key for other
 *   bytes.
 * - Reading a key that is not stored (`get`, `createReadStream`) rejects with `NOT_FOUND`;
 *   `stat` resolves `undefined`; `delete` resolves `false`.
 * - A key the driver cannot hold (the local driver takes only sha256 hex digests) rejects with
 *   `PATH_INVALID`. Every call after `close()` rejects with `CLOSED`.
 * - Several processes may share one store (workers on a shared volume): concurrent `put`s of
 *   one key both succeed and leave one whole object.
 *
 * Not part of the contract: computing or checking checksums (the file repository hashes while
 * writing, and keys are trusted here); logical paths (job, working directory, file name),
 * versions and QC, which live in the task database; the order in which `list` yields keys;
 * what happens when one key is put and deleted at the same time; garbage collection, caching
 * and retries.
 */
export interface StorageDriver {
  /** Short name for logs: `local`, `s3`. */
  readonly name: string;
  /** Stores `source` under `key`, atomically. Rejects with `NOT_FOUND` if a source path does not exist. */
  put(key: string, source: ObjectSource): Promise<void>;
  /**
   * Starts writing an object whose key is known only at the end (see {@link ObjectWriter}).
   * Optional: without it the file repository stages stream input in a local file first, then
   * calls `put` with that file's path, which costs a second pass over the data.
   */
  openWriter?(): Promise<ObjectWriter>;
  /** The whole object in memory. For large objects prefer `createReadStream`. */
  get(key: string): Promise<Buffer>;
  /** A stream of the object's bytes; rejects with `NOT_FOUND` before any stream is made. */
  createReadStream(key: string): Promise<Readable>;
  /** The object's size, or `undefined` when the key is not stored. */
  stat(key: string): Promise<ObjectStat | undefined>;
  /** Removes the object; resolves whether there was one. Readers already streaming it may finish. */
  delete(key: string): Promise<boolean>;
  /**
   * Removes the object only if nothing stored it after `since` (ms since the epoch): a put of
   * a key already stored counts as storing it, so an object a worker is about to reference (its
   * report not yet committed) survives a cleanup that found it unreferenced. The check and the
   * removal must not interleave with a put: a put that lands after the check leaves an object
   * under the key. Resolves `'deleted'`, `'kept'` (stored after `since`) or `'missing'`.
   * Optional: without it callers fall back to {@link StorageDriver.delete}.
   */
  deleteIfIdle?(key: string, since: number): Promise<IdleDeleteOutcome>;
  /** Every stored key, once each; order unspecified. Objects put or deleted meanwhile may or may not appear. */
  list(): AsyncIterable<string>;
  /**
   * Where the object is (or would be) on the local filesystem, for drivers that keep files on
   * disk, so a worker can stage inputs by hard link instead of copying. The file must be
   * treated as read-only. Does not check that the object exists. Drivers without local files
   * leave this out.
   */
  localPath?(key: string): string;
  /** Releases what the driver holds; idempotent. Calls made afterwards reject with `CLOSED`. */
  close(): Promise<void>;
}
