/** An object the file repository stored: its key and what was measured while writing it. */
export interface StoredObject {
  /** The key to read it back with; equal to `sha256` (objects are content-addressed). */
  key: string;
  /** The sha256 digest of the content, 64 lowercase hex characters. */
  sha256: string;
  /** Size in bytes. */
  size: number;
}

/**
 * How {@link FileRepository.materialize} placed an object: `'link'`, a hard link to the stored
 * file (no bytes copied), or `'copy'`, when no link was possible (another filesystem, a driver
 * without local files).
 */
export type MaterializeMethod = 'link' | 'copy';
