import { FileStoreError } from './errors.js';

/**
 * Where a product lives inside its job, in canonical form: both parts relative, `/`-separated,
 * with no `.` or `..` segments, no empty segments and no trailing slash.
 */
export interface LogicalPath {
  /** The working directory inside the job; `''` is the job's root. */
  workingDirectory: string;
  /** The file name inside the working directory; never empty, may be a sub-path (`plots/a.png`). */
  filename: string;
}

/**
 * Longest segment accepted, in UTF-8 bytes. 255 is NAME_MAX on ext4, XFS and most other
 * filesystems; a longer segment would only fail later, when a worker stages the file.
 */
const MAX_SEGMENT_BYTES = 255;

/** C0 control characters and DEL: never meant in a file name, and they garble logs and CSV. */
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f]/;

type Part = 'working directory' | 'filename';

function reject(where: string, part: Part, value: unknown, problem: string, fix: string): never {
  const shown = typeof value === 'string' ? JSON.stringify(value) : `(a ${typeof value})`;
  throw new FileStoreError(
    'PATH_INVALID',
    `Path invalid at ${where}: ${part} ${shown} ${problem}. ${fix}`,
    {
      where,
      details: { part, value: typeof value === 'string' ? value : String(value) },
    },
  );
}

function normalise(value: unknown, part: Part, where: string): string {
  if (typeof value !== 'string') {
    reject(where, part, value, 'is not a string', 'Give the path as text.');
  }
  if (value.includes('\0')) {
    reject(where, part, value, 'contains a NUL byte', 'Remove the NUL character from the name.');
  }
  const control = CONTROL_RE.exec(value);
  if (control) {
    const codePoint = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    reject(
      where,
      part,
      value,
      `contains a control character (U+${codePoint})`,
      'Remove it from the name.',
    );
  }
  if (value.includes('\\')) {
    reject(
      where,
      part,
      value,
      'contains a backslash',
      'Logical paths separate directories with "/": write "a/b", not "a\\b".',
    );
  }
  const trimmed = value.trim();
  if (trimmed.startsWith('/')) {
    reject(
      where,
      part,
      value,
      'is absolute',
      'Paths are relative to the job\'s directory: remove the leading "/".',
    );
  }
  const segments = trimmed.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) {
    reject(
      where,
      part,
      value,
      `contains a ".." segment, which would leave the job's directory`,
      'Name the file relative to its working directory, without "..".',
    );
  }
  const long = segments.find((s) => Buffer.byteLength(s) > MAX_SEGMENT_BYTES);
  if (long !== undefined) {
    reject(
      where,
      part,
      value,
      `has a segment of ${Buffer.byteLength(long)} bytes`,
      `Shorten each directory or file name to at most ${MAX_SEGMENT_BYTES} bytes.`,
    );
  }
  return segments.join('/');
}

/**
 * Checks and normalises the logical path of a product: a working directory and a file name
 * inside one job. Surrounding blanks are stripped, `./` and repeated or trailing slashes
 * collapse, and the working directory `''` (or `'.'`) means the job's root. A file name may be a
 * sub-path (`plots/fit.png`).
 *
 * Throws a {@link FileStoreError} with code `PATH_INVALID`, naming `where`, the offending value
 * and the fix, for anything that could leave the job's directory or is not a portable name: a
 * `..` segment (even one that would stay inside), an absolute path, a NUL byte or other control
 * character, a backslash, a segment longer than 255 bytes, or an empty file name.
 *
 * Stored objects never take their names from these paths (they are named by checksum); this
 * check protects the places a worker stages files into, and keeps one spelling per product.
 *
 * @param where - Where the path came from, for the message (e.g. `task_list[2].outputs[0]`).
 *   @defaultValue `'logical path'`
 * @example
 * ```ts
 * checkLogicalPath(' ./grid/ ', 'lc_7.gz'); // { workingDirectory: 'grid', filename: 'lc_7.gz' }
 * checkLogicalPath('grid', '../x');         // throws PATH_INVALID
 * ```
 */
export function checkLogicalPath(
  workingDirectory: string,
  filename: string,
  where = 'logical path',
): LogicalPath {
  const wd = normalise(workingDirectory, 'working directory', where);
  const name = normalise(filename, 'filename', where);
  if (name === '') {
    reject(where, 'filename', filename, 'is empty', 'Give the file a name.');
  }
  return { workingDirectory: wd, filename: name };
}

/**
 * The display form of a product's logical path: `<jobId>/<workingDirectory>/<filename>`, or
 * `<jobId>/<filename>` in the job's root. Both path parts are checked and normalised by
 * {@link checkLogicalPath} first, so equal products always give equal strings.
 *
 * For people and logs only: stored objects are named by checksum, never by this string.
 * Throws `PATH_INVALID` for a path {@link checkLogicalPath} rejects, or a job id that is empty
 * or contains `/`.
 *
 * @example
 * ```ts
 * logicalKey(42, 'grid', 'lc_7.gz'); // '42/grid/lc_7.gz'
 * logicalKey(42, '', 'summary.json'); // '42/summary.json'
 * ```
 */
export function logicalKey(
  jobId: number | string,
  workingDirectory: string,
  filename: string,
): string {
  const job = String(jobId).trim();
  if (job === '' || job.includes('/')) {
    throw new FileStoreError(
      'PATH_INVALID',
      `Path invalid at logicalKey: job id ${JSON.stringify(String(jobId))} is empty or contains "/". ` +
        'Pass the job id as stored in the task database.',
      { where: 'logicalKey', details: { jobId: String(jobId) } },
    );
  }
  const path = checkLogicalPath(workingDirectory, filename, 'logicalKey');
  return [job, path.workingDirectory, path.filename].filter((s) => s !== '').join('/');
}
