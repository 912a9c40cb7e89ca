import { silentLogger, type Logger } from '../core/index.js';
import type { FileRepository } from '../filestore/index.js';
import type { TaskDatabase } from '../taskdb/index.js';

/** How long an unreferenced object must have been idle before {@link collectGarbage} removes it: an hour. */
export const DEFAULT_GARBAGE_AGE_MS = 60 * 60 * 1000;

/** Keys looked up in the task database per query. */
const KEYS_PER_LOOKUP = 2000;

/** What {@link collectGarbage} does. */
export interface GarbageOptions {
  /**
   * Only objects no one stored for this long are removed (ms): a worker stores an output before
   * its report commits the version that refers to it.
   * @defaultValue {@link DEFAULT_GARBAGE_AGE_MS}
   */
  olderThanMs?: number;
  /** Look and count only; remove nothing. */
  dryRun?: boolean;
  /** The clock, for tests. @defaultValue `Date.now` */
  now?: () => number;
}

/** What {@link collectGarbage} found and did. */
export interface GarbageResult {
  /** Objects in the file store. */
  scanned: number;
  /** Objects some version refers to: kept. */
  referenced: number;
  /** Unreferenced objects removed (with `dryRun`: that would be removed). */
  removed: { keys: string[]; bytes: number };
  /** Unreferenced objects stored within the age limit: kept for now. */
  recent: number;
  /** Unreferenced objects gone before they could be removed (another cleanup, say). */
  missing: number;
  /** Nothing was removed. */
  dryRun: boolean;
}

/**
 * Removes the file-store objects no product version refers to and no one stored for
 * `olderThanMs` (objects of a store that does not say when they were stored are kept): outputs of attempts killed before their report, and objects an interrupted
 * `eas delete` left. Objects are listed from the store and looked up in the task database a
 * batch at a time; each is removed with `FileRepository.deleteIfIdle`, so an object a worker
 * stored again meanwhile (its report not yet committed) stays.
 *
 * @example
 * ```ts
 * const r = await collectGarbage({ db, files }, { dryRun: true });
 * console.log(`${r.removed.keys.length} objects, ${r.removed.bytes} bytes could go`);
 * ```
 */
export async function collectGarbage(
  deps: { db: TaskDatabase; files: FileRepository; logger?: Logger },
  options: GarbageOptions = {},
): Promise<GarbageResult> {
  const now = options.now ?? Date.now;
  const olderThanMs = options.olderThanMs ?? DEFAULT_GARBAGE_AGE_MS;
  const dryRun = options.dryRun ?? false;
  // One cutoff for the whole sweep, taken before the listing: an object stored after it is
  // kept, whenever the sweep reaches it.
  const since = now() - olderThanMs;
  const result: GarbageResult = {
    scanned: 0,
    referenced: 0,
    removed: { keys: [], bytes: 0 },
    recent: 0,
    missing: 0,
    dryRun,
  };
  const sweep = async (keys: string[]): Promise<void> => {
    const referenced = await deps.db.referencedObjects(keys);
    result.referenced += referenced.size;
    for (const key of keys) {
      if (referenced.has(key)) continue;
      const stat = await deps.files.stat(key);
      if (stat === undefined) {
        result.missing++;
        continue;
      }
      // A store that cannot tell when an object was stored cannot tell an idle one either.
      if (stat.storedAt === undefined) {
        result.recent++;
        continue;
      }
      if (dryRun) {
        if (stat.storedAt > since) result.recent++;
        else {
          result.removed.keys.push(key);
          result.removed.bytes += stat.size;
        }
        continue;
      }
      const outcome = await deps.files.deleteIfIdle(key, since);
      if (outcome === 'deleted') {
        result.removed.keys.push(key);
        result.removed.bytes += stat.size;
      } else if (outcome === 'kept') result.recent++;
      else result.missing++;
    }
  };
  let batch: string[] = [];
  for await (const key of deps.files.list()) {
    result.scanned++;
    batch.push(key);
    if (batch.length >= KEYS_PER_LOOKUP) {
      await sweep(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await sweep(batch);
  (deps.logger ?? silentLogger()).info(
    {
      scanned: result.scanned,
      removed: result.removed.keys.length,
      bytes: result.removed.bytes,
      recent: result.recent,
      dryRun,
    },
    dryRun ? 'garbage counted' : 'garbage collected',
  );
  return result;
}
