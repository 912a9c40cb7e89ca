import { mkdirSync, statSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EasError } from './errors.js';

/*
 * `mkdir -p` without Node's `{ recursive: true }`: on a filesystem that answers ENOENT for a
 * directory whose parent exists (/proc, some FUSE mounts), Node's recursive mkdir retries for
 * ever. These create one level at a time from the nearest existing ancestor and fail at once.
 */

/** Creates `dir` and its missing parents. @throws EasError `PATH_INVALID` naming the directory. */
export async function makeDirectory(dir: string, what = 'directory'): Promise<void> {
  const missing: string[] = [];
  let d = dir;
  for (;;) {
    const st = await stat(d).catch(() => undefined);
    if (st) {
      if (!st.isDirectory()) throw notADirectory(d, dir, what);
      break;
    }
    missing.push(d);
    const parent = dirname(d);
    if (parent === d) break;
    d = parent;
  }
  for (const m of missing.reverse()) {
    try {
      await mkdir(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw cannotCreate(dir, what, e);
    }
  }
}

/** Synchronous {@link makeDirectory}. */
export function makeDirectorySync(dir: string, what = 'directory'): void {
  const missing: string[] = [];
  let d = dir;
  for (;;) {
    let st;
    try {
      st = statSync(d);
    } catch {
      st = undefined;
    }
    if (st) {
      if (!st.isDirectory()) throw notADirectory(d, dir, what);
      break;
    }
    missing.push(d);
    const parent = dirname(d);
    if (parent === d) break;
    d = parent;
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw cannotCreate(dir, what, e);
    }
  }
}

function cannotCreate(dir: string, what: string, e: unknown): EasError {
  const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  return new EasError('PATH_INVALID', `Cannot create the ${what} ${dir}: ${code}.`, {
    where: dir,
    cause: e,
  });
}

function notADirectory(at: string, dir: string, what: string): EasError {
  return new EasError(
    'PATH_INVALID',
    `Cannot create the ${what} ${dir}: ${at} is not a directory.`,
    { where: dir },
  );
}

/** Plain words for the error codes a read of a named file meets most. */
const FILE_ERROR_WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'the name is too long',
};

/**
 * Why reading a file failed, in plain words (`no such file`, `is a directory`, `permission
 * denied`) rather than an errno code; the code or message for anything else.
 */
export function fileErrorWords(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && FILE_ERROR_WORDS[code]) return FILE_ERROR_WORDS[code];
  return code ?? (error instanceof Error ? error.message : String(error));
}
