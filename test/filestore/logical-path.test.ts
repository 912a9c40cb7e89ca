import { describe, expect, it } from 'vitest';
import { isEasError } from '../../src/core/index.js';
import { checkLogicalPath, FileStoreError, logicalKey } from '../../src/filestore/index.js';

function rejection(fn: () => unknown): FileStoreError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FileStoreError);
    return error as FileStoreError;
  }
  throw new Error('expected a PATH_INVALID error, but nothing was thrown');
}

describe('checkLogicalPath', () => {
  it.each([
    ['', 'lc.gz', '', 'lc.gz'],
    ['.', 'lc.gz', '', 'lc.gz'],
    ['./', './lc.gz', '', 'lc.gz'],
    ['  grid  ', '  lc_7.gz ', 'grid', 'lc_7.gz'],
    ['grid/', 'lc.gz', 'grid', 'lc.gz'],
    ['./grid/./sub/', 'lc.gz', 'grid/sub', 'lc.gz'],
    ['grid//sub', 'plots//fit.png', 'grid/sub', 'plots/fit.png'],
    ['grid', 'plots/fit.png/', 'grid', 'plots/fit.png'],
    ['with space', 'name with space.txt', 'with space', 'name with space.txt'],
    ['résumé', 'δ-ß.txt', 'résumé', 'δ-ß.txt'],
    ['a', '..hidden', 'a', '..hidden'],
    ['a', 'x..y', 'a', 'x..y'],
  ])('normalises (%j, %j) to (%j, %j)', (wd, name, expectedWd, expectedName) => {
    expect(checkLogicalPath(wd, name)).toEqual({
      workingDirectory: expectedWd,
      filename: expectedName,
    });
  });

  it.each([
    ['', '../x', 'filename', '".."'],
    ['', 'a/../../x', 'filename', '".."'],
    ['', 'a/../b', 'filename', '".."'],
    ['..', 'x', 'working directory', '".."'],
    ['grid/../..', 'x', 'working directory', '".."'],
    ['', '/etc/passwd', 'filename', 'absolute'],
    ['/tmp', 'x', 'working directory', 'absolute'],
    ['  /tmp', 'x', 'working directory', 'absolute'],
    ['', 'a\0b', 'filename', 'NUL'],
    ['a\0', 'b', 'working directory', 'NUL'],
    ['', '..\\x', 'filename', 'backslash'],
    ['', 'a\\b', 'filename', 'backslash'],
    ['', 'line\nbreak', 'filename', 'U+000A'],
    ['', '', 'filename', 'empty'],
    ['grid', '   ', 'filename', 'empty'],
    ['grid', './', 'filename', 'empty'],
    ['', 'x'.repeat(256), 'filename', '256 bytes'],
  ])('rejects (%j, %j): the %s %s', (wd, name, part, problem) => {
    const error = rejection(() => checkLogicalPath(wd, name, 'task_list[2].outputs[0]'));
    expect(error.code).toBe('PATH_INVALID');
    expect(isEasError(error)).toBe(true);
    expect(error.where).toBe('task_list[2].outputs[0]');
    expect(error.message).toContain('task_list[2].outputs[0]');
    expect(error.message).toContain(part);
    expect(error.message).toContain(problem);
    const offending = part === 'filename' ? name : wd;
    expect(error.message).toContain(JSON.stringify(offending));
  });

  it('says how to fix a traversal', () => {
    const error = rejection(() => checkLogicalPath('grid', '../x', 'outputs[1]'));
    expect(error.message).toBe(
      'Path invalid at outputs[1]: filename "../x" contains a ".." segment, which would leave ' +
        `the job's directory. Name the file relative to its working directory, without "..".`,
    );
  });

  it('names a default place when none is given', () => {
    expect(rejection(() => checkLogicalPath('', '/etc/passwd')).message).toMatch(
      /^Path invalid at logical path:/,
    );
  });

  it('rejects values that are not strings', () => {
    const error = rejection(() => checkLogicalPath('grid', 42 as unknown as string));
    expect(error.code).toBe('PATH_INVALID');
    expect(error.message).toContain('not a string');
  });
});

describe('logicalKey', () => {
  it('joins job, working directory and filename', () => {
    expect(logicalKey(42, 'grid', 'lc_7.gz')).toBe('42/grid/lc_7.gz');
  });

  it('leaves out an empty working directory', () => {
    expect(logicalKey('42', '', 'summary.json')).toBe('42/summary.json');
  });

  it('normalises both parts, so one product has one spelling', () => {
    expect(logicalKey(7, './grid/', ' plots//fit.png ')).toBe(
      logicalKey(7, 'grid', 'plots/fit.png'),
    );
  });

  it('rejects a path that escapes, and a job id with a slash', () => {
    expect(rejection(() => logicalKey(1, 'grid', '../../etc/passwd')).code).toBe('PATH_INVALID');
    expect(rejection(() => logicalKey('1/2', 'grid', 'x')).code).toBe('PATH_INVALID');
    expect(rejection(() => logicalKey('', 'grid', 'x')).code).toBe('PATH_INVALID');
  });
});
