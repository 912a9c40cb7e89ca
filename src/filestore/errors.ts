import { EasError } from '../core/index.js';

/**
 * An error thrown by the file repository or one of its storage drivers. Its `code` says what
 * kind of failure it is:
 *
 * - `PATH_INVALID`: a logical path escapes the job's directory, or an object key is not a
 *   sha256 hex digest;
 * - `NOT_FOUND`: no object is stored under the key (or a file to store does not exist);
 * - `CLOSED`: the repository or driver was used after `close()`;
 * - `USAGE`: the call cannot work with this driver (e.g. `localPath` on a driver without files
 *   on disk) or was given the wrong kind of value.
 *
 * Like every {@link EasError}, the message says what went wrong, where, and how to fix it.
 */
export class FileStoreError extends EasError {}

/** The `code` of a Node.js system error (`ENOENT`, `EXDEV`…), if it has one. */
export function systemErrorCode(error: unknown): string | undefined {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}

/** The error for an object key with nothing stored under it. */
export function objectNotFound(key: string, where: string, cause?: unknown): FileStoreError {
  return new FileStoreError(
    'NOT_FOUND',
    `No object is stored under key ${key} (${where}). Check the key against the product version's ` +
      `checksum in the task database; the object may have been deleted.`,
    { where, cause, details: { key } },
  );
}

/** The error for a call made after `close()`. */
export function closedError(subject: string, operation: string): FileStoreError {
  return new FileStoreError(
    'CLOSED',
    `${subject} is closed: ${operation}() was called after close(). Open a new one, or close it ` +
      `only when no work is left.`,
    { where: `${subject}.${operation}` },
  );
}
