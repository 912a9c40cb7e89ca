/**
 * DESIGN §8: bad input gets a clear error naming what and where (exit code 2), and changes
 * nothing — every eas_* table keeps its row count and the id counters stay where they were.
 * Runs `main()` in-process; the cases that hinge on environment variables or on the exit code
 * of the process run the real binary.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHAINS,
  counts,
  dbFile,
  dropEasVariables,
  ensureBuilt,
  json,
  runEas,
  runMain,
  tableSnapshot,
  tempDir,
  writeE2eRegistry,
  type CliResult,
  type StatusJson,
} from './harness.js';

const bad = (name: string): string => join(CHAINS, 'bad', name);
const GOOD_CHAIN = join(CHAINS, 'e2e', 'three-nulls-and-pair.json');

let dir: string;
let remove: () => void;

beforeAll(async () => {
  dropEasVariables();
  await ensureBuilt();
  ({ dir, remove } = tempDir('bad-input'));
  // A pipeline made by `eas init`, holding one finished job, so "nothing changed" compares
  // non-empty tables.
  expect((await runMain(['init'], dir)).code).toBe(0);
  writeE2eRegistry(dir);
  appendFileSync(join(dir, 'eas.yaml'), 'registry: registry.yaml\n');
  expect((await runMain(['submit', GOOD_CHAIN], dir)).code).toBe(0);
  expect((await runMain(['run', '--until-idle', '--workers', '2'], dir)).code).toBe(0);
  const status = json<StatusJson>(await runMain(['status', '--json'], dir));
  expect(status.totals).toEqual(counts({ done: 6 }));
  // The malformed chain is written here: as a file in the tree it would break `prettier --check`.
  writeFileSync(
    join(dir, 'chain.json'),
    '{\n  "task_list": [\n    { "task": "null" },\n    {"task": "null",, "name": "x"}\n  ]\n}\n',
  );
});

afterAll(() => remove?.());

/** Runs `fn`, and checks it exited 2 and left every table as it was. */
async function rejectsAndChangesNothing(fn: () => Promise<CliResult>): Promise<string> {
  const before = tableSnapshot(dir);
  expect(before.eas_tasks, 'the pipeline holds the earlier job').toBe(6);
  const r = await fn();
  expect(r.code, `exit code; stderr:\n${r.stderr}`).toBe(2);
  expect(r.stdout).toBe('');
  expect(tableSnapshot(dir), 'row counts of every eas_* table and the id counters').toEqual(before);
  return r.stderr;
}

describe('eas submit of a bad chain: exit 2, the place named, nothing written', () => {
  it('malformed JSON names file:line:column (chain.json:4:21, the second comma)', async () => {
    const err = await rejectsAndChangesNothing(() => runMain(['submit', 'chain.json'], dir));
    expect(err).toContain('chain.json:4:21');
  });

  it('an unknown task type names task_list[1].task and the type', async () => {
    const err = await rejectsAndChangesNothing(() =>
      runMain(['submit', bad('unknown-type.json')], dir),
    );
    expect(err).toMatch(/task_list\[1\]\.task: .*"no_such_type"/);
    expect(err).toContain('Known types:');
  });

  it('an unknown task type in every iteration of a loop is told once, with a count of places', async () => {
    writeFileSync(
      join(dir, 'loop.json'),
      JSON.stringify({
        task_list: [
          {
            task: 'execution_for_loop',
            parameter: 'i',
            values: [1, 2, 3, 4, 5],
            task_list: [{ task: 'psls_standin' }],
          },
        ],
      }),
    );
    const err = await rejectsAndChangesNothing(() => runMain(['submit', 'loop.json'], dir));
    expect(err).toContain('5 problems');
    const lines = err.split('\n').filter((l) => l.includes('"psls_standin"'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /task_list\[0\]@0\.task_list\[0\]\.task, task_list\[0\]@1\.task_list\[0\]\.task, task_list\[0\]@2\.task_list\[0\]\.task and 2 more: Unknown task type "psls_standin"/,
    );
  });

  it('an input nobody declares names task_list[0].inputs.lightcurve and the file', async () => {
    const err = await rejectsAndChangesNothing(() =>
      runMain(['submit', bad('undeclared-input.json')], dir),
    );
    expect(err).toMatch(/task_list\[0\]\.inputs\.lightcurve: .*"nobody_writes_this\.gz"/);
  });

  it('the same output declared twice names the second declaration, and the first', async () => {
    const err = await rejectsAndChangesNothing(() =>
      runMain(['submit', bad('duplicate-output.json')], dir),
    );
    expect(err).toMatch(
      /- task_list\[1\]\.outputs\.lc: .*"same\.gz".*task_list\[0\]\.outputs\.lightcurve/,
    );
  });

  it('outputs escaping the store (../escape.gz, /etc/passwd) are both named with their paths', async () => {
    const err = await rejectsAndChangesNothing(() =>
      runMain(['submit', bad('escaping-outputs.json')], dir),
    );
    expect(err).toMatch(/- task_list\[0\]\.outputs\.lightcurve: .*"\.\.\/escape\.gz"/);
    expect(err).toMatch(/- task_list\[1\]\.outputs\.lc: .*"\/etc\/passwd".*absolute/);
  });

  it('a dependency cycle names the tasks on it', async () => {
    const err = await rejectsAndChangesNothing(() => runMain(['submit', bad('cycle.json')], dir));
    expect(err).toMatch(/dependency cycle: task_list\[\d\] → task_list\[\d\] → task_list\[\d\]/);
  });

  it('a task type given as a number is reported as not text, not as missing', async () => {
    const err = await rejectsAndChangesNothing(() =>
      runMain(['submit', bad('task-type-not-text.json')], dir),
    );
    expect(err, 'the task type is present, only of the wrong type').not.toMatch(
      /task_list\[1\]\.task: is required/,
    );
    expect(err).toMatch(/task_list\[1\]\.task: .*(text|string)/);
  });

  it("a syntax error in a conditional's criterion or a do-while's repeat_criterion is refused at submission, with its column", async () => {
    writeFileSync(
      join(dir, 'criteria.json'),
      JSON.stringify({
        task_list: [
          { task: 'set_metadata', name: 'a', values: { x: 1 } },
          {
            task: 'execution_conditional',
            requires_metadata_from: ['a'],
            criterion: '(1 ==)',
            task_list: [{ task: 'null' }],
          },
          {
            task: 'execution_do_while_loop',
            iteration_name: 'i',
            requires_metadata_from_child: ['b'],
            repeat_criterion: "(requested_metadata['b']['x'] + )",
            task_list: [{ task: 'set_metadata', name: 'b', values: { x: 2 } }],
          },
        ],
      }),
    );
    for (const args of [
      ['submit', '--dry-run', 'criteria.json'],
      ['submit', 'criteria.json'],
    ]) {
      const err = await rejectsAndChangesNothing(() => runMain(args, dir));
      expect(err).toContain('2 problems');
      expect(err).toMatch(/task_list\[1\]\.criterion: .*"\(1 ==\)" at column \d+/);
      expect(err).toMatch(/task_list\[2\]\.repeat_criterion: .* at column \d+/);
    }
  });

  it('a chain file that does not exist: exit 2 naming it', async () => {
    const err = await rejectsAndChangesNothing(() =>
      runMain(['submit', 'no-such-chain.json'], dir),
    );
    expect(err).toMatch(/no-such-chain\.json: no such file/);
  });

  it('the binary exits 2 too, for malformed JSON', async () => {
    const err = await rejectsAndChangesNothing(() => runEas(['submit', 'chain.json'], dir));
    expect(err).toContain('chain.json:4:21');
  });
});

describe('bad configuration: exit 2 naming the key or variable, nothing written', () => {
  it('eas.yaml worker: { concurrency: -1 } names "eas.yaml: worker.concurrency"', async () => {
    // A second eas.yaml on the same database and file store, with the bad value.
    const other = join(dir, 'bad-config');
    mkdirSync(other, { recursive: true });
    writeFileSync(
      join(other, 'eas.yaml'),
      `database: { url: "sqlite:${dbFile(dir)}" }\nfilestore: { root: "${join(dir, '.eas', 'files')}" }\nworker: { concurrency: -1 }\n`,
    );
    const err = await rejectsAndChangesNothing(() =>
      runMain(['submit', join(CHAINS, 'e2e', 'error-blocks-consumer.json')], other),
    );
    expect(err).toMatch(/eas\.yaml: worker\.concurrency: /);
  });

  it('EAS_LOG_LEVEL=loud names EAS_LOG_LEVEL', async () => {
    const err = await rejectsAndChangesNothing(() =>
      runEas(['submit', join(CHAINS, 'e2e', 'error-blocks-consumer.json')], dir, {
        EAS_LOG_LEVEL: 'loud',
      }),
    );
    expect(err).toMatch(/EAS_LOG_LEVEL: "loud" is not one of/);
  });

  it('EAS_DATABASE_URL=mysql://x names EAS_DATABASE_URL (where the value came from)', async () => {
    const err = await rejectsAndChangesNothing(() =>
      runEas(['submit', join(CHAINS, 'e2e', 'error-blocks-consumer.json')], dir, {
        EAS_DATABASE_URL: 'mysql://x',
      }),
    );
    expect(err).toContain('"mysql://x" is neither sqlite:<file> nor postgres://');
    expect(err).toMatch(/EAS_DATABASE_URL: /);
  });

  it('a database path that cannot be created (under /proc) fails at once with exit 2 naming it', async () => {
    const started = Date.now();
    const r = await runMain(['--database', 'sqlite:/proc/nope/x.db', 'status'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('/proc/nope');
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
