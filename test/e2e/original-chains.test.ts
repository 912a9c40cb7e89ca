/**
 * The original prototype's chains, unchanged, with the registry imported from its XML file:
 * `eas submit --dry-run --json` prints the task counts the original produced (issue 3).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMain, tempDir } from '../cli/harness.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
let dir: string;
let remove: () => void;

beforeAll(async () => {
  ({ dir, remove } = tempDir('original-chains'));
  const imported = await runMain(
    ['registry', 'import', join(DATA, 'task_type_registry.xml'), '-o', 'registry.yaml'],
    dir,
  );
  expect(imported.code, imported.stderr).toBe(0);
  writeFileSync(join(dir, 'eas.yaml'), 'registry: registry.yaml\n');
});
afterAll(() => remove?.());

async function dryRun(
  chain: string,
): Promise<{ tasks: number; byType: Record<string, number>; deferred: number }> {
  const r = await runMain(['submit', '--dry-run', '--json', join(DATA, 'chains', chain)], dir);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as {
    tasks: number;
    byType: Record<string, number>;
    deferred: number;
  };
}

describe('the original chains, dry run with the imported XML registry', () => {
  it('detection_grid_1d.json: 270 tasks, by type as the original counted them', async () => {
    expect(await dryRun('detection_grid_1d.json')).toEqual({
      tasks: 270,
      byType: {
        execution_chain: 75,
        execution_for_loop: 15,
        synthesis_psls: 30,
        synthesis_batman: 30,
        verify: 60,
        transit_search_tls: 20,
        transit_search_bls_reference: 20,
        transit_search_qats: 20,
      },
      deferred: 0,
    });
  });

  it('qats_test.json: 46 tasks', async () => {
    expect((await dryRun('qats_test.json')).tasks).toBe(46);
  });

  it('if_then_else.json: 46 tasks plus 8 deferred conditionals', async () => {
    const r = await dryRun('if_then_else.json');
    expect([r.tasks, r.deferred, r.byType.execution_conditional]).toEqual([46, 8, 8]);
  });

  it('while_loop.json: 30 tasks plus 8 deferred do-while loops', async () => {
    const r = await dryRun('while_loop.json');
    expect([r.tasks, r.deferred, r.byType.execution_do_while_loop]).toEqual([30, 8, 8]);
  });

  it('while_loop.json with "tlss" for "tls": the do-while body\'s task type is refused at submission (exit 2)', async () => {
    const text = readFileSync(join(DATA, 'chains', 'while_loop.json'), 'utf8');
    writeFileSync(join(dir, 'while_typo.json'), text.replace('"tls"', '"tlss"'));
    for (const args of [
      ['submit', '--dry-run', 'while_typo.json'],
      ['submit', 'while_typo.json'],
    ]) {
      const r = await runMain(args, dir);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(
        'task_list[0]@0.task_list[0]@0.task_list[0]@0.task_list[1].task_list[1].task',
      );
      expect(r.stderr).toContain('transit_search_tlss');
    }
    const status = JSON.parse((await runMain(['status', '--json'], dir)).stdout) as {
      jobs: unknown[];
    };
    expect(status.jobs, 'no job was written').toEqual([]);
  });
});
