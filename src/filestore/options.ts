import { resolve } from 'node:path';
import { z } from 'zod';
import { InvalidInputError, silentLogger, type Logger } from '../core/index.js';
import type { StorageDriver } from './storage-driver.js';

/** Options of {@link createFileRepository}. */
export interface FileRepositoryOptions {
  /**
   * The repository's directory (relative to the cwd). Without `driver`, objects are kept here
   * by a {@link LocalStorageDriver} (`objects/`, `tmp/`). With a `driver` that has no
   * `openWriter`, stream input is staged in `<root>/staging/` before it is handed over.
   */
  root: string;
  /**
   * Where objects are kept, instead of a {@link LocalStorageDriver} under `root`. The
   * repository takes it over: `close()` closes it.
   * @defaultValue a `LocalStorageDriver` under `root`
   */
  driver?: StorageDriver;
  /** Logger; the repository binds `{ component: 'filestore', driver }`. @defaultValue a silent logger */
  logger?: Logger;
}

/** {@link FileRepositoryOptions} after validation and defaults. */
export interface ResolvedFileRepositoryOptions {
  /** Absolute directory. */
  root: string;
  /** The driver given, or `undefined` to create a local one. */
  driver: StorageDriver | undefined;
  /** The logger given, or a silent one. */
  logger: Logger;
}

const DRIVER_METHODS = [
  'put',
  'get',
  'createReadStream',
  'stat',
  'delete',
  'list',
  'close',
] as const;

function isStorageDriver(value: unknown): value is StorageDriver {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.name === 'string' && DRIVER_METHODS.every((m) => typeof v[m] === 'function');
}

/** The zod schema of {@link FileRepositoryOptions}; its input type is kept equal to it by a type test. */
export const fileRepositoryOptionsSchema = z
  .object({
    root: z.string().trim().min(1, 'give the directory of the file repository'),
    driver: z
      .custom<StorageDriver>(isStorageDriver, {
        message: `expected a StorageDriver (a name and ${DRIVER_METHODS.join(', ')})`,
      })
      .optional(),
    logger: z
      .custom<Logger>((v) => typeof (v as Logger | undefined)?.child === 'function', {
        message: 'expected a pino Logger',
      })
      .optional(),
  })
  .strict();

/** Validates options and fills defaults. Throws `CONFIG_INVALID` listing every problem. */
export function resolveFileRepositoryOptions(
  options: FileRepositoryOptions,
): ResolvedFileRepositoryOptions {
  const parsed = fileRepositoryOptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new InvalidInputError(
      'CONFIG_INVALID',
      'FileRepository options',
      parsed.error.issues.map((i) => ({
        path: i.path.join('.') || '(options)',
        message: i.message,
      })),
    );
  }
  return {
    root: resolve(parsed.data.root),
    driver: parsed.data.driver,
    logger: parsed.data.logger ?? silentLogger(),
  };
}
