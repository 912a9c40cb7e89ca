/**
 * A chain file, a standalone config or an XML registry that cannot be read is named with the
 * reason in plain words ("no such file", "is a directory"), not an errno code, and the exit
 * code is 2. A list field given as an object says so, rather than "is required".
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseChain } from '../../src/chain/index.js';
import { InvalidInputError } from '../../src/core/index.js';
import { dropEasVariables, runMain, tempDir } from './harness.js';

let dir: string;
let remove: () => void;
beforeAll(() => {
  dropEasVariables();
  ({ dir, remove } = tempDir('eas-file-errors-'));
  mkdirSync(join(dir, 'a-directory.json'));
});
afterAll(() => remove());

describe('files that cannot be read', () => {
  it.each([
    [['submit', 'nonexist.json'], 'eas: Cannot read chain file nonexist.json: no such file'],
    [
      ['submit', '--dry-run', 'a-directory.json'],
      'Cannot read chain file a-directory.json: is a directory',
    ],
    [['standalone', 'nonexist.cfg'], 'eas: Cannot read nonexist.cfg: no such file'],
    [['registry', 'import', 'nonexist.xml'], 'nonexist.xml: no such file'],
  ])('eas %j: exit 2, "%s"', async (argv, message) => {
    const r = await runMain(argv, dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(/ENOENT|EISDIR/);
  });
});

describe('a list field given as an object', () => {
  const problems = (doc: unknown): string[] => {
    try {
      parseChain(JSON.stringify(doc), 'c.json');
    } catch (e) {
      if (e instanceof InvalidInputError) return e.problems.map((p) => `${p.path}: ${p.message}`);
      throw e;
    }
    throw new Error('expected problems');
  };

  it('says it must be a list and what it got, not that it is required', () => {
    expect(problems({ task_list: { task: 'null' } })).toEqual([
      'task_list: must be a list of task descriptors, got an object',
    ]);
    expect(problems({ task_list: [{ task: 'null', requires_metadata_from: { a: 1 } }] })).toEqual([
      'task_list[0].requires_metadata_from: must be a list of names of earlier sibling tasks, got an object',
    ]);
    expect(problems({ task_list: [{ task: 'execution_chain', task_list: 'x' }] })).toEqual([
      'task_list[0].task_list: must be a list of task descriptors, got text',
    ]);
    expect(
      problems({
        task_list: [
          {
            task: 'execution_do_while_loop',
            iteration_name: 'w',
            repeat_criterion: false,
            requires_metadata_from_child: { a: 1 },
            task_list: [{ task: 'null', name: 'a' }],
          },
        ],
      }),
    ).toEqual([
      'task_list[0].requires_metadata_from_child: must be a list of names of body tasks, got an object',
    ]);
    expect(problems({})).toEqual(['task_list: is required']);
  });
});
