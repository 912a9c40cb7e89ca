/**
 * `eas registry import <xml>` and `eas registry check [file]`, in-process through `main()`:
 * the original's XML registry becomes a YAML file that `check` (and `submit`) accept; an
 * existing output is kept without --force; a broken registry exits 2 listing every problem.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropEasVariables, json, runMain, tempDir } from './harness.js';

const XML_FILE = fileURLToPath(
  new URL('../../../shared/data/task_type_registry.xml', import.meta.url),
);

let dir: string;
let remove: () => void;

beforeAll(() => {
  dropEasVariables();
  ({ dir, remove } = tempDir('registry-command'));
});
afterAll(() => remove?.());

/** A fresh sub-directory of the test's temporary directory (`eas init` creates it). */
let n = 0;
const subDir = (): string => join(dir, `case-${++n}`);

function writeConfig(at: string, registryLine: string): void {
  writeFileSync(
    join(at, 'eas.yaml'),
    `database:\n  url: sqlite:.eas/eas.db\nfilestore:\n  root: .eas/files\n${registryLine}\nlogLevel: warn\n`,
  );
}

describe('eas registry import', () => {
  it('writes registry.yaml in the working directory, which registry check accepts', async () => {
    const r = await runMain(['registry', 'import', XML_FILE], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('10 containers, 16 task types');
    expect(r.stdout).toContain('registry: registry.yaml');
    expect(r.stderr).toContain('warning: Container names take "-" for "_"');
    expect(r.stderr).toContain('eas-task-<name>');

    const file = join(dir, 'registry.yaml');
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^# Task-type registry imported by `eas registry import`/);
    expect(text).toContain('eas-task-<name>');
    const data = parse(text) as {
      containers: Record<string, unknown>;
      taskTypes: Record<string, unknown>;
    };
    expect(data.taskTypes['null']).toEqual({ container: 'eas-base' });
    expect(data.taskTypes['transit_search_qats']).toEqual({
      container: 'eas-worker-qats',
      command: ['eas-task-transit_search_qats'],
      outputs: { optional: ['debugging'] },
    });
    expect(data.containers['eas-worker-tls']).toEqual({ cpu: 20, gpu: 0, memory: '16Gi' });

    const check = await runMain(['registry', 'check', 'registry.yaml'], dir);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toContain(`Registry ${file}: valid. 10 containers, 24 task types.`);
    expect(check.stdout).toMatch(
      /transit_search_qats\s+eas-worker-qats\s+command eas-task-transit_search_qats/,
    );
    expect(check.stdout).toMatch(/\bnull\s+eas-base\s+built-in/);
    expect(check.stdout).toMatch(/execution_chain\s+-\s+controller \(control flow\)/);
  });

  it('refuses to overwrite without --force (exit 2), and overwrites with it', async () => {
    const out = join(dir, 'mine.yaml');
    writeFileSync(out, '# my own\n');
    const refused = await runMain(['registry', 'import', XML_FILE, '-o', 'mine.yaml'], dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('exists already. Use --force');
    expect(readFileSync(out, 'utf8')).toBe('# my own\n');

    const forced = await runMain(
      ['registry', 'import', XML_FILE, '--output', 'mine.yaml', '--force'],
      dir,
    );
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('transit_search_tls');
  });

  it('writes JSON for a .json output', async () => {
    const r = await runMain(['registry', 'import', XML_FILE, '-o', 'reg.json'], dir);
    expect(r.code, r.stderr).toBe(0);
    const data = JSON.parse(readFileSync(join(dir, 'reg.json'), 'utf8')) as {
      taskTypes: Record<string, unknown>;
    };
    expect(Object.keys(data.taskTypes)).toHaveLength(16);
    expect((await runMain(['registry', 'check', 'reg.json'], dir)).code).toBe(0);
  });

  it('exits 2 for a missing or malformed XML file, writing nothing', async () => {
    const missing = await runMain(['registry', 'import', 'nope.xml', '-o', 'x.yaml'], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('Cannot read');
    writeFileSync(join(dir, 'bad.xml'), '<task_type_registry>\n  <tasks>\n</task_type_registry>\n');
    const bad = await runMain(['registry', 'import', 'bad.xml', '-o', 'x.yaml'], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.xml:3:1: malformed XML/);
    expect(existsSync(join(dir, 'x.yaml'))).toBe(false);
  });
});

describe('eas registry check', () => {
  it('exits 2 on a broken registry, listing every problem', async () => {
    writeFileSync(
      join(dir, 'broken.yaml'),
      [
        'containers:',
        '  tda: { memory: lots }',
        'taskTypes:',
        '  my_tda: { container: tdaa, comand: [x] }',
        '  execution_chain: { container: tda }',
        '',
      ].join('\n'),
    );
    const r = await runMain(['registry', 'check', 'broken.yaml'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid: 5 problems');
    expect(r.stderr).toContain('containers.tda.memory');
    expect(r.stderr).toContain('taskTypes.my_tda.comand: unknown key "comand"');
    expect(r.stderr).toContain('taskTypes.my_tda.container: no container "tdaa"');
    expect(r.stderr).toMatch(/taskTypes.my_tda: "my_tda" is not a built-in task type/);
    expect(r.stderr).toContain('taskTypes.execution_chain: "execution_chain" is a control-flow');
  });

  it('exits 2 on a missing file', async () => {
    const r = await runMain(['registry', 'check', 'absent.yaml'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('does not exist');
  });

  it('checks the registry eas.yaml names, and prints it as JSON with --json', async () => {
    const at = subDir();
    await runMain(['init', at], dir);
    expect((await runMain(['registry', 'import', XML_FILE], at)).code).toBe(0);
    writeConfig(at, 'registry: registry.yaml');
    const r = await runMain(['registry', 'check'], at);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Registry ${join(at, 'registry.yaml')}: valid`);
    const j = json<{
      valid: boolean;
      source: string;
      containers: Record<string, { memoryBytes: number }>;
      taskTypes: Record<string, { container?: string; runner: { kind: string } }>;
    }>(await runMain(['registry', 'check', '--json'], at));
    expect(j.valid).toBe(true);
    expect(j.containers['eas-worker-qats']?.memoryBytes).toBe(16 * 1024 ** 3);
    expect(j.taskTypes['synthesis_psls']?.runner.kind).toBe('command');
    expect(j.taskTypes['execution_for_loop']?.runner.kind).toBe('controller');
  });

  it('without a registry configured, lists the built-in task types', async () => {
    const at = subDir();
    await runMain(['init', at], dir);
    const r = await runMain(['registry', 'check'], at);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('no registry configured: built-in task types only');
    expect(r.stdout).toMatch(/set_metadata\s+eas-base\s+built-in/);
  });
});

describe('the imported registry in use', () => {
  const chain = {
    job_name: 'imported-types',
    working_directory: 'w',
    task_list: [
      { task: 'synthesis_psls', name: 'synth', outputs: { lightcurve: 'lc.gz' } },
      { task: 'verify', name: 'check', inputs: { lightcurve: 'lc.gz' } },
      { task: 'transit_search_qats', name: 'search', inputs: { lightcurve: 'lc.gz' } },
      { task: 'null', name: 'noop' },
    ],
  };

  it('eas submit --dry-run knows the original task types once eas.yaml points at it', async () => {
    const at = subDir();
    await runMain(['init', at], dir);
    writeFileSync(join(at, 'chain.json'), JSON.stringify(chain));
    const before = await runMain(['submit', '--dry-run', '--json', 'chain.json'], at);
    expect(before.code).toBe(2);
    expect(before.stderr).toMatch(/Unknown task type "synthesis_psls"/);

    expect((await runMain(['registry', 'import', XML_FILE], at)).code).toBe(0);
    writeConfig(at, 'registry: registry.yaml');
    const after = json<{ tasks: number; byType: Record<string, number> }>(
      await runMain(['submit', '--dry-run', '--json', 'chain.json'], at),
    );
    expect(after.tasks).toBe(5); // the root execution_chain and its four children
    expect(after.byType).toMatchObject({
      synthesis_psls: 1,
      verify: 1,
      transit_search_qats: 1,
      null: 1,
    });
  });
});
