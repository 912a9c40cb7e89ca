import { FileStoreError } from './errors.js';

/** A sha256 digest in lowercase hex: the only form an object key takes. */
const OBJECT_KEY_RE = /^[0-9a-f]{64}$/;

/**
 * True when `value` is a well-formed object key: a sha256 digest written as 64 lowercase hex
 * characters. Says nothing about whether an object is stored under it.
 */
export function isObjectKey(value: unknown): value is string {
  return typeof value === 'string' && OBJECT_KEY_RE.test(value);
}

/**
 * Throws `PATH_INVALID` naming `where` unless `key` is a well-formed object key. Keys become
 * file names in drivers with files on disk, so nothing else may reach them.
 */
export function assertObjectKey(key: unknown, where: string): asserts key is string {
  if (isObjectKey(key)) return;
  const shown = typeof key === 'string' ? JSON.stringify(key) : `a ${typeof key}`;
  throw new FileStoreError(
    'PATH_INVALID',
    `Object key invalid at ${where}: ${shown} is not a sha256 digest (64 lowercase hex ` +
      `characters). Use the key returned by putFile, putBuffer or putStream.`,
    { where },
  );
}
