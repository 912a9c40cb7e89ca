/**
 * `eas standalone`: the original's standalone configs, run unchanged from ../shared/data (input
 * paths relative to it, as in the original), against a throw-away embedded pipeline.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMain, tempDir } from './harness.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
let out: string;
let remove: () => void;
beforeAll(() => {
  ({ dir: out, remove } = tempDir('standalone'));
});
afterAll(() => remove?.());

describe('eas standalone', () => {
  it('runs test_null.cfg: exit 0, the attempt shown', async () => {
    const r = await runMain(['standalone', 'test_task_configs/test_null.cfg', '--out', out], DATA);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^null: done\nattempt 1: succeeded, QC passed/);
  });

  it('runs test_error.cfg: exit 1 with the traceback', async () => {
    const r = await runMain(['standalone', 'test_task_configs/test_error.cfg', '--out', out], DATA);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('error: failed');
    expect(r.stdout).toMatch(/traceback:\n\s+DeliberateTaskError: this task always fails\n\s+at /);
  });

  it('stages an input with its .metadata.cfg sidecar and copies the output out (a module handler)', async () => {
    writeFileSync(
      join(out, 'handlers.mjs'),
      `import { readFileSync, writeFileSync } from 'node:fs';
export function inspect(ctx) {
  const bytes = readFileSync(ctx.task.inputs.lightcurve).length;
  writeFileSync(ctx.task.outputs.report, JSON.stringify({ bytes }));
  return { metadata: { bytes, period: ctx.task.input_metadata.lightcurve.orbital_period, speed: ctx.task.description.specs.speed } };
}`,
    );
    writeFileSync(
      join(out, 'registry.yaml'),
      'taskTypes:\n  inspect: { module: ./handlers.mjs#inspect }\n',
    );
    writeFileSync(
      join(out, 'inspect.json'),
      JSON.stringify({
        task: 'inspect',
        inputs: { lightcurve: join(DATA, 'test_task_configs/test_data/demo_superearth.gz') },
        outputs: { report: 'report.json' },
        specs: { speed: 2 },
      }),
    );
    const r = await runMain(
      [
        '--registry',
        join(out, 'registry.yaml'),
        'standalone',
        join(out, 'inspect.json'),
        '--out',
        out,
        '--json',
      ],
      out,
    );
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as {
      state: string;
      outputMetadata: Record<string, unknown>;
      outputs: Record<string, string>;
    };
    expect(result.state).toBe('done');
    expect(result.outputMetadata).toMatchObject({ period: 50, speed: 2 });
    expect(result.outputs.report).toBe(join(out, 'report.json'));
  });

  it('refuses a missing input file with exit 2, naming it', async () => {
    writeFileSync(
      join(out, 'missing.json'),
      JSON.stringify({ task: 'null', inputs: { lightcurve: 'nope.gz' } }),
    );
    const r = await runMain(['standalone', 'missing.json'], out);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('inputs.lightcurve: no file at');
  });
});
